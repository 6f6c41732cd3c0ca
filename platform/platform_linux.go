package platform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// linuxPrivilegeHint is what shows every socket's owner: reading another
// user's /proc/PID/fd needs the directory's permission bypassed
// (CAP_DAC_READ_SEARCH) and ptrace read access (CAP_SYS_PTRACE).
const linuxPrivilegeHint = "root (or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)"

type linuxInspector struct {
	procRoot   string
	source     string
	procs      *procReader
	names      ifaceNames
	privileged func() bool
	warnings   []string
	// netnsSkipped and netnsUnreadable are what the last listing of every
	// network namespace left out: namespaces not entered, processes
	// whose namespace could not be read.
	netnsSkipped, netnsUnreadable int
}

func newOS(opts Options) (Inspector, error) {
	switch opts.SocketSource {
	case "", "netlink", "proc":
	default:
		return nil, fmt.Errorf("%w %q (want netlink or proc)", ErrUnknownSource, opts.SocketSource)
	}
	return newLinuxInspector(opts), nil
}

func newLinuxInspector(opts Options) *linuxInspector {
	root := opts.ProcRoot
	if root == "" {
		root = "/proc"
	}
	l := &linuxInspector{procRoot: root, source: opts.SocketSource, procs: newProcReader(root)}
	l.privileged = sync.OnceValue(l.readPrivileged)
	return l
}

func (l *linuxInspector) Sockets(ctx context.Context, f Filter) ([]Socket, error) {
	switch {
	case f.Netns != "" && l.source == "proc":
		return nil, fmt.Errorf("--netns %s: %w: /proc/net shows only this namespace's sockets", f.Netns, ErrNoNetns)
	case f.AllNetns && l.source == "proc":
		l.warnings = append(l.warnings, "only this network namespace's sockets: /proc/net shows no other's")
	case f.AllNetns || f.Netns != "":
		return l.netnsSockets(ctx, f)
	}
	if l.source == "proc" {
		return procNetSockets(l.procRoot, f)
	}
	socks, interrupted, err := netlinkSockets(ctx, f, &l.names, nil)
	if err != nil && l.source == "" && ctx.Err() == nil {
		// Sandboxes (gVisor, some seccomp profiles) refuse sock_diag but
		// still serve /proc/net.
		var perr error
		if socks, perr = procNetSockets(l.procRoot, f); perr != nil {
			return nil, fmt.Errorf("%w; and %w", err, perr)
		}
		l.warnings = append(l.warnings, fmt.Sprintf("sockets read from %s/net, as %v", l.procRoot, err))
		return socks, nil
	}
	if interrupted {
		l.warnings = append(l.warnings, "the socket tables changed while they were read: some sockets may be missing")
	}
	return socks, err
}

