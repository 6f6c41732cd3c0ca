package firewall

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// iptablesChains are the built-in chains on a listener's path, by table:
// where each hooks and its priority (linux/netfilter_ipv4.h).
var iptablesChains = map[string]map[string]struct {
	hook     Hook
	priority int32
}{
	"raw":    {"PREROUTING": {HookPrerouting, -300}},
	"mangle": {"PREROUTING": {HookPrerouting, -150}, "INPUT": {HookInput, -150}, "FORWARD": {HookForward, -150}},
	"nat":    {"PREROUTING": {HookPrerouting, -100}},
	"filter": {"INPUT": {HookInput, 0}, "FORWARD": {HookForward, 0}},
}

// ParseIptablesSave reads iptables-save's (or ip6tables-save's) output,
// of family FamilyIPv4 (FamilyIPv6), into chains. Each rule keeps its
// line as its text and its number in its chain as its handle. A line it
// cannot read is an error naming it; an option it does not model makes
// its rule unsupported, which the evaluator reports if a packet reaches
// it.
func ParseIptablesSave(r []byte, fam Family, label string) ([]*Chain, error) {
	var chains []*Chain
	byName := make(map[string]*Chain)
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(r))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case line == "COMMIT":
			table = ""
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			if table == "" || len(f) < 2 {
				return nil, fmt.Errorf("%w: iptables-save line %d: a chain outside a table, or without a policy: %q", errParse, n, line)
			}
			c := &Chain{Family: fam, Table: table, TableLabel: label + " " + table, Name: f[0], Policy: ActionAccept}
			if f[1] == "DROP" {
				c.Policy = ActionDrop
			}
			if h, ok := iptablesChains[table][f[0]]; ok {
				c.Hook, c.Priority, c.NAT = h.hook, h.priority, table == "nat"
			} else if f[1] != "-" {
				c.Hook = HookOther // OUTPUT, POSTROUTING: not on the path
			}
			chains = append(chains, c)
			byName[table+"/"+f[0]] = c
		case strings.HasPrefix(line, "-A "):
			words, err := splitWords(line)
			if err != nil || len(words) < 2 || table == "" {
				return nil, fmt.Errorf("%w: iptables-save line %d: %q", errParse, n, line)
			}
			c := byName[table+"/"+words[1]]
			if c == nil {
				return nil, fmt.Errorf("%w: iptables-save line %d: a rule of chain %s, not declared", errParse, n, words[1])
			}
			rule := iptablesRule(words[2:], fam)
			rule.Handle, rule.Text = uint64(len(c.Rules)+1), line
			c.Rules = append(c.Rules, rule)
		default:
			return nil, fmt.Errorf("%w: iptables-save line %d: %q", errParse, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", errParse, err)
	}
	return chains, nil
}

// errParse is a rule set or rule that could not be read.
var errParse = errors.New("unreadable firewall rules")

// splitWords splits a rule line as iptables-save quotes it: words, and
// double-quoted strings with backslash escapes (comments).
func splitWords(line string) ([]string, error) {
	var out []string
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '"':
			var b strings.Builder
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				b.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, fmt.Errorf("an unterminated quote")
			}
			i++
			out = append(out, b.String())
		default:
			j := strings.IndexAny(line[i:], " \t")
			if j < 0 {
				j = len(line) - i
			}
			out = append(out, line[i:i+j])
			i += j
		}
	}
	return out, nil
}

