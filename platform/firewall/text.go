package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// RuleText renders r in nft's syntax, as well as the model keeps it:
// "tcp dport 6379 drop", "ip saddr @allowed tcp dport 5432 accept".
func RuleText(r *Rule) string {
	if r.Text != "" {
		return r.Text
	}
	var parts []string
	skip := map[int]bool{}
	ports := func(keys []Key) bool {
		return len(keys) == 1 && (keys[0].Field == FieldDport || keys[0].Field == FieldSport)
	}
	proto := ""
	for i, m := range r.Matches {
		rest := r.Matches[i+1:]
		switch {
		case isProtoTest(m):
			// "meta l4proto tcp" and a port test after it read as "tcp
			// dport".
			if slices.ContainsFunc(rest, func(n Match) bool { return ports(n.Keys) }) ||
				r.Action.Kind == ActionVerdictMap && ports(r.Action.Keys) {
				skip[i], proto = true, protoName(m.Data[0])
			}
		case isFamilyTest(m):
			// "meta nfproto ipv4" before "ip saddr" says it twice.
			if slices.ContainsFunc(rest, func(n Match) bool { return len(n.Keys) > 0 && n.Keys[0].Family != 0 }) {
				skip[i] = true
			}
		}
	}
	for i := 0; i < len(r.Matches); i++ {
		if skip[i] {
			continue
		}
		m := r.Matches[i]
		t := matchText(m)
		// ">= 8000" and "<= 8100" of the same key: "8000-8100".
		if i+1 < len(r.Matches) && m.Op == OpGte && len(m.Keys) == 1 {
			if n := r.Matches[i+1]; n.Op == OpLte && len(n.Keys) == 1 && keyText(n.Keys[0]) == keyText(m.Keys[0]) {
				t = keyText(m.Keys[0]) + " " + formatData(m.Keys[0], m.Data) + "-" + formatData(n.Keys[0], n.Data)
				i++
			}
		}
		parts = append(parts, t)
	}
	if a := actionText(r.Action); a != "" {
		parts = append(parts, a)
	}
	if r.Unsupported != "" {
		parts = append(parts, r.Unsupported)
	}
	if len(parts) == 0 {
		return "counter"
	}
	text := strings.Join(parts, " ")
	if proto != "" {
		text = strings.ReplaceAll(text, "th ", proto+" ")
	}
	return text
}

func isFamilyTest(m Match) bool {
	return len(m.Keys) == 1 && (m.Keys[0].Field == FieldNFProto || m.Keys[0].Field == FieldEtherType) && m.Op == OpEq
}

func isProtoTest(m Match) bool {
	return len(m.Keys) == 1 && m.Keys[0].Field == FieldL4Proto && m.Op == OpEq && len(m.Data) == 1 &&
		m.Keys[0].Mask == nil && (m.Data[0] == 6 || m.Data[0] == 17)
}

