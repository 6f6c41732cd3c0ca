package platform

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// inetDiagMsg builds an inet_diag_msg as the kernel sends it.
func inetDiagMsg(family, state uint8, local, remote netip.AddrPort, ifindex, uid, inode uint32) []byte {
	b := make([]byte, sizeofInetDiagMsg+8) // trailing attributes are ignored
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:], local.Port())
	binary.BigEndian.PutUint16(b[6:], remote.Port())
	l, r := local.Addr().As16(), remote.Addr().As16()
	if family == afInet {
		l4, r4 := local.Addr().As4(), remote.Addr().As4()
		copy(b[8:], l4[:])
		copy(b[24:], r4[:])
	} else {
		copy(b[8:], l[:])
		copy(b[24:], r[:])
	}
	binary.NativeEndian.PutUint32(b[40:], ifindex)
	binary.NativeEndian.PutUint32(b[64:], uid)
	binary.NativeEndian.PutUint32(b[68:], inode)
	return b
}

func TestParseInetDiagMsg(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name  string
		msg   []byte
		proto Protocol
		want  Socket
		ifidx uint32
	}{
		{"tcp4 listener", inetDiagMsg(afInet, kernelListen, ap("127.0.0.1:3372"), ap("0.0.0.0:0"), 0, 0, 4242), TCP,
			Socket{Protocol: TCP, Family: IPv4, Local: ap("127.0.0.1:3372"), Remote: ap("0.0.0.0:0"), State: Listen, UID: 0, Inode: 4242}, 0},
		{"tcp6 established", inetDiagMsg(afInet6, kernelEstablished, ap("[::1]:44510"), ap("[::1]:8080"), 0, 1000, 7), TCP,
			Socket{Protocol: TCP, Family: IPv6, Local: ap("[::1]:44510"), Remote: ap("[::1]:8080"), State: Established, UID: 1000, Inode: 7}, 0},
		{"tcp new syn recv is SYN_RECV", inetDiagMsg(afInet, kernelNewSynRecv, ap("10.0.0.1:22"), ap("10.0.0.2:5000"), 0, 0, 0), TCP,
			Socket{Protocol: TCP, Family: IPv4, Local: ap("10.0.0.1:22"), Remote: ap("10.0.0.2:5000"), State: SynRecv}, 0},
		{"udp unconnected", inetDiagMsg(afInet, kernelClose, ap("0.0.0.0:3372"), ap("0.0.0.0:0"), 0, 0, 9), UDP,
			Socket{Protocol: UDP, Family: IPv4, Local: ap("0.0.0.0:3372"), Remote: ap("0.0.0.0:0"), State: Unconnected, Inode: 9}, 0},
		{"udp6 connected, link-local", inetDiagMsg(afInet6, kernelEstablished, ap("[fe80::1]:546"), ap("[fe80::2]:547"), 3, 0, 10), UDP,
			Socket{Protocol: UDP, Family: IPv6, Local: ap("[fe80::1]:546"), Remote: ap("[fe80::2]:547"), State: Established, Inode: 10}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInetDiagMsg(tt.msg, tt.proto)
			if err != nil {
				t.Fatal(err)
			}
			if !socketsEqual(got.Socket, tt.want) || got.IfIndex != tt.ifidx {
				t.Errorf("got %+v (if %d)\nwant %+v (if %d)", got.Socket, got.IfIndex, tt.want, tt.ifidx)
			}
		})
	}
}

// withQueues sets a message's idiag_rqueue and idiag_wqueue.
func withQueues(msg []byte, rqueue, wqueue uint32) []byte {
	binary.NativeEndian.PutUint32(msg[56:], rqueue)
	binary.NativeEndian.PutUint32(msg[60:], wqueue)
	return msg
}

