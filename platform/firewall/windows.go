package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Windows Defender Firewall, read from the registry where it keeps its
// policy: the local store (SYSTEM\CurrentControlSet\Services\SharedAccess\
// Parameters\FirewallPolicy) and Group Policy's (SOFTWARE\Policies\
// Microsoft\WindowsFirewall). Each rule is a string of the grammar of
// [MS-GPFAS] 2.2.2.19, "v2.30|Action=Allow|Active=TRUE|Dir=In|...".

// WinRule is one firewall rule.
type WinRule struct {
	// ID is the registry value's name ("RemoteDesktop-UserMode-In-TCP"),
	// Store where it was read: "local" or "group policy".
	ID, Store string
	Action    string // Allow, Block or ByPass
	Active    bool
	Inbound   bool
	// Protocol is the IP protocol number, -1 for any.
	Protocol int
	// Profiles are "Domain", "Private" and "Public"; none is all.
	Profiles []string
	// LocalPorts are the ranges the rule takes, LocalPortKeywords the
	// dynamic ones (RPC, RPC-EPMap, Teredo...); both empty is any port.
	LocalPorts        [][2]uint16
	LocalPortKeywords []string
	// RemoteAddresses are the sources it takes (RA4, RA6): addresses,
	// ranges, subnets or keywords (LocalSubnet); none is any.
	RemoteAddresses []string
	// LocalAddresses are the destinations it takes (LA4, LA6).
	LocalAddresses []string
	// App is the program's path as written (%SystemRoot%\...), "System"
	// for the kernel; Svc the service's short name, "*" any service.
	App, Svc string
	// Other is what else restricts the rule (IPsec security, interface
	// types), which the evaluator takes as conditions.
	Other []string
}

// ParseWinRule reads a rule string of [MS-GPFAS] 2.2.2.19. Fields the
// grammar has but the evaluator does not need are skipped; a field that
// restricts the traffic in a way not modeled is kept in Other.
func ParseWinRule(id, store, s string) (WinRule, error) {
	r := WinRule{ID: id, Store: store, Protocol: -1, Active: true}
	version, rest, ok := strings.Cut(s, "|")
	if !ok || !strings.HasPrefix(version, "v") {
		return r, fmt.Errorf("%w: rule %s: %q does not start with a version", errParse, id, truncate(s))
	}
	for field := range strings.SplitSeq(rest, "|") {
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return r, fmt.Errorf("%w: rule %s: field %q has no value", errParse, id, truncate(field))
		}
		switch k {
		case "Action":
			r.Action = v
		case "Active":
			r.Active = strings.EqualFold(v, "TRUE")
		case "Dir":
			r.Inbound = v == "In"
		case "Protocol":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 256 {
				return r, fmt.Errorf("%w: rule %s: protocol %q", errParse, id, truncate(v))
			}
			if n != 256 { // 256: any
				r.Protocol = n
			}
		case "Profile":
			r.Profiles = append(r.Profiles, v)
		case "LPort", "LPort2_10", "LPort2_20", "LPort2_24", "LPort2_29":
			if v == "" || v[0] < '0' || v[0] > '9' {
				r.LocalPortKeywords = append(r.LocalPortKeywords, v) // RPC, RPC-EPMap, Teredo...
				break
			}
			lo, hi, isRange := strings.Cut(v, "-")
			l, err1 := strconv.ParseUint(lo, 10, 16)
			h, err2 := l, error(nil)
			if isRange {
				h, err2 = strconv.ParseUint(hi, 10, 16)
			}
			if err1 != nil || err2 != nil || h < l {
				return r, fmt.Errorf("%w: rule %s: local port %q", errParse, id, truncate(v))
			}
			r.LocalPorts = append(r.LocalPorts, [2]uint16{uint16(l), uint16(h)})
		case "RA4", "RA6", "RA42", "RA62":
			r.RemoteAddresses = append(r.RemoteAddresses, v)
		case "LA4", "LA6", "LA42", "LA62":
			r.LocalAddresses = append(r.LocalAddresses, v)
		case "App":
			r.App = v
		case "Svc":
			r.Svc = v
		case "Security", "Security2", "Security2_9":
			if v != "NotRequired" {
				r.Other = append(r.Other, "IPsec "+v)
			}
		case "IFType", "IF":
			r.Other = append(r.Other, "interface "+v)
		case "LUAuth", "RUAuth", "RMAuth":
			r.Other = append(r.Other, "authorized by "+k)
		}
	}
	return r, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// WinProfile is one network profile's settings: Domain, Private
