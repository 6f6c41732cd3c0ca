package inspect

import (
	"slices"
	"strings"

	"github.com/portinspect/portinspect/platform"
)

// Query says which sockets to report.
type Query struct {
	// Ports selects local ports; nil selects all.
	Ports PortSet
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
	// Process keeps sockets held by a process of this name or executable.
	Process string
	// User keeps sockets held by (or, where owners are unknown, created
	// by) this user name or UID.
	User string
	// NoProcesses skips the owner lookup, the slow part.
	NoProcesses bool
	// Detail says how much of each owning process to read.
	Detail platform.ProcessDetail
	// KnownPorts selects which ports the report describes from the
	// known-ports database.
	KnownPorts KnownPortsMode
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
		States: platform.DefaultStates,
	}
	if q.States != 0 {
		f.States = q.States
	}
	if q.Listening {
		f.States &= ListeningStates
	}
	if q.Ports != nil {
		f.Ports = q.Ports.merged()
		// "3372/udp" need not dump a single TCP socket.
		f.TCP = f.TCP && slices.ContainsFunc(q.Ports, func(r platform.PortRange) bool { return r.TCP })
		f.UDP = f.UDP && slices.ContainsFunc(q.Ports, func(r platform.PortRange) bool { return r.UDP })
	}
	return f
}

// Filtered reports whether the query narrows sockets beyond their ports.
func (q *Query) Filtered() bool {
	return q.TCP || q.UDP || q.IPv4 || q.IPv6 || q.Listening || q.States != 0 || q.filtersOwners()
}

// filtersOwners reports whether the query keeps sockets by their owners.
func (q *Query) filtersOwners() bool {
	return len(q.PIDs) > 0 || q.Process != "" || q.User != ""
}

// ownerMatcher applies a query's owner filters.
type ownerMatcher struct {
	q         *Query
	filtering bool
	// uid is the UID that q.User names.
	uid int64
}

// newOwnerMatcher resolves the query's user with src. An unknown user is
// a usage error: a misspelt name must not read as "nothing there".
func newOwnerMatcher(q *Query, src Source) (ownerMatcher, error) {
	m := ownerMatcher{q: q, filtering: q.filtersOwners()}
	if q.User != "" {
		uid, ok := src.LookupUser(q.User)
		if !ok {
			return m, usagef("unknown user %q: want a user name or UID", q.User)
		}
		m.uid = uid
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
	if q.Process != "" && !slices.ContainsFunc(procs, func(p *Process) bool { return processNamed(p, q.Process) }) {
		return false
	}
	if q.User == "" {
		return true
	}
	if s.Owners == platform.OwnersHidden {
		return s.UID == m.uid
	}
	return slices.ContainsFunc(procs, func(p *Process) bool {
		return p.User == q.User || p.UID == m.uid
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
