package inspect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/firewall"
)

// AssertionKind is what an assertion demands of the listeners on its
// ports.
type AssertionKind uint8

const (
	// AssertListening: something listens on each single port (on one port
	// of each range), with the exposure and owner given, if any.
	AssertListening AssertionKind = iota + 1
	// AssertClosed: nothing listens (with that exposure or owner, if
	// given).
	AssertClosed
	// AssertOwner: something listens and every listener is held by Owner.
	AssertOwner
	// AssertOnlyLoopback: whatever listens is bound to loopback only.
	AssertOnlyLoopback
	// AssertDefaultDeny: nothing listens that no rule of a policy names.
	AssertDefaultDeny
	// AssertReachable: something listens on each single port (on one
	// port of each range) beyond loopback, and the host firewall lets the
	// network's packets reach it (open, or partly: from some sources).
	AssertReachable
	// AssertFiltered: whatever listens is out of the network's reach: on
	// loopback only, or behind a firewall that stops every packet to it.
	AssertFiltered
)

var assertionNames = [...]string{
	AssertListening:    "listening",
	AssertClosed:       "closed",
	AssertOwner:        "owner",
	AssertOnlyLoopback: "only-loopback",
	AssertDefaultDeny:  "default deny",
	AssertReachable:    "reachable",
	AssertFiltered:     "filtered",
}

func (k AssertionKind) String() string {
	if int(k) < len(assertionNames) && assertionNames[k] != "" {
		return assertionNames[k]
	}
	return "unknown"
}

// Assertion is one thing `check` verifies.
type Assertion struct {
	Kind AssertionKind
	// Spec is the PORTSPEC as written, Ports what it selects.
	Spec     string
	Ports    PortSet
	Exposure ExposureSelector
	Owner    string
	// Reason explains a policy rule; Source says where the assertion came
	// from ("--closed", "policy.yaml:12").
	Reason string
	Source string
	// Policy is, for AssertDefaultDeny, the policy whose rules name the
	// listeners it allows.
	Policy *Policy
}

// ParseAssertion parses the argument of a check flag: "22/tcp" or
// "22/tcp@loopback" for listening, closed and only-loopback, and
// "SPEC=PROCESS" for owner.
func ParseAssertion(kind AssertionKind, arg string, names Names) (Assertion, error) {
	a := Assertion{Kind: kind, Source: "--" + kind.String()}
	spec := arg
	if kind == AssertOwner {
		var ok bool
		spec, a.Owner, ok = strings.Cut(arg, "=")
		if !ok || a.Owner == "" || a.Owner == containerOwner {
			return a, usagef("invalid --owner %q: want PORTSPEC=PROCESS or PORTSPEC=container:NAME, as in 22/tcp=sshd or 8080=container:web1", arg)
		}
	}
	if at := strings.LastIndexByte(spec, '@'); at >= 0 && kind != AssertOnlyLoopback {
		e, err := ParseExposureSelector(spec[at+1:])
		if err != nil {
			return a, usagef("invalid %s %q: %s", a.Source, arg, err)
		}
		spec, a.Exposure = spec[:at], e
	}
	ports, err := ParsePortSpec(spec, names)
	if err != nil {
		return a, usagef("invalid %s %q: %s", a.Source, arg, err)
	}
	a.Spec, a.Ports = spec, ports
	return a, nil
}

// PolicyAssertions turns a policy's require and deny rules into
// assertions; its default, when deny, is one more, over the allow rules
// too.
func PolicyAssertions(p *Policy) []Assertion {
	var as []Assertion
	rule := func(kind AssertionKind, r PolicyRule, list string) Assertion {
		return Assertion{
			Kind: kind, Spec: r.Spec, Ports: r.Ports, Exposure: r.Exposure, Owner: r.Owner, Reason: r.Reason,
			Source: fmt.Sprintf("%s:%d %s", p.Name, r.Line, list),
		}
	}
	for _, r := range p.Require {
		as = append(as, rule(AssertListening, r, "require"))
	}
	for _, r := range p.Deny {
		as = append(as, rule(AssertClosed, r, "deny"))
	}
	for _, r := range p.Reachable {
		as = append(as, rule(AssertReachable, r, "reachable"))
	}
	for _, r := range p.Filtered {
		as = append(as, rule(AssertFiltered, r, "filtered"))
	}
	if p.Default == DefaultDeny {
		as = append(as, Assertion{Kind: AssertDefaultDeny, Source: p.Name + " default", Policy: p})
	}
	return as
}