// netnsSockets lists the sockets of every network namespace, or of the
// one f.Netns names, each marked with its namespace. A namespace that
// cannot be entered (without privilege, or gone since it was found) is
// skipped with a warning, or, when it is the one asked for, an error.
func (l *linuxInspector) netnsSockets(ctx context.Context, f Filter) ([]Socket, error) {
	list, unreadable, err := l.listNetns()
	if err != nil {
		return nil, err
	}
	if f.Netns != "" {
		ns, err := selectNetns(l.procRoot, list, f.Netns)
		if err != nil {
			return nil, err
		}
		socks, interrupted, err := netlinkSockets(ctx, f, l.namesIn(&ns), &ns)
		if err != nil {
			return nil, fmt.Errorf("network namespace %s: %w", ns.Label(), err)
		}
		if !ns.Own {
			if ns.Container = l.procs.containerOf(ns.PID); ns.Container != nil {
				ns.Isolated = netnsIsolated(&ns)
			}
		}
		if interrupted {
			l.warnings = append(l.warnings, "the socket tables changed while they were read: some sockets may be missing")
		}
		for j := range socks {
			socks[j].Netns = &ns
		}
		return socks, nil
	}
	if unreadable > 0 {
		remedy := "run as " + linuxPrivilegeHint + " to list their sockets"
		if l.privileged() {
			remedy = "they refused even this privileged run"
		}
		l.warnings = append(l.warnings, fmt.Sprintf("the network namespaces of %s could not be read: %s", Plural(unreadable, "process"), remedy))
	}
	var all []Socket
	var skipped, failed []string
	for i := range list {
		ns := &list[i]
		ns.Container = l.procs.containerOf(ns.PID)
		socks, interrupted, err := netlinkSockets(ctx, f, l.namesIn(ns), ns)
		if err == nil && !ns.Own && ns.Container != nil {
			ns.Isolated = netnsIsolated(ns) // for the audit, of containers only
		}
		switch {
		case err != nil && ns.Own && ctx.Err() == nil && l.source == "":
			// As Sockets does where sock_diag is refused: this namespace's
			// sockets from /proc/net, and the others not at all.
			var perr error
			if socks, perr = procNetSockets(l.procRoot, f); perr != nil {
				return nil, fmt.Errorf("%w; and %w", err, perr)
			}
			l.warnings = append(l.warnings, fmt.Sprintf("sockets read from %s/net, as %v; other network namespaces need sock_diag", l.procRoot, err))
			for j := range socks {
				socks[j].Netns = ns
			}
			return socks, nil
		case err != nil && (ns.Own || ctx.Err() != nil):
			return nil, err
		case err != nil && errors.Is(err, fs.ErrPermission):
			skipped = append(skipped, fmt.Sprintf("%s (%v)", ns.Label(), err))
			continue
		case err != nil && errors.Is(err, errNetnsGone):
			continue // its last process left, or its mount went
		case err != nil:
			failed = append(failed, fmt.Sprintf("%s (%v)", ns.Label(), err))
			continue
		}
		if interrupted {
			l.warnings = append(l.warnings, "the socket tables of "+ns.Label()+" changed while they were read: some sockets may be missing")
		}
		for j := range socks {
			socks[j].Netns = ns
		}
		all = append(all, socks...)
	}
	l.netnsSkipped, l.netnsUnreadable = len(skipped)+len(failed), unreadable
	if len(skipped) > 0 {
		l.warnings = append(l.warnings, fmt.Sprintf("%s skipped: %s; entering one needs root (CAP_SYS_ADMIN)",
			Plural(len(skipped), "network namespace"), strings.Join(skipped, ", ")))
	}
	if len(failed) > 0 {
		l.warnings = append(l.warnings, fmt.Sprintf("%s could not be read: %s",
			Plural(len(failed), "network namespace"), strings.Join(failed, ", ")))
	}
	return all, nil
}

// listNetns lists the machine's network namespaces, and counts the
// processes whose namespace could not be read.
func (l *linuxInspector) listNetns() ([]Netns, int, error) {
	procFD, err := unix.Open(l.procRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, &os.PathError{Op: "open", Path: l.procRoot, Err: err}
	}
	pids, err := listPIDs(procFD)
	unix.Close(procFD)
	if err != nil {
		return nil, 0, err
	}
	return listNetns(l.procRoot, pids)
}

func (l *linuxInspector) NetnsLeftOut() (namespaces, processes int) {
	return l.netnsSkipped, l.netnsUnreadable
}

// namesIn returns the interface names of ns, which lookups made here can
// tell only for this namespace.
func (l *linuxInspector) namesIn(ns *Netns) *ifaceNames {
	if ns.Own {
		return &l.names
	}
	return &ifaceNames{elsewhere: true}
}

// Owners walks every process's descriptors. A socket no readable process
// holds is hidden, not ownerless, when some process could not be read, or
// when it belongs to another user and we lack the privilege to read that
// user's processes: /proc mounted with hidepid hides them without an
// error.
func (l *linuxInspector) Owners(ctx context.Context, socks []Socket) (OwnerReport, error) {
	return l.ownersAmong(ctx, socks, nil)
}

