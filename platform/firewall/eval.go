package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Packet is the synthetic packet the evaluator follows: the first packet
// of a connection from another machine to a listener.
type Packet struct {
	// Family is FamilyIPv4 or FamilyIPv6.
	Family Family
	// Proto is the transport protocol: 6 (TCP) or 17 (UDP).
	Proto uint8
	// Daddr is the listener's address; invalid for a wildcard listener,
	// which any of the host's addresses reaches.
	Daddr netip.Addr
	Dport uint16
	// Internal says an interface is not one the network's packets arrive
	// on: a container or VM bridge of this host. Loopback is never one.
	Internal func(ifname string) bool
	// RouteOIF names the interface a forwarded packet to addr leaves by:
	// the container bridge of a DNAT's destination. Nil or "": unknown.
	RouteOIF func(addr netip.Addr) string

	// Set while walking: the packet after destination NAT, on the
	// forward path.
	forwarded bool
	oifName   string
}

// Conntrack and routing values of a new connection from the network, in
// the kernel's encodings (linux/netfilter/nf_conntrack_common.h,
// linux/rtnetlink.h).
const (
	ctStateNew    = 1 << (2 + 1) // NF_CT_STATE_BIT(IP_CT_NEW)
	ctStatusDNAT  = 1 << 5       // IPS_DST_NAT
	rtnUnicast    = 1
	rtnLocal      = 2
	arphrdLoopbk  = 772
	loopbackIndex = 1 // lo is the first interface of every namespace
	protoTCP      = 6
)

// Judge evaluates rs for p: through destination NAT, then the input
// chains, or the forward chains of a packet NAT sends on.
func Judge(rs *Ruleset, p Packet) Judgement {
	w := &walker{rs: rs}
	w.index()
	if len(w.rs.Chains) == 0 {
		return Judgement{Verdict: Open, Reason: "no firewall rules on this host: nothing here stops the packets"}
	}
	to, natRef, why := w.dnat(p)
	if why != "" {
		return Judgement{Verdict: Unknown, Reason: why, Rule: natRef}
	}
	input := w.path(p, HookInput)
	if !to.IsValid() {
		return input
	}
	if to.Addr().IsUnspecified() {
		// A redirect to another port of this host: the listener's port
		// is not where its packets arrive.
		return Judgement{Verdict: Unknown, Rule: natRef,
			Reason: fmt.Sprintf("the port's packets are redirected to port %d by %s", to.Port(), natRef)}
	}
	q := p
	q.Daddr, q.Dport, q.forwarded = to.Addr(), to.Port(), true
	if p.RouteOIF != nil {
		q.oifName = p.RouteOIF(to.Addr())
	}
	fwd := w.path(q, HookForward)
	fwd.Forwarded = to
	fwd.Reason = fmt.Sprintf("destination NAT (%s) sends the packets to %s: %s", natRef, to, fwd.Reason)
	fwd.Bypassed = fwd.Verdict != Unknown && input.Verdict != Unknown && openness(fwd.Verdict) > openness(input.Verdict)
	return fwd
}

func openness(v Verdict) int {
	return map[Verdict]int{Filtered: 0, Partly: 1, Open: 2}[v]
}

type walker struct {
	rs     *Ruleset
	byName map[string]*Chain
	depth  int
	// nat says the walk is of the nat chains, whose regular chains (a
	// nat table's DOCKER) rewrite too.
	nat bool
}

func chainKey(c *Chain, name string) string {
	return fmt.Sprintf("%d/%s/%s", c.Family, c.TableName(), name)
}

func (w *walker) index() {
	w.rs.indexOnce.Do(func() {
		w.rs.index = make(map[string]*Chain, len(w.rs.Chains))
		for _, c := range w.rs.Chains {
			w.rs.index[chainKey(c, c.Name)] = c
		}
	})
	w.byName = w.rs.index
}