func protoName(n byte) string {
	switch n {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(int(n))
}

func actionText(a Action) string {
	switch a.Kind {
	case ActionAccept:
		return "accept"
	case ActionDrop:
		return "drop"
	case ActionReject:
		return "reject"
	case ActionJump:
		return "jump " + a.Chain
	case ActionGoto:
		return "goto " + a.Chain
	case ActionReturn:
		return "return"
	case ActionDNAT:
		if a.To.Addr().IsUnspecified() {
			return fmt.Sprintf("redirect to :%d", a.To.Port())
		}
		return "dnat to " + a.To.String()
	case ActionVerdictMap:
		keys := make([]string, len(a.Keys))
		for i, k := range a.Keys {
			keys[i] = keyText(k)
		}
		return strings.Join(keys, " . ") + " vmap " + setText(a.Map, a.Keys)
	}
	return ""
}

// matchText renders one match: "tcp dport 22", "ip saddr 10.0.0.0/8",
// "ct state established,related", "iifname != \"lo\"".
func matchText(m Match) string {
	switch {
	case m.Unsupported != "":
		return m.Unsupported
	case m.Condition != "":
		return m.Condition
	case m.Never != "":
		return m.Never
	case len(m.Keys) == 0:
		return ""
	}
	var keys []string
	for _, k := range m.Keys {
		keys = append(keys, keyText(k))
	}
	key := strings.Join(keys, " . ")
	k := m.Keys[0]
	switch m.Op {
	case OpIn:
		return key + " " + setText(m.Set, m.Keys)
	case OpNotIn:
		return key + " != " + setText(m.Set, m.Keys)
	}
	// A flags test: "ct state & (established|related) != 0" is how nft
	// writes "ct state established,related".
	if isFlags(k.Field) && k.Mask != nil && isZero(m.Data) && (m.Op == OpEq || m.Op == OpNeq) {
		names := flagNames(k.Field, k.Mask)
		if m.Op == OpEq {
			return key + " != " + names
		}
		return key + " " + names
	}
	op := map[CmpOp]string{OpNeq: "!= ", OpLt: "< ", OpLte: "<= ", OpGt: "> ", OpGte: ">= "}[m.Op]
	return key + " " + op + formatData(k, m.Data)
}

func isZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

func isFlags(f Field) bool { return f == FieldCtState || f == FieldCtStatus || f == FieldTCPFlags }

// setText renders a set: a named one by name, an anonymous one (nft names
// them __set0, __map1) by its elements.
func setText(s *Set, keys []Key) string {
	if s == nil {
		return "{ }"
	}
	if !strings.HasPrefix(s.Name, "__") {
		return "@" + s.Name
	}
	// In key order: the kernel dumps some sets backwards.
	sorted := &Set{Name: s.Name, Interval: s.Interval, Elements: slices.Clone(s.Elements)}
	slices.SortStableFunc(sorted.Elements, func(a, b Element) int { return bytes.Compare(a.Key, b.Key) })
	s = sorted
	var els []string
	for i, e := range s.Elements {
		if e.IntervalEnd {
			continue
		}
		t := ""
		if len(keys) == 1 {
			t = formatData(keys[0], e.Key)
			switch {
			case e.KeyEnd != nil:
				t += "-" + formatData(keys[0], e.KeyEnd)
			case s.Interval:
				if end := intervalEnd(s, i); end != nil {
					t = rangeText(keys[0], e.Key, end)
				}
			}
		} else {
			t = fmt.Sprintf("%x", e.Key)
		}
		if e.Action != nil {
			t += " : " + actionText(*e.Action)
		}
		els = append(els, t)
		if len(els) == 8 {
			els = append(els, "...")
			break
		}
	}
	return "{ " + strings.Join(els, ", ") + " }"
}

// intervalEnd finds the end that closes the range starting at element i
// of an interval set: the smallest end key above it.
func intervalEnd(s *Set, i int) []byte {
	var end []byte
	for _, e := range s.Elements {
		if e.IntervalEnd && bytes.Compare(e.Key, s.Elements[i].Key) > 0 && (end == nil || bytes.Compare(e.Key, end) < 0) {
			end = e.Key
		}
	}
	return end
}

// rangeText renders [start, end) of an interval set: a prefix for
// addresses where it is one, else "a-b".
func rangeText(k Key, start, end []byte) string {
	last := decrement(end)
	if bytes.Equal(start, last) {
		return formatData(k, start)
	}
	if k.Field == FieldSaddr || k.Field == FieldDaddr {
		if p, ok := prefixOf(start, end); ok {
			return p
		}
	}
	return formatData(k, start) + "-" + formatData(k, last)
}

func decrement(b []byte) []byte {
	out := bytes.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]--
		if out[i] != 0xff {
			break
		}
	}
	return out
}

// prefixOf says whether [start, end) is one CIDR prefix.
func prefixOf(start, end []byte) (string, bool) {
	a, ok := netip.AddrFromSlice(start)
	if !ok {
		return "", false
	}
	for bits := 0; bits <= len(start)*8; bits++ {
		p := netip.PrefixFrom(a, bits)
		if p.Masked().Addr() != a {
			continue
		}
		// The address after the prefix's last.
		last := lastOf(p)
		next := last.Next()
		if next.IsValid() && bytes.Equal(next.AsSlice(), end) || !next.IsValid() && isZero(end) {
			return p.String(), true
		}
	}
	return "", false
}

func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// keyText names what a key reads, as nft does.
func keyText(k Key) string {
	ip := "ip"
	if k.Family == FamilyIPv6 {
		ip = "ip6"
	}
	switch k.Field {
	case FieldNFProto:
		return "meta nfproto"
	case FieldEtherType:
		return "meta protocol"
	case FieldL4Proto:
		return "meta l4proto"
	case FieldSaddr:
		return ip + " saddr"
	case FieldDaddr:
		return ip + " daddr"
	case FieldSport:
		return "th sport"
	case FieldDport:
		return "th dport"
	case FieldTCPFlags:
		return "tcp flags"
	case FieldIIFName:
		return "iifname"
	case FieldOIFName:
		return "oifname"
	case FieldIIF:
		return "iif"
	case FieldIIFType:
		return "iiftype"
	case FieldCtState:
		return "ct state"
	case FieldCtStatus:
		return "ct status"
	case FieldCtDirection:
		return "ct direction"
	case FieldPktType:
		return "meta pkttype"
	case FieldFibDaddrType:
		return "fib daddr type"
	case FieldFibSaddrOIF:
		return "fib saddr . iif oif"
	}
	return "?"
}

