package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of /proc/PID/stat times. The kernel fixes it at 100
// for userspace on every architecture Go supports (USER_HZ).
const userHZ = 100

// procReader reads process details from a procfs tree.
type procReader struct {
	root string

	bootTime func() (time.Time, error)
	users    func() *userTable
}

func newProcReader(root string) *procReader {
	p := &procReader{root: root}
	p.users = sync.OnceValue(func() *userTable { return loadPasswd(passwdPath) })
	p.bootTime = sync.OnceValues(func() (time.Time, error) {
		b, err := os.ReadFile(filepath.Join(root, "stat"))
		if err != nil {
			return time.Time{}, err
		}
		return parseBootTime(b)
	})
	return p
}

// process reads what /proc tells of pid. It fails only when the process is
// gone; unreadable details are left empty and mark the process Hidden.
func (p *procReader) process(pid int, detail ProcessDetail) (Process, error) {
	dir := filepath.Join(p.root, strconv.Itoa(pid))
	proc := Process{PID: pid, UID: -1}

	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return proc, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
		}
		return proc, fmt.Errorf("process %d: %w", pid, err)
	}
	st, err := parseProcStat(stat)
	if err != nil {
		return proc, fmt.Errorf("process %d: %w", pid, err)
	}
	proc.Name = st.comm
	if boot, err := p.bootTime(); err == nil {
		proc.Started = boot.Add(time.Duration(st.startTicks) * time.Second / userHZ).UTC()
	}

	if status, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		if uid, ok := parseStatusUID(status); ok {
			proc.UID = int64(uid)
			proc.User = p.userName(uid)
		}
	}
	if detail < DetailFull {
		return proc, nil
	}
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		proc.Cmdline = splitCmdline(cmdline)
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		proc.Exe = exe
		path, deleted := strings.CutSuffix(exe, " (deleted)")
		proc.ExeDeleted = deleted
		// Through the process's own root, which a container changes.
		if st, err := os.Stat(filepath.Join(dir, "root", filepath.Dir(path))); err == nil {
			proc.ExeDirWritable = st.Mode().Perm()&0o002 != 0
		}
	} else if errors.Is(err, fs.ErrPermission) {
		proc.Hidden = true
	}
	if cgroup, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		proc.Service = systemdUnit(cgroup)
	}
	return proc, nil
}

func (p *procReader) userName(uid uint32) string {
	if name, ok := p.users().names[uid]; ok {
		return name
	}
	return strconv.FormatUint(uint64(uid), 10)
}

// lookupUser returns the UID of a user name or number.
func (p *procReader) lookupUser(name string) (int64, bool) {
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		return int64(uid), true
	}
	uid, ok := p.users().uids[name]
	return int64(uid), ok
}
