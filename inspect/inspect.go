// Package inspect answers portinspect's questions: which sockets match a
// query, which processes hold them, how exposed they are and what their
// ports are known for. It joins what package platform reads from the
// operating system with the knownports database, and leaves presentation
// to its callers.
package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/firewall"
)

// Exposure says who can reach a socket by its local address.
type Exposure uint8

const (
	// ExposureLoopback: bound to 127.0.0.0/8 or ::1, this machine only.
	ExposureLoopback Exposure = iota + 1
	// ExposureAll: bound to 0.0.0.0 or ::, every interface.
	ExposureAll
	// ExposureAddress: bound to one specific non-loopback address.
	ExposureAddress
	// ExposureInterface: bound to 0.0.0.0 or :: but also to one network
	// interface (SO_BINDTODEVICE), reachable through it alone.
	ExposureInterface
)

func (e Exposure) String() string {
	switch e {
	case ExposureLoopback:
		return "loopback"
	case ExposureAll:
		return "all"
	case ExposureAddress:
		return "address"
	case ExposureInterface:
		return "interface"
	}
	return "unknown"
}

// ExposureOf classifies a local address.
func ExposureOf(a netip.Addr) Exposure {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return ExposureLoopback
	case a.IsUnspecified():
		return ExposureAll
	}
	return ExposureAddress
}

// exposureOf classifies a socket by its local address and the interface
// it is bound to, if any: a wildcard bound to one interface is reached
// through it alone, and bound to a loopback interface from this machine
// alone.
func exposureOf(s *platform.Socket) Exposure {
	e := ExposureOf(s.Local.Addr())
	switch {
	case s.Device == "" || e == ExposureLoopback:
		return e
	case s.DeviceLoopback:
		return ExposureLoopback
	case e == ExposureAll:
		return ExposureInterface
	}
	return e
}

// Process is a process holding sockets.
type Process = platform.Process

// Role says why a socket is in a report.
type Role uint8

const (
	// RoleLocal: the socket is on a port (and address) the query asked
	// for, or the query asked for no port.
	RoleLocal Role = iota
	// RoleClient: the socket is this machine's connection to a port the
	// query asked for, as `lsof -i :3372` lists it too.
	RoleClient
)

func (r Role) String() string {
	if r == RoleClient {
		return "client"
	}
	return "local"
}

// Socket is a socket with its owners and exposure.
type Socket struct {
	platform.Socket
	Exposure  Exposure
	Processes []*Process
	// Service names what the socket is for, from the known-ports
	// database: its local port's service for a listener or the server end
	// of a connection, its peer's for the client end; "" when unknown.
	Service string
	Role    Role
	// Published is what the socket's port is published to: a container's
	// port that its holder forwards to, as docker-proxy does, or that NAT
	// rules forward to while its holder keeps the port, as Podman's
	// conmon does.
	Published []*Publication
	// Note is the known-ports note about a listener's port that its
	// holder matches, or the one that says what should hold it; Match
	// says which (nil and "" for sockets no note covers).
	Note  *knownports.Note
	Match knownports.Match
	// Reach is the host firewall's verdict on the network's packets to a
	// listener beyond loopback, where the query asked for it; nil
	// otherwise.
	Reach *firewall.Judgement
}

// Container is the container of a process holding s or, failing that, of
// its network namespace; nil for none.
func (s *Socket) Container() *container.Container {
	for _, p := range s.Processes {
		if p.Container != nil {
			return p.Container
		}
	}
	if s.Netns != nil {
		return s.Netns.Container
	}
	return nil
}

// Listening reports whether the socket waits for peers: a TCP listener or
// a bound, unconnected UDP socket.
func (s *Socket) Listening() bool {
	return ListeningStates.Has(s.State)
}

// LocalName is the local address as ss prints it: "*:80" for an IPv6
// wildcard that takes IPv4 too, so that it is told from an IPv6-only
// "[::]:80", and "0.0.0.0%virbr0:53" for a wildcard bound to an
// interface.
func (s *Socket) LocalName() string {
	return s.localHost(true) + ":" + strconv.Itoa(int(s.Local.Port()))
}