// baseChains are the base chains at hook that see packets of p's family,
// filter or nat, in the order the kernel runs them.
func (w *walker) baseChains(p Packet, hook Hook, nat bool) []*Chain {
	var out []*Chain
	for _, c := range w.rs.Chains {
		if c.Hook == hook && c.NAT == nat && c.Family&p.Family != 0 {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *Chain) int { return int(a.Priority) - int(b.Priority) })
	return out
}

// dnatPriority is the priority of the kernel's destination NAT in
// prerouting (NF_IP_PRI_NAT_DST): filter chains before it see the packet
// as it came, those after it as NAT rewrote it.
const dnatPriority = -100

// dnat follows p through the prerouting nat chains: where a rule sends
// it (invalid: nowhere), the rule, or why that cannot be told.
func (w *walker) dnat(p Packet) (to netip.AddrPort, ref *RuleRef, unknown string) {
	w.nat = true
	defer func() { w.nat = false }()
	for _, c := range w.baseChains(p, HookPrerouting, true) {
		outs, _ := w.chain(c, p, nil)
		for _, o := range outs {
			switch {
			case o.unknown != "":
				return netip.AddrPort{}, o.rule, o.unknown
			case o.kind == ActionDNAT && len(o.conds) > 0:
				return netip.AddrPort{}, o.rule, fmt.Sprintf("rule set too complex: destination NAT only for %s (%s)", strings.Join(o.conds, " and "), o.rule)
			case o.kind == ActionDNAT:
				return o.to, o.rule, ""
			case o.kind == ActionAccept && len(o.conds) == 0, o.kind == ActionDrop && len(o.conds) == 0:
				// No translation in this chain; a drop here is judged on
				// the filter path, which a nat chain's drop also ends.
			}
			if len(o.conds) == 0 {
				break
			}
		}
	}
	return netip.AddrPort{}, nil, ""
}

// path judges p through the prerouting filter chains and then those of
// hook (input or forward).
func (w *walker) path(p Packet, hook Hook) Judgement {
	var chains []*Chain
	var packets []Packet
	orig := p
	if p.forwarded {
		orig.forwarded, orig.oifName = false, ""
	}
	for _, c := range w.baseChains(p, HookPrerouting, false) {
		chains = append(chains, c)
		if c.Priority < dnatPriority {
			packets = append(packets, orig)
		} else {
			packets = append(packets, p)
		}
	}
	for _, c := range w.baseChains(p, hook, false) {
		chains = append(chains, c)
		packets = append(packets, p)
	}
	what := "input"
	if hook == HookForward {
		what = "forward"
	}
	if len(chains) == 0 {
		return Judgement{Verdict: Open, Reason: "no filter chain on the " + what + " path: nothing stops the packets"}
	}
	var judged []Judgement
	for i, c := range chains {
		outs, falls := w.chain(c, packets[i], nil)
		if falls {
			outs = append(outs, outcome{kind: c.Policy, rule: policyRef(c)})
		}
		judged = append(judged, classify(outs))
	}
	return combine(judged)
}

func policyRef(c *Chain) *RuleRef {
	pol := "accept"
	if c.Policy == ActionDrop {
		pol = "drop"
	}
	return &RuleRef{Table: c.TableName(), Chain: c.Name, Text: "policy " + pol}
}

// outcome is where a chain sends the packets that meet conds.
type outcome struct {
	kind    ActionKind // ActionAccept, ActionDrop or ActionDNAT
	to      netip.AddrPort
	conds   []string
	unknown string
	rule    *RuleRef
}

// maxDepth bounds jumps: the kernel refuses loops, a parsed rule set may
// hold one.
const maxDepth = 16

