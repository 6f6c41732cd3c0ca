package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// windowsPrivilegeHint is what shows the details of every process: other
// users' processes, services among them, open their tokens to an
// elevated administrator only. Socket owners need no privilege: the
// socket tables name them to anyone.
const windowsPrivilegeHint = "Administrator (from an elevated prompt)"

type windowsInspector struct {
	accounts accountNames
	elevated func() bool
	// debugPrivilege enables SeDebugPrivilege, once, for an elevated run:
	// protected processes (lsass, wininit, services.exe, which hold the
	// RPC listeners on 49664-49669) open to it, as they do to psutil.
	debugPrivilege func() error
	wine           func() bool
	// run is what the last Owners call set up for the Process calls
	// after it.
	run      *windowsRun
	warnings []string
}

func newOS(opts Options) (Inspector, error) {
	switch opts.SocketSource {
	case "", "iphlpapi":
	default:
		return nil, fmt.Errorf("%w %q (Windows has one: iphlpapi)", ErrUnknownSource, opts.SocketSource)
	}
	return &windowsInspector{
		elevated:       sync.OnceValue(func() bool { return windows.GetCurrentProcessToken().IsElevated() }),
		debugPrivilege: sync.OnceValue(enableDebugPrivilege),
		wine: sync.OnceValue(func() bool {
			return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
		}),
		run: newWindowsRun(),
	}, nil
}

// Sockets reads the owner-module tables, which name each socket's
// creator as they list it: the PID is kept in PIDs, and Owners says what
// it means.
func (w *windowsInspector) Sockets(ctx context.Context, f Filter) ([]Socket, error) {
	var socks []Socket
	var owners []uint32
	var failed []error
	read := 0
	for _, src := range mibSources {
		if !f.wants(src.layout.proto, src.layout.family) {
			continue
		}
		class, ok := src.class(f.States)
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// One table that fails leaves the others worth showing.
		b, err := src.call(class)
		if err == nil {
			n := len(socks)
			err = parseMIBTable(b, src.layout, func(s *Socket, pid uint32, row []byte) {
				if f.Match(s) {
					s.mibRow = row
					socks = append(socks, *s)
					owners = append(owners, pid)
				}
			})
			if err != nil {
				socks, owners = socks[:n], owners[:n]
				err = fmt.Errorf("%s %s: %w", src.proc.Name, src.layout.name, err)
			}
		}
		if err != nil {
			failed = append(failed, err)
			continue
		}
		read++
	}
	if read == 0 && len(failed) > 0 {
		return nil, errors.Join(failed...)
	}
	for _, err := range failed {
		w.warnings = append(w.warnings, fmt.Sprintf("sockets missing: %v", err))
	}
	// One array holds every socket's owner.
	pids := make([]int, len(socks))
	for i, pid := range owners {
		if pid != 0 {
			pids[i] = int(pid)
			socks[i].PIDs = pids[i : i+1 : i+1]
		}
	}
	return socks, nil
}

