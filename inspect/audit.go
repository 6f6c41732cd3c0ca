package inspect

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/firewall"
)

// Severity ranks findings, on the known-ports database's scale.
type Severity = knownports.Risk

// Audit rule IDs: stable, for scripts and alerts.
const (
	RuleExposedRiskyService  = "exposed-risky-service"
	RuleUnknownListener      = "unknown-listener"
	RuleSuspiciousExecutable = "suspicious-executable"
	RuleOwnerlessListener    = "ownerless-listener"
	RulePartialCoverage      = "partial-coverage"
	RuleUnexpectedProgram    = "unexpected-program"
	RuleFirewallBypassed     = "firewall-bypassed"
)

// Finding is one thing an audit flags about the machine's listeners.
type Finding struct {
	Rule     string
	Severity Severity
	Message  string
	// Port and Protocol say which listener group the finding is about;
	// a finding about the whole audit (partial coverage) has neither.
	Port     uint16
	Protocol platform.Protocol
	// Sockets and Processes are the listeners and their holders at fault.
	Sockets   []*Socket
	Processes []*Process
	// Advice is what to do, this platform's first: a note's advice from
	// the known-ports database, or for the rules no note covers, this
	// package's own (advice.go).
	Advice []knownports.Advice
}

// Audit is every listener of a machine with what an auditor should know
// of it.
type Audit struct {
	*Report
	// Findings are sorted most severe first, then by port.
	Findings []Finding
}

// Count returns how many findings have severity s.
func (a *Audit) Count(s Severity) int {
	n := 0
	for _, f := range a.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// CountAtLeast returns how many findings have severity s or worse.
func (a *Audit) CountAtLeast(s Severity) int {
	n := 0
	for _, f := range a.Findings {
		if f.Severity >= s {
			n++
		}
	}
	return n
}

// Blind says why the audit may have missed findings, or "" when it saw
// every listener's owner: a finding about an owner (a program run from
// /tmp, say) cannot be raised about an owner that is hidden.
func (a *Audit) Blind() string {
	hidden := hiddenOwners(a.Sockets)
	switch {
	case hidden > 0:
		return fmt.Sprintf("the owners of %s are hidden", platform.Plural(hidden, "listener"))
	case !a.Host.Privileged:
		return "it ran without privilege, so sockets shared with other users' processes may have more owners"
	}
	return ""
}

// Worst returns the highest severity among the findings, and false when
// there are none.
func (a *Audit) Worst() (Severity, bool) {
	if len(a.Findings) == 0 {
		return 0, false
	}
	return a.Findings[0].Severity, true
}

// RunAudit lists every listener (TCP LISTEN, bound UDP) that q selects,
// with its owners and known-port entry, and applies the audit rules. The
// advice of the machine's own system (its Host.OS) comes first.
//
// Where the caller left the namespaces to it (Query.EveryNetnsUnlessAsked),
// a privileged audit on Linux covers every network namespace: an auditor
// wants every listener on the machine, containers' too.
func RunAudit(ctx context.Context, src Source, db *knownports.DB, q Query) (*Audit, error) {
	if q.netnsDefault && q.Netns == "" && src.Host().Privileged && src.Host().OS == "linux" {
		q.AllNetns = true
	}
	q.Listening = true
	q.everyPublication = true
	q.NoProcesses = false
	q.Detail = platform.DetailFull
	q.KnownPorts = KnownPortsListening
	q.Reachability = true
	rep, err := Run(ctx, src, db, q)
	if err != nil {
		return nil, err
	}
	a := &Audit{Report: rep, Findings: auditFindings(rep, db, rep.Host.OS)}
	return a, nil
}

// listenerGroup is the listeners on one port and protocol.
type listenerGroup struct {
	port    uint16
	proto   platform.Protocol
	sockets []*Socket
}

func (g *listenerGroup) beyondLoopback() []*Socket {
	var out []*Socket
	for _, s := range g.sockets {
		if s.Exposure != ExposureLoopback {
			out = append(out, s)
		}
	}
	return out
}

// groupListeners groups a report's listening sockets by port and protocol,
// in port order.
func groupListeners(socks []Socket) []*listenerGroup {
	var groups []*listenerGroup
	byKey := make(map[[2]int]*listenerGroup)
	for i := range socks {
		s := &socks[i]
		if !s.Listening() {
			continue
		}
		k := [2]int{int(s.Local.Port()), int(s.Protocol)}
		g := byKey[k]
		if g == nil {
			g = &listenerGroup{port: s.Local.Port(), proto: s.Protocol}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.sockets = append(g.sockets, s)
	}
	slices.SortFunc(groups, func(a, b *listenerGroup) int {
		return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto))
	})
	return groups
}