// chain walks c's rules for the packets that meet conds, returning what
// decides them and whether some reach the end of the chain (falls).
func (w *walker) chain(c *Chain, p Packet, conds []string) (outs []outcome, falls bool) {
	if w.depth > maxDepth {
		return []outcome{{unknown: "rule set too complex: jumps nested deeper than 16", rule: &RuleRef{Table: c.TableName(), Chain: c.Name}}}, false
	}
	w.depth++
	defer func() { w.depth-- }()
	for i := range c.Rules {
		r := &c.Rules[i]
		m := w.match(r, p)
		if m.no {
			continue
		}
		// Rendered only for the rules a packet meets: most it does not.
		ref := &RuleRef{Table: c.TableName(), Chain: c.Name, Handle: r.Handle, Text: RuleText(r)}
		if m.unknown != "" {
			return append(outs, outcome{unknown: "rule set too complex: " + m.unknown + " (" + ref.String() + ")", rule: ref}), false
		}
		all := append(slices.Clone(conds), m.conds...)
		done, more, ended := w.act(c, r.Action, p, all, len(m.conds) == 0, ref)
		outs = append(outs, more...)
		if done {
			return outs, ended
		}
	}
	return outs, true
}

// act takes action a for the packets that meet conds (certain: every
// packet that reached the rule). done says the chain ends there, ended
// that it falls through to its caller.
func (w *walker) act(c *Chain, a Action, p Packet, conds []string, certain bool, ref *RuleRef) (done bool, outs []outcome, ended bool) {
	switch a.Kind {
	case ActionNone:
		return false, nil, false
	case ActionAccept, ActionDrop, ActionReject:
		kind := a.Kind
		if kind == ActionReject {
			kind = ActionDrop
		}
		return certain, []outcome{{kind: kind, conds: conds, rule: ref}}, false
	case ActionDNAT:
		if !w.nat {
			return false, nil, false
		}
		return certain, []outcome{{kind: ActionDNAT, to: a.To, conds: conds, rule: ref}}, false
	case ActionJump, ActionGoto:
		target := w.byName[chainKey(c, a.Chain)]
		if target == nil {
			return true, []outcome{{unknown: "rule set too complex: a jump to a chain not read, " + a.Chain, rule: ref}}, false
		}
		sub, falls := w.chain(target, p, conds)
		if slices.ContainsFunc(sub, func(o outcome) bool { return o.unknown != "" }) {
			return true, sub, false
		}
		switch {
		case a.Kind == ActionGoto && certain:
			return true, sub, falls // the end of a goto's chain ends this one
		case a.Kind == ActionGoto && falls:
			// Some packets would leave this chain at the end of the
			// goto's, others go on here: two paths, not followed.
			return true, []outcome{{unknown: "rule set too complex: a goto for " + strings.Join(conds, " and ") + " only, to a chain that does not decide every packet", rule: ref}}, false
		}
		decided := !falls && len(sub) > 0 && len(sub[len(sub)-1].conds) == len(conds)
		return certain && decided, sub, false
	case ActionReturn:
		if certain {
			return true, nil, true
		}
		return true, []outcome{{unknown: "rule set too complex: a return for " + strings.Join(conds, " and ") + " only", rule: ref}}, false
	case ActionVerdictMap:
		return w.verdictMap(c, a, p, conds, certain, ref)
	}
	return true, []outcome{{unknown: "rule set too complex: an action not modeled", rule: ref}}, false
}

// verdictMap takes the action of a's element for p's keys; where a key is
// one the evaluator cannot know (the source, the interface), each
// element's action is taken for the packets it selects.
func (w *walker) verdictMap(c *Chain, a Action, p Packet, conds []string, certain bool, ref *RuleRef) (bool, []outcome, bool) {
	key, known, cond, why := w.keyValue(a.Keys, p)
	switch {
	case why != "":
		return true, []outcome{{unknown: "rule set too complex: " + why + " (" + ref.String() + ")", rule: ref}}, false
	case known:
		if el := lookup(a.Map, key); el != nil && el.Action != nil {
			return w.act(c, *el.Action, p, conds, certain, ref)
		}
		return false, nil, false
	}
	var outs []outcome
	for _, el := range a.Map.Elements {
		if el.Action == nil || el.IntervalEnd {
			continue
		}
		elCond := cond + " " + formatData(a.Keys[0], el.Key)
		_, more, _ := w.act(c, *el.Action, p, append(slices.Clone(conds), elCond), false, ref)
		outs = append(outs, more...)
		if slices.ContainsFunc(more, func(o outcome) bool { return o.unknown != "" }) {
			return true, outs, false
		}
	}
	return false, outs, false
}

