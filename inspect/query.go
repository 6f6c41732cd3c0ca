package inspect

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/portinspect/portinspect/platform"
)

// Query says which sockets to report.
type Query struct {
	// Ports selects local ports, and addresses where its items name them;
	// nil selects all.
	Ports PortSet
	// Addresses keeps sockets at one of these local addresses (see
	// Socket.At); nil keeps all.
	Addresses []netip.Addr
	// Clients adds to the sockets on Ports this machine's clients of them:
	// connections from here whose remote port is one of Ports, to a
	// loopback address or to a peer in the same listing (not another
	// machine's port of the same number).
	Clients bool
	// TCP and UDP select protocols; both false means both.
	TCP, UDP bool
	// IPv4 and IPv6 select families; both false means both.
	IPv4, IPv6 bool
	// Listening keeps TCP listeners and bound, unconnected UDP sockets.
	Listening bool
	// States keeps sockets in these states; 0 keeps all but TCP's CLOSE
	// (platform.DefaultStates).
	States platform.States
	// PIDs keeps sockets held by these processes.
	PIDs []int
	// Processes keeps sockets held by a process of one of these names or
	// executables.
	Processes []string
	// Users keeps sockets held by (or, where owners are unknown, created
	// by) one of these user names or UIDs.
	Users []string
	// NoProcesses skips the owner lookup, the slow part.
	NoProcesses bool
	// Detail says how much of each owning process to read.
	Detail platform.ProcessDetail
	// KnownPorts selects which ports the report describes from the
	// known-ports database.
	KnownPorts KnownPortsMode
	// AllNetns lists the sockets of every network namespace (Linux).
	AllNetns bool
	// Netns lists the sockets of one network namespace (Linux).
	Netns string
	// Reachability judges each listener beyond loopback against the host
	// firewall (Socket.Reach).
	Reachability bool
	// netnsDefault lets RunAudit choose the namespaces.
	netnsDefault bool
	// everyPublication reads every port NAT rules publish, asked for or
	// not, as RunAudit does: a port no socket holds may be forwarded to
	// a risky listener in a container.
	everyPublication bool
}

// EveryNetnsUnlessAsked lets an audit cover every network namespace when
// it runs privileged on Linux and the query names none.
func (q *Query) EveryNetnsUnlessAsked() {
	q.netnsDefault = !q.AllNetns && q.Netns == ""
}

// KnownPortsMode says which ports a report annotates.
type KnownPortsMode uint8

const (
	// KnownPortsNone annotates no port.
	KnownPortsNone KnownPortsMode = iota
	// KnownPortsAsked annotates the single ports of the query and every
	// port a reported socket listens on, found or not: `port` answers
	// "what is 3372" even when nothing is there.
	KnownPortsAsked
	// KnownPortsListening annotates the ports of reported listeners.
	KnownPortsListening
)

// ListeningStates are the states `-l` keeps.
const ListeningStates = platform.States(1<<platform.Listen | 1<<platform.Unconnected)

// stateAliases are the extra names ss users type for states and groups.
var stateAliases = map[string]platform.States{
	"ESTAB":       platform.States(0).With(platform.Established),
	"LISTENING":   ListeningStates,
	"CLOSED":      platform.States(0).With(platform.Close),
	"UNCONNECTED": platform.States(0).With(platform.Unconnected),
	"CONNECTED":   platform.AllStates &^ platform.States(0).With(platform.Listen).With(platform.Close).With(platform.Unconnected).With(platform.StateUnknown),
}

const stateHelp = "want LISTEN, ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, CLOSING, UNCONN, or connected"

// ParseStates parses state names as ss and this tool print them, in any
// case, with - or _ (time-wait, TIME_WAIT), comma-separated.
func ParseStates(spec string) (platform.States, error) {
	var states platform.States
	for name := range strings.SplitSeq(spec, ",") {
		norm := strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(name)), "-", "_")
		// ss spells FIN-WAIT-1 with a dash before the digit.
		norm = strings.NewReplacer("WAIT_1", "WAIT1", "WAIT_2", "WAIT2").Replace(norm)
		if s, ok := platform.StateNamed(norm); ok {
			states = states.With(s)
			continue
		}
		if group, ok := stateAliases[norm]; ok {
			states |= group
			continue
		}
		return 0, usagef("invalid state %q: %s", name, stateHelp)
	}
	return states, nil
}

// filter returns the platform filter for q: what can be decided before
// owners are known.
func (q *Query) filter() platform.Filter {
	f := platform.Filter{
		TCP: q.TCP || !q.UDP, UDP: q.UDP || !q.TCP,
		IPv4: q.IPv4 || !q.IPv6, IPv6: q.IPv6 || !q.IPv4,
		States:   platform.DefaultStates,
		AllNetns: q.AllNetns,
		Netns:    q.Netns,
	}
	if q.States != 0 {
		f.States = q.States
	}
	if q.Listening {
		f.States &= ListeningStates
	}
	if q.onlyIPv4() && f.States&ListeningStates != 0 {
		// A dual-stack :: listener takes IPv4 too: -4 must see it
		// (takesIPv4 keeps it, and drops the rest of the IPv6 dump).
		f.IPv6 = true
	}
	if q.Ports != nil {
		f.Ports = q.Ports.merged()
		f.PeerPorts = q.Clients
		// "3372/udp" need not dump a single TCP socket.
		f.TCP = f.TCP && slices.ContainsFunc(q.Ports, func(r PortRange) bool { return r.TCP })
		f.UDP = f.UDP && slices.ContainsFunc(q.Ports, func(r PortRange) bool { return r.UDP })
	}
	return f
}