// Owners says what the PIDs Sockets found mean. PID 0 is no process: the
// system names no owner, which for TIME_WAIT means there is none (the
// connection outlived its socket, as on every system) and otherwise is
// unknown.
func (w *windowsInspector) Owners(ctx context.Context, socks []Socket) (OwnerReport, error) {
	if err := ctx.Err(); err != nil {
		return OwnerReport{}, err
	}
	run := newWindowsRun()
	run.socks = socks
	unknown, gone, reused := 0, 0, 0
	for i := range socks {
		s := &socks[i]
		if len(s.PIDs) > 0 {
			// The PID is the socket's creator's (dwOwningPid), which may
			// have exited and left the socket to a child that inherited
			// it: the holder is unknown, not none. Windows reuses PIDs
			// soon, so a process younger than the socket has only taken
			// the creator's PID.
			switch exists, older := run.creator(uint32(s.PIDs[0]), s.created); {
			case !exists:
				s.PIDs, s.Owners = nil, OwnersUnknown
				gone++
			case !older:
				s.PIDs, s.Owners = nil, OwnersUnknown
				reused++
			default:
				s.Owners = OwnersKnown
			}
			continue
		}
		switch {
		case s.State == TimeWait:
			s.Owners = OwnersNone
		default:
			s.Owners = OwnersUnknown
			unknown++
		}
	}
	w.run = run
	if unknown > 0 {
		msg := fmt.Sprintf("the system reported no owner for %s (PID 0)", Plural(unknown, "socket"))
		if w.wine() {
			msg += "; Wine never reports socket owners"
		}
		w.warnings = append(w.warnings, msg)
	}
	if gone > 0 {
		w.warnings = append(w.warnings, fmt.Sprintf("the process that created %s has exited: "+
			"a process that inherited it may hold it now, which Windows does not say", Plural(gone, "socket")))
	}
	if reused > 0 {
		w.warnings = append(w.warnings, fmt.Sprintf("the PID that created %s now belongs to a process started after it: "+
			"the creator exited, and a process that inherited it may hold it now, which Windows does not say", Plural(reused, "socket")))
	}
	return OwnerReport{}, nil
}

func (w *windowsInspector) Process(pid int, detail ProcessDetail) (Process, error) {
	if w.elevated() {
		w.debugPrivilege() // without it, the protected processes stay hidden
	}
	return w.process(pid, detail)
}

// enableDebugPrivilege enables SeDebugPrivilege in this process's token,
// which an elevated administrator's holds, disabled.
func enableDebugPrivilege() error {
	var tok windows.Token
	if err := windows.OpenProcessToken(windows.CurrentProcess(), windows.TOKEN_ADJUST_PRIVILEGES|windows.TOKEN_QUERY, &tok); err != nil {
		return err
	}
	defer tok.Close()
	var luid windows.LUID
	if err := windows.LookupPrivilegeValue(nil, windows.StringToUTF16Ptr("SeDebugPrivilege"), &luid); err != nil {
		return err
	}
	privs := windows.Tokenprivileges{PrivilegeCount: 1}
	privs.Privileges[0] = windows.LUIDAndAttributes{Luid: luid, Attributes: windows.SE_PRIVILEGE_ENABLED}
	if err := windows.AdjustTokenPrivileges(tok, false, &privs, 0, nil, nil); err != nil {
		return err
	}
	// AdjustTokenPrivileges succeeds for a token without the privilege
	// too (ERROR_NOT_ALL_ASSIGNED, in GetLastError): read it back.
	var n uint32
	_ = windows.GetTokenInformation(tok, windows.TokenPrivileges, nil, 0, &n)
	if n == 0 {
		return windows.ERROR_NOT_ALL_ASSIGNED
	}
	buf := make([]uint64, (n+7)/8)
	if err := windows.GetTokenInformation(tok, windows.TokenPrivileges, (*byte)(unsafe.Pointer(&buf[0])), uint32(len(buf)*8), &n); err != nil {
		return err
	}
	for _, p := range (*windows.Tokenprivileges)(unsafe.Pointer(&buf[0])).AllPrivileges() {
		if p.Luid == luid && p.Attributes&windows.SE_PRIVILEGE_ENABLED != 0 {
			return nil
		}
	}
	return windows.ERROR_NOT_ALL_ASSIGNED
}

// LookupUser resolves an account for --user. Windows accounts have SIDs,
// not UIDs: the number returned stands for the SID (see sidID).
func (w *windowsInspector) LookupUser(name string) (int64, bool) {
	return lookupUser(name)
}

func (w *windowsInspector) Host() Host {
	host, _ := os.Hostname()
	return Host{
		Hostname:      host,
		OS:            "windows",
		Privileged:    w.elevated(),
		PrivilegeHint: windowsPrivilegeHint,
	}
}