// matched is a rule's matches judged for a packet: no (some match fails
// for every such packet), unknown (one cannot be evaluated), or yes for
// the packets that meet conds (every packet when conds is empty).
type matched struct {
	no      bool
	conds   []string
	unknown string
}

func (w *walker) match(r *Rule, p Packet) matched {
	if r.Unsupported != "" {
		return matched{unknown: r.Unsupported}
	}
	var out matched
	for _, m := range r.Matches {
		switch {
		case m.Unsupported != "":
			return matched{unknown: m.Unsupported}
		case m.Never != "":
			return matched{no: true}
		case m.Condition != "":
			out.conds = append(out.conds, m.Condition)
			continue
		}
		val, known, _, why := w.keyValue(m.Keys, p)
		if why != "" {
			return matched{unknown: why}
		}
		if known {
			if !holds(m, val) {
				return matched{no: true}
			}
			continue
		}
		if v, ok := internalTest(m, p); ok {
			if !v {
				return matched{no: true}
			}
			continue
		}
		out.conds = append(out.conds, matchText(m))
	}
	return out
}

// internalTest decides a test of the input interface that the network's
// packets answer alike whatever interface they arrive on: none arrives on
// loopback or on an internal interface.
func internalTest(m Match, p Packet) (result, ok bool) {
	if len(m.Keys) != 1 || m.Keys[0].Mask != nil || (m.Op != OpEq && m.Op != OpNeq) {
		return false, false
	}
	k := m.Keys[0]
	internal := false
	switch k.Field {
	case FieldIIFName:
		name := string(bytes.TrimRight(m.Data, "\x00"))
		internal = !ifPrefix(m.Data) && (name == "lo" || p.Internal != nil && p.Internal(name))
	case FieldIIF:
		internal = len(m.Data) == 4 && binary.NativeEndian.Uint32(m.Data) == loopbackIndex
	case FieldIIFType:
		internal = len(m.Data) == 2 && binary.NativeEndian.Uint16(m.Data) == arphrdLoopbk
	default:
		return false, false
	}
	if !internal {
		return false, false
	}
	return m.Op == OpNeq, true
}

// ifNameSize is IFNAMSIZ.
const ifNameSize = 16

// ifPrefix says an interface name compared is a prefix ("veth*", iptables's
// "veth+"): shorter than IFNAMSIZ and not ended by its NUL.
func ifPrefix(data []byte) bool {
	return len(data) < ifNameSize && (len(data) == 0 || data[len(data)-1] != 0)
}

// keyValue reads keys from p: their bytes when p says them (known), or
// the text of what they read when they depend on what the evaluator
// cannot know (cond), or why they cannot be read at all.
func (w *walker) keyValue(keys []Key, p Packet) (val []byte, known bool, cond, why string) {
	known = true
	var conds []string
	for _, k := range keys {
		v, ok, kwhy := fieldValue(k.Field, p)
		if kwhy != "" {
			return nil, false, "", kwhy
		}
		if !ok {
			known = false
			conds = append(conds, keyText(k))
			continue
		}
		v = k.apply(v)
		if len(keys) > 1 {
			v = pad4(v)
		}
		val = append(val, v...)
	}
	if !known {
		return nil, false, strings.Join(conds, " . "), ""
	}
	return val, true, "", ""
}

