package platform

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/shirou/gopsutil/v4/process"
	"golang.org/x/sys/windows"
)

// systemPID is the System process: the kernel and its drivers. Sockets
// that http.sys (IIS, WinRM on 5985/5986, SSRS, anything using the HTTP
// Server API) and the SMB server hold show it as their owner.
const systemPID = 4

// systemService is what Process.Service says of the System process, which
// runs no Windows service but is not a program either.
const systemService = "kernel (http.sys and other drivers)"

// process reads what Windows tells of pid to a caller of our privilege.
// It fails only when the process is gone. A process that cannot be
// opened (another user's, without elevation) keeps its name, from a
// snapshot of every process, and its services, and is Hidden.
func (w *windowsInspector) process(pid int, detail ProcessDetail) (Process, error) {
	proc := Process{PID: pid, UID: -1}
	run := w.run
	switch {
	case pid <= 0 || pid > math.MaxInt32:
		// PID 0 is the System Idle Process, which holds no socket: a
		// socket "owned" by it has no owner Windows will name. PIDs are
		// DWORDs, but gopsutil takes an int32, and Windows hands out
		// small ones (multiples of 4).
		return proc, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	case pid == systemPID:
		proc.Name = "System"
		proc.Service = systemService
		// LocalSystem, by its SID: its name is translated on
		// non-English Windows.
		proc.User = `NT AUTHORITY\SYSTEM`
		if sid, err := windows.CreateWellKnownSid(windows.WinLocalSystemSid); err == nil {
			proc.User, proc.UID = w.accounts.name(sid), sidID(sid)
		}
		proc.Started = run.started(systemPID)
		return proc, nil
	}

	// The executable path and command line come from gopsutil, which
	// opens the process for each with PROCESS_QUERY_LIMITED_INFORMATION
	// (and PROCESS_VM_READ for the command line, from the PEB, or
	// ProcessCommandLineInformation where that is refused). The name and
	// start time of a process that cannot be opened, from the snapshot of
	// every process, the account (by SID, cached: LookupAccountSid may ask
	// a domain controller) and the services are this adapter's own.
	gp := &process.Process{Pid: int32(pid)}
	exe, err := gp.Exe()
	switch {
	case errors.Is(err, windows.ERROR_INVALID_PARAMETER):
		// OpenProcess's answer for a PID no process has.
		return proc, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		p, ok := run.processes()[uint32(pid)]
		if !ok {
			return proc, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
		}
		proc.Name = p.name
		proc.Started = run.started(uint32(pid))
		proc.Hidden = true
		run.noteHidden(pid)
		if detail >= DetailFull {
			proc.Service = run.service(uint32(pid))
		}
		return proc, nil
	case err == nil && exe != "":
		proc.Exe = exe
		proc.Name = filepath.Base(exe)
	default:
		// Minimal processes (Registry, Memory Compression) have no
		// image file; the snapshot still names them.
		proc.Name = run.processes()[uint32(pid)].name
	}
	proc.Started = run.started(uint32(pid))
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err == nil {
		defer windows.CloseHandle(h)
		if proc.Started.IsZero() {
			// Started after the snapshot was taken.
			var created, exited, kernel, user windows.Filetime
			if windows.GetProcessTimes(h, &created, &exited, &kernel, &user) == nil {
				proc.Started = time.Unix(0, created.Nanoseconds()).UTC()
			}
		}
	}
	if sid, err := processUser(h, err); err == nil {
		proc.User = w.accounts.name(sid)
		proc.UID = sidID(sid)
	} else {
		// The process opened, but its token did not: another user's.
		proc.Hidden = true
		run.noteHidden(pid)
	}
	if detail >= DetailFull {
		proc.Service = run.service(uint32(pid))
		if argv, err := gp.CmdlineSlice(); err == nil && len(argv) > 0 {
			proc.Cmdline = argv
		}
	}
	return proc, nil
}

