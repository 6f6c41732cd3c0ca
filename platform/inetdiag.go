package platform

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// This file decodes the Linux NETLINK_SOCK_DIAG (inet_diag) wire format. It
// has no build tag so that its tests and fuzz targets run everywhere; only
// the Linux adapter calls it.

// ErrParse is wrapped by every error from a parser in this package.
var ErrParse = errors.New("malformed socket data")

const (
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72

	afInet  = 2
	afInet6 = 10

	ipprotoTCP = 6
	ipprotoUDP = 17
)

// Kernel TCP states (include/net/tcp_states.h); UDP sockets use
// kernelEstablished when connected and kernelClose when only bound.
const (
	kernelEstablished = 1 + iota
	kernelSynSent
	kernelSynRecv
	kernelFinWait1
	kernelFinWait2
	kernelTimeWait
	kernelClose
	kernelCloseWait
	kernelLastAck
	kernelListen
	kernelClosing
	kernelNewSynRecv
	kernelBoundInactive
	kernelMaxStates
)

var kernelTCPStates = [kernelMaxStates]State{
	kernelEstablished:   Established,
	kernelSynSent:       SynSent,
	kernelSynRecv:       SynRecv,
	kernelFinWait1:      FinWait1,
	kernelFinWait2:      FinWait2,
	kernelTimeWait:      TimeWait,
	kernelClose:         Close,
	kernelCloseWait:     CloseWait,
	kernelLastAck:       LastAck,
	kernelListen:        Listen,
	kernelClosing:       Closing,
	kernelNewSynRecv:    SynRecv,
	kernelBoundInactive: Close,
}

// stateFromKernel maps a kernel state number to a State for protocol p.
func stateFromKernel(p Protocol, k uint8) State {
	if p == UDP {
		switch k {
		case kernelEstablished:
			return Established
		case kernelClose:
			return Unconnected
		}
		return StateUnknown
	}
	if int(k) < len(kernelTCPStates) {
		return kernelTCPStates[k]
	}
	return StateUnknown
}

// kernelStateMask returns the kernel state bitmask that selects states for
// protocol p, so the kernel leaves out what the filter would drop.
func kernelStateMask(p Protocol, states States) uint32 {
	var mask uint32
	for k := uint8(1); k < kernelMaxStates; k++ {
		if s := stateFromKernel(p, k); s != StateUnknown && states.Has(s) {
			mask |= 1 << k
		}
	}
	return mask
}

// inetDiagRequest is a struct inet_diag_req_v2 asking for a dump of the
// sockets of one family and protocol in the given kernel states. It asks
// for no tcp_info (ss without -i does not either: it would cost the
// kernel time for nothing shown), and for other attributes only as ext
// says.
type inetDiagRequest struct {
	family, protocol uint8
	// ext asks for optional attributes (idiag_ext: bit n-1 for attribute
	// n).
	ext    uint8
	states uint32
	// bytecode, if any, is sent as the INET_DIAG_REQ_BYTECODE attribute.
	bytecode []byte
}

// Serialize returns the request, and its filter as an attribute after it.
func (r *inetDiagRequest) Serialize() []byte {
	b := make([]byte, sizeofInetDiagReqV2, sizeofInetDiagReqV2+4+len(r.bytecode))
	b[0] = r.family
	b[1] = r.protocol
	b[2] = r.ext
	binary.NativeEndian.PutUint32(b[4:8], r.states)
	if r.bytecode != nil {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(r.bytecode)))
		b = binary.NativeEndian.AppendUint16(b, inetDiagReqBytecode)
		b = append(b, r.bytecode...)
	}
	return b
}

// Bytecode ops of the kernel's socket filter (linux/inet_diag.h).
const (
	inetDiagReqBytecode = 1 // the request attribute that carries a filter
	inetDiagBcJmp       = 1
	inetDiagBcSGE       = 2
	inetDiagBcSLE       = 3
	inetDiagBcDGE       = 4
	inetDiagBcDLE       = 5

	// maxBytecodeRanges bounds the filter's alternatives; longer port
	// lists are filtered here instead.
	maxBytecodeRanges = 256
)