// (StandardProfile in the local store) or Public.
type WinProfile struct {
	// Enabled is EnableFirewall; InboundBlock that DefaultInboundAction
	// blocks, which is the default.
	Enabled, InboundBlock bool
	// LocalRules says the local store's rules apply too: Group Policy's
	// AllowLocalPolicyMerge, 1 unless it says 0.
	LocalRules bool
}

// WinPolicy is the firewall's effective policy.
type WinPolicy struct {
	// Profiles are by name: "Domain", "Private", "Public".
	Profiles map[string]WinProfile
	Rules    []WinRule
}

// WinProfileNames are the profiles, in the order the verdicts name them.
var WinProfileNames = []string{"Domain", "Private", "Public"}

// WinListener is what a Windows rule can select a listener by.
type WinListener struct {
	Protocol int // 6 or 17
	Port     uint16
	Addr     netip.Addr // the bound address; invalid for a wildcard
	// Exe is the holder's executable path, "System" for the kernel
	// (PID 4); "" when unknown. Services are its services' short names.
	Exe      string
	Services []string
}

// JudgeWindows judges a listener against p in each profile; where the
// profiles disagree the verdict is Partly, naming those that let the
// network in. Windows runs one profile per network the host is on; which
// is active is not read.
func JudgeWindows(p *WinPolicy, l WinListener) Judgement {
	var js []Judgement
	for _, name := range WinProfileNames {
		js = append(js, judgeWinProfile(p, name, l))
	}
	same := true
	for _, j := range js[1:] {
		same = same && j.Verdict == js[0].Verdict && j.Rule.Text == js[0].Rule.Text
	}
	if same {
		j := js[0]
		j.Rule.Chain = "every profile"
		j.Reason = strings.Replace(j.Reason, "the Domain profile", "every profile", 1)
		return j
	}
	for _, j := range js {
		if j.Verdict == Unknown {
			return j
		}
	}
	var open []string
	var first *Judgement
	for i, j := range js {
		if j.Verdict == Open || j.Verdict == Partly {
			open = append(open, "on the "+WinProfileNames[i]+" profile")
			if first == nil {
				first = &js[i]
			}
		}
	}
	if first == nil {
		return js[0] // filtered everywhere, by different rules
	}
	out := *first
	out.Verdict = Partly
	out.Conditions = append(open, first.Conditions...)
	var reasons []string
	for i, j := range js {
		reasons = append(reasons, WinProfileNames[i]+": "+j.Reason)
	}
	out.Reason = strings.Join(reasons, "; ")
	return out
}