// servedNotes are the notes whose risk applies to socks: the note their
// holder matches, where one does (9090 held by prometheus is not Cockpit),
// else every note about a service on the port.
func servedNotes(socks []*Socket, notes []*knownports.Note) []*knownports.Note {
	for _, s := range socks {
		if s.Match == knownports.MatchExpected && s.Note != nil && !s.Note.Wide() {
			return []*knownports.Note{s.Note}
		}
	}
	var out []*knownports.Note
	for _, n := range notes {
		if !n.Wide() {
			out = append(out, n)
		}
	}
	return out
}

// unexpectedPrograms finds listeners held by a program their port's note
// does not expect: a python3 on 6379 is not Redis, whatever the port
// says. The note's risk applies (at least medium beyond loopback: an
// unexplained program is listening there), and its loopback risk on
// loopback.
func unexpectedPrograms(g *listenerGroup, here string) []Finding {
	var out []Finding
	for _, loopback := range []bool{false, true} {
		var socks []*Socket
		for _, s := range g.sockets {
			if s.Match == knownports.MatchUnexpected && (s.Exposure == ExposureLoopback) == loopback {
				socks = append(socks, s)
			}
		}
		if len(socks) == 0 {
			continue
		}
		n := socks[0].Note
		severity := max(n.Risk, knownports.RiskMedium)
		if loopback {
			severity = n.RiskLoopback
		}
		procs := holders(socks)
		out = append(out, Finding{
			Rule: RuleUnexpectedProgram, Severity: severity,
			Message: fmt.Sprintf("%s on %s is not the program expected there: expected %s (%s); held by %s",
				addresses(socks), n.Title, n.ExpectedText(here), n.ID(), describeHolders(socks)),
			Port: g.port, Protocol: g.proto, Sockets: socks, Processes: procs,
			Advice: unknownListenerAdvice(here, g.port, g.proto, procs),
		})
	}
	return out
}

// kernelServices are listeners the kernel itself holds, by port and
// protocol: no process is expected.
var kernelServices = map[[2]int]string{
	{2049, int(platform.TCP)}: "the kernel NFS server (nfsd)",
	{2049, int(platform.UDP)}: "the kernel NFS server (nfsd)",
}

func auditFindings(rep *Report, db *knownports.DB, here string) []Finding {
	var findings []Finding
	for _, g := range groupListeners(rep.Sockets) {
		findings = append(findings, groupFindings(g, rep, db, here)...)
	}
	if !rep.Host.Privileged {
		hidden := hiddenOwners(rep.Sockets)
		msg := "this audit ran without privilege: processes of other users could not be read"
		if hidden > 0 {
			msg = fmt.Sprintf("this audit ran without privilege: the owners of %s are hidden", platform.Plural(hidden, "listener"))
		}
		findings = append(findings, Finding{
			Rule: RulePartialCoverage, Severity: knownports.RiskInfo,
			Message: msg + "; run as " + rep.Host.PrivilegeHint + " for a complete audit",
			Advice:  partialCoverageAdvice(here, rep.Host.PrivilegeHint),
		})
	}
	slices.SortStableFunc(findings, compareFindings)
	return findings
}