// portBytecode compiles the ranges that apply to protocol p into an
// inet_diag filter that keeps sockets whose source port one of them holds
// (or, with peer, whose source or destination port does), so that the
// kernel builds and copies no message for the thousands of sockets
// `portinspect 3372` does not ask about. It returns nil when no filter
// should be sent: no ranges for p, or too many.
//
// The kernel runs ops from the start; an op that holds moves on by its
// "yes" bytes, one that fails by its "no" bytes; landing exactly on the end
// accepts the socket, landing past it rejects it. The kernel's audit walks
// the "yes" jumps only, and every "no" jump must land on a place that walk
// visits, so "yes" always moves to the next op, as ss compiles filters:
//
//	per range: S_GE low (8 bytes; the port is in the next op's "no"),
//	           S_LE high (8), then, but for the last range, a JMP (4) to
//	           the end; a failed comparison jumps past the JMP to the next
//	           range, or past the end after the last. With peer, each
//	           range comes twice, the second time with D_GE and D_LE.
func portBytecode(ranges []PortRange, p Protocol, peer bool) []byte {
	type alternative struct {
		ge, le uint8
		r      PortRange
	}
	var alts []alternative
	for _, r := range ranges {
		if r.Covers(p) {
			alts = append(alts, alternative{inetDiagBcSGE, inetDiagBcSLE, r})
			if peer {
				alts = append(alts, alternative{inetDiagBcDGE, inetDiagBcDLE, r})
			}
		}
	}
	if len(alts) == 0 || len(alts) > maxBytecodeRanges {
		return nil
	}
	const compare, jump = 8, 4
	end := (2*compare+jump)*len(alts) - jump
	b := make([]byte, 0, end)
	op := func(code uint8, yes, no int) {
		b = append(b, code, uint8(yes))
		b = binary.NativeEndian.AppendUint16(b, uint16(no))
	}
	for i, alt := range alts {
		at := len(b)
		last := i == len(alts)-1
		nextRange := 2*compare + jump // from at
		if last {
			nextRange = end - at + 4
		}
		op(alt.ge, compare, nextRange)
		op(0, 0, int(alt.r.Low))
		op(alt.le, compare, nextRange-compare)
		op(0, 0, int(alt.r.High))
		if !last {
			op(inetDiagBcJmp, jump, end-len(b))
		}
	}
	return b
}

// inetDiagSocket is the part of one inet_diag_msg that portinspect uses.
type inetDiagSocket struct {
	Socket
	// IfIndex is the device the socket is bound to, which scopes a
	// link-local address; the caller names the interface.
	IfIndex uint32
}

// inetDiagExtTOS asks for INET_DIAG_TOS, a u8 attribute, on every socket
// (inet_diag_msg_attrs_fill).
const inetDiagExtTOS = 1 << (5 - 1)

// inetDiagSkV6Only is the attribute (INET_DIAG_SKV6ONLY, a u8) that the
// kernel adds to every IPv6 socket in LISTEN or CLOSE, the state of a bound
// UDP socket, without being asked (inet_diag_msg_attrs_fill): ss prints
// "*:80" rather than "[::]:80" when it is 0.
const inetDiagSkV6Only = 11

