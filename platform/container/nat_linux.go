package container

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// Header offsets that the rules compare, as nft(8) and iptables-nft load
// them (linux/ip.h, linux/ipv6.h, linux/tcp.h).
const (
	ipv4ProtocolOffset = 9
	ipv4DaddrOffset    = 16
	ipv6NextHdrOffset  = 6
	ipv6DaddrOffset    = 24
	dportOffset        = 2 // in TCP, UDP and SCTP alike
)

// regField says what a rule loaded into a register, for the comparisons
// that follow.
type regField uint8

const (
	fieldUnknown regField = iota
	fieldL4Proto
	fieldDaddr
	fieldDport
	fieldConst
)

type register struct {
	field regField
	data  []byte // an immediate's value
}

// ParseDNAT reads one rule's expressions as a publication: a destination
// NAT to an address (and port), taken by packets to one port of one
// protocol, perhaps to one address. That is the rule Docker (with or
// without its proxy), Podman's netavark and CNI's portmap write for a
// published port, whether as nft rules or through iptables-nft, whose
// DNAT target and tcp/udp matches arrive as xtables extensions. A DNAT to
// an address alone keeps the port. Rules that match a port range, a set
// or an inverted port, map their destination, or load registers in ways
// not followed here, say nothing of one port and are not publications;
// IsDNAT tells them from rules that forward nothing.
func ParseDNAT(exprs []expr.Any) (Publication, bool) {
	var p Publication
	regs := make(map[uint32]register)
	var target *netip.AddrPort
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if e.SourceRegister {
				continue // meta set: a register read
			}
			f := fieldUnknown
			if e.Key == expr.MetaKeyL4PROTO {
				f = fieldL4Proto
			}
			regs[e.Register] = register{field: f}
		case *expr.Payload:
			if e.OperationType == expr.PayloadLoad {
				regs[e.DestRegister] = register{field: payloadField(e)}
			}
		case *expr.Immediate:
			regs[e.Register] = register{field: fieldConst, data: e.Data}
		case *expr.Bitwise:
			regs[e.DestRegister] = register{}
		case *expr.Lookup:
			if e.IsDestRegSet {
				regs[e.DestRegister] = register{} // a map's value
			}
		case *expr.Cmp:
			if e.Op != expr.CmpOpEq {
				continue
			}
			switch regs[e.Register].field {
			case fieldL4Proto:
				if len(e.Data) == 1 {
					p.Protocol = protocolName(e.Data[0])
				}
			case fieldDaddr:
				if a, ok := netip.AddrFromSlice(e.Data); ok {
					p.HostAddr = a
				}
			case fieldDport:
				if len(e.Data) == 2 {
					p.HostPort = binary.BigEndian.Uint16(e.Data)
				}
			}
		case *expr.Match:
			// iptables-nft's "-m tcp --dport N", where it kept the match.
			var ports [2]uint16
			inverted := false
			switch info := e.Info.(type) {
			case *xt.Tcp:
				p.Protocol, ports, inverted = "tcp", info.DstPorts, info.InvFlags&xt.TcpInvDestPorts != 0
			case *xt.Udp:
				p.Protocol, ports, inverted = "udp", info.DstPorts, info.InvFlags&xt.UdpInvDestPorts != 0
			default:
				continue
			}
			if inverted || ports[0] != ports[1] {
				return Publication{}, false
			}
			p.HostPort = ports[0]
		case *expr.NAT:
			if e.Type != expr.NATTypeDestNAT {
				return Publication{}, false
			}
			addr, ok := natAddr(regs, e.RegAddrMin, e.RegAddrMax)
			port, pok := natPort(regs, e.RegProtoMin, e.RegProtoMax)
			if !ok || !pok {
				return Publication{}, false
			}
			ap := netip.AddrPortFrom(addr, port)
			target = &ap
		case *expr.Target:
			if e.Name != "DNAT" {
				return Publication{}, false
			}
			ap, ok := xtDNAT(e.Info)
			if !ok {
				return Publication{}, false
			}
			target = &ap
		case *expr.Counter, *expr.Log, *expr.Limit, *expr.Quota, *expr.Verdict, *expr.Range:
			// Neither a register written nor a destination.
		default:
			// Writes some register, perhaps the NAT's own: trust none.
			clear(regs)
		}
	}
	if target == nil || p.Protocol == "" || p.HostPort == 0 {
		return Publication{}, false
	}
	port := target.Port()
	if port == 0 {
		port = p.HostPort // a DNAT to an address alone keeps the port
	}
	if !target.Addr().IsValid() && port == p.HostPort {
		return Publication{}, false // to this host's own port: no forward
	}
	p.ContainerAddr, p.ContainerPort, p.Via = target.Addr(), port, ViaNAT
	return p, true
}

