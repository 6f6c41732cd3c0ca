package platform

import (
	"errors"
	"fmt"
	"syscall"
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

func (d *darwinInspector) Running(p *Process) bool {
	now, err := d.Process(p.PID, DetailBasic)
	return err == nil && (p.Started.IsZero() || now.Started.Equal(p.Started))
}
