package inspect

import (
	"fmt"
	"strings"

	"github.com/portinspect/portinspect/platform"
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
)

var assertionNames = [...]string{
	AssertListening:    "listening",
	AssertClosed:       "closed",
	AssertOwner:        "owner",
	AssertOnlyLoopback: "only-loopback",
	AssertDefaultDeny:  "default deny",
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
}

// ParseAssertion parses the argument of a check flag: "22/tcp" or
// "22/tcp@loopback" for listening, closed and only-loopback, and
// "SPEC=PROCESS" for owner.
func ParseAssertion(kind AssertionKind, arg string, resolve ServiceResolver) (Assertion, error) {
	a := Assertion{Kind: kind, Source: "--" + kind.String()}
	spec := arg
	if kind == AssertOwner {
		var ok bool
		spec, a.Owner, ok = strings.Cut(arg, "=")
		if !ok || a.Owner == "" {
			return a, usagef("invalid --owner %q: want PORTSPEC=PROCESS, as in 22/tcp=sshd", arg)
		}
	}
	if at := strings.LastIndexByte(spec, '@'); at >= 0 && kind != AssertOnlyLoopback {
		e, err := ParseExposureSelector(spec[at+1:])
		if err != nil {
			return a, usagef("invalid %s %q: %s", a.Source, arg, err)
		}
		spec, a.Exposure = spec[:at], e
	}
	ports, err := ParsePortSpec(spec, resolve)
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
	if p.Default == DefaultDeny {
		as = append(as, Assertion{Kind: AssertDefaultDeny, Source: p.Name + " default"})
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

// Evaluate checks assertions against a report of listening sockets; p,
// when not nil, is the policy whose rules a default-deny assertion
// measures listeners against.
func Evaluate(rep *Report, as []Assertion, p *Policy) []Result {
	var listeners []*Socket
	for i := range rep.Sockets {
		if rep.Sockets[i].Listening() {
			listeners = append(listeners, &rep.Sockets[i])
		}
	}
	results := make([]Result, 0, len(as))
	for _, a := range as {
		results = append(results, evaluate(a, listeners, p))
	}
	return results
}

// selects reports whether a assertion's ports, exposure and (but for
// AssertOwner, where it is the demand) owner select s.
func (a *Assertion) selects(s *Socket) bool {
	if !a.Ports.Has(s.Local.Port(), s.Protocol) || !a.Exposure.Matches(s.Exposure) {
		return false
	}
	return a.Kind == AssertOwner || a.Owner == "" || ownedBy(s, a.Owner)
}

func ownedBy(s *Socket, name string) bool {
	for _, p := range s.Processes {
		if processNamed(p, name) {
			return true
		}
	}
	return false
}

func evaluate(a Assertion, listeners []*Socket, p *Policy) Result {
	r := Result{Assertion: a}
	var selected []*Socket
	for _, s := range listeners {
		if a.selects(s) {
			selected = append(selected, s)
		}
	}
	switch a.Kind {
	case AssertListening:
		var missing []string
		for _, pr := range a.Ports {
			found := false
			for _, s := range selected {
				found = found || pr.Has(s.Local.Port(), s.Protocol)
			}
			if !found {
				missing = append(missing, describeRange(pr))
			}
		}
		r.OK, r.Sockets = len(missing) == 0, selected
		if r.OK {
			r.Found = describeListeners(selected)
		} else {
			r.Found = "nothing listens on " + strings.Join(missing, ", ") + a.qualifiers()
		}
	case AssertClosed:
		r.OK, r.Sockets = len(selected) == 0, selected
		r.Found = "nothing listens" + a.qualifiers()
		if !r.OK {
			r.Found = "listening on " + describeListeners(selected)
		}
	case AssertOwner:
		r.Sockets = selected
		var others []*Socket
		for _, s := range selected {
			if !ownedBy(s, a.Owner) {
				others = append(others, s)
			}
		}
		switch {
		case len(selected) == 0:
			r.Found = "nothing listens"
		case len(others) > 0:
			r.Found = "held by others: " + describeListeners(others)
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
	case AssertDefaultDeny:
		var unnamed []*Socket
		for _, s := range listeners {
			if p == nil || !p.names(s) {
				unnamed = append(unnamed, s)
			}
		}
		r.OK, r.Sockets = len(unnamed) == 0, unnamed
		r.Found = "no listener outside the policy"
		if !r.OK {
			r.Found = "not in the policy: " + describeListeners(unnamed)
		}
	}
	return r
}

// names reports whether any rule of the policy is about s.
func (p *Policy) names(s *Socket) bool {
	for _, list := range [][]PolicyRule{p.Require, p.Allow, p.Deny} {
		for _, r := range list {
			a := Assertion{Ports: r.Ports, Exposure: r.Exposure, Owner: r.Owner}
			if a.selects(s) {
				return true
			}
		}
	}
	return false
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

func describeRange(pr platform.PortRange) string {
	ports := fmt.Sprint(pr.Low)
	if pr.High != pr.Low {
		ports = fmt.Sprintf("%d-%d", pr.Low, pr.High)
	}
	switch {
	case pr.TCP && !pr.UDP:
		return ports + "/tcp"
	case pr.UDP && !pr.TCP:
		return ports + "/udp"
	}
	return ports
}

// describeListeners says where and by whom: "0.0.0.0:3372/tcp by tipd
// (pid 412); [::1]:53/udp by a hidden owner".
func describeListeners(socks []*Socket) string {
	var parts []string
	for _, s := range socks {
		parts = append(parts, fmt.Sprintf("%s/%s by %s", s.Local, s.Protocol, describeHolders([]*Socket{s})))
	}
	return strings.Join(parts, "; ")
}
