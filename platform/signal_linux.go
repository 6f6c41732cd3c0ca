package platform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signal opens a pidfd for p first: from then on the PID cannot name
// another process, so checking p's start time and sockets through it and
// then signalling through it leaves no window for a reused PID. Kernels
// before 5.3 have no pidfd; the check is then made just before kill(2).
func (l *linuxInspector) Signal(p *Process, inodes []uint64, sig syscall.Signal) error {
	pidfd, err := unix.PidfdOpen(p.PID, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("pid %d: %w", p.PID, ErrNotSameProcess)
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		// No pidfd (before 5.3), or a seccomp filter refuses it.
		pidfd = -1
	case err != nil:
		return fmt.Errorf("pidfd_open %d: %w", p.PID, err)
	default:
		defer unix.Close(pidfd)
	}
	if err := l.sameProcess(p, inodes); err != nil {
		return err
	}
	if pidfd >= 0 {
		err = unix.PidfdSendSignal(pidfd, sig, nil, 0)
	} else {
		err = unix.Kill(p.PID, sig)
	}
	if errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrNotSameProcess)
	}
	return err
}

// sameProcess checks that pid still has p's start time and holds one of
// inodes.
func (l *linuxInspector) sameProcess(p *Process, inodes []uint64) error {
	st, err := l.stat(p.PID)
	if err != nil || !l.isProcess(p, st) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrNotSameProcess)
	}
	if len(inodes) == 0 {
		return nil
	}
	procFD, err := unix.Open(l.procRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: l.procRoot, Err: err}
	}
	defer unix.Close(procFD)
	w := ownerWalk{procFD: procFD, want: make(map[uint64]struct{})}
	for _, in := range inodes {
		w.want[in] = struct{}{}
	}
	owners, denied := w.run(context.Background(), []int{p.PID})
	switch {
	case len(owners) > 0:
		return nil
	case denied > 0:
		return fmt.Errorf("pid %d: its sockets cannot be read: %w", p.PID, fs.ErrPermission)
	}
	return fmt.Errorf("pid %d: %w", p.PID, ErrNotHolding)
}

func (l *linuxInspector) stat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(l.procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// isProcess reports whether st is p's stat: the same start time (where p
// has one) and not a zombie, which holds nothing.
func (l *linuxInspector) isProcess(p *Process, st procStat) bool {
	if st.state == 'Z' || st.state == 'X' {
		return false
	}
	boot, err := l.procs.bootTime()
	return p.Started.IsZero() || err == nil && boot.Add(ticksToDuration(st.startTicks)).UTC().Equal(p.Started)
}

func (l *linuxInspector) Running(p *Process) bool {
	st, err := l.stat(p.PID)
	return err == nil && l.isProcess(p, st)
}