// parseInetDiagMsg decodes one inet_diag_msg, the payload of a
// SOCK_DIAG_BY_FAMILY reply, for a dump of protocol p. Of the attributes
// after the fixed part, only INET_DIAG_SKV6ONLY is read.
func parseInetDiagMsg(b []byte, p Protocol) (inetDiagSocket, error) {
	var d inetDiagSocket
	if len(b) < sizeofInetDiagMsg {
		return d, fmt.Errorf("%w: inet_diag_msg of %d bytes, want %d", ErrParse, len(b), sizeofInetDiagMsg)
	}
	sport := binary.BigEndian.Uint16(b[4:6])
	dport := binary.BigEndian.Uint16(b[6:8])
	var src, dst netip.Addr
	switch b[0] {
	case afInet:
		src = netip.AddrFrom4([4]byte(b[8:12]))
		dst = netip.AddrFrom4([4]byte(b[24:28]))
		d.Family = IPv4
	case afInet6:
		src = netip.AddrFrom16([16]byte(b[8:24]))
		dst = netip.AddrFrom16([16]byte(b[24:40]))
		d.Family = IPv6
	default:
		return d, fmt.Errorf("%w: inet_diag_msg of address family %d", ErrParse, b[0])
	}
	ne := binary.NativeEndian
	d.Protocol = p
	d.State = stateFromKernel(p, b[1])
	d.Local = netip.AddrPortFrom(src, sport)
	d.Remote = netip.AddrPortFrom(dst, dport)
	d.IfIndex = ne.Uint32(b[40:44])
	// idiag_cookie is two u32 halves, low first (sock_diag_save_cookie).
	d.Cookie = uint64(ne.Uint32(b[44:48])) | uint64(ne.Uint32(b[48:52]))<<32
	d.RecvQ = int64(ne.Uint32(b[56:60]))
	d.SendQ = int64(ne.Uint32(b[60:64]))
	d.UID = int64(ne.Uint32(b[64:68]))
	d.Inode = uint64(ne.Uint32(b[68:72]))
	if d.Family == IPv6 && src.IsUnspecified() {
		if v6only, ok := inetDiagAttrU8(b[sizeofInetDiagMsg:], inetDiagSkV6Only); ok {
			d.DualStack = DualStackYes
			if v6only != 0 {
				d.DualStack = DualStackNo
			}
		}
	}
	return d, nil
}

// inetDiagAttrU8 finds the one-byte attribute of type typ.
func inetDiagAttrU8(b []byte, typ uint16) (uint8, bool) {
	if v, ok := netlinkAttr(b, typ); ok && len(v) >= 1 {
		return v[0], true
	}
	return 0, false
}