// LocalHost is LocalName without the port, and an IPv6 address without
// brackets: "*", "::", "0.0.0.0%virbr0".
func (s *Socket) LocalHost() string {
	return s.localHost(false)
}

func (s *Socket) localHost(bracket bool) string {
	a := s.Local.Addr()
	host := a.String()
	switch {
	case s.DualStack == platform.DualStackYes && a.IsUnspecified():
		host = "*"
	case bracket && a.Is6():
		host = "[" + host + "]"
	}
	if a.IsUnspecified() && s.Device != "" {
		host += "%" + s.Device
	}
	return host
}

// Report is the answer to a query.
type Report struct {
	Host       platform.Host
	Sockets    []Socket
	KnownPorts []knownports.Entry
	// Warnings say what the answer may lack and how to get it.
	Warnings []string
	// ChildPIDNamespace says the owners were looked up from a PID
	// namespace below the first, which cannot see every process: a
	// hidden owner there is not a socket no process holds.
	ChildPIDNamespace bool
	// AllNetns says the sockets are every network namespace's, but the
	// NetnsSkipped that could not be entered and those of the
	// NetnsUnreadable processes whose namespace could not be read.
	AllNetns                      bool
	NetnsSkipped, NetnsUnreadable int
	// Published are the asked-for ports (every port, in an audit) that
	// NAT rules publish while no socket listed holds them for the rules:
	// one may listen there, but forwards nothing.
	Published []*Publication
	// natRead says every NAT rule was read: a container that none
	// forwards to is published by none.
	natRead bool
}

// Publications are every publication of the report: those its sockets'
// ports are published to, then those no socket holds.
func (r *Report) Publications() []*Publication {
	var out []*Publication
	for i := range r.Sockets {
		out = append(out, r.Sockets[i].Published...)
	}
	return append(out, r.Published...)
}

// Source is where sockets and processes come from: platform.Inspector, or
// a fake in tests.
type Source = platform.Inspector