// withAttr appends a netlink attribute to a message, after the
// attributes it has; inetDiagMsg's zero padding is not one.
func withAttr(msg []byte, typ uint16, payload ...byte) []byte {
	if len(msg) == sizeofInetDiagMsg+8 && binary.NativeEndian.Uint16(msg[sizeofInetDiagMsg:]) == 0 {
		msg = msg[:sizeofInetDiagMsg:sizeofInetDiagMsg]
	}
	msg = binary.NativeEndian.AppendUint16(msg, uint16(4+len(payload)))
	msg = binary.NativeEndian.AppendUint16(msg, typ)
	msg = append(msg, payload...)
	return append(msg, make([]byte, (4-len(payload)%4)%4)...)
}

func TestParseInetDiagQueuesAndDualStack(t *testing.T) {
	ap := netip.MustParseAddrPort
	v6 := func(local string) []byte {
		return withQueues(inetDiagMsg(afInet6, kernelListen, ap(local), ap("[::]:0"), 0, 0, 1), 3, 4096)
	}
	tests := []struct {
		name string
		msg  []byte
		want DualStack
	}{
		{"dual-stack", withAttr(v6("[::]:80"), inetDiagSkV6Only, 0), DualStackYes},
		{"v6only", withAttr(v6("[::]:80"), inetDiagSkV6Only, 1), DualStackNo},
		// INET_DIAG_SHUTDOWN comes first.
		{"after another attribute", withAttr(withAttr(v6("[::]:80"), 8, 0), inetDiagSkV6Only, 0), DualStackYes},
		{"no attribute", v6("[::]:80"), DualStackUnknown},
		{"specific address", withAttr(v6("[::1]:80"), inetDiagSkV6Only, 0), DualStackUnknown},
		{"truncated attribute", withAttr(v6("[::]:80"), inetDiagSkV6Only, 0)[:sizeofInetDiagMsg+4], DualStackUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseInetDiagMsg(tt.msg, TCP)
			if err != nil {
				t.Fatal(err)
			}
			if d.DualStack != tt.want || d.RecvQ != 3 || d.SendQ != 4096 {
				t.Errorf("dual stack %v, queues %d/%d; want %v, 3/4096", d.DualStack, d.RecvQ, d.SendQ, tt.want)
			}
		})
	}
}

func TestParseInetDiagMsgErrors(t *testing.T) {
	ap := netip.MustParseAddrPort
	short := inetDiagMsg(afInet, kernelListen, ap("127.0.0.1:1"), ap("0.0.0.0:0"), 0, 0, 1)[:sizeofInetDiagMsg-1]
	if _, err := parseInetDiagMsg(short, TCP); !errors.Is(err, ErrParse) {
		t.Errorf("short message: err = %v, want ErrParse", err)
	}
	unix := inetDiagMsg(afInet, kernelListen, ap("127.0.0.1:1"), ap("0.0.0.0:0"), 0, 0, 1)
	unix[0] = 1 // AF_UNIX
	if _, err := parseInetDiagMsg(unix, TCP); !errors.Is(err, ErrParse) {
		t.Errorf("AF_UNIX message: err = %v, want ErrParse", err)
	}
}

func TestKernelStateMask(t *testing.T) {
	tests := []struct {
		proto  Protocol
		states States
		want   uint32
	}{
		{TCP, States(0).With(Listen), 1 << kernelListen},
		{TCP, States(0).With(SynRecv), 1<<kernelSynRecv | 1<<kernelNewSynRecv},
		{UDP, States(0).With(Unconnected), 1 << kernelClose},
		{UDP, States(0).With(Listen), 0},
		{TCP, States(0).With(Unconnected), 0},
		{UDP, AllStates, 1<<kernelClose | 1<<kernelEstablished},
		{TCP, States(0).With(Close), 1<<kernelClose | 1<<kernelBoundInactive},
		{TCP, DefaultStates, (1<<kernelMaxStates - 1) &^ (1 | 1<<kernelClose | 1<<kernelBoundInactive)},
		{UDP, DefaultStates, 1<<kernelClose | 1<<kernelEstablished},
	}
	for _, tt := range tests {
		if got := kernelStateMask(tt.proto, tt.states); got != tt.want {
			t.Errorf("kernelStateMask(%v, %b) = %b, want %b", tt.proto, tt.states, got, tt.want)
		}
	}
}

