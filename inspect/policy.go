package inspect

import "strings"

// ExposureSelector picks sockets by exposure in policies and assertions.
type ExposureSelector uint8

const (
	// AnyExposure selects every socket.
	AnyExposure ExposureSelector = iota
	// OnLoopback selects sockets bound to loopback.
	OnLoopback
	// OnAll selects sockets bound to every interface (0.0.0.0, ::).
	OnAll
	// OnAddress selects sockets bound to one non-loopback address.
	OnAddress
	// BeyondLoopback selects sockets reachable from other machines:
	// OnAll, OnAddress and OnInterface.
	BeyondLoopback
	// OnInterface selects wildcard sockets bound to one interface.
	OnInterface
)

const exposureSelectorList = "loopback, all, address, interface, beyond-loopback or any"

var exposureSelectorNames = [...]string{
	AnyExposure:    "any",
	OnLoopback:     "loopback",
	OnAll:          "all",
	OnAddress:      "address",
	BeyondLoopback: "beyond-loopback",
	OnInterface:    "interface",
}

func (e ExposureSelector) String() string {
	if int(e) < len(exposureSelectorNames) {
		return exposureSelectorNames[e]
	}
	return "unknown"
}

// ParseExposureSelector parses "loopback", "all", "address",
// "beyond-loopback" or "any".
func ParseExposureSelector(s string) (ExposureSelector, error) {
	for i, n := range exposureSelectorNames {
		if strings.EqualFold(s, n) {
			return ExposureSelector(i), nil
		}
	}
	return 0, usagef("invalid exposure %q: want %s", s, exposureSelectorList)
}

// phrase says what the selector demands, after "not": "on loopback only".
func (e ExposureSelector) phrase() string {
	switch e {
	case OnLoopback:
		return "on loopback only"
	case OnAll:
		return "on all interfaces"
	case OnAddress:
		return "on one specific address"
	case OnInterface:
		return "on one interface"
	case BeyondLoopback:
		return "beyond loopback"
	}
	return "anywhere"
}

// Matches reports whether a socket of exposure x is selected.
func (e ExposureSelector) Matches(x Exposure) bool {
	switch e {
	case OnLoopback:
		return x == ExposureLoopback
	case OnAll:
		return x == ExposureAll
	case OnAddress:
		return x == ExposureAddress
	case OnInterface:
		return x == ExposureInterface
	case BeyondLoopback:
		return x != ExposureLoopback
	}
	return true
}

// PolicyDefault is what a policy says of listeners no rule names.
type PolicyDefault uint8

const (
	// DefaultAllow lets unnamed listeners be.
	DefaultAllow PolicyDefault = iota
	// DefaultDeny makes every unnamed listener a failure.
	DefaultDeny
)

// Policy is a policy file: what must, may and must not listen.
type Policy struct {
	// Name is the file the policy came from, for messages.
	Name    string
	Default PolicyDefault
	// Require: for each rule, something must listen on each of its single
	// ports (on one of its ranges, for a range), with the exposure and
	// owner the rule gives, if any.
	Require []PolicyRule
	// Allow: listeners a rule matches may listen, when Default is deny.
	Allow []PolicyRule
	// Deny: no listener may match any of these rules.
	Deny []PolicyRule
	// Reachable: for each rule, something must listen beyond loopback and
	// the host firewall must let the network reach it.
	Reachable []PolicyRule
	// Filtered: whatever listens where a rule says must be out of the
	// network's reach: on loopback, or behind the host firewall.
	Filtered []PolicyRule
}

// judgesReach says whether checking p needs the firewall's verdicts.
func (p *Policy) judgesReach() bool {
	return p != nil && len(p.Reachable)+len(p.Filtered) > 0
}

// PolicyRule is one entry of a policy's require, allow, deny, reachable or filtered list.
type PolicyRule struct {
	// Spec is the port field as written ("443/tcp", "ssh"), Ports what it
	// selects.
	Spec  string
	Ports PortSet
	// Exposure narrows the rule to listeners of that exposure.
	Exposure ExposureSelector
	// Owner, when set, is a process name or executable path: for require,
	// who must hold the listener; for allow and deny, whose listeners the
	// rule is about.
	Owner string
	// Reason is the policy author's explanation, shown on failure.
	Reason string
	// Line is where the rule starts in the file.
	Line int
}