// Run answers q from src and db (nil db: no known-port annotations).
func Run(ctx context.Context, src Source, db *knownports.DB, q Query) (*Report, error) {
	m, err := newOwnerMatcher(&q, src)
	if err != nil {
		return nil, err
	}
	if db != nil && q.KnownPorts != KnownPortsNone {
		go db.Err() // parse the database while the kernel lists sockets
	}
	rep := &Report{Host: src.Host(), AllNetns: q.AllNetns}
	filter := q.filter()
	raw, err := src.Sockets(ctx, filter)
	if errors.Is(err, platform.ErrNoNetns) {
		return nil, &UsageError{Msg: err.Error()}
	}
	if err != nil {
		return nil, fmt.Errorf("reading sockets: %w", err)
	}
	if nc, ok := src.(platform.NetnsCoverage); ok && q.AllNetns {
		rep.NetnsSkipped, rep.NetnsUnreadable = nc.NetnsLeftOut()
	}
	var listening map[portKey]bool
	if db != nil {
		if listening, err = listeningPorts(ctx, src, filter, raw); err != nil {
			return nil, fmt.Errorf("reading sockets: %w", err)
		}
	}
	if q.onlyIPv4() {
		raw = slices.DeleteFunc(raw, func(s platform.Socket) bool { return s.Family == platform.IPv6 && !takesIPv4(&s) })
	}
	var roles []Role
	if q.selectsAddresses() {
		raw, roles = q.selectByAddress(raw)
	}

	owners := !q.NoProcesses || q.filtersOwners()
	var procs map[int]*Process
	var ownerRep platform.OwnerReport
	var ownersErr error
	if owners {
		ownerRep, ownersErr = src.Owners(ctx, raw)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case ownersErr != nil:
			// The sockets are still worth showing (/proc unmounted or
			// closed to us, say): say why their owners are missing.
			// No process holds a TIME_WAIT socket anywhere, nor on
			// Linux a socket without an inode (half-open connections).
			linux := rep.Host.OS == "linux"
			for i := range raw {
				raw[i].PIDs = nil
				raw[i].Owners = platform.OwnersHidden
				if raw[i].State == platform.TimeWait || (linux && raw[i].Inode == 0) {
					raw[i].Owners = platform.OwnersNone
				}
			}
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("owners of all sockets are unknown: %v", ownersErr))
		default:
			detail := q.Detail
			if len(q.Processes) > 0 {
				detail = platform.DetailFull // matching by executable path
			}
			procs = readProcesses(src, raw, detail)
		}
	}

	// Sorted as they are copied in: moving 24,000 sorted Sockets into
	// place afterwards cost as much again as the copy.
	order := socketOrder(len(raw), func(i int) (*platform.Socket, Role) {
		if roles == nil {
			return &raw[i], 0
		}
		return &raw[i], roles[i]
	})
	rep.Sockets = make([]Socket, 0, len(raw))
	for _, i := range order {
		s := &raw[i]
		sock := Socket{Socket: *s, Exposure: exposureOf(s)}
		if roles != nil {
			sock.Role = roles[i]
		}
		for _, pid := range s.PIDs {
			if p := procs[pid]; p != nil {
				sock.Processes = append(sock.Processes, p)
			}
		}
		if s.Owners == platform.OwnersKnown && len(sock.Processes) == 0 {
			// Every holder exited between the walk and the details.
			sock.Owners = platform.OwnersNone
		}
		if m.filtering && !m.match(&sock) {
			continue
		}
		rep.Sockets = append(rep.Sockets, sock)
	}
	if owners && ownersErr == nil {
		rep.Warnings = append(rep.Warnings, hiddenWarnings(rep.Sockets, ownerRep, rep.Host)...)
		rep.ChildPIDNamespace = ownerRep.ChildPIDNamespace
	}
	publish(ctx, src, &q, filter, rep)
	if q.Reachability {
		judgeReachability(ctx, src, filter, rep)
	}
	// A second listing (listeningPorts) may have said the same again.
	for _, w := range src.Warnings() {
		if !slices.Contains(rep.Warnings, w) {
			rep.Warnings = append(rep.Warnings, w)
		}
	}
	if db != nil {
		nameServices(db, rep.Sockets, listening)
		matchNotes(db, rep.Sockets, rep.Host.OS)
		rep.KnownPorts = knownPortsFor(db, q, rep.Sockets)
	}
	return rep, nil
}

// selectByAddress keeps the sockets of raw that the query selects by
// address, or as clients of its ports, and says which role each has.
func (q *Query) selectByAddress(raw []platform.Socket) ([]platform.Socket, []Role) {
	peers := make(map[[2]netip.AddrPort]bool)
	for i := range raw {
		if s := &raw[i]; s.Protocol == platform.TCP && s.Remote.Port() != 0 {
			peers[[2]netip.AddrPort{unmapped(s.Local), unmapped(s.Remote)}] = true
		}
	}
	kept := raw[:0]
	var roles []Role
	for _, s := range raw {
		if role, ok := q.role(&Socket{Socket: s}, peers); ok {
			kept = append(kept, s)
			roles = append(roles, role)
		}
	}
	return kept, roles
}

// portKey is a port of one protocol.
type portKey struct {
	proto platform.Protocol
	port  uint16
}

// listeningPorts returns the ports something listens on, from the
// listing raw when its filter kept listeners, or else from a listing of
// listeners only: a connection's local port is a server's when something
// listens on it, and `list --state established` must still say so.
func listeningPorts(ctx context.Context, src Source, f platform.Filter, raw []platform.Socket) (map[portKey]bool, error) {
	listening := make(map[portKey]bool)
	note := func(socks []platform.Socket) {
		for _, s := range socks {
			if ListeningStates.Has(s.State) {
				listening[portKey{s.Protocol, s.Local.Port()}] = true
			}
		}
	}
	note(raw)
	if f.States&ListeningStates != ListeningStates && slices.ContainsFunc(raw, func(s platform.Socket) bool { return s.Remote.Port() != 0 }) {
		f.States = ListeningStates
		f.PeerPorts = false
		more, err := src.Sockets(ctx, f)
		if err != nil {
			return nil, err
		}
		note(more)
	}
	return listening, nil
}

