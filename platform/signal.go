package platform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Signaller is an Inspector that can signal the processes it read, and
// only those: never another process that has since taken the PID.
type Signaller interface {
	// Signal sends sig to p while p is still the process read: the same
	// PID and start time and, where inodes are given and the system can
	// tell (Linux), still holding one of those sockets. It returns an
	// error wrapping ErrNotSameProcess when p is not.
	Signal(p *Process, inodes []uint64, sig syscall.Signal) error
	// Running reports whether p, the process read, still runs; a zombie
	// does not, for it holds nothing.
	Running(p *Process) bool
}

// ErrNotSameProcess says a process to signal has exited, or its PID now
// names another process.
var ErrNotSameProcess = errors.New("no longer the process that was read (it exited, or its PID was reused)")

// ErrNotHolding says a process to signal runs still but no longer holds
// the socket it was found holding (it passed it on, or closed it).
var ErrNotHolding = errors.New("runs, but no longer holds the socket: not signalled")

// ErrNoGracefulStop says the system has no way to ask that process to
// exit, only to end it (Windows, for a process without a window).
var ErrNoGracefulStop = errors.New("cannot be asked to exit, only ended")

// signalNames are the signals free takes: those every system's syscall
// package defines, so --signal means the same everywhere.
var signalNames = map[string]syscall.Signal{
	"HUP":  syscall.SIGHUP,
	"INT":  syscall.SIGINT,
	"QUIT": syscall.SIGQUIT,
	"KILL": syscall.SIGKILL,
	"TERM": syscall.SIGTERM,
}

// ParseSignal reads a signal by name (TERM, SIGTERM, term) or number (15)
// among HUP, INT, QUIT, KILL and TERM.
func ParseSignal(s string) (syscall.Signal, error) {
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		for _, sig := range signalNames {
			if int(sig) == n {
				return sig, nil
			}
		}
	}
	return 0, fmt.Errorf("invalid signal %q: want HUP, INT, QUIT, KILL or TERM, by name or number", s)
}

// SignalName is the signal as ParseSignal reads it: TERM, KILL.
func SignalName(sig syscall.Signal) string {
	for name, s := range signalNames {
		if s == sig {
			return name
		}
	}
	return strconv.Itoa(int(sig))
}