// compareFindings orders findings worst first, then by port and protocol.
func compareFindings(a, b Finding) int {
	return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

// hiddenOwners counts the sockets whose owners are hidden.
func hiddenOwners(socks []Socket) int {
	n := 0
	for i := range socks {
		if socks[i].Owners == platform.OwnersHidden {
			n++
		}
	}
	return n
}

// groupFindings applies the rules to the listeners on one port.
func groupFindings(g *listenerGroup, rep *Report, db *knownports.DB, here string) []Finding {
	var out []Finding
	entry := db.Port(g.port).Only(g.proto.String())
	exposed, inNetns := splitByNetns(g.beyondLoopback())

	// Beyond loopback in another network namespace: what publishes it
	// decides. Published on some address but loopback, it is reachable
	// from other machines; published on loopback only, or not at all, a
	// container's listener is reachable from this host and that
	// namespace's own network, a container bridge, and not from other
	// machines: the note's risk on loopback. Where nothing says (NAT rules
	// unread, its own interface), it keeps the note's risk.
	for _, part := range byNetnsReach(rep, inNetns) {
		for _, n := range servedNotes(part.sockets, entry.Notes) {
			out = append(out, netnsFinding(g, n, part, here))
		}
	}

	if len(exposed) > 0 {
		procs := holders(exposed)
		named := false
		for _, n := range servedNotes(exposed, entry.Notes) {
			named = true
			msg := fmt.Sprintf("%s is reachable beyond loopback on %s", n.Title, addresses(exposed))
			advice := FillPID(AdvicePlatformFirst(n.Advice, here), procs)
			to, containerPort := publishedTo(exposed)
			switch {
			case to == "" && len(procs) > 0:
				msg += ", held by " + describeHolders(exposed)
			case to != "":
				msg += ", published to " + to
				advice = append([]knownports.Advice{publishOnLoopback(g.port, containerPort)}, advice...)
			}
			severity := n.Risk
			if fw := firewallText(exposed); fw != "" {
				msg += "; " + fw
				if firewallStops(exposed) {
					// A drop rule is a wall that the next rule change can
					// open: less severe, still a finding.
					severity = max(n.RiskLoopback, severity-1)
				}
			}
			out = append(out, Finding{
				Rule: RuleExposedRiskyService, Severity: severity, Message: msg,
				Port: g.port, Protocol: g.proto,
				Sockets: exposed, Processes: procs, Advice: advice,
			})
		}
		if f, ok := bypassFinding(g, exposed, entry.Notes); ok {
			out = append(out, f)
		}
		if !named && db.ServiceName(g.port, g.proto.String()) == "" {
			out = append(out, Finding{
				Rule: RuleUnknownListener, Severity: knownports.RiskInfo,
				Message: fmt.Sprintf("reachable beyond loopback on %s, held by %s: no note and no IANA name says what it is",
					addresses(exposed), describeHolders(exposed)),
				Port: g.port, Protocol: g.proto, Sockets: exposed, Processes: procs,
				Advice: unknownListenerAdvice(here, g.port, g.proto, procs),
			})
		}
	}

	out = append(out, unexpectedPrograms(g, here)...)

	for _, p := range holders(g.sockets) {
		suspect := suspectExecutable(p)
		if suspect == exeFine {
			continue
		}
		why, severity := "", knownports.RiskHigh
		switch suspect {
		case exeVanished:
			why = "its executable was deleted after it started, and nothing is at its path"
		case exeInWritableDir:
			why = fmt.Sprintf("its executable is in %s, which every user can write to", dirOf(p.Exe))
		case exeInTempDir:
			why = fmt.Sprintf("its executable is in the temporary directory %s", dirOf(p.Exe))
		case exeReplaced:
			// A package upgrade renames the new binary over the old one.
			why, severity = "its executable was replaced after it started: an upgrade waiting for a restart", knownports.RiskLow
		}
		socks := heldBy(g.sockets, p)
		out = append(out, Finding{
			Rule: RuleSuspiciousExecutable, Severity: severity,
			Message: fmt.Sprintf("%s (pid %d) listens on %s: %s (%s)", p.Name, p.PID, addresses(socks), why, p.Exe),
			Port:    g.port, Protocol: g.proto, Sockets: socks, Processes: []*Process{p},
			Advice: suspiciousExecutableAdvice(here, p, suspect),
		})
	}

	// No visible owner, while privileged: either no process holds it (a
	// kernel service, or a socket passed on and closed) or it is among
	// the few processes even root could not read.
	var ownerless []*Socket
	for _, s := range g.sockets {
		// From a child PID namespace, a hidden owner is a process
		// outside it, not a missing one.
		if len(s.Processes) == 0 && s.Owners != platform.OwnersNotLooked && !(rep.ChildPIDNamespace && s.Owners == platform.OwnersHidden) {
			ownerless = append(ownerless, s)
		}
	}
	if len(ownerless) > 0 && rep.Host.Privileged {
		f := Finding{
			Rule: RuleOwnerlessListener, Severity: knownports.RiskMedium,
			Message: fmt.Sprintf("no process visibly holds the listener on %s: a kernel service, a socket passed on and closed, or a process even root cannot read", addresses(ownerless)),
			Port:    g.port, Protocol: g.proto, Sockets: ownerless,
			Advice: ownerlessAdvice(here, g.port, g.proto),
		}
		if !slices.ContainsFunc(ownerless, func(s *Socket) bool { return s.Owners != platform.OwnersUnknown }) {
			f.Message = fmt.Sprintf("the system reports no owner for the listener on %s", addresses(ownerless))
		}
		if k, ok := kernelServices[[2]int{int(g.port), int(g.proto)}]; ok {
			f.Severity = knownports.RiskInfo
			f.Message = fmt.Sprintf("the listener on %s is held by %s, not by a process", addresses(ownerless), k)
		}
		out = append(out, f)
	}
	return out
}

// dirOf is the directory of a path written with / or \, whichever
// system it comes from.
func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i > 0 {
		return path[:i]
	}
	return path
}