// judgeWinProfile judges l in one profile: a disabled firewall lets
// everything in; else the rules that apply, block before allow ([MS-FASP]
// 2.2.34: allow-bypass over block over allow), then the default inbound
// action.
func judgeWinProfile(p *WinPolicy, profile string, l WinListener) Judgement {
	set, ok := p.Profiles[profile]
	ref := func(r *WinRule) *RuleRef {
		return &RuleRef{Table: "Windows Defender Firewall (" + r.Store + ")", Chain: profile, Text: r.ID + ": " + winRuleText(r)}
	}
	policy := &RuleRef{Table: "Windows Defender Firewall", Chain: profile}
	switch {
	case !ok:
		return Judgement{Verdict: Unknown, Reason: "the " + profile + " profile's settings were not read", Rule: policy}
	case !set.Enabled:
		policy.Text = "firewall off"
		return Judgement{Verdict: Open, Reason: "the firewall is off in the " + profile + " profile", Rule: policy}
	}
	var allows, blocks []struct {
		r     *WinRule
		conds []string
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Store == "local" && !set.LocalRules {
			continue
		}
		conds, applies, why := r.selects(profile, l)
		if why != "" {
			return Judgement{Verdict: Unknown, Reason: "rule set too complex: " + why + " (" + ref(r).String() + ")", Rule: ref(r)}
		}
		if !applies {
			continue
		}
		switch r.Action {
		case "Block":
			blocks = append(blocks, struct {
				r     *WinRule
				conds []string
			}{r, conds})
		case "Allow", "ByPass":
			allows = append(allows, struct {
				r     *WinRule
				conds []string
			}{r, conds})
		}
	}
	var except []string
	for _, b := range blocks {
		if len(b.conds) == 0 {
			return Judgement{Verdict: Filtered, Rule: ref(b.r), Reason: "blocked by " + ref(b.r).String()}
		}
		except = append(except, "except "+strings.Join(b.conds, " and "))
	}
	for _, a := range allows {
		if len(a.conds) == 0 {
			return Judgement{Verdict: Open, Rule: ref(a.r), Conditions: except, Reason: "allowed by " + ref(a.r).String()}
		}
	}
	if !set.InboundBlock {
		policy.Text = "default inbound action allow"
		return Judgement{Verdict: Open, Rule: policy, Conditions: except, Reason: "allowed by the " + profile + " profile's default inbound action"}
	}
	policy.Text = "default inbound action block"
	if len(allows) == 0 {
		return Judgement{Verdict: Filtered, Rule: policy, Reason: "blocked by the " + profile + " profile's default inbound action: no rule allows it"}
	}
	var conds []string
	for _, a := range allows {
		conds = append(conds, strings.Join(a.conds, " and "))
	}
	return Judgement{Verdict: Partly, Rule: ref(allows[0].r), Conditions: conds,
		Reason: "allowed only for " + strings.Join(conds, ", or ") + " by " + ref(allows[0].r).String() + "; the rest blocked by the default inbound action"}
}

// selects says whether r applies to l's inbound connections in profile,
// for every source (conds empty) or those that meet conds, or why that
// cannot be told.
func (r *WinRule) selects(profile string, l WinListener) (conds []string, applies bool, why string) {
	switch {
	case !r.Active || !r.Inbound:
		return nil, false, ""
	case len(r.Profiles) > 0 && !slices.Contains(r.Profiles, profile):
		return nil, false, ""
	case r.Protocol >= 0 && r.Protocol != l.Protocol:
		return nil, false, ""
	}
	if len(r.LocalPorts) > 0 || len(r.LocalPortKeywords) > 0 {
		in := slices.ContainsFunc(r.LocalPorts, func(pr [2]uint16) bool { return pr[0] <= l.Port && l.Port <= pr[1] })
		// A keyword names ports the system allocates (RPC's dynamic ports,
		// Teredo's): it selects the listener only through its program or
		// service, below, and the endpoint mapper's 135.
		if !in && len(r.LocalPortKeywords) > 0 && (slices.Contains(r.LocalPortKeywords, "RPC-EPMap") && l.Port == 135 || r.App != "" || r.Svc != "") {
			in = true
		}
		if !in {
			return nil, false, ""
		}
	}
	if r.App != "" {
		if l.Exe == "" {
			return nil, false, "a rule for program " + r.App + ", and the listener's program is hidden"
		}
		if !samePath(expandWinPath(r.App), l.Exe) {
			return nil, false, ""
		}
	}
	if r.Svc != "" && r.Svc != "*" && !slices.ContainsFunc(l.Services, func(s string) bool { return strings.EqualFold(s, r.Svc) }) {
		return nil, false, ""
	}
	if len(r.LocalAddresses) > 0 && l.Addr.IsValid() {
		if !slices.ContainsFunc(r.LocalAddresses, func(a string) bool { return winAddrHas(a, l.Addr) }) {
			return nil, false, ""
		}
	} else if len(r.LocalAddresses) > 0 {
		conds = append(conds, "to "+strings.Join(r.LocalAddresses, ", "))
	}
	if len(r.RemoteAddresses) > 0 && !slices.Contains(r.RemoteAddresses, "*") {
		conds = append(conds, "from "+strings.Join(r.RemoteAddresses, ", "))
	}
	conds = append(conds, r.Other...)
	return conds, true, ""
}

