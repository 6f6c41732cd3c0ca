package container

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// Expressions as the kernel lists them (nft --debug=netlink list ruleset)
// for the rules each runtime writes.
func l4proto(n byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{n}}}
}

func daddr(a string) []expr.Any {
	ip := netip.MustParseAddr(a)
	off, n := uint32(ipv4DaddrOffset), uint32(4)
	if ip.Is6() {
		off, n = ipv6DaddrOffset, 16
	}
	return []expr.Any{&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n, DestRegister: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()}}
}

func dport(p uint16) []expr.Any {
	return []expr.Any{&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: dportOffset, Len: 2, DestRegister: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, p)}}
}

// nativeDNAT is nft's "dnat to ADDR:PORT" (and "dnat ip to" in an inet
// table): the address and port loaded as immediates.
func nativeDNAT(to string) []expr.Any {
	ap := netip.MustParseAddrPort(to)
	fam := uint32(2) // NFPROTO_IPV4
	if ap.Addr().Is6() {
		fam = 10
	}
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: ap.Addr().AsSlice()},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, ap.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2},
	}
}

// xtDNATRev2 is iptables-nft's "-j DNAT --to-destination ADDR:PORT".
func xtDNATRev2(to string) []expr.Any {
	ap := netip.MustParseAddrPort(to)
	ip := net.IP(ap.Addr().AsSlice())
	return []expr.Any{&expr.Counter{}, &expr.Target{Name: "DNAT", Rev: 2, Info: &xt.NatRange2{NatRange: xt.NatRange{
		Flags: uint(xt.NatRangeMapIPs | xt.NatRangeProtoSpecified), MinIP: ip, MaxIP: ip, MinPort: ap.Port(), MaxPort: ap.Port()}}}}
}

