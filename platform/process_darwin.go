package platform

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/process"
	"golang.org/x/sys/unix"
)

// readDarwinProcess reads what the kernel tells of pid. The basics come
// from sysctl kern.proc.pid, as ps reads them: unlike libproc's
// PROC_PIDTBSDINFO, which answers only for the caller's own processes
// unless it is root (proc_pidinfo's CHECK_SAME_USER, bsd/kern/proc_info.c),
// it describes every process to everyone. It fails only when the process
// is gone; unreadable details are left empty and mark the process Hidden.
//
// The executable path (proc_pidpath) comes from gopsutil; the start time
// from the kern.proc.pid record read for the user (gopsutil would read
// it again). The rest stays here, where gopsutil does less: user names
// from Directory Services (gopsutil asks os/user, which without cgo reads
// only /etc/passwd, where a Mac's people are not), and the command line
// with the launchd label from one read of kern.procargs2 by a fuzzed
// parser (gopsutil reads it for argv alone, and slices its first four
// bytes unchecked).
func readDarwinProcess(users *darwinUsers, pid int, detail ProcessDetail) (Process, error) {
	proc := Process{PID: pid, UID: -1}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		// A PID with no process answers with no data, which x/sys reports
		// as EIO.
		if errors.Is(err, unix.EIO) || errors.Is(err, unix.ESRCH) {
			return proc, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
		}
		return proc, fmt.Errorf("process %d: %w", pid, err)
	}
	if kp.Proc.P_pid != int32(pid) {
		return proc, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	}
	comm := kp.Proc.P_comm[:]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	proc.UID = int64(kp.Eproc.Ucred.Uid)
	proc.User = users.name(kp.Eproc.Ucred.Uid)
	if st := kp.Proc.P_starttime; st.Sec > 0 {
		proc.Started = time.Unix(st.Sec, int64(st.Usec)*1000).UTC()
	}
	gp := &process.Process{Pid: int32(pid)}
	// p_comm is cut to MAXCOMLEN, 16 bytes ("Google Chrome He"): the
	// executable's name, which proc_pidpath gives every user, is whole.
	proc.Name = string(comm)
	if exe, err := gp.Exe(); err == nil && exe != "" {
		proc.Exe, proc.Name = exe, filepath.Base(exe)
	}
	if detail < DetailFull {
		return proc, nil
	}
	// kern.procargs2 answers for the caller's own processes, and all of
	// them for root; EINVAL otherwise (sysctl_procargsx), and for exiting
	// processes and kernel_task, even to root: only another user's
	// process, unprivileged, is hidden.
	if b, err := unix.SysctlRaw("kern.procargs2", pid); err == nil {
		if pa, err := parseProcArgs(b); err == nil {
			proc.Cmdline, proc.Service = pa.argv, pa.service
			if proc.Exe == "" && filepath.IsAbs(pa.exe) {
				proc.Exe = pa.exe
			}
		}
	} else if (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM)) && os.Geteuid() != 0 && proc.UID != int64(os.Geteuid()) {
		proc.Hidden = true
	}
	if proc.Exe != "" {
		if _, err := os.Stat(proc.Exe); errors.Is(err, fs.ErrNotExist) {
			proc.ExeDeleted = true
		}
		if st, err := os.Stat(filepath.Dir(proc.Exe)); err == nil {
			proc.ExeDirWritable = st.Mode().Perm()&0o002 != 0
		}
	}
	return proc, nil
}

// darwinUsers names users. The people using a Mac are not in /etc/passwd
// but in Directory Services, which the C library's getpwuid_r asks (through
// opendirectoryd); portinspect calls it through purego, once per user, and
// falls back to /etc/passwd without it. On a Mac bound to a network
// directory, a user the local node lacks is looked up there, as ls and ps
// do.
type darwinUsers struct {
	lib  func() (*libSystem, error)
	file func() *userTable

	mu    sync.Mutex
	names map[uint32]string
}

func newDarwinUsers(lib func() (*libSystem, error)) *darwinUsers {
	return &darwinUsers{
		lib:   lib,
		names: make(map[uint32]string),
		file:  sync.OnceValue(func() *userTable { return loadPasswd(passwdPath) }),
	}
}

// name returns the name of uid, or the number when it has none.
func (u *darwinUsers) name(uid uint32) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if name, ok := u.names[uid]; ok {
		return name
	}
	name, ok := "", false
	if l, err := u.lib(); err == nil {
		name, ok = l.userName(uid)
	}
	if !ok {
		if name, ok = u.file().names[uid]; !ok {
			name = strconv.FormatUint(uint64(uid), 10)
		}
	}
	u.names[uid] = name
	return name
}

// lookup returns the UID of a user name or number.
func (u *darwinUsers) lookup(name string) (int64, bool) {
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		return int64(uid), true
	}
	if l, err := u.lib(); err == nil {
		if uid, ok := l.userID(name); ok {
			return int64(uid), true
		}
	}
	uid, ok := u.file().uids[name]
	return int64(uid), ok
}