// iptablesRule reads a rule's options, after "-A CHAIN".
func iptablesRule(words []string, fam Family) Rule {
	var r Rule
	// In place among the matches: a rule whose earlier match fails (-p
	// icmp, for a TCP packet) is never evaluated that far.
	unsupported := func(what string) {
		r.Matches = append(r.Matches, Match{Unsupported: what})
	}
	add := func(m Match, neg bool) {
		if neg {
			switch m.Op {
			case OpEq:
				m.Op = OpNeq
			case OpIn:
				m.Op = OpNotIn
			case OpNeq:
				m.Op = OpEq
			}
		}
		r.Matches = append(r.Matches, m)
	}
	neg := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		arg := func() string {
			if i+1 < len(words) {
				i++
				return words[i]
			}
			unsupported("option " + w + " without its value")
			return ""
		}
		if w == "!" {
			neg = true
			continue
		}
		switch w {
		case "-p", "--protocol":
			p := arg()
			if p == "all" {
				break
			}
			n, ok := protocolNumbers[p]
			if !ok {
				v, err := strconv.Atoi(p)
				if err != nil || v < 0 || v > 255 {
					unsupported("protocol " + p)
					break
				}
				n = byte(v)
			}
			add(Match{Keys: []Key{{Field: FieldL4Proto}}, Op: OpEq, Data: []byte{n}}, neg)
		case "-s", "--source", "-d", "--destination":
			f := FieldSaddr
			if w == "-d" || w == "--destination" {
				f = FieldDaddr
			}
			m, any, err := addressMatch(f, arg(), fam)
			switch {
			case err != nil:
				unsupported(err.Error())
			case any && neg:
				r.Matches = append(r.Matches, Match{Never: "no address (! " + w + " 0/0)"})
			case !any:
				add(m, neg)
			}
		case "-i", "--in-interface", "-o", "--out-interface":
			f := FieldIIFName
			if w == "-o" || w == "--out-interface" {
				f = FieldOIFName
			}
			add(ifaceMatch(f, arg()), neg)
		case "-m", "--match":
			switch mod := arg(); mod {
			case "tcp", "udp", "multiport", "conntrack", "state", "addrtype", "comment", "limit", "pkttype", "set", "recent", "rt":
			default:
				unsupported("-m " + mod)
			}
		case "--dport", "--destination-port", "--sport", "--source-port",
			"--dports", "--destination-ports", "--sports", "--source-ports": // tcp's, udp's and multiport's
			f := FieldDport
			if strings.HasPrefix(w, "--s") {
				f = FieldSport
			}
			m, err := portsMatch(f, arg())
			if err != nil {
				unsupported(err.Error())
				break
			}
			add(m, neg)
		case "--ports":
			unsupported("multiport --ports (either port)")
			arg()
		case "--ctstate", "--state":
			m, err := ctStateMatch(arg())
			if err != nil {
				unsupported(err.Error())
				break
			}
			add(m, neg)
		case "--rt-type":
			arg()
			if neg {
				unsupported("! --rt-type")
				break
			}
			r.Matches = append(r.Matches, Match{Never: "an IPv6 routing header (-m rt)"})
		case "--syn":
			add(Match{Keys: []Key{{Field: FieldTCPFlags, Mask: []byte{0x17}}}, Op: OpEq, Data: []byte{0x02}}, neg)
		case "--dst-type":
			set := &Set{Name: "__addrtype"}
			for name := range strings.SplitSeq(arg(), ",") {
				t, ok := routeTypes[name]
				if !ok {
					unsupported("--dst-type " + name)
					break
				}
				set.Elements = append(set.Elements, Element{Key: binary.NativeEndian.AppendUint32(nil, t)})
			}
			add(Match{Keys: []Key{{Field: FieldFibDaddrType}}, Op: OpIn, Set: set}, neg)
		case "--limit-iface-in":
		case "--comment":
			arg()
		case "--limit":
			r.Matches = append(r.Matches, Match{Condition: "limit rate " + arg()})
		case "--limit-burst":
			arg()
		case "--pkt-type":
			t := arg()
			v, ok := map[string]byte{"unicast": 0, "host": 0, "broadcast": 1, "multicast": 2}[t]
			if !ok {
				unsupported("--pkt-type " + t)
				break
			}
			add(Match{Keys: []Key{{Field: FieldPktType}}, Op: OpEq, Data: []byte{v}}, neg)
		case "--match-set":
			name, dir := arg(), arg()
			if dir != "src" {
				unsupported("an ipset matched by " + dir)
				break
			}
			not := ""
			if neg {
				not = "!= "
			}
			r.Matches = append(r.Matches, Match{Condition: "ip saddr " + not + "@" + name + " (ipset)"})
		case "--set", "--update", "--rcheck", "--remove", "--rsource", "--rdest", "--reap", "--rttl":
			// recent: what a source did before, known only to the kernel.
			if w == "--update" || w == "--rcheck" {
				r.Matches = append(r.Matches, Match{Condition: "a source's recent connections (-m recent)"})
			}
		case "--name", "--seconds", "--hitcount", "--mask":
			arg()
		case "-j", "--jump", "-g", "--goto":
			target := arg()
			r.Action = iptablesTarget(target, words[i+1:], w == "-g" || w == "--goto")
			if r.Action.Kind == ActionNone && r.Action.Chain == "?" {
				r.Unsupported, r.Action.Chain = "target "+target, ""
			}
			return r
		default:
			unsupported("option " + w)
		}
		neg = false
	}
	return r
}

// routeTypes are addrtype's names of the kernel's route types (RTN_*).
var routeTypes = map[string]uint32{"UNSPEC": 0, "UNICAST": 1, "LOCAL": 2, "BROADCAST": 3, "ANYCAST": 4, "MULTICAST": 5,
	"BLACKHOLE": 6, "UNREACHABLE": 7, "PROHIBIT": 8, "THROW": 9, "NAT": 10, "XRESOLVE": 11}