// tempDirs are where nothing should be run from, world-writable or not.
var tempDirs = []string{"/tmp", "/var/tmp", "/dev/shm"}

func inTempDir(exe string) bool {
	return slices.ContainsFunc(tempDirs, func(d string) bool { return strings.HasPrefix(exe, d+"/") })
}

// splitByNetns parts sockets into those of the namespace portinspect runs
// in and those of others (-A).
func splitByNetns(socks []*Socket) (here, elsewhere []*Socket) {
	for _, s := range socks {
		if s.Netns == nil || s.Netns.Own {
			here = append(here, s)
		} else {
			elsewhere = append(elsewhere, s)
		}
	}
	return here, elsewhere
}

// netnsReachKind is how far a listener in another namespace is published.
type netnsReachKind uint8

const (
	reachUnknown netnsReachKind = iota
	reachUnpublished
	reachLoopback
	reachWide
)

// netnsPart is listeners in other namespaces published alike, and the
// publications that reach them.
type netnsPart struct {
	sockets []*Socket
	pubs    []*Publication
	reach   netnsReachKind
}

// byNetnsReach parts listeners in other namespaces by how far they are
// published, the widest first. Published on loopback only, or not at
// all, is a claim about a Docker or Podman container, no Kubernetes pod
// (a cluster routes to pods), whose namespace reaches other machines
// through this host alone (Netns.Isolated: a bridge's veth end, private
// addresses), where a runtime that publishes by NAT put it. A listener no
// publication reaches is unpublished when its runtime keeps the
// container's published ports (Docker) and has none, or every NAT rule of
// the host was read and understood and each ended at its listener
// (finalListeners): one that found none, or a forwarder (Docker in
// Docker's own proxy), may go on to this one. Published on loopback only
// needs the same, or Docker's state saying every binding is on loopback.
func byNetnsReach(rep *Report, socks []*Socket) []*netnsPart {
	all := rep.Publications()
	rulesKnown := rep.natRead && !slices.ContainsFunc(all, func(p *Publication) bool { return !p.finalListeners() })
	parts := make([]*netnsPart, reachWide+1)
	for _, s := range socks {
		var pubs []*Publication
		wide := false
		for _, p := range all {
			if slices.ContainsFunc(p.Listeners, func(l Socket) bool { return s.Inode != 0 && l.Inode == s.Inode }) {
				pubs = append(pubs, p)
				wide = wide || !p.HostAddr.IsValid() || !p.HostAddr.IsLoopback()
			}
		}
		c := s.Container()
		isolated := c != nil && (c.Runtime == container.Docker || c.Runtime == container.Podman) && c.Pod == "" && c.PodUID == "" &&
			s.Netns != nil && s.Netns.Isolated
		reach := reachUnknown
		switch {
		case wide:
			reach = reachWide
		case !isolated:
		case len(pubs) > 0 && (rulesKnown || c.BindingsKnown && !slices.ContainsFunc(c.Bindings, func(b container.Binding) bool {
			return !b.HostAddr.IsValid() || !b.HostAddr.IsLoopback()
		})):
			reach = reachLoopback
		case len(pubs) == 0 && (rulesKnown || c.BindingsKnown && len(c.Bindings) == 0):
			reach = reachUnpublished
		}
		if parts[reach] == nil {
			parts[reach] = &netnsPart{reach: reach}
		}
		part := parts[reach]
		part.sockets = append(part.sockets, s)
		for _, p := range pubs {
			if !slices.Contains(part.pubs, p) && (reach != reachWide || !p.HostAddr.IsValid() || !p.HostAddr.IsLoopback()) {
				part.pubs = append(part.pubs, p)
			}
		}
	}
	slices.Reverse(parts)
	return slices.DeleteFunc(parts, func(p *netnsPart) bool { return p == nil })
}