// apply selects and transforms the bytes k reads from a field's value.
func (k Key) apply(v []byte) []byte {
	if k.Len > 0 {
		if k.Offset+k.Len > len(v) {
			return make([]byte, k.Len)
		}
		v = v[k.Offset : k.Offset+k.Len]
	}
	v = slices.Clone(v)
	for i := range v {
		if i < len(k.Mask) {
			v[i] &= k.Mask[i]
		}
		if i < len(k.Xor) {
			v[i] ^= k.Xor[i]
		}
	}
	return v
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// fieldValue is f's value for p, or ok false for a field that differs
// between the network's packets (their source, their interface).
func fieldValue(f Field, p Packet) (v []byte, ok bool, why string) {
	u32 := func(n uint32) []byte { return binary.NativeEndian.AppendUint32(nil, n) }
	switch f {
	case FieldNFProto:
		if p.Family == FamilyIPv6 {
			return []byte{10}, true, ""
		}
		return []byte{2}, true, ""
	case FieldEtherType:
		if p.Family == FamilyIPv6 {
			return []byte{0x86, 0xdd}, true, ""
		}
		return []byte{0x08, 0x00}, true, ""
	case FieldL4Proto:
		return []byte{p.Proto}, true, ""
	case FieldDaddr:
		if !p.Daddr.IsValid() {
			return nil, false, ""
		}
		if p.Family == FamilyIPv4 {
			a := p.Daddr.Unmap().As4()
			return a[:], true, ""
		}
		a := p.Daddr.As16()
		return a[:], true, ""
	case FieldDport:
		return binary.BigEndian.AppendUint16(nil, p.Dport), true, ""
	case FieldTCPFlags:
		if p.Proto != protoTCP {
			return nil, false, "TCP flags of a UDP packet"
		}
		return []byte{0x02}, true, "" // SYN: a connection's first packet
	case FieldOIFName:
		name := make([]byte, ifNameSize)
		copy(name, p.oifName)
		if p.forwarded && p.oifName == "" {
			return nil, false, "the output interface of a forwarded packet, whose route was not read"
		}
		return name, true, ""
	case FieldCtState:
		return u32(ctStateNew), true, ""
	case FieldCtStatus:
		if p.forwarded {
			return u32(ctStatusDNAT), true, ""
		}
		return u32(0), true, ""
	case FieldCtDirection, FieldPktType:
		return []byte{0}, true, "" // IP_CT_DIR_ORIGINAL; PACKET_HOST
	case FieldFibDaddrType:
		if p.forwarded {
			return u32(rtnUnicast), true, ""
		}
		return u32(rtnLocal), true, ""
	case FieldFibSaddrOIF:
		// Reverse path filtering: a reply to a genuine source leaves by
		// some interface; only a spoofed one has none.
		return u32(0xffff), true, ""
	case FieldSaddr, FieldSport, FieldIIFName, FieldIIF, FieldIIFType:
		return nil, false, ""
	}
	return nil, false, "a match on a field not modeled"
}

// holds compares a known value with m.
func holds(m Match, v []byte) bool {
	switch m.Op {
	case OpIn:
		return lookup(m.Set, v) != nil
	case OpNotIn:
		return lookup(m.Set, v) == nil
	}
	// nft's cmp compares the data's length of the register: iptables-nft
	// writes "docker0\x00", 8 bytes of a 16-byte name.
	if len(v) > len(m.Data) {
		v = v[:len(m.Data)]
	}
	c := bytes.Compare(v, m.Data)
	switch m.Op {
	case OpEq:
		return c == 0
	case OpNeq:
		return c != 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	}
	return false
}

// lookup finds key in s: the element holding it, or nil.
func lookup(s *Set, key []byte) *Element {
	if s == nil {
		return nil
	}
	if !s.Interval {
		for i := range s.Elements {
			if e := &s.Elements[i]; bytes.Equal(e.Key, key) && !e.IntervalEnd {
				return e
			}
		}
		return nil
	}
	// Ranges as the kernel's rbtree keeps them: each start is followed,
	// in key order, by the end that closes it (exclusive), unless the
	// element itself says its end (a concatenation's KeyEnd, inclusive).
	var best *Element
	for i := range s.Elements {
		e := &s.Elements[i]
		if e.KeyEnd != nil {
			if bytes.Compare(e.Key, key) <= 0 && bytes.Compare(key, e.KeyEnd) <= 0 {
				return e
			}
			continue
		}
		if bytes.Compare(e.Key, key) <= 0 && (best == nil || bytes.Compare(e.Key, best.Key) > 0 ||
			bytes.Equal(e.Key, best.Key) && !e.IntervalEnd) {
			best = e
		}
	}
	if best == nil || best.IntervalEnd {
		return nil
	}
	return best
}

// classify reads a base chain's outcomes, which end with one for every
// packet still undecided (a rule's or the policy's), as a judgement.
func classify(outs []outcome) Judgement {
	for _, o := range outs {
		if o.unknown != "" {
			return Judgement{Verdict: Unknown, Reason: o.unknown, Rule: o.rule}
		}
	}
	final := outs[len(outs)-1]
	var accepts, drops []outcome
	for _, o := range outs[:len(outs)-1] {
		switch o.kind {
		case ActionAccept:
			accepts = append(accepts, o)
		case ActionDrop:
			drops = append(drops, o)
		}
	}
	condText := func(os []outcome) []string {
		var out []string
		for _, o := range os {
			if s := strings.Join(o.conds, " and "); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	if final.kind == ActionAccept {
		j := Judgement{Verdict: Open, Rule: final.rule, Reason: "accepted by " + final.rule.String()}
		if len(drops) > 0 {
			for _, c := range condText(drops) {
				j.Conditions = append(j.Conditions, "except "+c)
			}
			j.Reason += " (after " + drops[0].rule.String() + " drops some)"
		}
		return j
	}
	if len(accepts) == 0 {
		return Judgement{Verdict: Filtered, Rule: final.rule, Reason: "dropped by " + final.rule.String()}
	}
	j := Judgement{Verdict: Partly, Rule: accepts[0].rule, Conditions: condText(accepts)}
	j.Reason = fmt.Sprintf("accepted only for %s by %s; the rest dropped by %s",
		strings.Join(j.Conditions, ", or "), accepts[0].rule, final.rule)
	return j
}

// combine joins the judgements of the base chains a packet passes, all
// of which must let it through.
func combine(js []Judgement) Judgement {
	for _, j := range js {
		if j.Verdict == Unknown {
			return j
		}
	}
	for _, j := range js {
		if j.Verdict == Filtered {
			return j
		}
	}
	var partly *Judgement
	for i := range js {
		if js[i].Verdict == Partly {
			if partly == nil {
				partly = &js[i]
				continue
			}
			partly.Conditions = append(partly.Conditions, js[i].Conditions...)
			partly.Reason += "; and " + js[i].Reason
		}
	}
	if partly != nil {
		return *partly
	}
	out := js[len(js)-1]
	for _, j := range js[:len(js)-1] {
		out.Conditions = append(out.Conditions, j.Conditions...)
	}
	return out
}

// JoinFamilies joins the judgements of a listener that takes IPv4 and
// IPv6 both: the same verdict for both is that verdict; different ones
// are Partly, open over one family only, or Unknown when either is.
func JoinFamilies(v4, v6 Judgement) Judgement {
	switch {
	case v4.Verdict == Unknown:
		return v4
	case v6.Verdict == Unknown:
		return v6
	case v4.Verdict == v6.Verdict:
		for _, c := range v6.Conditions {
			if !slices.Contains(v4.Conditions, c) {
				v4.Conditions = append(v4.Conditions, c)
			}
		}
		if v4.Reason != v6.Reason {
			v4.Reason = "IPv4: " + v4.Reason + "; IPv6: " + v6.Reason
		}
		return v4
	}
	open, other, fam := v4, v6, "IPv4"
	if openness(v6.Verdict) > openness(v4.Verdict) {
		open, other, fam = v6, v4, "IPv6"
	}
	return Judgement{Verdict: Partly, Rule: open.Rule, Conditions: append([]string{"over " + fam}, open.Conditions...),
		Reason:    fmt.Sprintf("over %s %s; over the other family %s", fam, open.Reason, other.Reason),
		Forwarded: open.Forwarded, Bypassed: open.Bypassed || other.Bypassed}
}