func TestInetDiagRequest(t *testing.T) {
	r := &inetDiagRequest{family: afInet6, protocol: ipprotoUDP, states: 1 << kernelClose}
	b := r.Serialize()
	if len(b) != sizeofInetDiagReqV2 || b[0] != afInet6 || b[1] != ipprotoUDP || b[2] != 0 {
		t.Fatalf("request % x", b)
	}
	if got := binary.NativeEndian.Uint32(b[4:]); got != 1<<kernelClose {
		t.Errorf("states %b", got)
	}
}

func FuzzParseInetDiagMsg(f *testing.F) {
	ap := netip.MustParseAddrPort
	f.Add(inetDiagMsg(afInet, kernelListen, ap("127.0.0.1:3372"), ap("0.0.0.0:0"), 0, 0, 1), true)
	f.Add(inetDiagMsg(afInet6, kernelEstablished, ap("[fe80::1]:1"), ap("[::1]:2"), 2, 3, 4), false)
	f.Add(withAttr(inetDiagMsg(afInet6, kernelListen, ap("[::]:80"), ap("[::]:0"), 0, 0, 5), inetDiagSkV6Only, 0), true)
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		p := UDP
		if tcp {
			p = TCP
		}
		d, err := parseInetDiagMsg(b, p)
		if err != nil {
			return
		}
		if d.Local.Addr().Is4() != (d.Family == IPv4) {
			t.Fatalf("address %v in family %v", d.Local, d.Family)
		}
		if d.State >= numStates {
			t.Fatalf("state %d", d.State)
		}
	})
}

// bcAudit mirrors the kernel's inet_diag_bc_audit (net/ipv4/inet_diag.c)
// for the ops portBytecode emits: it walks the "yes" jumps and requires
// every "no" jump to land on that walk or just past the end.
func bcAudit(bc []byte) error {
	validCC := func(cc int) bool {
		for at := 0; ; {
			rest := len(bc) - at
			if cc > rest || rest < 0 {
				return false
			}
			if cc == rest {
				return true
			}
			yes := int(bc[at+1])
			if yes < 4 || yes&3 != 0 {
				return false
			}
			at += yes
		}
	}
	for at := 0; at < len(bc); {
		rest := len(bc) - at
		code, yes, no := bc[at], int(bc[at+1]), int(binary.NativeEndian.Uint16(bc[at+2:]))
		minLen := 4
		switch code {
		case inetDiagBcJmp:
		case inetDiagBcSGE, inetDiagBcSLE, inetDiagBcDGE, inetDiagBcDLE:
			if rest < 8 {
				return errors.New("port comparison without its port")
			}
			minLen = 8
		default:
			return errors.New("unknown op")
		}
		if no < minLen || no > rest+4 || no&3 != 0 {
			return errors.New("bad no")
		}
		if no < rest && !validCC(rest-no) {
			return errors.New("no jumps off the yes walk")
		}
		if yes < minLen || yes > rest+4 || yes&3 != 0 {
			return errors.New("bad yes")
		}
		at += yes
		if at > len(bc) {
			return errors.New("yes walk overruns")
		}
	}
	return nil
}

// bcRun mirrors the kernel's inet_diag_bc_run for a socket's ports.
func bcRun(bc []byte, sport, dport uint16) bool {
	at := 0
	for at < len(bc) {
		yes := false
		switch bc[at] {
		case inetDiagBcSGE:
			yes = sport >= binary.NativeEndian.Uint16(bc[at+6:])
		case inetDiagBcSLE:
			yes = sport <= binary.NativeEndian.Uint16(bc[at+6:])
		case inetDiagBcDGE:
			yes = dport >= binary.NativeEndian.Uint16(bc[at+6:])
		case inetDiagBcDLE:
			yes = dport <= binary.NativeEndian.Uint16(bc[at+6:])
		}
		if yes {
			at += int(bc[at+1])
		} else {
			at += int(binary.NativeEndian.Uint16(bc[at+2:]))
		}
	}
	return at == len(bc)
}

func TestPortBytecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + rng.IntN(20)
		if trial == 0 {
			n = maxBytecodeRanges
		}
		var ranges []PortRange
		for range n {
			lo := uint16(rng.IntN(65536))
			hi := lo + uint16(rng.IntN(int(65535-lo)+1))
			if rng.IntN(3) == 0 {
				hi = lo
			}
			ranges = append(ranges, PortRange{Low: lo, High: hi, TCP: rng.IntN(4) != 0, UDP: rng.IntN(4) != 0})
		}
		peer := trial%2 == 1 && n <= maxBytecodeRanges/2
		for _, p := range []Protocol{TCP, UDP} {
			bc := portBytecode(ranges, p, peer)
			covered := slices.ContainsFunc(ranges, func(r PortRange) bool { return r.Covers(p) })
			if bc == nil {
				if covered {
					t.Fatalf("no bytecode for %v %+v", p, ranges)
				}
				continue
			}
			if err := bcAudit(bc); err != nil {
				t.Fatalf("the kernel would refuse the filter for %+v: %v", ranges, err)
			}
			ports := []uint16{0, 1, 65535}
			for _, r := range ranges {
				ports = append(ports, r.Low, r.High, r.Low-1, r.High+1)
			}
			for range 50 {
				ports = append(ports, uint16(rng.IntN(65536)))
			}
			f := Filter{TCP: true, UDP: true, IPv4: true, IPv6: true, States: AllStates, Ports: ranges, PeerPorts: peer}
			for i, sport := range ports {
				dport := ports[(i*7+3)%len(ports)]
				s := Socket{Protocol: p, Family: IPv4, Local: netip.AddrPortFrom(netip.IPv4Unspecified(), sport),
					Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), dport)}
				if got, want := bcRun(bc, sport, dport), f.Match(&s); got != want {
					t.Fatalf("ports %d->%d %v with %+v (peer %v): filter says %v, want %v", sport, dport, p, ranges, peer, got, want)
				}
			}
		}
	}
	long := slices.Repeat([]PortRange{{Low: 1, High: 2, TCP: true}}, maxBytecodeRanges+1)
	if bc := portBytecode(long, TCP, false); bc != nil {
		t.Error("an over-long port list is compiled")
	}
	if bc := portBytecode(long[:maxBytecodeRanges/2+1], TCP, true); bc != nil {
		t.Error("an over-long port list with peers is compiled")
	}
}

func TestParseInetDiagCookie(t *testing.T) {
	msg := inetDiagMsg(afInet, kernelListen, netip.MustParseAddrPort("127.0.0.1:22"), netip.MustParseAddrPort("0.0.0.0:0"), 0, 0, 1)
	binary.NativeEndian.PutUint32(msg[44:], 0x89abcdef)
	binary.NativeEndian.PutUint32(msg[48:], 0x01234567)
	d, err := parseInetDiagMsg(msg, TCP)
	if err != nil {
		t.Fatal(err)
	}
	if d.Cookie != 0x0123456789abcdef {
		t.Errorf("cookie %#x, want 0x0123456789abcdef", d.Cookie)
	}
}

