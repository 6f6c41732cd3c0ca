package platform

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

// The fixtures below are built from XNU's layouts (see xnu.go) the way the
// kernel writes them on a Mac: little-endian, each record padded to 8
// bytes.

// addr16 is an address as struct inpcb keeps it: an in6_addr, or an
// in_addr_4in6 with the IPv4 address in its last 4 bytes.
func addr16(a netip.Addr) [16]byte {
	if a.Is4() {
		var b [16]byte
		v4 := a.As4()
		copy(b[12:], v4[:])
		return b
	}
	return a.As16()
}

// record starts a record of size bytes: its length, its kind, zeros.
func record(size int, kind uint32) []byte {
	b := make([]byte, size)
	xle.PutUint32(b, uint32(size))
	xle.PutUint32(b[4:], kind)
	return b
}

// appendRecord appends rec and the padding after it.
func appendRecord(b, rec []byte) []byte {
	b = append(b, rec...)
	return append(b, make([]byte, roundup64(len(rec))-len(rec))...)
}

func xinpgen(count uint32) []byte {
	b := make([]byte, sizeofXinpgen)
	xle.PutUint32(b, sizeofXinpgen)
	xle.PutUint32(b[4:], count)
	xle.PutUint64(b[8:], 77) // xig_gen
	return b
}

// xinpcbN is a struct xinpcb_n of the given size (104 on current kernels)
// for addresses stored as raw 16-byte unions.
func xinpcbN(size int, vflag uint8, laddr [16]byte, lport uint16, faddr [16]byte, fport uint16) []byte {
	b := record(size, xsoInPCB)
	xle.PutUint64(b[8:], 0xfeed) // xi_inpp
	binary.BigEndian.PutUint16(b[xinpFport:], fport)
	binary.BigEndian.PutUint16(b[xinpLport:], lport)
	b[xinpVflag] = vflag
	b[xinpVflag+2] = ipprotoTCP // inp_ip_p, not read
	copy(b[xinpFaddr:], faddr[:])
	copy(b[xinpLaddr:], laddr[:])
	return b
}

// sock describes the xsocket_n record of a fixture socket.
type sock struct {
	handle  uint64
	proto   uint32
	uid     uint32
	lastPID int32
	size    int // 104 by default; 76 before macOS 13
	// qlen and qlimit are a listener's accept queue and backlog.
	qlen, qlimit int16
}

func xsocketN(s sock) []byte {
	size := s.size
	if size == 0 {
		size = 104
	}
	b := record(size, xsoSocket)
	xle.PutUint64(b[xsoHandle:], s.handle)
	xle.PutUint32(b[xsoProtocol:], s.proto)
	xle.PutUint32(b[xsoProtocol+4:], 2) // xso_family AF_INET, not read
	xle.PutUint32(b[xsoUID:], s.uid)
	xle.PutUint32(b[xsoLastPID:], uint32(s.lastPID))
	xle.PutUint16(b[xsoQlen:], uint16(s.qlen))
	xle.PutUint16(b[xsoQlimit:], uint16(s.qlimit))
	return b
}

// xsockbufN is a struct xsockbuf_n holding cc bytes.
func xsockbufN(kind uint32, cc uint32) []byte {
	b := record(32, kind)
	if kind != 0 {
		xle.PutUint32(b[xsbCC:], cc)
		xle.PutUint32(b[xsbCC+4:], 131072) // sb_hiwat, not read
	}
	return b
}

func xtcpcbN(state int32) []byte {
	b := record(204, xsoTCPCB)
	xle.PutUint32(b[xtState:], uint32(state))
	return b
}

// pcb is one fixture socket.
type pcb struct {
	vflag         uint8
	local, remote string // netip.AddrPort syntax
	sock          sock
	// noSocket writes the records the kernel writes for a pcb without a
	// socket: the socket record zero and the buffers without a kind.
	noSocket bool
	state    int32 // TCPS_*; the TCP control block is left out if < 0
	inpSize  int   // 104 by default
	// rcv and snd are the bytes in the receive and send buffers.
	rcv, snd uint32
}