// IsDNAT reports whether a rule's verdict is a destination NAT, as
// nft's dnat or iptables' DNAT target: what ParseDNAT does not take of
// those may still forward some port.
func IsDNAT(exprs []expr.Any) bool {
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.NAT:
			if e.Type == expr.NATTypeDestNAT {
				return true
			}
		case *expr.Target:
			if e.Name == "DNAT" {
				return true
			}
		}
	}
	return false
}

// payloadField names the header field a payload load reads.
func payloadField(e *expr.Payload) regField {
	switch {
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == dportOffset && e.Len == 2:
		return fieldDport
	case e.Base != expr.PayloadBaseNetworkHeader:
		return fieldUnknown
	case e.Offset == ipv4ProtocolOffset && e.Len == 1, e.Offset == ipv6NextHdrOffset && e.Len == 1:
		return fieldL4Proto
	case e.Offset == ipv4DaddrOffset && e.Len == 4, e.Offset == ipv6DaddrOffset && e.Len == 16:
		return fieldDaddr
	}
	return fieldUnknown
}

func protocolName(n byte) string {
	switch n {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 132:
		return "sctp"
	}
	return ""
}

// natAddr reads the one address a native DNAT maps to: none loaded (a
// port-only DNAT) is this host, and a range is no one container.
func natAddr(regs map[uint32]register, lo, hi uint32) (netip.Addr, bool) {
	if lo == 0 {
		return netip.Addr{}, true
	}
	r := regs[lo]
	if r.field != fieldConst || hi != 0 && hi != lo && string(regs[hi].data) != string(r.data) {
		return netip.Addr{}, false
	}
	// A register holds 4 or 16 bytes, padded with zeros.
	switch len(r.data) {
	case 4, 16:
		return netip.AddrFromSlice(r.data)
	}
	return netip.Addr{}, false
}

// natPort reads the one port a native DNAT maps to: none loaded keeps the
// packet's, and a range is no one port.
func natPort(regs map[uint32]register, lo, hi uint32) (uint16, bool) {
	if lo == 0 {
		return 0, true
	}
	r := regs[lo]
	if r.field != fieldConst || len(r.data) < 2 {
		return 0, false
	}
	port := binary.BigEndian.Uint16(r.data)
	if hi != 0 && hi != lo {
		if h := regs[hi]; len(h.data) < 2 || binary.BigEndian.Uint16(h.data) != port {
			return 0, false
		}
	}
	return port, true
}

// xtDNAT reads iptables' DNAT target, in any of its revisions: one address
// (or none, this host) and one port (or none, the packet's).
func xtDNAT(info xt.InfoAny) (netip.AddrPort, bool) {
	var flags xt.NatRangeFlags
	var minIP, maxIP net.IP
	var minPort, maxPort uint16
	switch r := info.(type) {
	case *xt.NatRange2:
		if r == nil {
			return netip.AddrPort{}, false
		}
		flags, minIP, maxIP, minPort, maxPort = xt.NatRangeFlags(r.Flags), r.MinIP, r.MaxIP, r.MinPort, r.MaxPort
	case *xt.NatRange:
		if r == nil {
			return netip.AddrPort{}, false
		}
		flags, minIP, maxIP, minPort, maxPort = xt.NatRangeFlags(r.Flags), r.MinIP, r.MaxIP, r.MinPort, r.MaxPort
	case *xt.NatIPv4MultiRangeCompat:
		if r == nil || len(*r) != 1 {
			return netip.AddrPort{}, false
		}
		x := (*r)[0]
		flags, minIP, maxIP, minPort, maxPort = xt.NatRangeFlags(x.Flags), x.MinIP, x.MaxIP, x.MinPort, x.MaxPort
	default:
		return netip.AddrPort{}, false
	}
	if flags&xt.NatRangeProtoSpecified == 0 {
		minPort, maxPort = 0, 0 // the packet's port, kept
	}
	if minPort != maxPort {
		return netip.AddrPort{}, false
	}
	var addr netip.Addr
	if flags&xt.NatRangeMapIPs != 0 {
		if !minIP.Equal(maxIP) {
			return netip.AddrPort{}, false
		}
		a, ok := netip.AddrFromSlice(minIP)
		if !ok {
			return netip.AddrPort{}, false
		}
		addr = a.Unmap()
	}
	return netip.AddrPortFrom(addr, minPort), true
}