// readProcesses reads the details of every process holding a socket, in
// parallel: on a busy host that is thousands of small /proc reads.
func readProcesses(src Source, socks []platform.Socket, detail platform.ProcessDetail) map[int]*Process {
	var pids []int
	seen := make(map[int]bool)
	for _, s := range socks {
		for _, pid := range s.PIDs {
			if !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	found := make([]*Process, len(pids))
	workers := min(runtime.GOMAXPROCS(0), 1+len(pids)/32)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(pids); i += workers {
				p, err := src.Process(pids[i], detail)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					// Unreadable details still leave a known holder.
					p = Process{PID: pids[i], UID: -1, Hidden: true}
				}
				found[i] = &p
			}
		})
	}
	wg.Wait()
	procs := make(map[int]*Process, len(pids))
	for _, p := range found {
		if p != nil {
			procs[p.PID] = p
		}
	}
	return procs
}

const runInHostPIDNamespace = "run in the host's PID namespace (docker run --pid=host, or nsenter --target 1 --pid)"

// UnseenRemedy says what would show the owners this run could not see:
// running in the host's PID namespace, or with more privilege; "" when
// nothing would (a process refused even a privileged run).
func (r *Report) UnseenRemedy() string {
	switch {
	case r.ChildPIDNamespace:
		return runInHostPIDNamespace
	case r.Host.Privileged || r.Host.PrivilegeHint == "":
		return ""
	}
	return "run as " + r.Host.PrivilegeHint
}

// hiddenWarnings explains the reported sockets whose owners could not be
// read. When some processes could not be read, a socket shown with owners
// may have more holders among them, and the warning says so.
func hiddenWarnings(socks []Socket, or platform.OwnerReport, host platform.Host) []string {
	hidden, known := 0, 0
	for _, s := range socks {
		switch s.Owners {
		case platform.OwnersHidden:
			hidden++
		case platform.OwnersKnown:
			known++
		}
	}
	if or.ChildPIDNamespace && hidden > 0 {
		return []string{fmt.Sprintf("owners of %s are hidden: portinspect runs in a child PID namespace (a container's) "+
			"and cannot see the processes outside it; "+runInHostPIDNamespace,
			platform.Plural(hidden, "socket"))}
	}
	if hidden == 0 && (or.Denied == 0 || known == 0 || host.Privileged) {
		// The few processes root cannot read (a sandbox's init, say) are
		// unlikely to share sockets; saying so on every run is noise.
		return nil
	}
	what := fmt.Sprintf("owners of %s are hidden", platform.Plural(hidden, "socket"))
	switch {
	case hidden == 0:
		what = "sockets shown with owners may have more holders"
	case known > 0 && or.Denied > 0:
		what += " (and sockets shown with owners may have more)"
	}
	if host.Privileged {
		whose := "their"
		if or.Denied == 1 {
			whose = "its"
		}
		return []string{fmt.Sprintf("%s: %s refused access to %s descriptors even with privilege", what, platform.Plural(or.Denied, "process"), whose)}
	}
	return []string{fmt.Sprintf("%s: run as %s to see them", what, host.PrivilegeHint)}
}

// sortSockets orders a port's own sockets before its clients, listeners
// first, then by port, protocol, family and addresses, so that the same
// machine state always prints the same way.
func sortSockets(socks []Socket) {
	// Sorted by index and then moved into place: a Socket is some 250
	// bytes, and comparing copies of them was a tenth of `list`'s time.
	order := socketOrder(len(socks), func(i int) (*platform.Socket, Role) { return &socks[i].Socket, socks[i].Role })
	// socks[k] becomes the socket at order[k], one cycle of the
	// permutation at a time; -1 marks a place filled.
	for i := range socks {
		if order[i] < 0 {
			continue
		}
		first := socks[i]
		j := i
		for {
			k := int(order[j])
			order[j] = -1
			if k == i {
				socks[j] = first
				break
			}
			socks[j] = socks[k]
			j = k
		}
	}
}