// netlinkAttr finds the payload of the attribute of type typ among netlink
// attributes (struct nlattr: length and type, then the payload, each
// padded to 4 bytes). Malformed attributes end the search: they cost only
// the detail they carry.
func netlinkAttr(b []byte, typ uint16) ([]byte, bool) {
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if n < 4 || n > len(b) {
			return nil, false
		}
		if t == typ {
			return b[4:n], true
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return nil, false
}

// ifInfoMsgLen is the size of struct ifinfomsg (linux/rtnetlink.h), which
// starts an RTM_NEWLINK message before its attributes.
const ifInfoMsgLen = 16

// Attributes of an RTM_NEWLINK message (linux/if_link.h), and the flag of
// a loopback interface (linux/if.h).
const (
	iflaIfname   = 3
	iflaMaster   = 10
	iflaLinkInfo = 18
	iflaInfoKind = 1
	iffUp        = 0x1
	iffLoopback  = 0x8
)

// link is what an RTM_NEWLINK message says of an interface.
type link struct {
	Index, Master uint32 // Master: the bridge it is a port of, 0 for none
	Name, Kind    string // Kind: IFLA_INFO_KIND, "" for a physical device
	Up, Loopback  bool
}

// parseIfInfoMsg reads what an RTM_NEWLINK message says of an interface.
func parseIfInfoMsg(b []byte) (link, bool) {
	if len(b) < ifInfoMsgLen {
		return link{}, false
	}
	flags := binary.NativeEndian.Uint32(b[8:])
	l := link{Index: binary.NativeEndian.Uint32(b[4:]), Up: flags&iffUp != 0, Loopback: flags&iffLoopback != 0}
	attrs := b[ifInfoMsgLen:]
	if info, ok := netlinkAttr(attrs, iflaLinkInfo); ok {
		if k, ok := netlinkAttr(info, iflaInfoKind); ok {
			l.Kind = strings.TrimRight(string(k), "\x00")
		}
	}
	if name, ok := netlinkAttr(attrs, iflaIfname); ok {
		l.Name = strings.TrimRight(string(name), "\x00")
	}
	if m, ok := netlinkAttr(attrs, iflaMaster); ok && len(m) == 4 {
		l.Master = binary.NativeEndian.Uint32(m)
	}
	return l, true
}

// ifAddrMsgLen is the size of struct ifaddrmsg (linux/if_addr.h), which
// starts an RTM_NEWADDR message before its attributes.
const ifAddrMsgLen = 8

// Attributes of an RTM_NEWADDR message.
const (
	ifaAddress = 1
	ifaLocal   = 2
)

// parseIfAddrMsg reads the address an RTM_NEWADDR message gives an
// interface, with its prefix length, and the interface's index: IFA_LOCAL
// where it is set, as on a point-to-point link, whose IFA_ADDRESS is the
// peer's.
func parseIfAddrMsg(b []byte) (addr netip.Prefix, index uint32, ok bool) {
	if len(b) < ifAddrMsgLen {
		return netip.Prefix{}, 0, false
	}
	attrs := b[ifAddrMsgLen:]
	v, ok := netlinkAttr(attrs, ifaLocal)
	if !ok {
		v, ok = netlinkAttr(attrs, ifaAddress)
	}
	if !ok {
		return netip.Prefix{}, 0, false
	}
	a, ok := netip.AddrFromSlice(v)
	if !ok {
		return netip.Prefix{}, 0, false
	}
	p := netip.PrefixFrom(a, int(b[1]))
	if !p.IsValid() {
		return netip.Prefix{}, 0, false
	}
	return p, binary.NativeEndian.Uint32(b[4:]), true
}

// Netlink's framing (linux/netlink.h).
const (
	nlmsgHdrLen      = 16
	nlmsgError       = 2
	nlmsgDone        = 3
	nlmFRequest      = 0x1
	nlmFDumpIntr     = 0x10
	nlmFDump         = 0x300 // NLM_F_ROOT | NLM_F_MATCH
	sockDiagByFamily = 20
	rtmGetLink       = 18
	rtmGetAddr       = 22
)

// netlinkRequest frames payload as a request of type typ with flags and
// sequence number seq.
func netlinkRequest(typ, flags uint16, seq uint32, payload []byte) []byte {
	ne := binary.NativeEndian
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(payload))
	ne.PutUint32(b[0:], uint32(nlmsgHdrLen+len(payload)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	return append(b, payload...)
}

// netlinkReply is what one read of a dump's replies said beyond its
// messages.
type netlinkReply struct {
	// done: the dump ended (NLMSG_DONE or NLMSG_ERROR); errno is the
	// error it ended with, 0 for none.
	done  bool
	errno uint32
	// interrupted: the kernel marked a message NLM_F_DUMP_INTR, as the
	// table changed while it was dumped.
	interrupted bool
}

// parseNetlinkReply walks the messages of one read, b, calling fn with the
// payload of each message of the dump numbered seq until the dump's end.
// Messages of other numbers are skipped.
func parseNetlinkReply(b []byte, seq uint32, fn func(payload []byte) error) (netlinkReply, error) {
	ne := binary.NativeEndian
	var r netlinkReply
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return r, fmt.Errorf("%w: %d bytes after the last netlink message", ErrParse, len(b))
		}
		n := ne.Uint32(b)
		if n < nlmsgHdrLen || uint64(n) > uint64(len(b)) {
			return r, fmt.Errorf("%w: netlink message of %d bytes in %d", ErrParse, n, len(b))
		}
		typ, flags, msgSeq := ne.Uint16(b[4:]), ne.Uint16(b[6:]), ne.Uint32(b[8:])
		payload := b[nlmsgHdrLen:n]
		b = b[min(uint64(len(b)), (uint64(n)+3)&^3):]
		if msgSeq != seq {
			continue
		}
		r.interrupted = r.interrupted || flags&nlmFDumpIntr != 0
		switch typ {
		case nlmsgDone, nlmsgError:
			// Both carry an int, a negated errno or 0.
			r.done = true
			if len(payload) >= 4 {
				r.errno = uint32(-int32(ne.Uint32(payload)))
			}
			return r, nil
		}
		if err := fn(payload); err != nil {
			return r, err
		}
	}
	return r, nil
}