func rule(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseDNAT(t *testing.T) {
	pub := func(proto, host string, hostPort uint16, to string) Publication {
		p := Publication{Protocol: proto, HostPort: hostPort, Via: ViaNAT}
		if host != "" {
			p.HostAddr = netip.MustParseAddr(host)
		}
		ap := netip.MustParseAddrPort(to)
		p.ContainerAddr, p.ContainerPort = ap.Addr(), ap.Port()
		return p
	}
	jump := []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "NETAVARK-HOSTPORT-SETMARK"}}
	compat := xt.NatIPv4MultiRangeCompat{{Flags: uint(xt.NatRangeMapIPs | xt.NatRangeProtoSpecified),
		MinIP: net.IPv4(10, 88, 0, 2).To4(), MaxIP: net.IPv4(10, 88, 0, 2).To4(), MinPort: 8080, MaxPort: 8080}}
	tests := []struct {
		name  string
		exprs []expr.Any
		want  Publication
		ok    bool
	}{
		{"netavark through iptables-nft (real)", rule(l4proto(6), daddr("127.0.0.1"), dport(18090), xtDNATRev2("10.88.0.2:8080")),
			pub("tcp", "127.0.0.1", 18090, "10.88.0.2:8080"), true},
		{"docker, published on every address", rule(l4proto(6), dport(18080), xtDNATRev2("172.17.0.2:80")),
			pub("tcp", "", 18080, "172.17.0.2:80"), true},
		{"nft dnat to, udp", rule(l4proto(17), daddr("10.200.0.1"), dport(5353), nativeDNAT("10.200.0.2:53")),
			pub("udp", "10.200.0.1", 5353, "10.200.0.2:53"), true},
		{"nft dnat to, IPv6", rule(l4proto(6), daddr("fd00::1"), dport(8443), nativeDNAT("[fd00::2]:443")),
			pub("tcp", "fd00::1", 8443, "[fd00::2]:443"), true},
		{"iptables before 1.8.3: DNAT rev 0 and an xt tcp match", rule(
			[]expr.Any{&expr.Match{Name: "tcp", Info: &xt.Tcp{DstPorts: [2]uint16{18081, 18081}}}},
			[]expr.Any{&expr.Target{Name: "DNAT", Info: &compat}}),
			pub("tcp", "", 18081, "10.88.0.2:8080"), true},
		{"netavark's mark rule jumps, it does not forward", rule(l4proto(6), daddr("127.0.0.1"), dport(18090), jump), Publication{}, false},
		{"a port range is no one port", rule(l4proto(6),
			[]expr.Any{&expr.Match{Name: "tcp", Info: &xt.Tcp{DstPorts: [2]uint16{8000, 8010}}}}, xtDNATRev2("10.0.0.2:80")), Publication{}, false},
		{"no protocol", rule(dport(80), nativeDNAT("10.0.0.2:80")), Publication{}, false},
		{"no port", rule(l4proto(6), daddr("10.0.0.1"), nativeDNAT("10.0.0.2:80")), Publication{}, false},
		{"a source NAT", rule(l4proto(6), dport(80), []expr.Any{&expr.NAT{Type: expr.NATTypeSourceNAT, RegAddrMin: 1}}), Publication{}, false},
		{"an address changed by bitwise is not compared", rule(l4proto(6),
			[]expr.Any{&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: ipv4DaddrOffset, Len: 4, DestRegister: 1},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 0}}},
			dport(80), nativeDNAT("10.0.0.2:80")), pub("tcp", "", 80, "10.0.0.2:80"), true},
		{"a negated address is no host address", rule(l4proto(6),
			[]expr.Any{&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: ipv4DaddrOffset, Len: 4, DestRegister: 1},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{127, 0, 0, 1}}},
			dport(80), nativeDNAT("10.0.0.2:80")), pub("tcp", "", 80, "10.0.0.2:80"), true},
		{"nft dnat to an address alone keeps the port", rule(l4proto(6), dport(8080),
			[]expr.Any{&expr.Immediate{Register: 1, Data: []byte{10, 88, 0, 5}}, &expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1}}),
			pub("tcp", "", 8080, "10.88.0.5:8080"), true},
		{"iptables DNAT to an address alone keeps the port", rule(l4proto(17), dport(53), []expr.Any{&expr.Target{Name: "DNAT", Rev: 2, Info: &xt.NatRange2{NatRange: xt.NatRange{
			Flags: uint(xt.NatRangeMapIPs), MinIP: net.IPv4(10, 88, 0, 6).To4(), MaxIP: net.IPv4(10, 88, 0, 6).To4()}}}}),
			pub("udp", "", 53, "10.88.0.6:53"), true},
		{"a port moved on this host", rule(l4proto(6), dport(80),
			[]expr.Any{&expr.Immediate{Register: 2, Data: []byte{0x1f, 0x90}}, &expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegProtoMin: 2}}),
			Publication{Protocol: "tcp", HostPort: 80, ContainerPort: 8080, Via: ViaNAT}, true},
		{"an inverted port", rule([]expr.Any{&expr.Match{Name: "tcp", Info: &xt.Tcp{DstPorts: [2]uint16{22, 22}, InvFlags: xt.TcpInvDestPorts}}}, xtDNATRev2("10.0.0.2:22")),
			Publication{}, false},
		{"a destination from a map", rule(l4proto(6), dport(80),
			[]expr.Any{&expr.Immediate{Register: 1, Data: []byte{10, 0, 0, 2}}, &expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4, DestRegister: 1},
				&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: "backends"}},
			[]expr.Any{&expr.Immediate{Register: 2, Data: []byte{0, 80}}, &expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1, RegProtoMin: 2}}),
			Publication{}, false},
		{"a register written by what is not followed", rule(l4proto(6), dport(80),
			[]expr.Any{&expr.Immediate{Register: 1, Data: []byte{10, 0, 0, 2}}, &expr.Ct{Register: 1, Key: expr.CtKeyMARK},
				&expr.Immediate{Register: 2, Data: []byte{0, 80}}, &expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1, RegProtoMin: 2}}),
			Publication{}, false},
		{"a typed nil target", rule(l4proto(6), dport(80), []expr.Any{&expr.Target{Name: "DNAT", Rev: 2, Info: (*xt.NatRange2)(nil)}}), Publication{}, false},
		{"meta mark set reads a register", rule(l4proto(6), dport(80), []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}},
			nativeDNAT("10.0.0.2:80")), pub("tcp", "", 80, "10.0.0.2:80"), true},
		{"empty", nil, Publication{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseDNAT(tt.exprs)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseDNAT = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
			// A DNAT that is no publication still forwards something.
			dnat := slices.ContainsFunc(tt.exprs, func(e expr.Any) bool {
				n, isNAT := e.(*expr.NAT)
				t, isTarget := e.(*expr.Target)
				return isNAT && n.Type == expr.NATTypeDestNAT || isTarget && t.Name == "DNAT"
			})
			if IsDNAT(tt.exprs) != dnat || ok && !dnat {
				t.Errorf("IsDNAT = %v, want %v", IsDNAT(tt.exprs), dnat)
			}
		})
	}
}