// Result is an assertion checked against a machine.
type Result struct {
	Assertion
	OK bool
	// Found says what was found: the listeners at fault or that satisfy
	// the assertion, or what is missing.
	Found   string
	Sockets []*Socket
}

// Evaluate checks assertions against a report of listening sockets. An
// assertion about owners that the report could not see fails, saying so:
// a check must never pass blind.
func Evaluate(rep *Report, as []Assertion) []Result {
	e := evaluator{rep: rep}
	for i := range rep.Sockets {
		if rep.Sockets[i].Listening() {
			e.listeners = append(e.listeners, &rep.Sockets[i])
		}
	}
	results := make([]Result, 0, len(as))
	for _, a := range as {
		results = append(results, e.evaluate(a))
	}
	return results
}

type evaluator struct {
	listeners []*Socket
	// rep says what would show hidden owners.
	rep *Report
}

// selects reports whether a assertion's ports, exposure and (but for
// AssertOwner, where it is the demand) owner select s.
func (a *Assertion) selects(s *Socket) bool {
	return a.placed(s) && (a.Kind == AssertOwner || a.Owner == "" || ownedBy(s, a.Owner))
}

// placed reports whether a's ports and exposure select s, whoever holds
// it.
func (a *Assertion) placed(s *Socket) bool {
	return a.Ports.Selects(s) && a.Exposure.Matches(s.Exposure)
}

func ownedBy(s *Socket, name string) bool {
	want, isContainer := strings.CutPrefix(name, containerOwner)
	if isContainer {
		// A published port: docker-proxy holds it for the container.
		return slices.ContainsFunc(s.Processes, func(p *Process) bool { return containerNamed(p.Container, want) }) ||
			slices.ContainsFunc(s.Published, func(f *Publication) bool { return containerNamed(f.Container, want) })
	}
	return slices.ContainsFunc(s.Processes, func(p *Process) bool { return processNamed(p, name) })
}

// containerOwner starts an owner that names a container: the process runs
// in it, or forwards the port to it.
const containerOwner = "container:"

// containerNamed reports whether c is the container called name: by its
// name, its ID or an ID prefix of 12 digits or more, as docker ps prints.
func containerNamed(c *container.Container, name string) bool {
	return c != nil && (c.Name == name || len(name) >= 12 && strings.HasPrefix(c.ID, name))
}

// CheckQuery is the query that the assertions need answered: owners that
// name containers need the processes' containers, which only the full
// process details hold.
func CheckQuery(assertions []Assertion) Query {
	q := Query{Listening: true}
	for _, a := range assertions {
		if strings.HasPrefix(a.Owner, containerOwner) {
			q.Detail = platform.DetailFull
		}
		if a.Kind == AssertReachable || a.Kind == AssertFiltered || a.Kind == AssertDefaultDeny && a.Policy.judgesReach() {
			q.Reachability = true
		}
	}
	return q
}

// ownerUnseen reports whether s's holders could not be seen: they are
// hidden, or the system does not report them.
func ownerUnseen(s *Socket) bool {
	return s.Owners == platform.OwnersHidden || s.Owners == platform.OwnersUnknown
}

// unseen says why the owners of socks cannot be judged.
func (e *evaluator) unseen(socks []*Socket) string {
	what := "owner hidden on " + listenerAddresses(socks)
	switch {
	case !slices.ContainsFunc(socks, func(s *Socket) bool { return s.Owners == platform.OwnersHidden }):
		return "owner not reported by the system on " + listenerAddresses(socks)
	case e.rep.ChildPIDNamespace:
		return what + ": its holder is outside this PID namespace; " + e.rep.UnseenRemedy()
	case e.rep.Host.Privileged:
		return what + ": a process refused even this privileged run"
	case e.rep.Host.PrivilegeHint == "":
		return what
	}
	return what + ": " + e.rep.UnseenRemedy() + " to see it"
}

