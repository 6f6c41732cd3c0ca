package platform

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"
)

// libSystemPath is where libproc and the user database functions live. On
// macOS 11 and later the file is only in the dyld shared cache, which dlopen
// reads; gopsutil loads it the same way.
const libSystemPath = "/usr/lib/libSystem.B.dylib"

// Flavors and sizes of libproc calls (bsd/sys/proc_info.h).
const (
	procAllPIDs               = 1  // PROC_ALL_PIDS
	procPIDListFDs            = 1  // PROC_PIDLISTFDS
	procPIDListFileports      = 14 // PROC_PIDLISTFILEPORTS
	procPIDFDSocketInfo       = 3  // PROC_PIDFDSOCKETINFO
	procPIDFileportSocketInfo = 3  // PROC_PIDFILEPORTSOCKETINFO
	sizeofDarwinPasswd        = 72 // struct passwd (pwd.h), 64-bit
	darwinPasswdUIDField      = 16 // pw_uid, after pw_name and pw_passwd
)

// libSystem calls libproc and the user database through purego, without
// cgo. Every call goes through purego.SyscallN, which on darwin reads errno
// on the calling thread right after the call; a pointer argument is
// converted to uintptr in the call itself (unsafe.Pointer rule 4, which
// SyscallN's go:uintptrescapes honours).
type libSystem struct {
	listPIDs, pidInfo, pidFDInfo, pidFileportInfo uintptr
	getpwuidR, getpwnamR                          uintptr
}

func loadLibSystem() (*libSystem, error) {
	h, err := purego.Dlopen(libSystemPath, purego.RTLD_LAZY|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("loading libproc: %w", err)
	}
	l := &libSystem{}
	for _, sym := range []struct {
		name string
		fn   *uintptr
	}{
		{"proc_listpids", &l.listPIDs},
		{"proc_pidinfo", &l.pidInfo},
		{"proc_pidfdinfo", &l.pidFDInfo},
		{"proc_pidfileportinfo", &l.pidFileportInfo},
		{"getpwuid_r", &l.getpwuidR},
		{"getpwnam_r", &l.getpwnamR},
	} {
		if *sym.fn, err = purego.Dlsym(h, sym.name); err != nil {
			return nil, fmt.Errorf("loading libproc: %w", err)
		}
	}
	return l, nil
}

// errnoOf returns the errno purego read after a failed call. errno is a C
// int; SyscallN reads a whole word.
func errnoOf(e uintptr) error {
	if errno := unix.Errno(uint32(e)); errno != 0 {
		return errno
	}
	return errors.New("failed without an errno")
}

// pids lists every process (proc_listpids(PROC_ALL_PIDS)).
func (l *libSystem) pids() ([]int32, error) {
	r, _, e := purego.SyscallN(l.listPIDs, procAllPIDs, 0, 0, 0)
	if int32(r) <= 0 {
		return nil, fmt.Errorf("proc_listpids: %w", errnoOf(e))
	}
	// Room for processes started since the count.
	buf := make([]int32, int(int32(r))/4+256)
	r, _, e = purego.SyscallN(l.listPIDs, procAllPIDs, 0, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)*4))
	if int32(r) <= 0 {
		return nil, fmt.Errorf("proc_listpids: %w", errnoOf(e))
	}
	return buf[:min(int(int32(r))/4, len(buf))], nil
}

// fdList reads pid's descriptors (proc_pidinfo(PROC_PIDLISTFDS)) as an
// array of struct proc_fdinfo into buf, growing it until the list fits.
func (l *libSystem) fdList(pid int32, buf []byte) ([]byte, error) {
	return l.pidList(pid, procPIDListFDs, buf, true)
}

// fileportList reads pid's fileports (proc_pidinfo(PROC_PIDLISTFILEPORTS))
// as an array of struct proc_fileportinfo: descriptors a process has
// turned into Mach ports (fileport_makeport) and may hold no descriptor
// for, as launchd and XPC services do with the sockets they pass on. lsof
// lists them too. Most processes have none, and an empty list is not
// told from a failure: neither has a fileport to walk, and asking again
// would cost every process a second call.
func (l *libSystem) fileportList(pid int32, buf []byte) ([]byte, error) {
	return l.pidList(pid, procPIDListFileports, buf, false)
}