// fuzzRule builds a rule from bytes, six to an expression: a kind, a
// register and four values, drawn so that real rules can come of them:
// header fields at the offsets rules load, addresses and ports.
func fuzzRule(b []byte) []expr.Any {
	var exprs []expr.Any
	for ; len(b) >= 6; b = b[6:] {
		reg, x, v := uint32(b[1]%4), b[2], b[3:6]
		port := binary.BigEndian.Uint16(v)
		addr := []byte{10, v[0], v[1], v[2]}
		switch b[0] % 8 {
		case 0:
			exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg, SourceRegister: x%5 == 0})
		case 1:
			offsets, lens := []uint32{9, 16, 2, 12, 24, 6}, []uint32{1, 4, 2, 16}
			exprs = append(exprs, &expr.Payload{Base: expr.PayloadBase(x % 3), Offset: offsets[int(v[0])%len(offsets)], Len: lens[int(v[1])%len(lens)], DestRegister: reg})
		case 2:
			data := [][]byte{{v[0]}, v[:2], addr}[int(x)%3]
			exprs = append(exprs, &expr.Cmp{Op: expr.CmpOp(x % 2), Register: reg, Data: data})
		case 3:
			data := v[:2]
			if x%2 == 1 {
				data = addr
			}
			exprs = append(exprs, &expr.Immediate{Register: reg, Data: data})
		case 4:
			exprs = append(exprs, &expr.NAT{Type: expr.NATType(x % 2), RegAddrMin: reg, RegProtoMin: uint32(v[0] % 4), RegProtoMax: uint32(v[1] % 4)})
		case 5:
			exprs = append(exprs, &expr.Match{Name: "tcp", Info: &xt.Tcp{DstPorts: [2]uint16{port, port + uint16(x%2)}, InvFlags: xt.TcpInvFlagset(x % 4)}})
		case 6:
			ip := net.IP(addr)
			exprs = append(exprs, &expr.Target{Name: "DNAT", Rev: 2, Info: &xt.NatRange2{NatRange: xt.NatRange{
				Flags: uint(x % 4), MinIP: ip, MaxIP: ip, MinPort: port, MaxPort: port}}})
		case 7:
			exprs = append(exprs, &expr.Ct{Register: reg, Key: expr.CtKeyMARK})
		}
	}
	return exprs
}

// FuzzParseDNAT runs rules built from arbitrary bytes (fuzzRule). A rule
// taken as a publication has a protocol, a port, a destination port and
// is a DNAT.
func FuzzParseDNAT(f *testing.F) {
	// meta l4proto tcp; dport 18090; immediates 10.88.0.2 and 8080; dnat.
	accepted := []byte{
		0, 1, 1, 0, 0, 0, 2, 1, 0, 6, 0, 0,
		1, 1, 2, 2, 2, 0, 2, 1, 4, 0x46, 0xaa, 0,
		3, 1, 1, 88, 0, 2, 3, 2, 0, 0x1f, 0x90, 0,
		4, 1, 1, 2, 0, 0,
	}
	if _, ok := ParseDNAT(fuzzRule(accepted)); !ok {
		f.Fatal("the seed of a publication is not one")
	}
	f.Add(accepted)
	f.Add([]byte{5, 0, 0, 0x46, 0xaa, 0, 6, 0, 3, 0x1f, 0x90, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		exprs := fuzzRule(b)
		p, ok := ParseDNAT(exprs)
		if ok && (p.Protocol == "" || p.HostPort == 0 || p.ContainerPort == 0 || p.Via != ViaNAT || !IsDNAT(exprs)) {
			t.Errorf("ParseDNAT accepted %+v", p)
		}
	})
}