// nlMsg frames one message of a reply: a header, then payload.
func nlMsg(typ, flags uint16, seq uint32, payload []byte) []byte {
	b := netlinkRequest(typ, flags, seq, payload)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestParseNetlinkReply(t *testing.T) {
	sock := inetDiagMsg(afInet, kernelListen, netip.MustParseAddrPort("127.0.0.1:22"), netip.MustParseAddrPort("0.0.0.0:0"), 0, 0, 1)
	errno := func(e int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(e)) }
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	odd := []byte{1, 2, 3, 4, 5} // a payload that needs padding
	tests := []struct {
		name     string
		reply    []byte
		payloads int
		want     netlinkReply
	}{
		{"two sockets, more to come", cat(nlMsg(sockDiagByFamily, 2, 7, sock), nlMsg(sockDiagByFamily, 2, 7, sock)), 2,
			netlinkReply{}},
		{"a socket, then done", cat(nlMsg(sockDiagByFamily, 2, 7, sock), nlMsg(nlmsgDone, 2, 7, errno(0))), 1,
			netlinkReply{done: true}},
		{"a padded payload", cat(nlMsg(sockDiagByFamily, 2, 7, odd), nlMsg(nlmsgDone, 2, 7, nil)), 1,
			netlinkReply{done: true}},
		{"the filter refused", nlMsg(nlmsgError, 0, 7, cat(errno(-22), make([]byte, 16))), 0,
			netlinkReply{done: true, errno: 22}},
		{"interrupted", cat(nlMsg(sockDiagByFamily, 2|nlmFDumpIntr, 7, sock), nlMsg(nlmsgDone, 2|nlmFDumpIntr, 7, errno(0))), 1,
			netlinkReply{done: true, interrupted: true}},
		{"another dump's message is skipped", cat(nlMsg(sockDiagByFamily, 2, 8, sock), nlMsg(nlmsgDone, 2, 8, errno(0)), nlMsg(sockDiagByFamily, 2, 7, sock)), 1,
			netlinkReply{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			got, err := parseNetlinkReply(tt.reply, 7, func(p []byte) error {
				n++
				if !slices.Equal(p, sock) && !slices.Equal(p, odd) {
					t.Errorf("payload % x", p)
				}
				return nil
			})
			if err != nil || got != tt.want || n != tt.payloads {
				t.Errorf("got %+v, %d payloads, %v; want %+v, %d", got, n, err, tt.want, tt.payloads)
			}
		})
	}
}

func TestParseNetlinkReplyMalformed(t *testing.T) {
	msg := nlMsg(sockDiagByFamily, 2, 7, make([]byte, 8))
	long := slices.Clone(msg)
	binary.NativeEndian.PutUint32(long, uint32(len(msg)+1))
	short := slices.Clone(msg)
	binary.NativeEndian.PutUint32(short, nlmsgHdrLen-1)
	for name, b := range map[string][]byte{
		"cut header":              msg[:10],
		"longer than the read":    long,
		"shorter than its header": short,
		"trailing bytes":          append(slices.Clone(msg), 1, 2, 3),
	} {
		if _, err := parseNetlinkReply(b, 7, func([]byte) error { return nil }); !errors.Is(err, ErrParse) {
			t.Errorf("%s: %v, want ErrParse", name, err)
		}
	}
	// fn's error stops the walk.
	stop := errors.New("stop")
	if _, err := parseNetlinkReply(slices.Concat(msg, msg), 7, func([]byte) error { return stop }); err != stop {
		t.Errorf("fn's error: %v", err)
	}
}

func FuzzParseNetlinkReply(f *testing.F) {
	sock := inetDiagMsg(afInet, kernelListen, netip.MustParseAddrPort("127.0.0.1:22"), netip.MustParseAddrPort("0.0.0.0:0"), 0, 0, 1)
	f.Add(slices.Concat(nlMsg(sockDiagByFamily, 2, 1, sock), nlMsg(nlmsgDone, 2, 1, make([]byte, 4))))
	f.Add(nlMsg(nlmsgError, 0, 1, make([]byte, 20)))
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		_, _ = parseNetlinkReply(b, 1, func(p []byte) error {
			total += nlmsgHdrLen + len(p)
			return nil
		})
		if total > len(b) {
			t.Errorf("%d bytes of messages in a read of %d", total, len(b))
		}
	})
}