// appendPCB appends one socket's records in the kernel's order.
func appendPCB(b []byte, p Protocol, c pcb) []byte {
	l, r := netip.MustParseAddrPort(c.local), netip.MustParseAddrPort(c.remote)
	size := c.inpSize
	if size == 0 {
		size = 104
	}
	b = appendRecord(b, xinpcbN(size, c.vflag, addr16(l.Addr()), l.Port(), addr16(r.Addr()), r.Port()))
	rcv, snd := uint32(xsoRcvBuf), uint32(xsoSndBuf)
	if c.noSocket {
		b = appendRecord(b, record(104, xsoSocket))
		rcv, snd = 0, 0
	} else {
		b = appendRecord(b, xsocketN(c.sock))
	}
	b = appendRecord(b, xsockbufN(rcv, c.rcv))
	b = appendRecord(b, xsockbufN(snd, c.snd))
	b = appendRecord(b, record(136, xsoStats))
	if p == TCP && c.state >= 0 {
		b = appendRecord(b, xtcpcbN(c.state))
	}
	return b
}

func pcbTable(p Protocol, pcbs ...pcb) []byte {
	b := appendRecord(nil, xinpgen(uint32(len(pcbs))))
	for _, c := range pcbs {
		b = appendPCB(b, p, c)
	}
	return appendRecord(b, xinpgen(uint32(len(pcbs))))
}

func parsePCBs(t *testing.T, b []byte, p Protocol) []pcbRow {
	t.Helper()
	var rows []pcbRow
	if err := parsePCBList(b, p, func(r *pcbRow) { rows = append(rows, *r) }); err != nil {
		t.Fatal(err)
	}
	return rows
}