// pidList reads a proc_pidinfo list of pid into buf, growing it until the
// list fits. tellEmpty asks again when the list comes back empty, to tell
// an empty list from a failure.
func (l *libSystem) pidList(pid int32, flavor uintptr, buf []byte, tellEmpty bool) ([]byte, error) {
	for {
		r, _, e := purego.SyscallN(l.pidInfo, uintptr(pid), flavor, 0,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		n := int(int32(r))
		switch {
		case n == 0 && !tellEmpty:
			return buf[:0], nil
		case n == 0:
			// Both a failure and an empty list, whose errno may be one
			// an earlier call left: asked again without a buffer, a
			// process that can be read answers with a size.
			r, _, e = purego.SyscallN(l.pidInfo, uintptr(pid), flavor, 0, 0, 0)
			if int32(r) > 0 {
				return buf[:0], nil
			}
			return buf[:0], errnoOf(e)
		case n < 0:
			return buf[:0], errnoOf(e)
		case n < len(buf):
			return buf[:n], nil
		case len(buf) >= 64<<20:
			return buf[:n], nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// socketInfo reads what fd of pid is (proc_pidfdinfo(PROC_PIDFDSOCKETINFO))
// as a struct socket_fdinfo into buf, which holds at least
// sizeofSocketFDInfo bytes.
func (l *libSystem) socketInfo(pid, fd int32, buf []byte) ([]byte, error) {
	return l.info(l.pidFDInfo, pid, uint32(fd), procPIDFDSocketInfo, buf)
}

// fileportSocketInfo reads what fileport of pid is
// (proc_pidfileportinfo(PROC_PIDFILEPORTSOCKETINFO)), as socketInfo does.
func (l *libSystem) fileportSocketInfo(pid int32, fileport uint32, buf []byte) ([]byte, error) {
	return l.info(l.pidFileportInfo, pid, fileport, procPIDFileportSocketInfo, buf)
}

func (l *libSystem) info(fn uintptr, pid int32, id uint32, flavor uintptr, buf []byte) ([]byte, error) {
	r, _, e := purego.SyscallN(fn, uintptr(pid), uintptr(id), flavor,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if n := int(int32(r)); n > 0 {
		return buf[:min(n, len(buf))], nil
	}
	return nil, errnoOf(e)
}

// userName returns the name of uid from the system's user database
// (getpwuid_r), and whether it has one.
func (l *libSystem) userName(uid uint32) (string, bool) {
	for size := 1 << 12; size <= 1<<20; size *= 4 {
		var pwd [sizeofDarwinPasswd / 8]uint64
		buf := make([]byte, size)
		var result uintptr
		r, _, _ := purego.SyscallN(l.getpwuidR, uintptr(uid), uintptr(unsafe.Pointer(&pwd[0])),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&result)))
		if unix.Errno(int32(r)) == unix.ERANGE {
			continue
		}
		if int32(r) != 0 || result == 0 {
			return "", false
		}
		// pw_name points into buf: read it from there, not through the
		// pointer.
		return cStringIn(buf, uintptr(pwd[0])-uintptr(unsafe.Pointer(&buf[0])))
	}
	return "", false
}

// userID returns the user ID of name from the system's user database
// (getpwnam_r), and whether it has one.
func (l *libSystem) userID(name string) (uint32, bool) {
	cname := append([]byte(name), 0)
	for size := 1 << 12; size <= 1<<20; size *= 4 {
		var pwd [sizeofDarwinPasswd / 8]uint64
		buf := make([]byte, size)
		var result uintptr
		r, _, _ := purego.SyscallN(l.getpwnamR, uintptr(unsafe.Pointer(&cname[0])), uintptr(unsafe.Pointer(&pwd[0])),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(unsafe.Pointer(&result)))
		if unix.Errno(int32(r)) == unix.ERANGE {
			continue
		}
		if int32(r) != 0 || result == 0 {
			return 0, false
		}
		return uint32(pwd[darwinPasswdUIDField/8]), true
	}
	return 0, false
}

// cStringIn returns the NUL-terminated string at off in buf.
func cStringIn(buf []byte, off uintptr) (string, bool) {
	if off >= uintptr(len(buf)) {
		return "", false
	}
	s := buf[off:]
	for i, c := range s {
		if c == 0 {
			return string(s[:i]), i > 0
		}
	}
	return "", false
}