// socketOrder returns the indices of n sockets, at(i) being the i-th and
// its role, in the order sortSockets gives.
func socketOrder(n int, at func(int) (*platform.Socket, Role)) []int32 {
	order := make([]int32, n)
	// The leading fields of the order packed in one number: most
	// comparisons end there, without comparing addresses.
	keys := make([]uint64, n)
	for i := range order {
		order[i] = int32(i)
		keys[i] = sortKey(at(i))
	}
	slices.SortFunc(order, func(i, j int32) int {
		if c := cmp.Compare(keys[i], keys[j]); c != 0 {
			return c
		}
		a, _ := at(int(i))
		b, _ := at(int(j))
		return compareAddresses(a, b)
	})
	return order
}

// sortKey packs the order's first fields: role, then listeners first,
// local port, protocol, family.
func sortKey(s *platform.Socket, role Role) uint64 {
	notListening := uint64(1)
	if ListeningStates.Has(s.State) {
		notListening = 0
	}
	return uint64(role)<<40 | notListening<<32 | uint64(s.Local.Port())<<16 | uint64(s.Protocol)<<8 | uint64(s.Family)
}

func compareSockets(a, b *Socket) int {
	if c := cmp.Compare(sortKey(&a.Socket, a.Role), sortKey(&b.Socket, b.Role)); c != 0 {
		return c
	}
	return compareAddresses(&a.Socket, &b.Socket)
}

// compareAddresses breaks the ties of sortKey.
func compareAddresses(a, b *platform.Socket) int {
	// Each comparison only when the ones before tie: cmp.Or would
	// compute every address comparison of every pair.
	if c := a.Local.Addr().Compare(b.Local.Addr()); c != 0 {
		return c
	}
	if c := a.Remote.Addr().Compare(b.Remote.Addr()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Remote.Port(), b.Remote.Port()); c != 0 {
		return c
	}
	return cmp.Compare(a.Inode, b.Inode)
}

// nameServices fills in each socket's Service. A connection whose local
// port something listens on is the server end; otherwise its local port
// is an ephemeral number and the service is the peer's.
func nameServices(db *knownports.DB, socks []Socket, listening map[portKey]bool) {
	for i := range socks {
		s := &socks[i]
		port := s.Local.Port()
		if !s.Listening() && !listening[portKey{s.Protocol, port}] && s.Remote.Port() != 0 {
			port = s.Remote.Port()
		}
		s.Service = db.ServiceName(port, s.Protocol.String())
	}
}

// matchNotes finds, for each listener, the note about its port that its
// holder matches (a port shared by several meanings, as 9090 is by
// Prometheus and Cockpit, takes the holder's), or else the note that
// says what should hold it; a match names the listener's service.
// os is the Host's, which spells systems as the notes do.
func matchNotes(db *knownports.DB, socks []Socket, os string) {
	for i := range socks {
		s := &socks[i]
		if !s.Listening() || s.Role != RoleLocal {
			continue
		}
		h, known := holderOf(s, os)
		note, m := db.NoteFor(s.Local.Port(), s.Protocol.String(), h)
		if note == nil {
			continue
		}
		if !known {
			m = knownports.MatchUnknown
		}
		s.Note, s.Match = note, m
		if m == knownports.MatchExpected && len(note.Aliases) > 0 && !note.Wide() {
			s.Service = note.ID()
		}
	}
}

