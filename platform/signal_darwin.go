package platform

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signal re-reads p's start time right before kill(2): macOS has no
// pidfd, so this leaves only the moment between the two calls for the PID
// to be reused.
func (d *darwinInspector) Signal(p *Process, _ []uint64, sig syscall.Signal) error {
	if !d.Running(p) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrNotSameProcess)
	}
	err := syscall.Kill(p.PID, sig)
	if errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrNotSameProcess)
	}
	return err
}

// sZomb is sys/proc.h's SZOMB: a process that exited, waiting for its
// parent, holding nothing.
const sZomb = 5

func (d *darwinInspector) Running(p *Process) bool {
	if kp, err := unix.SysctlKinfoProc("kern.proc.pid", p.PID); err == nil && kp.Proc.P_stat == sZomb {
		return false
	}
	now, err := d.Process(p.PID, DetailBasic)
	return err == nil && (p.Started.IsZero() || now.Started.Equal(p.Started))
}