func (w *windowsInspector) Warnings() []string {
	out := slices.Clone(w.warnings)
	hidden, svcErr := w.run.report()
	procsText := Plural(hidden, "process")
	switch {
	case hidden > 0 && w.elevated():
		msg := fmt.Sprintf("details of %s could not be read, even elevated", procsText)
		if err := w.debugPrivilege(); err != nil {
			msg += fmt.Sprintf(" (SeDebugPrivilege could not be enabled: %v)", err)
		}
		out = append(out, msg)
	case hidden > 0:
		out = append(out, fmt.Sprintf("details of %s (user, executable) are hidden: run as %s to see them",
			procsText, windowsPrivilegeHint))
	}
	if svcErr != nil {
		out = append(out, fmt.Sprintf("Windows services could not be listed: %v", svcErr))
	}
	return out
}

// windowsRun is what one inspection learns once and shares among the
// Process calls after Owners, which run side by side.
type windowsRun struct {
	// socks are the sockets Owners was given, to tell which of a shared
	// svchost's services hold them.
	socks     []Socket
	processes func() map[uint32]systemProcess
	services  func() map[uint32]string

	mu     sync.Mutex
	hidden map[int]bool
	svcErr error
}

func newWindowsRun() *windowsRun {
	r := &windowsRun{hidden: make(map[int]bool)}
	r.processes = sync.OnceValue(processSnapshot)
	r.services = sync.OnceValue(r.loadServices)
	return r
}

// creator says whether the process that has pid now can be the creator
// of a socket created at created (a FILETIME, 0 if unknown), by the
// snapshot of every process: it must exist and be older than the socket.
func (r *windowsRun) creator(pid uint32, created int64) (exists, older bool) {
	procs := r.processes()
	if pid == systemPID || len(procs) == 0 { // no snapshot proves nothing
		return true, true
	}
	p, ok := procs[pid]
	return ok, ok && mayHaveCreated(p.created, created)
}

// started is when the process that has pid started, by the snapshot of
// every process, which needs no access to the process; the zero time if
// the snapshot lacks it.
func (r *windowsRun) started(pid uint32) time.Time {
	return filetimeToTime(r.processes()[pid].created)
}

// service names the services a process runs, for Process.Service.
func (r *windowsRun) service(pid uint32) string {
	return r.services()[pid]
}

// loadServices maps PIDs to their services: "MSDTC" for msdtc.exe, and
// for an svchost.exe that hosts several, the ones its sockets belong to
// when Windows can say, or else all of them, joined with ", ".
func (r *windowsRun) loadServices() map[uint32]string {
	hosted, err := runningServices()
	if err != nil {
		r.mu.Lock()
		r.svcErr = err
		r.mu.Unlock()
		return nil
	}
	return r.servicesOf(hosted)
}

// servicesOf maps PIDs to their services from one enumeration, hosted.
func (r *windowsRun) servicesOf(hosted map[uint32][]string) map[uint32]string {
	// Each socket of an svchost that hosts several services tags it with
	// the service its owner-module row names, "" where none could be
	// read (which keeps all of them).
	tags := make(map[uint32][]string)
	buf := make([]uint64, 128) // room for the structure and two paths
	for i := range r.socks {
		s := &r.socks[i]
		if len(s.PIDs) == 0 || len(hosted[uint32(s.PIDs[0])]) < 2 {
			continue
		}
		if name, ok := socketModule(s, &buf); ok {
			pid := uint32(s.PIDs[0])
			tags[pid] = append(tags[pid], name)
		}
	}
	byPID := make(map[uint32]string, len(hosted))
	for pid, names := range hosted {
		byPID[pid] = strings.Join(narrowServices(names, tags[pid]), ", ")
	}
	return byPID
}

func (r *windowsRun) noteHidden(pid int) {
	r.mu.Lock()
	r.hidden[pid] = true
	r.mu.Unlock()
}

// report returns how many processes were hidden and why services are
// unknown, if they are.
func (r *windowsRun) report() (hidden int, svcErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hidden), r.svcErr
}
