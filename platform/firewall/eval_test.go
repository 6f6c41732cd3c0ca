package firewall

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Builders of the model, as the converters write it.
func port(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

func dport(p uint16) Match {
	return Match{Keys: []Key{{Field: FieldDport}}, Op: OpEq, Data: port(p)}
}

func tcp() Match { return Match{Keys: []Key{{Field: FieldL4Proto}}, Op: OpEq, Data: []byte{6}} }

func saddr(prefix string) Match {
	p := netip.MustParsePrefix(prefix)
	a := p.Addr().As4()
	return Match{Keys: []Key{{Field: FieldSaddr, Family: FamilyIPv4, Offset: 0, Len: p.Bits() / 8}}, Op: OpEq, Data: a[:p.Bits()/8]}
}

func iifname(name string, op CmpOp) Match {
	b := make([]byte, ifNameSize)
	copy(b, name)
	return Match{Keys: []Key{{Field: FieldIIFName}}, Op: op, Data: b}
}

func rule(handle uint64, kind ActionKind, ms ...Match) Rule {
	return Rule{Handle: handle, Matches: ms, Action: Action{Kind: kind}}
}

func base(name string, hook Hook, policy ActionKind, rules ...Rule) *Chain {
	return &Chain{Family: FamilyInet, Table: "filter", Name: name, Hook: hook, Policy: policy, Rules: rules}
}

func regular(name string, rules ...Rule) *Chain {
	return &Chain{Family: FamilyInet, Table: "filter", Name: name, Rules: rules}
}

var pkt = Packet{Family: FamilyIPv4, Proto: 6, Dport: 6379,
	Internal: func(name string) bool { return name == "docker0" }}

func TestJudge(t *testing.T) {
	jump := func(handle uint64, kind ActionKind, chain string, ms ...Match) Rule {
		r := rule(handle, kind, ms...)
		r.Action.Chain = chain
		return r
	}
	for _, tt := range []struct {
		name    string
		chains  []*Chain
		verdict Verdict
		rule    string // the deciding rule's text, or the start of the reason
		conds   []string
	}{
		{"no rules", nil, Open, "no firewall rules", nil},
		{"no input chain", []*Chain{base("output", HookOther, ActionDrop)}, Open, "no filter chain on the input path", nil},
		{"accepted by port", []*Chain{base("input", HookInput, ActionDrop, rule(2, ActionAccept, tcp(), dport(6379)))}, Open, "tcp dport 6379 accept", nil},
		{"another port's rule", []*Chain{base("input", HookInput, ActionDrop, rule(2, ActionAccept, tcp(), dport(22)))}, Filtered, "policy drop", nil},
		{"a source only", []*Chain{base("input", HookInput, ActionDrop, rule(3, ActionAccept, saddr("10.0.0.0/8"), dport(6379)))},
			Partly, "ip saddr 10.0.0.0/8 th dport 6379 accept", []string{"ip saddr 10.0.0.0/8"}},
		{"a blocklist first", []*Chain{base("input", HookInput, ActionAccept, rule(3, ActionDrop, saddr("192.0.2.0/24")))},
			Open, "policy accept", []string{"except ip saddr 192.0.2.0/24"}},
		{"loopback only", []*Chain{base("input", HookInput, ActionDrop, rule(1, ActionAccept, iifname("lo", OpEq)))}, Filtered, "policy drop", nil},
		{"all but a container bridge", []*Chain{base("input", HookInput, ActionDrop, rule(1, ActionAccept, iifname("docker0", OpNeq)))},
			Open, `iifname != "docker0" accept`, nil},
		{"one uplink", []*Chain{base("input", HookInput, ActionDrop, rule(1, ActionAccept, iifname("eth0", OpEq)))},
			Partly, `iifname "eth0" accept`, []string{`iifname "eth0"`}},
		{"a jump and its return", []*Chain{
			base("input", HookInput, ActionDrop, jump(1, ActionJump, "ufw-user-input"), rule(2, ActionAccept, dport(6379))),
			regular("ufw-user-input", rule(3, ActionReturn)),
		}, Open, "th dport 6379 accept", nil},
		{"a jump that decides", []*Chain{
			base("input", HookInput, ActionAccept, jump(1, ActionJump, "ufw-user-input"), rule(2, ActionAccept, dport(6379))),
			regular("ufw-user-input", rule(3, ActionDrop, dport(6379))),
		}, Filtered, "th dport 6379 drop", nil},
		{"a goto's end ends the caller", []*Chain{
			base("input", HookInput, ActionDrop, jump(1, ActionGoto, "zone"), rule(2, ActionAccept, dport(6379))),
			regular("zone"),
		}, Filtered, "policy drop", nil},
		{"a second base chain drops", []*Chain{
			base("input", HookInput, ActionAccept, rule(1, ActionAccept)),
			{Family: FamilyIPv4, Table: "firewalld", Name: "filter_INPUT", Hook: HookInput, Priority: 10, Policy: ActionDrop},
		}, Filtered, "policy drop", nil},
		{"an IPv6 table", []*Chain{{Family: FamilyIPv6, Table: "f", Name: "input", Hook: HookInput, Policy: ActionDrop}}, Open, "no filter chain", nil},
		{"a prerouting drop", []*Chain{base("prerouting", HookPrerouting, ActionAccept, rule(1, ActionDrop, dport(6379)))}, Filtered, "th dport 6379 drop", nil},
		{"a conntrack accept, not for a new connection", []*Chain{base("input", HookInput, ActionDrop, rule(1, ActionAccept,
			Match{Keys: []Key{{Field: FieldCtState, Mask: binary.NativeEndian.AppendUint32(nil, 6)}}, Op: OpNeq, Data: make([]byte, 4)}))},
			Filtered, "policy drop", nil},
		{"a match not modeled, reached", []*Chain{base("input", HookInput, ActionDrop, rule(1, ActionAccept, dport(6379), Match{Unsupported: "meta mark"}))},
			Unknown, "rule set too complex: meta mark", nil},
		{"a match not modeled, not reached", []*Chain{base("input", HookInput, ActionDrop, rule(1, ActionAccept, dport(22), Match{Unsupported: "meta mark"}))},
			Filtered, "policy drop", nil},
		{"a jump to a chain not read", []*Chain{base("input", HookInput, ActionDrop, jump(1, ActionJump, "gone"))}, Unknown, "rule set too complex: a jump to a chain not read", nil},
		{"a loop", []*Chain{base("input", HookInput, ActionDrop, jump(1, ActionJump, "a")), regular("a", jump(2, ActionJump, "a"))},
			Unknown, "rule set too complex: jumps nested deeper", nil},
		{"a goto for some interfaces, to a chain that decides", []*Chain{
			base("input", HookInput, ActionDrop, jump(1, ActionGoto, "zone", iifname("eth0", OpEq)), rule(2, ActionAccept, dport(6379))),
			regular("zone", rule(3, ActionDrop)),
		}, Open, "th dport 6379 accept", []string{`except iifname "eth0"`}},
		{"a goto for some interfaces, to a chain that may not", []*Chain{
			base("input", HookInput, ActionDrop, jump(1, ActionGoto, "zone", iifname("eth0", OpEq)), rule(2, ActionAccept, dport(6379))),
			regular("zone", rule(3, ActionAccept, dport(22))),
		}, Unknown, `rule set too complex: a goto for iifname "eth0" only`, nil},
		{"a return for some sources", []*Chain{base("input", HookInput, ActionDrop, jump(1, ActionJump, "a")), regular("a", rule(2, ActionReturn, saddr("10.0.0.0/8")))},
			Unknown, "rule set too complex: a return for ip saddr 10.0.0.0/8 only", nil},
	} {
		j := Judge(&Ruleset{Chains: tt.chains}, pkt)
		got := j.Reason
		if j.Rule != nil && j.Verdict != Unknown {
			got = j.Rule.Text
		}
		if j.Verdict != tt.verdict || !strings.HasPrefix(got, tt.rule) || !slices.Equal(j.Conditions, tt.conds) {
			t.Errorf("%s: %s %v by %q (%s); want %s %v by %q", tt.name, j.Verdict, j.Conditions, got, j.Reason, tt.verdict, tt.conds, tt.rule)
		}
	}
}

func TestJudgeVerdictMap(t *testing.T) {
	accept, drop := &Action{Kind: ActionAccept}, &Action{Kind: ActionDrop}
	byPort := &Set{Name: "__map0", Elements: []Element{{Key: port(22), Action: accept}, {Key: port(6379), Action: drop}}}
	name := func(s string) []byte { b := make([]byte, ifNameSize); copy(b, s); return b }
	byIface := &Set{Name: "zones", Elements: []Element{{Key: name("eth0"), Action: accept}, {Key: name("docker0"), Action: drop}}}
	for _, tt := range []struct {
		name    string
		r       Rule
		verdict Verdict
		conds   []string
	}{
		{"by port", Rule{Action: Action{Kind: ActionVerdictMap, Keys: []Key{{Field: FieldDport}}, Map: byPort}}, Filtered, nil},
		{"no element", Rule{Action: Action{Kind: ActionVerdictMap, Keys: []Key{{Field: FieldDport}}, Map: &Set{Name: "__map1"}}}, Open, nil},
		{"by interface", Rule{Action: Action{Kind: ActionVerdictMap, Keys: []Key{{Field: FieldIIFName}}, Map: byIface}}, Open, []string{`except iifname "docker0"`}},
	} {
		j := Judge(&Ruleset{Chains: []*Chain{base("input", HookInput, ActionAccept, tt.r)}}, pkt)
		if j.Verdict != tt.verdict || !slices.Equal(j.Conditions, tt.conds) {
			t.Errorf("%s: %s %v (%s), want %s %v", tt.name, j.Verdict, j.Conditions, j.Reason, tt.verdict, tt.conds)
		}
	}
}

func TestJudgeDNAT(t *testing.T) {
	to := netip.MustParseAddrPort("172.17.0.2:6379")
	dnat := func(ms ...Match) *Chain {
		return &Chain{Family: FamilyIPv4, Table: "nat", Name: "PREROUTING", Hook: HookPrerouting, NAT: true, Priority: -100, Policy: ActionAccept,
			Rules: []Rule{{Handle: 5, Matches: ms, Action: Action{Kind: ActionDNAT, To: to}}}}
	}
	input := base("input", HookInput, ActionDrop, rule(1, ActionAccept, dport(22)))
	forward := base("forward", HookForward, ActionDrop, rule(2, ActionAccept,
		Match{Keys: []Key{{Field: FieldOIFName}}, Op: OpEq, Data: append([]byte("docker0"), make([]byte, 9)...)}))
	p := pkt
	p.RouteOIF = func(a netip.Addr) string {
		if a == to.Addr() {
			return "docker0"
		}
		return ""
	}
	j := Judge(&Ruleset{Chains: []*Chain{dnat(iifname("docker0", OpNeq), tcp(), dport(6379)), input, forward}}, p)
	if j.Verdict != Open || j.Forwarded != to || !j.Bypassed || j.Rule.Chain != "forward" || !strings.Contains(j.Reason, "destination NAT") {
		t.Errorf("published past the input chain: %s to %v, bypassed %v, by %v (%s)", j.Verdict, j.Forwarded, j.Bypassed, j.Rule, j.Reason)
	}
	// iptables-nft compares a name with its NUL alone: "docker0\x00".
	short := base("forward", HookForward, ActionDrop, rule(2, ActionAccept,
		Match{Keys: []Key{{Field: FieldOIFName}}, Op: OpEq, Data: []byte("docker0\x00")},
		Match{Keys: []Key{{Field: FieldIIFName}}, Op: OpNeq, Data: []byte("docker0\x00")}))
	if j := Judge(&Ruleset{Chains: []*Chain{dnat(tcp(), dport(6379)), input, short}}, p); j.Verdict != Open || !j.Bypassed {
		t.Errorf("iptables-nft's short names: %s (%s)", j.Verdict, j.Reason)
	}
	j = Judge(&Ruleset{Chains: []*Chain{dnat(tcp(), dport(6379)), base("input", HookInput, ActionAccept), forward}}, p)
	if j.Verdict != Open || j.Bypassed {
		t.Errorf("an input chain that lets it in anyway: %s, bypassed %v", j.Verdict, j.Bypassed)
	}
	if j := Judge(&Ruleset{Chains: []*Chain{dnat(saddr("10.0.0.0/8"), dport(6379)), input}}, p); j.Verdict != Unknown ||
		!strings.Contains(j.Reason, "destination NAT only for ip saddr 10.0.0.0/8") {
		t.Errorf("a NAT for some sources: %s (%s)", j.Verdict, j.Reason)
	}
	redirect := dnat(dport(6379))
	redirect.Rules[0].Action.To = netip.AddrPortFrom(netip.IPv4Unspecified(), 6380)
	if j := Judge(&Ruleset{Chains: []*Chain{redirect, input}}, p); j.Verdict != Unknown || !strings.Contains(j.Reason, "redirected to port 6380") {
		t.Errorf("a redirect: %s (%s)", j.Verdict, j.Reason)
	}
	p.RouteOIF = nil
	if j := Judge(&Ruleset{Chains: []*Chain{dnat(dport(6379)), input, forward}}, p); j.Verdict != Unknown || !strings.Contains(j.Reason, "output interface") {
		t.Errorf("no route to the destination: %s (%s)", j.Verdict, j.Reason)
	}
}

// TestLookup: interval sets as the kernel dumps them, ends before starts
// and the zero sentinel; a concatenation's ranges; plain sets.
func TestLookup(t *testing.T) {
	a := func(s string) []byte { return netip.MustParseAddr(s).AsSlice() }
	intervals := &Set{Name: "__set0", Interval: true, Elements: []Element{
		{Key: a("192.168.1.6"), IntervalEnd: true}, {Key: a("192.168.1.5")},
		{Key: a("11.0.0.0"), IntervalEnd: true}, {Key: a("10.0.0.0")},
		{Key: a("0.0.0.0"), IntervalEnd: true},
	}}
	for addr, in := range map[string]bool{"10.0.0.0": true, "10.255.255.255": true, "11.0.0.0": false, "9.255.255.255": false,
		"192.168.1.5": true, "192.168.1.6": false, "0.0.0.0": false} {
		if got := lookup(intervals, a(addr)) != nil; got != in {
			t.Errorf("%s in the interval set: %v, want %v", addr, got, in)
		}
	}
	ranges := &Set{Interval: true, Elements: []Element{{Key: port(8000), KeyEnd: port(8100)}}}
	for p, in := range map[uint16]bool{7999: false, 8000: true, 8100: true, 8101: false} {
		if got := lookup(ranges, port(p)) != nil; got != in {
			t.Errorf("%d in 8000-8100: %v", p, got)
		}
	}
	plain := &Set{Elements: []Element{{Key: port(80)}, {Key: port(443)}}}
	if lookup(plain, port(443)) == nil || lookup(plain, port(444)) != nil || lookup(nil, port(80)) != nil {
		t.Error("a plain set")
	}
	if got := setText(intervals, []Key{{Field: FieldSaddr, Family: FamilyIPv4}}); got != "{ 10.0.0.0/8, 192.168.1.5 }" {
		t.Errorf("the interval set reads %q", got)
	}
}

func TestJoinFamilies(t *testing.T) {
	open := Judgement{Verdict: Open, Reason: "accepted", Rule: &RuleRef{Chain: "input", Text: "accept"}}
	filtered := Judgement{Verdict: Filtered, Reason: "dropped", Rule: &RuleRef{Chain: "input6", Text: "policy drop"}}
	if j := JoinFamilies(open, open); j.Verdict != Open || j.Reason != "accepted" {
		t.Errorf("the same: %+v", j)
	}
	if j := JoinFamilies(open, filtered); j.Verdict != Partly || !slices.Equal(j.Conditions, []string{"over IPv4"}) || j.Rule.Text != "accept" {
		t.Errorf("open over IPv4 alone: %+v", j)
	}
	if j := JoinFamilies(filtered, open); j.Verdict != Partly || j.Conditions[0] != "over IPv6" {
		t.Errorf("open over IPv6 alone: %+v", j)
	}
	unknown := Judgement{Verdict: Unknown, Reason: "needs root"}
	if j := JoinFamilies(open, unknown); j.Verdict != Unknown {
		t.Errorf("one unknown: %+v", j)
	}
}

func TestRuleText(t *testing.T) {
	ctState := Match{Keys: []Key{{Field: FieldCtState, Mask: binary.NativeEndian.AppendUint32(nil, 6)}}, Op: OpNeq, Data: make([]byte, 4)}
	for _, tt := range []struct {
		r    Rule
		want string
	}{
		{rule(1, ActionAccept, tcp(), dport(22)), "tcp dport 22 accept"},
		{rule(1, ActionAccept, ctState), "ct state established,related accept"},
		{rule(1, ActionDrop, Match{Keys: []Key{{Field: FieldNFProto}}, Op: OpEq, Data: []byte{2}}, saddr("10.0.0.0/8")), "ip saddr 10.0.0.0/8 drop"},
		{rule(1, ActionAccept, tcp(), Match{Keys: []Key{{Field: FieldDport}}, Op: OpGte, Data: port(8000)},
			Match{Keys: []Key{{Field: FieldDport}}, Op: OpLte, Data: port(8100)}), "tcp dport 8000-8100 accept"},
		{rule(1, ActionAccept, iifname("lo", OpEq)), `iifname "lo" accept`},
		{Rule{Action: Action{Kind: ActionDNAT, To: netip.MustParseAddrPort("172.17.0.2:80")}}, "dnat to 172.17.0.2:80"},
		{rule(1, ActionNone), "counter"},
	} {
		if got := RuleText(&tt.r); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
}