func rowsEqual(t *testing.T, got, want []pcbRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d sockets, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !socketsEqual(g.Socket, w.Socket) || g.handle != w.handle || g.lastPID != w.lastPID ||
			g.noSocket != w.noSocket || g.userland != w.userland {
			t.Errorf("socket %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

const (
	tcpsClosed      = 0
	tcpsListen      = 1
	tcpsEstablished = 4
	tcpsTimeWait    = 10
)

var tcpFixture = []pcb{
	{vflag: inpIPv4, local: "127.0.0.1:3372", remote: "0.0.0.0:0", state: tcpsListen,
		sock: sock{handle: 0x1001, proto: ipprotoTCP, uid: 501, lastPID: 4242, qlen: 2, qlimit: 128}},
	{vflag: inpIPv4, local: "127.0.0.1:3372", remote: "127.0.0.1:50000", state: tcpsEstablished,
		sock: sock{handle: 0x1002, proto: ipprotoTCP, uid: 501, lastPID: 4242}, rcv: 517, snd: 33},
	{vflag: inpIPv6, local: "[::1]:8080", remote: "[::]:0", state: tcpsListen,
		sock: sock{handle: 0x1003, proto: ipprotoTCP, uid: 0, lastPID: 1, size: 76}},
	// netstat's tcp46: an IPv6 socket that takes IPv4 too.
	{vflag: inpIPv4 | inpIPv6, local: "[::]:22", remote: "[::]:0", state: tcpsListen,
		sock: sock{handle: 0x1004, proto: ipprotoTCP, lastPID: 1}},
	// An IPv6 socket connected to ::ffff:93.184.216.34 is an IPv4 pcb.
	{vflag: inpIPv4 | inpV4MappedV6, local: "10.0.0.2:50001", remote: "93.184.216.34:443", state: tcpsEstablished,
		sock: sock{handle: 0x1005, proto: ipprotoTCP, uid: 501, lastPID: 777}, inpSize: 112},
	{vflag: inpIPv4, local: "127.0.0.1:50002", remote: "127.0.0.1:3372", state: tcpsTimeWait, noSocket: true},
	// A user-space stack's flow: a protocol, no socket, no user.
	{vflag: inpIPv6, local: "[2001:db8::2]:50003", remote: "[2001:db8::1]:443", state: tcpsEstablished,
		sock: sock{proto: ipprotoTCP}},
	// A link-local address with the interface index the kernel embeds.
	{vflag: inpIPv6, local: "[fe80:4::1]:22", remote: "[fe80:4::2]:50004", state: tcpsEstablished,
		sock: sock{handle: 0x1006, proto: ipprotoTCP, uid: 0, lastPID: 99}},
	{vflag: inpIPv4, local: "0.0.0.0:7000", remote: "0.0.0.0:0", state: tcpsClosed,
		sock: sock{handle: 0x1007, proto: ipprotoTCP, uid: 501, lastPID: 5}},
	// A state this code does not know, and a pcb without its TCP block.
	{vflag: inpIPv4, local: "0.0.0.0:7001", remote: "0.0.0.0:0", state: 11,
		sock: sock{handle: 0x1008, proto: ipprotoTCP, uid: 501, lastPID: 5}},
	{vflag: inpIPv4, local: "0.0.0.0:7002", remote: "0.0.0.0:0", state: -1,
		sock: sock{handle: 0x1009, proto: ipprotoTCP, uid: 501, lastPID: 5}},
}

func TestParsePCBListTCP(t *testing.T) {
	ap := netip.MustParseAddrPort
	tcp := func(fam Family, l, r string, st State, uid int64) Socket {
		return Socket{Protocol: TCP, Family: fam, Local: ap(l), Remote: ap(r), State: st, UID: uid}
	}
	queues := func(s Socket, recvQ, sendQ int64) Socket {
		s.RecvQ, s.SendQ = recvQ, sendQ
		return s
	}
	tcp46 := tcp(IPv6, "[::]:22", "[::]:0", Listen, 0)
	tcp46.DualStack = DualStackYes
	want := []pcbRow{
		{Socket: queues(tcp(IPv4, "127.0.0.1:3372", "0.0.0.0:0", Listen, 501), 2, 128), handle: 0x1001, lastPID: 4242},
		{Socket: queues(tcp(IPv4, "127.0.0.1:3372", "127.0.0.1:50000", Established, 501), 517, 33), handle: 0x1002, lastPID: 4242},
		{Socket: tcp(IPv6, "[::1]:8080", "[::]:0", Listen, 0), handle: 0x1003, lastPID: 1},
		{Socket: tcp46, handle: 0x1004, lastPID: 1},
		{Socket: tcp(IPv4, "10.0.0.2:50001", "93.184.216.34:443", Established, 501), handle: 0x1005, lastPID: 777},
		{Socket: queues(tcp(IPv4, "127.0.0.1:50002", "127.0.0.1:3372", TimeWait, -1), -1, -1), noSocket: true},
		{Socket: tcp(IPv6, "[2001:db8::2]:50003", "[2001:db8::1]:443", Established, -1), userland: true},
		{Socket: tcp(IPv6, "[fe80::1%4]:22", "[fe80::2%4]:50004", Established, 0), handle: 0x1006, lastPID: 99},
		{Socket: tcp(IPv4, "0.0.0.0:7000", "0.0.0.0:0", Close, 501), handle: 0x1007, lastPID: 5},
		{Socket: tcp(IPv4, "0.0.0.0:7001", "0.0.0.0:0", StateUnknown, 501), handle: 0x1008, lastPID: 5},
		{Socket: tcp(IPv4, "0.0.0.0:7002", "0.0.0.0:0", StateUnknown, 501), handle: 0x1009, lastPID: 5},
	}
	rowsEqual(t, parsePCBs(t, pcbTable(TCP, tcpFixture...), TCP), want)
}

func TestParsePCBListUDP(t *testing.T) {
	ap := netip.MustParseAddrPort
	table := pcbTable(UDP,
		// Two sockets sharing mDNS's port (SO_REUSEPORT).
		pcb{vflag: inpIPv4, local: "0.0.0.0:5353", remote: "0.0.0.0:0", sock: sock{handle: 0x2001, proto: ipprotoUDP, uid: 65, lastPID: 300}},
		pcb{vflag: inpIPv4, local: "0.0.0.0:5353", remote: "0.0.0.0:0", sock: sock{handle: 0x2002, proto: ipprotoUDP, uid: 501, lastPID: 900}},
		pcb{vflag: inpIPv6, local: "[::]:5353", remote: "[::]:0", sock: sock{handle: 0x2003, proto: ipprotoUDP, uid: 65, lastPID: 300}},
		pcb{vflag: inpIPv4, local: "192.168.1.2:6000", remote: "8.8.8.8:53", sock: sock{handle: 0x2004, proto: ipprotoUDP, uid: 501, lastPID: 901}},
	)
	udp := func(fam Family, l, r string, st State, uid int64) Socket {
		return Socket{Protocol: UDP, Family: fam, Local: ap(l), Remote: ap(r), State: st, UID: uid}
	}
	v6only := udp(IPv6, "[::]:5353", "[::]:0", Unconnected, 65)
	v6only.DualStack = DualStackNo
	rowsEqual(t, parsePCBs(t, table, UDP), []pcbRow{
		{Socket: udp(IPv4, "0.0.0.0:5353", "0.0.0.0:0", Unconnected, 65), handle: 0x2001, lastPID: 300},
		{Socket: udp(IPv4, "0.0.0.0:5353", "0.0.0.0:0", Unconnected, 501), handle: 0x2002, lastPID: 900},
		{Socket: v6only, handle: 0x2003, lastPID: 300},
		{Socket: udp(IPv4, "192.168.1.2:6000", "8.8.8.8:53", Established, 501), handle: 0x2004, lastPID: 901},
	})
}

// With no sockets the kernel writes the opening header alone
// (get_pcblist_n: if xig_count == 0, goto done).
func TestParsePCBListEmpty(t *testing.T) {
	if rows := parsePCBs(t, appendRecord(nil, xinpgen(0)), UDP); len(rows) != 0 {
		t.Errorf("an empty table has %d sockets", len(rows))
	}
	// A header saying there are sockets, and nothing after it, is cut
	// short.
	if err := parsePCBList(appendRecord(nil, xinpgen(2)), UDP, func(*pcbRow) {}); !errors.Is(err, ErrParse) {
		t.Errorf("a header of 2 sockets alone: err = %v, want ErrParse", err)
	}
}

// A kernel may add record kinds and grow records: what is not read is
// skipped by its length, and records need not come in today's order.
func TestParsePCBListUnknownRecords(t *testing.T) {
	ap := netip.MustParseAddrPort
	b := appendRecord(nil, xinpgen(2))
	l, r := ap("127.0.0.1:3372"), ap("0.0.0.0:0")
	inp := xinpcbN(104, inpIPv4, addr16(l.Addr()), l.Port(), addr16(r.Addr()), r.Port())
	b = appendRecord(b, record(44, 0x400)) // unknown kind, odd length
	b = appendRecord(b, xsocketN(sock{handle: 7, proto: ipprotoTCP, uid: 501, lastPID: 8, size: 120}))
	b = appendRecord(b, inp)
	b = appendRecord(b, record(64, 0x800))
	b = appendRecord(b, xtcpcbN(tcpsListen))
	// The second socket: its pcb repeats a kind, so it starts a new one.
	l2 := ap("127.0.0.1:3373")
	b = appendRecord(b, xinpcbN(104, inpIPv4, addr16(l2.Addr()), l2.Port(), addr16(r.Addr()), r.Port()))
	b = appendRecord(b, xsocketN(sock{handle: 9, proto: ipprotoTCP, uid: 0, lastPID: 10}))
	b = appendRecord(b, xtcpcbN(tcpsEstablished))
	b = appendRecord(b, xinpgen(2))
	rowsEqual(t, parsePCBs(t, b, TCP), []pcbRow{
		{Socket: Socket{Protocol: TCP, Family: IPv4, Local: l, Remote: r, State: Listen, UID: 501}, handle: 7, lastPID: 8},
		// No buffer records: the queues are unknown.
		{Socket: Socket{Protocol: TCP, Family: IPv4, Local: l2, Remote: r, State: Established, UID: 0, RecvQ: -1, SendQ: -1}, handle: 9, lastPID: 10},
	})
}

// A pcb of no IP version has no address to show and is left out.
func TestParsePCBListNoVersion(t *testing.T) {
	table := pcbTable(UDP,
		pcb{vflag: 0, local: "0.0.0.0:1", remote: "0.0.0.0:0", sock: sock{handle: 1, proto: ipprotoUDP}},
		pcb{vflag: inpIPv4, local: "0.0.0.0:2", remote: "0.0.0.0:0", sock: sock{handle: 2, proto: ipprotoUDP}},
	)
	rows := parsePCBs(t, table, UDP)
	if len(rows) != 1 || rows[0].Local.Port() != 2 {
		t.Errorf("got %+v, want only the IPv4 socket", rows)
	}
}

func TestParsePCBListErrors(t *testing.T) {
	good := pcbTable(TCP, tcpFixture...)
	// Every table cut short, at a record's end or inside one, is refused.
	for n := range len(good) {
		if err := parsePCBList(good[:n], TCP, func(*pcbRow) {}); !errors.Is(err, ErrParse) {
			t.Fatalf("table cut to %d of %d bytes: err = %v, want ErrParse", n, len(good), err)
		}
	}
	ap := netip.MustParseAddrPort
	l, r := ap("127.0.0.1:1"), ap("0.0.0.0:0")
	tests := map[string][]byte{
		"header too short": func() []byte {
			b := appendRecord(nil, xinpgen(0))
			xle.PutUint32(b, 16)
			return append(b, good[24:]...)
		}(),
		"header longer than the table": func() []byte {
			b := slices.Clone(good)
			xle.PutUint32(b, uint32(len(b)+1))
			return b
		}(),
		"record shorter than its header": func() []byte {
			b := appendRecord(nil, xinpgen(0))
			return append(b, 4, 0, 0, 0, 0, 0, 0, 0)
		}(),
		"pcb record too short": func() []byte {
			b := appendRecord(nil, xinpgen(1))
			b = appendRecord(b, xinpcbN(104, inpIPv4, addr16(l.Addr()), l.Port(), addr16(r.Addr()), r.Port())[:60])
			xle.PutUint32(b[24:], 60)
			return appendRecord(b, xinpgen(1))
		}(),
		"socket record too short": func() []byte {
			b := appendRecord(nil, xinpgen(1))
			b = appendRecord(b, xinpcbN(104, inpIPv4, addr16(l.Addr()), l.Port(), addr16(r.Addr()), r.Port()))
			b = appendRecord(b, record(40, xsoSocket))
			return appendRecord(b, xinpgen(1))
		}(),
		"socket without its pcb": func() []byte {
			b := appendRecord(nil, xinpgen(1))
			b = appendRecord(b, xsocketN(sock{handle: 1}))
			b = appendRecord(b, xtcpcbN(tcpsListen))
			return appendRecord(b, xinpgen(1))
		}(),
	}
	for name, b := range tests {
		if err := parsePCBList(b, TCP, func(*pcbRow) {}); !errors.Is(err, ErrParse) {
			t.Errorf("%s: err = %v, want ErrParse", name, err)
		}
	}
}

// socketFDInfo builds a struct socket_fdinfo.
func socketFDInfo(family, kind, proto uint32, handle uint64) []byte {
	b := make([]byte, sizeofSocketFDInfo)
	xle.PutUint64(b[sfiHandle:], handle)
	xle.PutUint32(b[sfiProtocol:], proto)
	xle.PutUint32(b[sfiFamily:], family)
	xle.PutUint32(b[sfiKind:], kind)
	return b
}

func TestParseSocketFDInfo(t *testing.T) {
	tests := []struct {
		name   string
		info   []byte
		want   uint64
		wantOK bool
	}{
		{"tcp4", socketFDInfo(darwinAFInet, sockinfoTCP, ipprotoTCP, 0xabc), 0xabc, true},
		{"udp6", socketFDInfo(darwinAFInet6, sockinfoIn, ipprotoUDP, 0xdef), 0xdef, true},
		{"unix socket", socketFDInfo(1, 3, 0, 1), 0, false},
		{"socket without a pcb", socketFDInfo(darwinAFInet, 0, ipprotoTCP, 1), 0, false},
		{"raw IP socket", socketFDInfo(darwinAFInet, sockinfoIn, 1, 1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseSocketFDInfo(tt.info)
			if err != nil || ok != tt.wantOK || got != tt.want {
				t.Errorf("got %#x %v %v, want %#x %v", got, ok, err, tt.want, tt.wantOK)
			}
		})
	}
	if _, _, err := parseSocketFDInfo(make([]byte, minSocketFDInfo-1)); !errors.Is(err, ErrParse) {
		t.Errorf("short socket_fdinfo: err = %v, want ErrParse", err)
	}
}

func TestSocketFDs(t *testing.T) {
	var list []byte
	for _, e := range [][2]uint32{{0, 1}, {3, proxFDTypeSocket}, {4, 6}, {7, proxFDTypeSocket}} {
		list = xle.AppendUint32(list, e[0])
		list = xle.AppendUint32(list, e[1])
	}
	list = append(list, 1, 2, 3) // a partial entry is ignored
	if got := socketEntries(nil, list); !slices.Equal(got, []uint32{3, 7}) {
		t.Errorf("socketEntries = %v, want [3 7]", got)
	}
}

func TestMatchHolders(t *testing.T) {
	rows := []pcbRow{{handle: 1}, {handle: 2}, {handle: 3}, {noSocket: true},
		// A user-space stack's flow: no handle, its owner in so_last_pid.
		{userland: true, lastPID: 77}, {userland: true, lastPID: 0}}
	held := []heldSocket{
		{pid: 300, handle: 1},
		{pid: 900, handle: 2},
		{pid: 901, handle: 2}, // shared after a fork
		{pid: 900, handle: 2}, // a second descriptor
		{pid: 42, handle: 3},
		{pid: 43, handle: 0x99}, // a socket opened since the list was read
		{pid: 44, handle: 0},
	}
	owners := matchHolders(rows, held)
	want := [][]int{{300}, {900, 901}, {42}, nil, {77}, nil}
	if !slices.EqualFunc(owners, want, slices.Equal) {
		t.Errorf("got %v, want %v", owners, want)
	}
}

func TestOwnerStatus(t *testing.T) {
	const euid = 501
	mine := pcbRow{Socket: Socket{State: Listen, UID: euid}, handle: 1}
	theirs := pcbRow{Socket: Socket{State: Listen, UID: 0}, handle: 2}
	timeWait := pcbRow{Socket: Socket{State: TimeWait, UID: -1}, noSocket: true}
	closed := pcbRow{Socket: Socket{State: Established, UID: -1}, noSocket: true}
	userland := pcbRow{Socket: Socket{State: Established, UID: -1}, userland: true}
	unlisted := pcbRow{Socket: Socket{State: Listen, UID: -1}, lastPID: -1}
	tests := []struct {
		name       string
		row        pcbRow
		pids       []int
		denied     int
		privileged bool
		want       OwnerStatus
	}{
		{"found", theirs, []int{1}, 3, false, OwnersKnown},
		{"own socket, nothing refused", mine, nil, 0, false, OwnersNone},
		{"own socket, some process refused", mine, nil, 2, false, OwnersHidden},
		{"another user's socket", theirs, nil, 0, false, OwnersHidden},
		{"another user's socket, as root", theirs, nil, 0, true, OwnersNone},
		{"TIME_WAIT", timeWait, nil, 5, false, OwnersNone},
		{"socket closed", closed, nil, 5, false, OwnersNone},
		{"user-space stack", userland, nil, 0, true, OwnersUnknown},
		{"not from the listing", unlisted, nil, 0, false, OwnersHidden},
	}
	for _, tt := range tests {
		if got := ownerStatus(&tt.row, tt.pids, tt.denied, tt.privileged, euid); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct {
		row  pcbRow
		pids []int
		want OwnerStatus
	}{
		{pcbRow{Socket: Socket{State: Listen}, handle: 1, lastPID: 4242}, []int{4242}, OwnersKnown},
		{timeWait, nil, OwnersNone},
		{userland, nil, OwnersUnknown},
		{unlisted, nil, OwnersUnknown},
	} {
		if pids, st := lastUser(&tt.row); !slices.Equal(pids, tt.pids) || st != tt.want {
			t.Errorf("lastUser(%+v) = %v %v, want %v %v", tt.row, pids, st, tt.pids, tt.want)
		}
	}
}

func TestPairRows(t *testing.T) {
	ap := netip.MustParseAddrPort
	udp := func(l string, uid int64) Socket {
		return Socket{Protocol: UDP, Family: IPv4, Local: ap(l), Remote: ap("0.0.0.0:0"), State: Unconnected, UID: uid}
	}
	rows := []pcbRow{
		{Socket: udp("0.0.0.0:5353", 65), handle: 1},
		{Socket: udp("0.0.0.0:5353", 65), handle: 2},
		{Socket: udp("0.0.0.0:5353", 501), handle: 3},
		{Socket: udp("0.0.0.0:123", 0), handle: 4},
	}
	// Filtered, reordered, and one socket the listing never had.
	socks := []Socket{udp("0.0.0.0:123", 0), udp("0.0.0.0:5353", 501), udp("0.0.0.0:5353", 65),
		udp("0.0.0.0:5353", 65), udp("0.0.0.0:5353", 65), udp("0.0.0.0:9", 0)}
	if got, want := pairRows(rows, socks), []int{3, 2, 0, 1, -1, -1}; !slices.Equal(got, want) {
		t.Errorf("pairRows = %v, want %v", got, want)
	}
}

// procargs2 builds a kern.procargs2 buffer.
// procargs2 builds a kern.procargs2 buffer: argc, the executable path
// padded with NULs to a multiple of 8 bytes, as exec_extract_strings pads
// it for a 64-bit process, then the other strings.
func procargs2(argc int, strs ...string) []byte {
	b := xle.AppendUint32(nil, uint32(argc))
	for i, s := range strs {
		b = append(append(b, s...), 0)
		if i == 0 {
			for (len(b)-4)%8 != 0 {
				b = append(b, 0)
			}
		}
	}
	return b
}

func TestParseProcArgs(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		want procArgs
	}{
		{"daemon", procargs2(2, "/usr/sbin/mDNSResponder", "/usr/sbin/mDNSResponder", "-d",
			"PATH=/usr/bin", "XPC_SERVICE_NAME=com.apple.mDNSResponder", "ptr_munge="),
			procArgs{"/usr/sbin/mDNSResponder", []string{"/usr/sbin/mDNSResponder", "-d"}, "com.apple.mDNSResponder"}},
		{"from a terminal", procargs2(3, "/usr/bin/python3", "python3", "-m", "http.server", "XPC_SERVICE_NAME=0", "TERM=xterm"),
			procArgs{"/usr/bin/python3", []string{"python3", "-m", "http.server"}, ""}},
		{"empty argument", procargs2(3, "/bin/echo", "echo", "", "x", "HOME=/"),
			procArgs{"/bin/echo", []string{"echo", "", "x"}, ""}},
		{"arguments cut short", procargs2(5, "/bin/sleep", "sleep", "1"),
			procArgs{"/bin/sleep", []string{"sleep", "1"}, ""}},
		{"the service name is not an argument", procargs2(2, "/bin/sh", "sh", "XPC_SERVICE_NAME=fake"),
			procArgs{"/bin/sh", []string{"sh", "XPC_SERVICE_NAME=fake"}, ""}},
		{"no arguments", xle.AppendUint32(nil, 0), procArgs{}},
		// An empty argv[0] is not padding: the arguments stay in place.
		{"empty argv[0]", procargs2(2, "/usr/bin/env", "", "x", "HOME=/"),
			procArgs{"/usr/bin/env", []string{"", "x"}, ""}},
		{"empty argv[0] after a path of 7", procargs2(2, "/bin/ab", "", "y"),
			procArgs{"/bin/ab", []string{"", "y"}, ""}},
		// A terminal app's label, inherited by the shell: no service.
		{"application label", procargs2(1, "/bin/zsh", "-zsh", "XPC_SERVICE_NAME=application.com.apple.Terminal.1234"),
			procArgs{"/bin/zsh", []string{"-zsh"}, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcArgs(tt.buf)
			if err != nil {
				t.Fatal(err)
			}
			if got.exe != tt.want.exe || !slices.Equal(got.argv, tt.want.argv) || got.service != tt.want.service {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := parseProcArgs([]byte{1, 0}); !errors.Is(err, ErrParse) {
		t.Errorf("short buffer: err = %v, want ErrParse", err)
	}
}

// lsofOutput is what `lsof -nP -w -iTCP -iUDP -Ts -FpftPnT` prints.
const lsofOutput = `p300
f3
tIPv4
PUDP
n*:5353
f4
tIPv6
PUDP
n*:5353
p4242
f5
tIPv4
PTCP
n127.0.0.1:3372
TST=LISTEN
f6
tIPv4
PTCP
n127.0.0.1:3372->127.0.0.1:50000
TST=ESTABLISHED
f7
tIPv6
PTCP
n[fe80::1%en0]:22->[fe80::2%en0]:50004
TST=ESTABLISHED
f8
tIPv6
PTCP
n10.0.0.2:50001->93.184.216.34:443
TST=SYN_SENT
f9
tIPv4
PUDP
n192.168.1.2:6000->8.8.8.8:53
f10
tIPv4
PTCP
nnot an address
TST=LISTEN
p4243
f3
tIPv4
PTCP
n127.0.0.1:3372
TST=LISTEN
`

func TestParseLsof(t *testing.T) {
	ap := netip.MustParseAddrPort
	type held struct {
		pid int
		s   Socket
	}
	var got []held
	if err := parseLsof([]byte(lsofOutput), func(pid int, s *Socket) { got = append(got, held{pid, *s}) }); err != nil {
		t.Fatal(err)
	}
	s := func(p Protocol, fam Family, l, r string, st State) Socket {
		return Socket{Protocol: p, Family: fam, Local: ap(l), Remote: ap(r), State: st, UID: -1, RecvQ: -1, SendQ: -1}
	}
	want := []held{
		{300, s(UDP, IPv4, "0.0.0.0:5353", "0.0.0.0:0", Unconnected)},
		{300, s(UDP, IPv6, "[::]:5353", "[::]:0", Unconnected)},
		{4242, s(TCP, IPv4, "127.0.0.1:3372", "0.0.0.0:0", Listen)},
		{4242, s(TCP, IPv4, "127.0.0.1:3372", "127.0.0.1:50000", Established)},
		{4242, s(TCP, IPv6, "[fe80::1%en0]:22", "[fe80::2%en0]:50004", Established)},
		{4242, s(TCP, IPv4, "10.0.0.2:50001", "93.184.216.34:443", SynSent)},
		{4242, s(UDP, IPv4, "192.168.1.2:6000", "8.8.8.8:53", Established)},
		{4243, s(TCP, IPv4, "127.0.0.1:3372", "0.0.0.0:0", Listen)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sockets, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		if got[i].pid != want[i].pid || !socketsEqual(got[i].s, want[i].s) {
			t.Errorf("socket %d: got %d %+v, want %d %+v", i, got[i].pid, got[i].s, want[i].pid, want[i].s)
		}
	}
	if err := parseLsof([]byte("pabc\nf3\n"), func(int, *Socket) {}); !errors.Is(err, ErrParse) {
		t.Errorf("bad PID: err = %v, want ErrParse", err)
	}
}

// checkSocket holds what every parsed socket must be.
func checkSocket(t *testing.T, s *Socket) {
	t.Helper()
	if s.Local.Addr().Is4() != (s.Family == IPv4) || s.Remote.Addr().Is4() != (s.Family == IPv4) {
		t.Fatalf("addresses %v %v in family %v", s.Local, s.Remote, s.Family)
	}
	if s.State >= numStates || (s.Protocol != TCP && s.Protocol != UDP) {
		t.Fatalf("socket %+v", s)
	}
}

func FuzzParsePCBList(f *testing.F) {
	f.Add(pcbTable(TCP, tcpFixture...), true)
	f.Add(pcbTable(UDP, pcb{vflag: inpIPv4, local: "0.0.0.0:5353", remote: "0.0.0.0:0", sock: sock{handle: 1, proto: ipprotoUDP}}), false)
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		p := UDP
		if tcp {
			p = TCP
		}
		_ = parsePCBList(b, p, func(r *pcbRow) {
			checkSocket(t, &r.Socket)
			if r.handle != 0 && (r.noSocket || r.userland) || r.handle == 0 && r.UID != -1 {
				t.Fatalf("row %+v", r)
			}
		})
	})
}

func FuzzParseSocketFDInfo(f *testing.F) {
	f.Add(socketFDInfo(darwinAFInet, sockinfoTCP, ipprotoTCP, 0xabc))
	f.Add(socketFDInfo(darwinAFInet6, sockinfoIn, ipprotoUDP, 0xdef))
	f.Fuzz(func(t *testing.T, b []byte) {
		handle, ok, err := parseSocketFDInfo(b)
		if err != nil && (ok || handle != 0) || len(b) < minSocketFDInfo && err == nil {
			t.Fatalf("%#x %v %v for %d bytes", handle, ok, err, len(b))
		}
	})
}

func FuzzParseProcArgs(f *testing.F) {
	f.Add(procargs2(2, "/usr/sbin/mDNSResponder", "/usr/sbin/mDNSResponder", "-d", "XPC_SERVICE_NAME=com.apple.mDNSResponder"))
	f.Add(procargs2(1<<30, "/bin/sh", "sh"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pa, err := parseProcArgs(b)
		if err != nil {
			return
		}
		if len(pa.argv) > len(b) {
			t.Fatalf("%d arguments from %d bytes", len(pa.argv), len(b))
		}
	})
}

func FuzzParseLsof(f *testing.F) {
	f.Add([]byte(lsofOutput))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseLsof(b, func(pid int, s *Socket) {
			checkSocket(t, s)
			if pid < 0 {
				t.Fatalf("pid %d", pid)
			}
		})
	})
}