// netnsFinding is a note's finding about listeners in other namespaces,
// as far as they are published: beyond loopback, they are reachable from
// other machines; on loopback only, or not at all, a container's listener
// is reachable from this host and that namespace's own network, a
// container bridge, and not from other machines: the note's risk on
// loopback. Where nothing says (NAT rules unread, its own interface), it
// keeps the note's risk.
func netnsFinding(g *listenerGroup, n *knownports.Note, part *netnsPart, here string) Finding {
	procs := holders(part.sockets)
	f := Finding{
		Rule: RuleExposedRiskyService, Severity: n.Risk, Port: g.port, Protocol: g.proto,
		Sockets: part.sockets, Processes: procs, Advice: FillPID(AdvicePlatformFirst(n.Advice, here), procs),
	}
	where := fmt.Sprintf("%s listens on %s in %s", n.Title, addresses(part.sockets), netnsNames(part.sockets))
	if len(holders(part.sockets)) > 0 {
		where += ", held by " + describeHolders(part.sockets)
	}
	const notBeyond = "reachable from this host and that namespace's network (a container bridge), not from other machines (unless they route to it through this host)"
	switch part.reach {
	case reachWide:
		f.Message = fmt.Sprintf("%s, published on %s: reachable from other machines", where, hostPorts(part.pubs))
		f.Advice = append([]knownports.Advice{publishOnLoopback(part.pubs[0].HostPort, part.pubs[0].ContainerPort)}, f.Advice...)
	case reachLoopback:
		f.Severity = n.RiskLoopback
		f.Message = fmt.Sprintf("%s, published on %s only: %s", where, hostPorts(part.pubs), notBeyond)
	case reachUnpublished:
		f.Severity = n.RiskLoopback
		f.Message = where + ", which publishes no port: " + notBeyond
	default:
		f.Message = where + ": reachable from other machines if that namespace has an interface or a published port of theirs"
	}
	return f
}