// formatData renders data that k is compared with.
func formatData(k Key, data []byte) string {
	switch k.Field {
	case FieldSaddr, FieldDaddr:
		return addrText(k, data)
	case FieldSport, FieldDport:
		if len(data) == 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(data)))
		}
	case FieldL4Proto:
		if len(data) == 1 {
			return protoName(data[0])
		}
	case FieldNFProto:
		if len(data) == 1 {
			return map[byte]string{2: "ipv4", 10: "ipv6"}[data[0]]
		}
	case FieldEtherType:
		if len(data) == 2 {
			return map[uint16]string{0x0800: "ip", 0x86dd: "ip6"}[binary.BigEndian.Uint16(data)]
		}
	case FieldIIFName, FieldOIFName:
		name := string(bytes.TrimRight(data, "\x00"))
		if ifPrefix(data) {
			name += "*"
		}
		return strconv.Quote(name)
	case FieldCtState, FieldCtStatus, FieldTCPFlags:
		return flagNames(k.Field, data)
	case FieldFibDaddrType:
		if len(data) == 4 {
			if n, ok := map[uint32]string{1: "unicast", 2: "local", 3: "broadcast", 5: "multicast"}[binary.NativeEndian.Uint32(data)]; ok {
				return n
			}
		}
	case FieldPktType:
		if len(data) == 1 {
			if n, ok := map[byte]string{0: "host", 1: "broadcast", 2: "multicast", 3: "other"}[data[0]]; ok {
				return n
			}
		}
	case FieldIIF, FieldFibSaddrOIF, FieldIIFType:
		if len(data) == 4 {
			return strconv.Itoa(int(binary.NativeEndian.Uint32(data)))
		}
		if len(data) == 2 {
			return strconv.Itoa(int(binary.NativeEndian.Uint16(data)))
		}
	}
	return fmt.Sprintf("0x%x", data)
}

// addrText renders an address compared whole, by a prefix of its bytes,
// or masked: "10.0.0.0/8".
func addrText(k Key, data []byte) string {
	size := 4
	if k.Family == FamilyIPv6 || len(data) == 16 {
		size = 16
	}
	full := make([]byte, size)
	copy(full[min(k.Offset, size):], data)
	a, ok := netip.AddrFromSlice(full)
	if !ok {
		return fmt.Sprintf("0x%x", data)
	}
	bits := size * 8
	switch {
	case k.Mask != nil:
		bits = k.Offset * 8
		for _, b := range k.Mask {
			for b&0x80 != 0 {
				bits++
				b <<= 1
			}
			if b != 0 {
				return a.String() + fmt.Sprintf(" & 0x%x", k.Mask)
			}
		}
	case k.Len != 0 && k.Offset == 0 && k.Len < size:
		bits = k.Len * 8
	}
	if bits == size*8 {
		return a.String()
	}
	return netip.PrefixFrom(a, bits).String()
}

// flagNames renders conntrack state or status bits, or TCP flags.
func flagNames(f Field, data []byte) string {
	var n uint32
	switch len(data) {
	case 1:
		n = uint32(data[0])
	case 2:
		n = uint32(binary.NativeEndian.Uint16(data))
	case 4:
		n = binary.NativeEndian.Uint32(data)
	default:
		return fmt.Sprintf("0x%x", data)
	}
	var names []string
	var table []string
	switch f {
	case FieldCtState:
		table = []string{"invalid", "established", "related", "new", "", "", "untracked"}
	case FieldCtStatus:
		table = []string{"expected", "seen-reply", "assured", "confirmed", "snat", "dnat", "dying"}
	case FieldTCPFlags:
		table = []string{"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"}
	}
	for i, name := range table {
		if n&(1<<i) != 0 && name != "" {
			names = append(names, name)
			n &^= 1 << i
		}
	}
	if n != 0 || len(names) == 0 {
		names = append(names, fmt.Sprintf("0x%x", n))
	}
	return strings.Join(names, ",")
}