// processUser returns the SID of the account a process runs as, from
// a handle OpenProcess returned with openErr.
func processUser(h windows.Handle, openErr error) (*windows.SID, error) {
	if openErr != nil {
		return nil, fmt.Errorf("OpenProcess: %w", openErr)
	}
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return nil, fmt.Errorf("OpenProcessToken: %w", err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("GetTokenInformation(TokenUser): %w", err)
	}
	// tu lives in a buffer the token's information was copied to, which
	// stays reachable through the SID.
	return tu.User.Sid, nil
}

// accountNames caches account names by SID: a host runs most processes
// as a few accounts, and LookupAccountSid may ask a domain controller. It
// is safe for concurrent use.
type accountNames struct {
	mu    sync.Mutex
	names map[string]string
}

// name returns DOMAIN\user for a SID, or the SID itself ("S-1-5-21-…")
// when no account has it any more or its domain cannot be reached.
func (a *accountNames) name(sid *windows.SID) string {
	key := sid.String()
	a.mu.Lock()
	name, ok := a.names[key]
	a.mu.Unlock()
	if ok {
		return name
	}
	name = key
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		name = account
		if domain != "" {
			name = domain + `\` + account
		}
	}
	a.mu.Lock()
	if a.names == nil {
		a.names = make(map[string]string)
	}
	a.names[key] = name
	a.mu.Unlock()
	return name
}

// sidID stands in for a UID on Windows, where accounts have SIDs: a
// number derived from the SID that Process.UID carries and LookupUser
// returns, so that --user matches a process whichever way its account is
// spelt ("alice", `WS1\alice`, "alice@corp.example", a SID string). It is
// below -2, which renderers treat as no UID and print nothing for, and
// which no socket's UID (-1 on Windows) equals.
func sidID(sid *windows.SID) int64 {
	h := fnv.New64a()
	h.Write(unsafe.Slice((*byte)(unsafe.Pointer(sid)), windows.GetLengthSid(sid)))
	return -3 - int64(h.Sum64()>>3)
}

// unresolvedUser is what LookupUser returns for a name it could not
// resolve for want of an answer (a domain controller out of reach): it
// matches no process's sidID, leaving the match to the exact DOMAIN\user
// string.
const unresolvedUser = -2

// lookupUser resolves an account name, DOMAIN\name, name@domain or SID
// string.
func lookupUser(name string) (int64, bool) {
	if strings.HasPrefix(strings.ToUpper(name), "S-") {
		if sid, err := windows.StringToSid(name); err == nil {
			return sidID(sid), true
		}
	}
	sid, _, _, err := windows.LookupSID("", name)
	switch {
	case err == nil:
		return sidID(sid), true
	case errors.Is(err, windows.ERROR_NONE_MAPPED), errors.Is(err, windows.ERROR_INVALID_PARAMETER):
		return 0, false
	}
	return unresolvedUser, true
}

// processSnapshot lists every process with its name and start time, from
// one NtQuerySystemInformation(SystemProcessInformation), which Toolhelp
// snapshots are made of: it names even the processes OpenProcess refuses,
// and dates them without opening them. An empty map means the system
// would not say.
func processSnapshot() map[uint32]systemProcess {
	procs := make(map[uint32]systemProcess)
	layout := &systemProcessLayout64
	if unsafe.Sizeof(uintptr(0)) == 4 {
		layout = &systemProcessLayout32
	}
	size := uint32(256 << 10)
	for range maxTableCalls {
		// []uint64: the entries hold 8-byte fields.
		buf := make([]uint64, size/8)
		var need uint32
		err := windows.NtQuerySystemInformation(windows.SystemProcessInformation, unsafe.Pointer(&buf[0]), size, &need)
		if err == windows.STATUS_INFO_LENGTH_MISMATCH {
			// Processes start between calls: an eighth more leaves room.
			size = max(size*2, need+need/8) &^ 7
			continue
		}
		if err != nil {
			return procs
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
		_ = parseSystemProcesses(b, uint64(uintptr(unsafe.Pointer(&buf[0]))), layout, func(p systemProcess) {
			procs[p.pid] = p
		})
		runtime.KeepAlive(buf)
		return procs
	}
	return procs
}
