package platform

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

var procPostMessageW = windows.NewLazySystemDLL("user32.dll").NewProc("PostMessageW")

const wmClose = 0x0010

// Signal holds a handle to p while it checks p's start time, so the PID
// cannot name another process until the handle is closed. Windows has no
// signals: KILL is TerminateProcess; the others post WM_CLOSE to p's
// visible top-level windows, which is how a window's close button asks a
// program to exit. A console server or a service has no window, and
// GenerateConsoleCtrlEvent reaches only processes sharing portinspect's
// console, so those can only be ended: ErrNoGracefulStop.
func (w *windowsInspector) Signal(p *Process, _ []uint64, sig syscall.Signal) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(p.PID))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrNotSameProcess)
	}
	if err != nil {
		return fmt.Errorf("OpenProcess %d: %w", p.PID, err)
	}
	defer windows.CloseHandle(h)
	if !handleIsProcess(h, p) {
		return fmt.Errorf("pid %d: %w", p.PID, ErrNotSameProcess)
	}
	if sig == syscall.SIGKILL {
		return windows.TerminateProcess(h, 1)
	}
	if closeWindows(uint32(p.PID)) == 0 {
		return fmt.Errorf("pid %d has no window to close: it %w (--signal KILL ends it)", p.PID, ErrNoGracefulStop)
	}
	return nil
}

// handleIsProcess reports whether h is p: still running, and created when
// p was (where p's start is known).
func handleIsProcess(h windows.Handle, p *Process) bool {
	var code uint32
	if windows.GetExitCodeProcess(h, &code) != nil || code != 259 { // STILL_ACTIVE
		return false
	}
	var created, exited, kernel, user windows.Filetime
	if p.Started.IsZero() || windows.GetProcessTimes(h, &created, &exited, &kernel, &user) != nil {
		return true
	}
	return time.Unix(0, created.Nanoseconds()).UTC().Equal(p.Started)
}

// windowSearch is the search closeWindowsCallback serves: one at a time,
// since a callback is made once (Go keeps every callback it makes for
// good, and allows about two thousand).
var windowSearch struct {
	sync.Mutex
	pid   uint32
	found int
}

var closeWindowsCallback = windows.NewCallback(func(hwnd windows.HWND, _ uintptr) uintptr {
	var owner uint32
	if _, err := windows.GetWindowThreadProcessId(hwnd, &owner); err == nil && owner == windowSearch.pid && windows.IsWindowVisible(hwnd) {
		procPostMessageW.Call(uintptr(hwnd), wmClose, 0, 0)
		windowSearch.found++
	}
	return 1
})

// closeWindows posts WM_CLOSE to pid's visible top-level windows and
// returns how many it found.
func closeWindows(pid uint32) int {
	windowSearch.Lock()
	defer windowSearch.Unlock()
	windowSearch.pid, windowSearch.found = pid, 0
	windows.EnumWindows(closeWindowsCallback, nil)
	return windowSearch.found
}

func (w *windowsInspector) Running(p *Process) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(p.PID))
	if err != nil {
		// A process we may not open is still there; a gone one is
		// ERROR_INVALID_PARAMETER.
		return !errors.Is(err, windows.ERROR_INVALID_PARAMETER)
	}
	defer windows.CloseHandle(h)
	return handleIsProcess(h, p)
}