// ownersAmong is Owners searching the processes first before every
// other, and those only for the sockets first did not hold: the
// processes of a socket's own network namespace hold it, but for one
// handed elsewhere.
func (l *linuxInspector) ownersAmong(ctx context.Context, socks []Socket, first []int) (OwnerReport, error) {
	want := make(map[uint64]struct{}, len(socks))
	for i := range socks {
		if socks[i].Inode != 0 {
			want[socks[i].Inode] = struct{}{}
		}
	}
	procFD, err := unix.Open(l.procRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return OwnerReport{}, fmt.Errorf("reading owners: %w", &os.PathError{Op: "open", Path: l.procRoot, Err: err})
	}
	defer unix.Close(procFD)
	owners := make(map[uint64][]int)
	denied := 0
	if len(first) > 0 && len(want) > 0 {
		w := ownerWalk{procFD: procFD, want: want}
		owners, denied = w.run(ctx, first)
		for inode := range owners {
			delete(want, inode)
		}
	}
	if len(want) > 0 {
		pids, err := listPIDs(procFD)
		if err != nil {
			return OwnerReport{}, fmt.Errorf("reading owners: listing %s: %w", l.procRoot, err)
		}
		w := ownerWalk{procFD: procFD, want: want}
		var more map[uint64][]int
		more, denied = w.run(ctx, pids)
		maps.Copy(owners, more)
	}
	if err := ctx.Err(); err != nil {
		return OwnerReport{}, err
	}
	privileged, euid := l.privileged(), int64(os.Geteuid())
	childNS := l.childPIDNamespace()
	for i := range socks {
		s := &socks[i]
		s.PIDs = owners[s.Inode]
		switch {
		case len(s.PIDs) > 0:
			s.Owners = OwnersKnown
		case s.Inode == 0:
			s.Owners = OwnersNone
		case denied > 0, childNS, !privileged && s.UID != euid:
			s.Owners = OwnersHidden
		default:
			s.Owners = OwnersNone
		}
	}
	return OwnerReport{Denied: denied, ChildPIDNamespace: childNS}, nil
}

// initialPIDNamespace is the inode of the first PID namespace, the same on
// every boot (PROC_PID_INIT_INO, include/linux/proc_ns.h).
const initialPIDNamespace = 0xEFFFFFFC

// childPIDNamespace reports whether this process runs in a PID namespace
// below the first, whose /proc shows none of the processes outside it.
func (l *linuxInspector) childPIDNamespace() bool {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(l.procRoot, "self", "ns", "pid"), &st); err != nil {
		return false
	}
	return st.Ino != initialPIDNamespace
}

func (l *linuxInspector) Process(pid int, detail ProcessDetail) (Process, error) {
	return l.procs.process(pid, detail)
}

func (l *linuxInspector) LookupUser(name string) (int64, bool) {
	return l.procs.lookupUser(name)
}

func (l *linuxInspector) Host() Host {
	host, _ := os.Hostname()
	return Host{
		Hostname:      host,
		OS:            "linux",
		Privileged:    l.privileged(),
		PrivilegeHint: linuxPrivilegeHint,
	}
}

func (l *linuxInspector) Warnings() []string {
	return append(slices.Clip(l.warnings), l.procs.containers.Problems()...)
}

// readPrivileged reports whether this process may read every process's
// descriptors: both capabilities of linuxPrivilegeHint are effective.
func (l *linuxInspector) readPrivileged() bool {
	b, err := os.ReadFile(filepath.Join(l.procRoot, "self", "status"))
	if err != nil {
		return os.Geteuid() == 0
	}
	caps, ok := parseStatusCapEff(b)
	if !ok {
		return os.Geteuid() == 0
	}
	const need = 1<<unix.CAP_SYS_PTRACE | 1<<unix.CAP_DAC_READ_SEARCH
	return caps&need == need
}