// holderOf is the program that serves s: its holder, or, for a holder
// that only forwards (docker-proxy, conmon), the program listening behind
// it when that is known. known is false when neither can be told.
func holderOf(s *Socket, platform string) (knownports.Holder, bool) {
	h := knownports.Holder{Platform: platform}
	procs := s.Processes
	if slices.ContainsFunc(procs, forwarder) {
		procs = nil
		for _, pub := range s.Published {
			if pub.finalListeners() {
				for _, l := range pub.Listeners {
					procs = append(procs, l.Processes...)
				}
			}
		}
		h.Platform = "linux" // containers run on Linux
	}
	if len(procs) == 0 {
		return h, false
	}
	p := procs[0]
	h.Name, h.Exe, h.Service = p.Name, p.Exe, p.Service
	return h, true
}

// knownPortsFor returns the database entries a report should carry, each
// narrowed to the protocols it is about: "631/udp" or a UDP listener on
// 631 is not about CUPS's TCP listener.
func knownPortsFor(db *knownports.DB, q Query, socks []Socket) []knownports.Entry {
	type protos struct{ tcp, udp bool }
	var order []uint16
	about := make(map[uint16]*protos)
	add := func(port uint16, tcp, udp bool) {
		p := about[port]
		if p == nil {
			p = &protos{}
			about[port] = p
			order = append(order, port)
		}
		p.tcp, p.udp = p.tcp || tcp, p.udp || udp
	}
	switch q.KnownPorts {
	case KnownPortsNone:
		return []knownports.Entry{}
	case KnownPortsAsked:
		for _, port := range q.Ports.Singles() {
			for _, r := range q.Ports {
				if r.Low == port && r.High == port {
					add(port, r.TCP, r.UDP)
				}
			}
		}
	}
	// Only listeners: the local port of an outgoing connection is an
	// ephemeral number whose registration means nothing.
	for _, s := range socks {
		if s.Listening() {
			add(s.Local.Port(), s.Protocol == platform.TCP, s.Protocol == platform.UDP)
		}
	}
	entries := []knownports.Entry{}
	for _, port := range order {
		// IANA's "Unassigned" and "Reserved" rows say nothing worth a
		// section.
		if !db.Known(port) {
			continue
		}
		e := db.Port(port)
		switch p := about[port]; {
		case p.tcp && !p.udp:
			e = e.Only("tcp")
		case p.udp && !p.tcp:
			e = e.Only("udp")
		}
		if len(e.IANA) > 0 || len(e.Notes) > 0 {
			entries = append(entries, e)
		}
	}
	return entries
}

// judgeReachability judges the report's listeners beyond loopback against
// the host firewall, where the system's firewall is read.
func judgeReachability(ctx context.Context, src Source, filter platform.Filter, rep *Report) {
	var socks []*platform.Socket
	var holders []platform.Holder
	var at []int
	for i := range rep.Sockets {
		if s := &rep.Sockets[i]; s.Listening() && s.Role == RoleLocal && s.Exposure != ExposureLoopback {
			socks = append(socks, &s.Socket)
			holders = append(holders, holderFor(s, rep.Host.OS))
			at = append(at, i)
		}
	}
	if len(socks) == 0 {
		return
	}
	judge, ok := src.(platform.FirewallJudge)
	if !ok {
		for _, i := range at {
			rep.Sockets[i].Reach = &firewall.Judgement{Verdict: firewall.Unknown,
				Reason: "the firewall of " + rep.Host.OS + " is not read by this version"}
		}
		return
	}
	for k, j := range judge.Reachable(ctx, filter, socks, holders) {
		rep.Sockets[at[k]].Reach = &j
	}
}

// holderFor is the program a firewall rule may name for s: its first
// holder's executable and services; on Windows, the kernel for PID 4.
func holderFor(s *Socket, os string) platform.Holder {
	if len(s.Processes) == 0 {
		return platform.Holder{}
	}
	p := s.Processes[0]
	h := platform.Holder{Exe: p.Exe}
	if os == "windows" && p.PID == 4 {
		h.Exe = "System"
	}
	for svc := range strings.SplitSeq(p.Service, ", ") {
		if svc != "" {
			h.Services = append(h.Services, svc)
		}
	}
	return h
}