// winAddrHas says whether an address field (one address, a range
// "a-b", or a subnet "a/mask") holds a.
func winAddrHas(field string, a netip.Addr) bool {
	a = a.Unmap()
	if lo, hi, ok := strings.Cut(field, "-"); ok {
		l, err1 := netip.ParseAddr(lo)
		h, err2 := netip.ParseAddr(hi)
		return err1 == nil && err2 == nil && l.Compare(a) <= 0 && a.Compare(h) <= 0
	}
	if addr, mask, ok := strings.Cut(field, "/"); ok {
		base, err := netip.ParseAddr(addr)
		if err != nil {
			return false
		}
		bits, err := strconv.Atoi(mask)
		if err != nil {
			m, err := netip.ParseAddr(mask)
			if err != nil {
				return false
			}
			n, ok := maskBits(m.AsSlice())
			if !ok {
				return false
			}
			bits = n
		}
		p, err := base.Prefix(bits)
		return err == nil && p.Contains(a)
	}
	b, err := netip.ParseAddr(field)
	return err == nil && b == a
}

// expandWinPath expands the environment variables a rule's program path
// holds as Windows installs them (%SystemRoot%, %ProgramFiles%).
func expandWinPath(p string) string {
	for _, v := range [][2]string{
		{"%SystemRoot%", `C:\Windows`}, {"%windir%", `C:\Windows`}, {"%SystemDrive%", `C:`},
		{"%ProgramFiles%", `C:\Program Files`}, {"%ProgramFiles(x86)%", `C:\Program Files (x86)`},
		{"%ProgramData%", `C:\ProgramData`},
	} {
		if len(p) >= len(v[0]) && strings.EqualFold(p[:len(v[0])], v[0]) {
			return v[1] + p[len(v[0]):]
		}
	}
	return p
}

// samePath compares Windows paths, which are case-insensitive; "System"
// is the kernel's.
func samePath(a, b string) bool {
	return strings.EqualFold(strings.ReplaceAll(a, "/", `\`), strings.ReplaceAll(b, "/", `\`))
}

// winRuleText says what a rule does in a line: "Allow In TCP 3389
// %SystemRoot%\system32\svchost.exe termservice".
func winRuleText(r *WinRule) string {
	parts := []string{r.Action, "In"}
	switch r.Protocol {
	case 6:
		parts = append(parts, "TCP")
	case 17:
		parts = append(parts, "UDP")
	case -1:
		parts = append(parts, "any protocol")
	default:
		parts = append(parts, "protocol "+strconv.Itoa(r.Protocol))
	}
	var ports []string
	for _, p := range r.LocalPorts {
		if p[0] == p[1] {
			ports = append(ports, strconv.Itoa(int(p[0])))
		} else {
			ports = append(ports, fmt.Sprintf("%d-%d", p[0], p[1]))
		}
	}
	ports = append(ports, r.LocalPortKeywords...)
	if len(ports) > 0 {
		parts = append(parts, "port "+strings.Join(ports, ","))
	}
	if r.App != "" {
		parts = append(parts, r.App)
	}
	if r.Svc != "" {
		parts = append(parts, "service "+r.Svc)
	}
	if len(r.RemoteAddresses) > 0 {
		parts = append(parts, "from "+strings.Join(r.RemoteAddresses, ","))
	}
	return strings.Join(parts, " ")
}