var protocolNumbers = map[string]byte{"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132, "esp": 50, "ah": 51, "gre": 47}

// addressMatch reads "10.0.0.0/8", "10.0.0.0/255.0.0.0" or one address;
// any says it is every address (0.0.0.0/0), which tests nothing.
func addressMatch(f Field, s string, fam Family) (m Match, any bool, err error) {
	addr, mask, hasMask := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || (fam == FamilyIPv4) != a.Is4() {
		return Match{}, false, fmt.Errorf("address %q", s)
	}
	bits := a.BitLen()
	if hasMask {
		if n, err := strconv.Atoi(mask); err == nil && n >= 0 && n <= a.BitLen() {
			bits = n
		} else if m, err := netip.ParseAddr(mask); err == nil && m.BitLen() == a.BitLen() {
			p, ok := maskBits(m.AsSlice())
			if !ok {
				return Match{}, false, fmt.Errorf("a mask that is no prefix, %q", s)
			}
			bits = p
		} else {
			return Match{}, false, fmt.Errorf("address %q", s)
		}
	}
	if bits == 0 {
		return Match{}, true, nil
	}
	size := a.BitLen() / 8
	maskBytes := make([]byte, size)
	for i := 0; i < bits; i++ {
		maskBytes[i/8] |= 0x80 >> (i % 8)
	}
	k := Key{Field: f, Family: fam}
	if bits < a.BitLen() {
		k.Mask = maskBytes
	}
	return Match{Keys: []Key{k}, Op: OpEq, Data: netip.PrefixFrom(a, bits).Masked().Addr().AsSlice()}, false, nil
}

func maskBits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		for c&0x80 != 0 {
			n++
			c <<= 1
		}
		if c != 0 {
			return 0, false
		}
	}
	for i := n; i < len(b)*8; i++ {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			return 0, false
		}
	}
	return n, true
}

// ifaceMatch reads "eth0", or "veth+" (every name starting veth).
func ifaceMatch(f Field, name string) Match {
	// As nft compares them: a prefix's bytes alone, a name's with its NUL.
	if prefix, ok := strings.CutSuffix(name, "+"); ok {
		return Match{Keys: []Key{{Field: f}}, Op: OpEq, Data: []byte(prefix)}
	}
	return Match{Keys: []Key{{Field: f}}, Op: OpEq, Data: append([]byte(name), 0)}
}

// portsMatch reads "22", "8000:8100" or multiport's "80,443,8000:8100".
func portsMatch(f Field, s string) (Match, error) {
	set := &Set{Name: "__ports", Interval: true}
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(item, ":")
		l, err1 := strconv.ParseUint(lo, 10, 16)
		h, err2 := l, error(nil)
		if isRange {
			h, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || h < l {
			return Match{}, fmt.Errorf("ports %q", s)
		}
		set.Elements = append(set.Elements, Element{Key: binary.BigEndian.AppendUint16(nil, uint16(l)), KeyEnd: binary.BigEndian.AppendUint16(nil, uint16(h))})
	}
	if len(set.Elements) == 1 && bytes.Equal(set.Elements[0].Key, set.Elements[0].KeyEnd) {
		return Match{Keys: []Key{{Field: f}}, Op: OpEq, Data: set.Elements[0].Key}, nil
	}
	return Match{Keys: []Key{{Field: f}}, Op: OpIn, Set: set}, nil
}

// ctStateMatch reads "RELATED,ESTABLISHED".
func ctStateMatch(s string) (Match, error) {
	var bits uint32
	for name := range strings.SplitSeq(s, ",") {
		b, ok := map[string]uint32{"INVALID": 1, "ESTABLISHED": 2, "RELATED": 4, "NEW": 8, "UNTRACKED": 64}[name]
		if !ok {
			return Match{}, fmt.Errorf("conntrack state %q", name)
		}
		bits |= b
	}
	return Match{Keys: []Key{{Field: FieldCtState, Mask: binary.NativeEndian.AppendUint32(nil, bits)}}, Op: OpNeq, Data: make([]byte, 4)}, nil
}

// iptablesTarget reads a rule's target and its options.
func iptablesTarget(target string, opts []string, isGoto bool) Action {
	switch target {
	case "ACCEPT":
		return Action{Kind: ActionAccept}
	case "DROP":
		return Action{Kind: ActionDrop}
	case "REJECT":
		return Action{Kind: ActionReject}
	case "RETURN":
		return Action{Kind: ActionReturn}
	case "LOG", "NFLOG", "MASQUERADE", "SNAT", "MARK", "CONNMARK", "TCPMSS", "CT", "NOTRACK", "CHECKSUM", "ULOG", "AUDIT":
		return Action{Kind: ActionNone}
	case "DNAT":
		for i := 0; i+1 < len(opts); i++ {
			if opts[i] == "--to-destination" {
				if ap, err := netip.ParseAddrPort(opts[i+1]); err == nil {
					return Action{Kind: ActionDNAT, To: ap}
				}
				if a, err := netip.ParseAddr(opts[i+1]); err == nil {
					return Action{Kind: ActionDNAT, To: netip.AddrPortFrom(a, 0)}
				}
			}
		}
		return Action{Kind: ActionNone, Chain: "?"}
	case "REDIRECT":
		for i := 0; i+1 < len(opts); i++ {
			if opts[i] == "--to-ports" {
				if p, err := strconv.ParseUint(opts[i+1], 10, 16); err == nil {
					return Action{Kind: ActionDNAT, To: netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(p))}
				}
			}
		}
		return Action{Kind: ActionNone, Chain: "?"}
	case "QUEUE", "NFQUEUE", "TPROXY", "TEE", "CLASSIFY", "DSCP", "TOS", "SET":
		return Action{Kind: ActionNone, Chain: "?"}
	}
	if isGoto {
		return Action{Kind: ActionGoto, Chain: target}
	}
	return Action{Kind: ActionJump, Chain: target}
}