// hostPorts names where publications are published: "*:6379/tcp,
// 127.0.0.1:18090/tcp".
func hostPorts(pubs []*Publication) string {
	var out []string
	for _, p := range pubs {
		if d := p.HostName() + "/" + p.Protocol; !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return strings.Join(out, ", ")
}

// netnsNames names the namespaces of socks for a message: "network
// namespace web (container web1)".
func netnsNames(socks []*Socket) string {
	var names []string
	for _, s := range socks {
		name := "network namespace " + s.Netns.Label()
		if c := s.Container(); c != nil {
			name += " (container " + c.Label() + ")"
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// publishedTo names the containers socks publish to ("container web1 port
// 6379/tcp"), and the first one's port.
func publishedTo(socks []*Socket) (string, uint16) {
	var out []string
	var first uint16
	for _, s := range socks {
		for _, f := range s.Published {
			name := "a container at " + f.ContainerAddr.String()
			if f.Container != nil {
				name = "container " + f.Container.Label()
			}
			if d := fmt.Sprintf("%s port %d/%s", name, f.ContainerPort, f.Protocol); !slices.Contains(out, d) {
				out = append(out, d)
			}
			first = cmp.Or(first, f.ContainerPort)
		}
	}
	return strings.Join(out, ", "), first
}

// publishOnLoopback is the advice for a container port published on every
// address: publish it on loopback, where this host still reaches it.
func publishOnLoopback(hostPort, containerPort uint16) knownports.Advice {
	mapping := fmt.Sprintf("127.0.0.1:%d:%d", hostPort, containerPort)
	return knownports.Advice{
		Platform: "linux",
		Text: "Publish the container's port on 127.0.0.1 only, so that this host reaches it and other machines do not: " +
			"-p " + mapping + " with docker run or podman run, or \"" + mapping + "\" under ports: in a compose file; then recreate the container.",
	}
}

// addresses lists where sockets listen: "0.0.0.0:3372, [::]:3372".
func addresses(socks []*Socket) string {
	var out []string
	for _, s := range socks {
		if a := s.LocalName(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return strings.Join(out, ", ")
}

// holders returns the processes holding any of socks, each once.
func holders(socks []*Socket) []*Process {
	var out []*Process
	for _, s := range socks {
		for _, p := range s.Processes {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func heldBy(socks []*Socket, p *Process) []*Socket {
	var out []*Socket
	for _, s := range socks {
		if slices.Contains(s.Processes, p) {
			out = append(out, s)
		}
	}
	return out
}

// describeHolders names the holders of sockets for a message.
func describeHolders(socks []*Socket) string {
	var names []string
	for _, p := range holders(socks) {
		names = append(names, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
	}
	switch {
	case len(names) > 0:
		return strings.Join(names, ", ")
	case slices.ContainsFunc(socks, func(s *Socket) bool { return s.Owners == platform.OwnersHidden }):
		return "a hidden owner"
	case slices.ContainsFunc(socks, func(s *Socket) bool { return s.Owners == platform.OwnersUnknown }):
		return "an owner the system does not report"
	}
	return "no process"
}

// AdviceGroup is what to do on one platform, as numbered steps.
type AdviceGroup struct {
	Platform string
	Steps    []knownports.Advice
}

// GroupAdvice groups advice by platform, here first, then the others in
// the order the note gives them. Steps for any platform are here's too,
// after its own: a reader is on some platform, and "any" is none.
func GroupAdvice(advice []knownports.Advice, here string) []AdviceGroup {
	groups := []AdviceGroup{{Platform: here}}
	var anywhere []knownports.Advice
	for _, a := range advice {
		switch a.Platform {
		case here:
			groups[0].Steps = append(groups[0].Steps, a)
		case "any":
			anywhere = append(anywhere, a)
		default:
			i := slices.IndexFunc(groups, func(g AdviceGroup) bool { return g.Platform == a.Platform })
			if i < 0 {
				i = len(groups)
				groups = append(groups, AdviceGroup{Platform: a.Platform})
			}
			groups[i].Steps = append(groups[i].Steps, a)
		}
	}
	groups[0].Steps = append(groups[0].Steps, anywhere...)
	if len(groups[0].Steps) == 0 {
		groups = groups[1:]
	}
	return groups
}

// FillPID writes the PID into advice's commands ("tasklist /svc /FI \"PID
// eq <PID>\"") when one process is the one to look at, so that they can
// be pasted as they are. The notes are shared and stay untouched.
func FillPID(advice []knownports.Advice, procs []*Process) []knownports.Advice {
	if len(procs) != 1 {
		return advice
	}
	pid := strconv.Itoa(procs[0].PID)
	filled := slices.Clone(advice)
	for i := range filled {
		if !slices.ContainsFunc(filled[i].Commands, func(c string) bool { return strings.Contains(c, "<PID>") }) {
			continue
		}
		cmds := make([]string, len(filled[i].Commands))
		for j, c := range filled[i].Commands {
			cmds[j] = strings.ReplaceAll(c, "<PID>", pid)
		}
		filled[i].Commands = cmds
	}
	return filled
}

// AdvicePlatformFirst lists advice in the order GroupAdvice gives it:
// platform's steps, then those for any platform, then the others'.
func AdvicePlatformFirst(advice []knownports.Advice, platform string) []knownports.Advice {
	var out []knownports.Advice
	for _, g := range GroupAdvice(advice, platform) {
		out = append(out, g.Steps...)
	}
	return out
}

// firewallStops says the firewall stops the network's packets to every
// one of socks.
func firewallStops(socks []*Socket) bool {
	for _, s := range socks {
		if s.Reach == nil || s.Reach.Verdict != firewall.Filtered {
			return false
		}
	}
	return len(socks) > 0
}

// firewallText says what the firewall does with packets to socks, where
// it was judged and stops some: "filtered by table inet filter chain
// input: policy drop", "reachable only for ip saddr 10.0.0.0/8 (...)".
func firewallText(socks []*Socket) string {
	var out []string
	for _, s := range socks {
		j := s.Reach
		if j == nil || j.Rule == nil {
			continue
		}
		t := ""
		switch j.Verdict {
		case firewall.Filtered:
			t = "filtered by " + j.Rule.String()
		case firewall.Partly:
			t = "reachable only for " + strings.Join(j.Conditions, "; ") + " (" + j.Rule.String() + ")"
		}
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return strings.Join(out, "; ")
}

// bypassFinding is the finding of a port that destination NAT sends past
// the input chains, which would have stopped its packets, through forward
// chains that let them on (Docker's published ports and ufw or
// firewalld: moby #22054).
func bypassFinding(g *listenerGroup, socks []*Socket, notes []*knownports.Note) (Finding, bool) {
	var bypassed []*Socket
	var j *firewall.Judgement
	for _, s := range socks {
		if s.Reach != nil && s.Reach.Bypassed {
			bypassed, j = append(bypassed, s), s.Reach
		}
	}
	if len(bypassed) == 0 {
		return Finding{}, false
	}
	severity := knownports.RiskMedium
	for _, n := range notes {
		severity = max(severity, n.Risk)
	}
	port := j.Forwarded.Port()
	return Finding{
		Rule: RuleFirewallBypassed, Severity: severity, Port: g.port, Protocol: g.proto,
		Sockets: bypassed, Processes: holders(bypassed),
		Message: fmt.Sprintf("%s/%s is forwarded to %s by destination NAT, past the input chains that would stop it: %s",
			addresses(bypassed), g.proto, j.Forwarded, j.Rule),
		Advice: []knownports.Advice{
			publishOnLoopback(g.port, port),
			{Platform: "linux", Text: "Or filter the forwarded packets where Docker leaves room for it, the DOCKER-USER chain, which the forward chain runs first; " +
				"rules in the input chain (ufw's, firewalld's) never see them.",
				Commands:   []string{fmt.Sprintf("sudo iptables -I DOCKER-USER -p %s -m conntrack --ctorigdstport %d -j DROP", g.proto, g.port)},
				References: []string{"Docker documentation: Packet filtering and firewalls, Docker and ufw (https://docs.docker.com/engine/network/packet-filtering-firewalls/)"}},
		},
	}, true
}