// listenersWhere returns the listeners keep selects.
func (e *evaluator) listenersWhere(keep func(*Socket) bool) []*Socket {
	var out []*Socket
	for _, s := range e.listeners {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func (e *evaluator) evaluate(a Assertion) Result {
	r := Result{Assertion: a}
	selected := e.listenersWhere(a.selects)
	switch a.Kind {
	case AssertListening:
		r.OK, r.Found = e.listening(&a, selected)
		r.Sockets = selected
	case AssertClosed:
		r.OK, r.Sockets = len(selected) == 0, selected
		r.Found = "nothing listens" + a.qualifiers()
		if !r.OK {
			r.Found = "listening on " + describeListeners(selected)
			break
		}
		if a.Owner != "" {
			// Nothing visibly held by the owner; a hidden holder may be it.
			if hidden := e.listenersWhere(func(s *Socket) bool {
				return ownerUnseen(s) && a.placed(s)
			}); len(hidden) > 0 {
				r.OK, r.Sockets, r.Found = false, hidden, e.unseen(hidden)
			}
		}
	case AssertOwner:
		r.Sockets = selected
		var others, hidden []*Socket
		for _, s := range selected {
			switch {
			case ownerUnseen(s):
				hidden = append(hidden, s)
			case !ownedBy(s, a.Owner):
				others = append(others, s)
			}
		}
		switch {
		case len(selected) == 0:
			r.Found = "nothing listens" + a.qualifiers()
		case len(others) > 0:
			r.Sockets = others
			r.Found = heldByOthers(others, a.Owner)
		case len(hidden) > 0:
			r.Sockets = hidden
			r.Found = e.unseen(hidden)
		default:
			r.OK = true
			r.Found = describeListeners(selected)
		}
	case AssertOnlyLoopback:
		var exposed []*Socket
		for _, s := range selected {
			if s.Exposure != ExposureLoopback {
				exposed = append(exposed, s)
			}
		}
		r.OK, r.Sockets = len(exposed) == 0, selected
		switch {
		case !r.OK:
			r.Sockets = exposed
			r.Found = "listening beyond loopback on " + describeListeners(exposed)
		case len(selected) == 0:
			r.Found = "nothing listens"
		default:
			r.Found = "on loopback only: " + describeListeners(selected)
		}
	case AssertReachable:
		r.OK, r.Found, r.Sockets = e.reachable(&a, selected)
	case AssertFiltered:
		var reached, unknown []*Socket
		for _, s := range selected {
			switch {
			case s.Exposure == ExposureLoopback:
			case s.Reach == nil || s.Reach.Verdict == firewall.Unknown:
				unknown = append(unknown, s)
			case s.Reach.Verdict != firewall.Filtered:
				reached = append(reached, s)
			}
		}
		r.OK, r.Sockets = len(reached)+len(unknown) == 0, append(reached, unknown...)
		var found []string
		if len(reached) > 0 {
			found = append(found, "reachable from the network on "+describeReach(reached))
		}
		if len(unknown) > 0 {
			found = append(found, "the firewall's verdict is unknown on "+describeReach(unknown))
		}
		r.Found = strings.Join(found, "; ")
		switch {
		case len(selected) == 0:
			r.Found = "nothing listens" + a.qualifiers()
		case r.OK:
			r.Found = "out of the network's reach: " + describeReach(selected)
		}
	case AssertDefaultDeny:
		var unnamed, hidden []*Socket
		for _, s := range e.listeners {
			switch a.Policy.names(s) {
			case ruleNone:
				unnamed = append(unnamed, s)
			case ruleIfOwnerSeen:
				hidden = append(hidden, s)
			}
		}
		r.OK, r.Sockets = len(unnamed)+len(hidden) == 0, append(unnamed, hidden...)
		var found []string
		if len(unnamed) > 0 {
			found = append(found, "not in the policy: "+describeListeners(unnamed))
		}
		if len(hidden) > 0 {
			found = append(found, e.unseen(hidden))
		}
		r.Found = strings.Join(found, "; ")
		if r.OK {
			r.Found = "no listener outside the policy"
		}
	}
	return r
}

// listening judges AssertListening: each port (each range, each service
// name, whose protocols are alternatives) must have a listener that the
// assertion selects. A failure says what is there instead.
func (e *evaluator) listening(a *Assertion, selected []*Socket) (ok bool, found string) {
	var missing, why []string
	for _, group := range a.Ports.groups() {
		if slices.ContainsFunc(selected, func(s *Socket) bool { return group.Selects(s) }) {
			continue
		}
		// What listens on the port, whatever its exposure and owner.
		there := e.listenersWhere(group.Selects)
		onExposure := slices.DeleteFunc(slices.Clone(there), func(s *Socket) bool { return !a.Exposure.Matches(s.Exposure) })
		switch {
		case len(there) == 0:
			missing = append(missing, group.describe())
		case len(onExposure) == 0:
			why = append(why, fmt.Sprintf("listens on %s, not %s", describeExposures(there), a.Exposure.phrase()))
		case slices.ContainsFunc(onExposure, ownerUnseen):
			why = append(why, e.unseen(slices.DeleteFunc(onExposure, func(s *Socket) bool { return !ownerUnseen(s) })))
		default:
			why = append(why, heldByOthers(onExposure, a.Owner))
		}
	}
	if len(missing) == 0 && len(why) == 0 {
		return true, describeListeners(selected)
	}
	if len(missing) > 0 {
		why = append([]string{"nothing listens on " + strings.Join(missing, ", ") + a.qualifiers()}, why...)
	}
	return false, strings.Join(why, "; ")
}

// reachable judges AssertReachable: each port (each range, each service
// name) must have a listener beyond loopback that the firewall lets the
// network reach. A failure says what stops it.
func (e *evaluator) reachable(a *Assertion, selected []*Socket) (ok bool, found string, socks []*Socket) {
	var why, good []string
	for _, group := range a.Ports.groups() {
		there := slices.DeleteFunc(slices.Clone(selected), func(s *Socket) bool { return !group.Selects(s) })
		beyond := slices.DeleteFunc(slices.Clone(there), func(s *Socket) bool { return s.Exposure == ExposureLoopback })
		reached := slices.DeleteFunc(slices.Clone(beyond), func(s *Socket) bool {
			return s.Reach == nil || s.Reach.Verdict != firewall.Open && s.Reach.Verdict != firewall.Partly
		})
		switch {
		case len(reached) > 0:
			good = append(good, describeReach(reached))
			socks = append(socks, reached...)
		case len(there) == 0:
			why = append(why, "nothing listens on "+group.describe()+a.qualifiers())
		case len(beyond) == 0:
			why = append(why, "listens on loopback only: "+listenerAddresses(there))
			socks = append(socks, there...)
		default:
			why = append(why, "out of the network's reach: "+describeReach(beyond))
			socks = append(socks, beyond...)
		}
	}
	if len(why) > 0 {
		return false, strings.Join(why, "; "), socks
	}
	return true, "reachable: " + strings.Join(good, "; "), socks
}

// describeReach names listeners with the firewall's verdict on each:
// "0.0.0.0:6379/tcp filtered (table inet filter chain input: policy
// drop)".
func describeReach(socks []*Socket) string {
	return joinListeners(socks, "; ", func(s *Socket) string {
		switch {
		case s.Exposure == ExposureLoopback:
			return " on loopback"
		case s.Reach == nil:
			return " not judged"
		}
		t := " " + string(s.Reach.Verdict)
		if len(s.Reach.Conditions) > 0 {
			t += " for " + strings.Join(s.Reach.Conditions, "; ")
		}
		if s.Reach.Rule != nil && s.Reach.Verdict != firewall.Unknown {
			return t + " (" + s.Reach.Rule.String() + ")"
		}
		return t + " (" + s.Reach.Reason + ")"
	})
}

// heldByOthers says who holds listeners that owner should: "held by
// python3 (pid 4242) on 0.0.0.0:80/tcp, not nginx".
func heldByOthers(socks []*Socket, owner string) string {
	return fmt.Sprintf("held by %s on %s, not %s", describeHolders(socks), listenerAddresses(socks), owner)
}

// describeExposures names where listeners are and how exposed:
// "0.0.0.0:22/tcp (all), [::]:22/tcp (all)".
func describeExposures(socks []*Socket) string {
	return joinListeners(socks, ", ", func(s *Socket) string { return " (" + s.Exposure.String() + ")" })
}

// listenerAddresses lists listeners as "0.0.0.0:22/tcp, [::]:22/tcp".
func listenerAddresses(socks []*Socket) string {
	return joinListeners(socks, ", ", func(*Socket) string { return "" })
}

// joinListeners names each listener as "0.0.0.0:22/tcp" and what more
// says of it, joined by sep.
func joinListeners(socks []*Socket, sep string, more func(*Socket) string) string {
	parts := make([]string, len(socks))
	for i, s := range socks {
		parts[i] = s.LocalName() + "/" + s.Protocol.String() + more(s)
	}
	return strings.Join(parts, sep)
}

// policyMatch says whether a policy's rules name a listener.
type policyMatch uint8

const (
	ruleNone policyMatch = iota
	ruleNamed
	// ruleIfOwnerSeen: a rule would name it if its hidden owner is the
	// rule's owner.
	ruleIfOwnerSeen
)

// names says whether any rule of the policy is about s.
func (p *Policy) names(s *Socket) policyMatch {
	if p == nil {
		return ruleNone
	}
	match := ruleNone
	for _, list := range [][]PolicyRule{p.Require, p.Allow, p.Deny, p.Reachable, p.Filtered} {
		for _, r := range list {
			a := Assertion{Ports: r.Ports, Exposure: r.Exposure, Owner: r.Owner}
			switch {
			case a.selects(s):
				return ruleNamed
			case r.Owner != "" && ownerUnseen(s) && a.placed(s):
				match = ruleIfOwnerSeen
			}
		}
	}
	return match
}

// portGroup is the ranges of a PortSet that one assertion must find a
// listener on one of: a number's range, or a service name's ranges.
type portGroup []PortRange

// groups splits the set into what AssertListening requires: each range,
// but the ranges of one service name together.
func (ps PortSet) groups() []portGroup {
	var out []portGroup
	for i, r := range ps {
		if i > 0 && r.Service != "" && r.Service == ps[i-1].Service {
			out[len(out)-1] = append(out[len(out)-1], r)
			continue
		}
		out = append(out, portGroup{r})
	}
	return out
}

// Selects reports whether a range of the group selects s.
func (g portGroup) Selects(s *Socket) bool {
	return slices.ContainsFunc(g, func(r PortRange) bool { return r.Selects(s) })
}

func (g portGroup) describe() string {
	var parts []string
	for _, r := range g {
		parts = append(parts, r.describe())
	}
	return strings.Join(parts, " or ")
}

// qualifiers spells the exposure and owner an assertion narrows to:
// " (beyond-loopback, owner nginx)".
func (a *Assertion) qualifiers() string {
	var q []string
	if a.Exposure != AnyExposure {
		q = append(q, a.Exposure.String())
	}
	if a.Owner != "" && a.Kind != AssertOwner {
		q = append(q, "owner "+a.Owner)
	}
	if len(q) == 0 {
		return ""
	}
	return " (" + strings.Join(q, ", ") + ")"
}

// describe spells a range as a PORTSPEC: "22/tcp", "3000-3100",
// "127.0.0.1:22 or [::1]:22".
func (r PortRange) describe() string {
	ports := strconv.Itoa(int(r.Low))
	if r.High != r.Low {
		ports += "-" + strconv.Itoa(int(r.High))
	}
	switch {
	case r.TCP && !r.UDP:
		ports += "/tcp"
	case r.UDP && !r.TCP:
		ports += "/udp"
	}
	if len(r.Addrs) == 0 {
		return ports
	}
	var at []string
	for _, a := range r.Addrs {
		host := a.String()
		if a.Is6() {
			host = "[" + host + "]"
		}
		at = append(at, host+":"+ports)
	}
	return strings.Join(at, " or ")
}

// describeListeners says where and by whom: "0.0.0.0:3372/tcp by tipd
// (pid 412); [::1]:53/udp by a hidden owner".
func describeListeners(socks []*Socket) string {
	return joinListeners(socks, "; ", func(s *Socket) string { return " by " + describeHolders([]*Socket{s}) })
}
