package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
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

	usersMu sync.Mutex
	users   map[uint32]string
}

func newProcReader(root string) *procReader {
	p := &procReader{root: root, users: make(map[uint32]string)}
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
	} else if errors.Is(err, fs.ErrPermission) {
		proc.Hidden = true
	}
	if cgroup, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		proc.Service = systemdUnit(cgroup)
	}
	return proc, nil
}

func (p *procReader) userName(uid uint32) string {
	p.usersMu.Lock()
	defer p.usersMu.Unlock()
	if name, ok := p.users[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	p.users[uid] = name
	return name
}