// onlyIPv4 reports whether the query asks for IPv4 alone (-4).
func (q *Query) onlyIPv4() bool { return q.IPv4 && !q.IPv6 }

// takesIPv4 reports whether s, an IPv6 socket, takes IPv4 connections: a
// listener on :: that is dual-stack.
func takesIPv4(s *platform.Socket) bool {
	return ListeningStates.Has(s.State) && s.Local.Addr().IsUnspecified() && s.DualStack == platform.DualStackYes
}

// Filtered reports whether the query narrows sockets beyond their ports.
func (q *Query) Filtered() bool {
	return q.TCP || q.UDP || q.IPv4 || q.IPv6 || q.Listening || q.States != 0 || len(q.Addresses) > 0 || q.filtersOwners()
}

// selectsAddresses reports whether the query keeps sockets by more than
// the platform filter decides: addresses, or clients told from other
// connections to the same remote port.
func (q *Query) selectsAddresses() bool {
	return len(q.Addresses) > 0 || q.Ports.hasAddrs() || q.Clients && q.Ports != nil
}

// role says whether the query keeps s, a socket the platform filter kept,
// and why. peers holds the local and remote ends of the connections in
// the same listing, to tell this machine's clients of a port from its connections
// to other machines' ports of the same number.
func (q *Query) role(s *Socket, peers map[[2]netip.AddrPort]bool) (Role, bool) {
	atAddress := len(q.Addresses) == 0 || slices.ContainsFunc(q.Addresses, s.At)
	if atAddress && q.Ports.Selects(s) {
		return RoleLocal, true
	}
	if !q.Clients || q.Ports == nil || s.Listening() || s.Remote.Port() == 0 {
		return 0, false
	}
	if !peerAmong(q.Addresses, s.Remote.Addr()) {
		return 0, false
	}
	if !slices.ContainsFunc(q.Ports, func(r PortRange) bool { return r.servesClient(s) }) {
		return 0, false
	}
	local, remote := unmapped(s.Local), unmapped(s.Remote)
	if remote.Addr().IsLoopback() || peers[[2]netip.AddrPort{remote, local}] {
		return RoleClient, true
	}
	return 0, false
}

// unmapped is ap with an IPv4-mapped address as plain IPv4, so that the
// two ends of a connection to a dual-stack listener can be matched.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// filtersOwners reports whether the query keeps sockets by their owners.
func (q *Query) filtersOwners() bool {
	return len(q.PIDs) > 0 || len(q.Processes) > 0 || len(q.Users) > 0
}

// ownerMatcher applies a query's owner filters.
type ownerMatcher struct {
	q         *Query
	filtering bool
	// uids are the UIDs that q.Users name.
	uids []int64
}

// newOwnerMatcher resolves the query's users with src. An unknown user is
// a usage error: a misspelt name must not read as "nothing there".
func newOwnerMatcher(q *Query, src Source) (ownerMatcher, error) {
	m := ownerMatcher{q: q, filtering: q.filtersOwners()}
	for _, user := range q.Users {
		uid, ok := src.LookupUser(user)
		if !ok {
			return m, usagef("unknown user %q: want a user name or UID", user)
		}
		m.uids = append(m.uids, uid)
	}
	return m, nil
}

// match reports whether a socket passes the owner filters. A socket whose
// holders are hidden is judged by the UID the kernel records for it.
func (m *ownerMatcher) match(s *Socket) bool {
	procs := s.Processes
	q := m.q
	if len(q.PIDs) > 0 && !slices.ContainsFunc(procs, func(p *Process) bool { return slices.Contains(q.PIDs, p.PID) }) {
		return false
	}
	if len(q.Processes) > 0 && !slices.ContainsFunc(procs, func(p *Process) bool {
		return slices.ContainsFunc(q.Processes, func(name string) bool { return processNamed(p, name) })
	}) {
		return false
	}
	if len(q.Users) == 0 {
		return true
	}
	if s.Owners == platform.OwnersHidden {
		return slices.Contains(m.uids, s.UID)
	}
	return slices.ContainsFunc(procs, func(p *Process) bool {
		return slices.Contains(q.Users, p.User) || slices.Contains(m.uids, p.UID)
	})
}

// processNamed reports whether p is called name: its name, its
// executable's path or base name. Linux cuts names to 15 bytes, so a
// longer name matches a cut one it starts with.
func processNamed(p *Process, name string) bool {
	switch {
	case p.Name == name, p.Exe == name, p.Exe != "" && baseName(p.Exe) == name:
		return true
	case len(p.Name) == 15 && strings.HasPrefix(name, p.Name):
		return true
	}
	return false
}

func baseName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}