// ifAddrMsg is an RTM_NEWADDR message's payload as the kernel writes it:
// struct ifaddrmsg, then IFA_ADDRESS and, on a point-to-point link, the
// local address in IFA_LOCAL.
func ifAddrMsg(family byte, address, local netip.Addr) []byte {
	b := []byte{family, 32, 0, 0, 2, 0, 0, 0}
	attr := func(typ uint16, a netip.Addr) {
		if !a.IsValid() {
			return
		}
		v := a.AsSlice()
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	attr(ifaAddress, address)
	attr(ifaLocal, local)
	return b
}

func TestParseIfAddrMsg(t *testing.T) {
	lo, peer, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::1")
	for _, tt := range []struct {
		name string
		in   []byte
		want netip.Addr
		ok   bool
	}{
		{"an address", ifAddrMsg(2, lo, netip.Addr{}), lo, true},
		{"point to point: the local one", ifAddrMsg(2, peer, lo), lo, true},
		{"IPv6", ifAddrMsg(10, v6, netip.Addr{}), v6, true},
		{"no address", ifAddrMsg(2, netip.Addr{}, netip.Addr{}), netip.Addr{}, false},
		{"short", []byte{2, 32, 0}, netip.Addr{}, false},
		{"a truncated attribute", ifAddrMsg(2, lo, netip.Addr{})[:10], netip.Addr{}, false},
	} {
		got, index, ok := parseIfAddrMsg(tt.in)
		if got.Addr() != tt.want || ok != tt.ok || ok && (got.Bits() != 32 || index != 2) {
			t.Errorf("%s: %v on %d %v, want %v/32 on 2 %v", tt.name, got, index, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseIfAddrMsg(f *testing.F) {
	f.Add(ifAddrMsg(2, netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")))
	f.Add(ifAddrMsg(10, netip.MustParseAddr("fd00::1"), netip.Addr{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, _, ok := parseIfAddrMsg(b); ok && !a.IsValid() {
			t.Errorf("an invalid address accepted from %x", b)
		}
	})
}

func TestHasNATTable(t *testing.T) {
	for in, want := range map[string]bool{"": false, "filter\n": false, "filter\nnat\nmangle\n": true, "nat": true, "snat\n": false} {
		if got := hasTable([]byte(in), "nat"); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

// ifInfoMsg is an RTM_NEWLINK message's payload: struct ifinfomsg with
// its index and flags, then IFLA_IFNAME, IFLA_MASTER where master is set,
// and IFLA_LINKINFO holding IFLA_INFO_KIND where kind is.
func ifInfoMsg(index, flags uint32, name, kind string, master uint32) []byte {
	b := make([]byte, ifInfoMsgLen)
	binary.NativeEndian.PutUint32(b[4:], index)
	binary.NativeEndian.PutUint32(b[8:], flags)
	attr := func(b []byte, typ uint16, v []byte) []byte {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	b = attr(b, iflaIfname, append([]byte(name), 0))
	if master != 0 {
		b = attr(b, iflaMaster, binary.NativeEndian.AppendUint32(nil, master))
	}
	if kind == "" {
		return b
	}
	inner := attr(nil, iflaInfoKind, append([]byte(kind), 0))
	return attr(b, iflaLinkInfo|0x8000, inner) // NLA_F_NESTED
}

func TestParseIfInfoMsg(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		want link
		ok   bool
	}{
		{"lo", ifInfoMsg(1, iffLoopback|iffUp, "lo", "", 0), link{Index: 1, Name: "lo", Up: true, Loopback: true}, true},
		{"a container's eth0", ifInfoMsg(2, iffUp, "eth0", "veth", 0), link{Index: 2, Name: "eth0", Kind: "veth", Up: true}, true},
		{"a bridge port", ifInfoMsg(7, iffUp, "veth1a2b", "veth", 4), link{Index: 7, Master: 4, Name: "veth1a2b", Kind: "veth", Up: true}, true},
		{"macvlan", ifInfoMsg(3, iffUp, "mv0", "macvlan", 0), link{Index: 3, Name: "mv0", Kind: "macvlan", Up: true}, true},
		{"a physical device", ifInfoMsg(2, iffUp, "enp1s0", "", 0), link{Index: 2, Name: "enp1s0", Up: true}, true},
		{"a fallback tunnel, down", ifInfoMsg(5, 0, "tunl0", "ipip", 0), link{Index: 5, Name: "tunl0", Kind: "ipip"}, true},
		{"short", make([]byte, 8), link{}, false},
	} {
		got, ok := parseIfInfoMsg(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseIfInfoMsg(f *testing.F) {
	f.Add(ifInfoMsg(2, iffUp, "eth0", "veth", 4))
	f.Add(ifInfoMsg(1, iffLoopback|iffUp, "lo", "", 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, ok := parseIfInfoMsg(b); !ok && l != (link{}) {
			t.Errorf("%+v from a message refused", l)
		}
	})
}
