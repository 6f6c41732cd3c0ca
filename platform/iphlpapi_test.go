package platform

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"net/netip"
	"slices"
	"testing"
)

// The fixtures below are written field by field in the order Microsoft
// documents each row, independently of the offsets in mibTable, so that a
// wrong offset there fails here.

var le = binary.LittleEndian

// mibRow is one row to write: what a table says about one socket.
type mibRow struct {
	state                   uint32
	local, remote           netip.AddrPort
	localScope, remoteScope uint32
	pid                     uint32
	// portJunk goes into the upper 16 bits of the port DWORDs, which
	// Microsoft says "may contain uninitialized data".
	portJunk uint16
	// module goes into OwningModuleInfo[0] of owner-module rows, created
	// into their liCreateTimestamp.
	module  uint64
	created int64
}

// appendPort writes a port DWORD as C code on a little-endian machine
// would: htons(port) in the low 16 bits.
func appendPort(b []byte, port, junk uint16) []byte {
	return le.AppendUint32(b, uint32(bits.ReverseBytes16(port))|uint32(junk)<<16)
}

func appendAddr4(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().As4()
	return append(b, a[:]...)
}

func appendAddr16(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().As16()
	return append(b, a[:]...)
}

// appendTCPRowOwnerPID writes a MIB_TCPROW_OWNER_PID.
func appendTCPRowOwnerPID(b []byte, r mibRow) []byte {
	b = le.AppendUint32(b, r.state)
	b = appendAddr4(b, r.local)
	b = appendPort(b, r.local.Port(), r.portJunk)
	b = appendAddr4(b, r.remote)
	b = appendPort(b, r.remote.Port(), r.portJunk)
	return le.AppendUint32(b, r.pid)
}

// appendTCP6RowOwnerPID writes a MIB_TCP6ROW_OWNER_PID.
func appendTCP6RowOwnerPID(b []byte, r mibRow) []byte {
	b = appendAddr16(b, r.local)
	b = le.AppendUint32(b, r.localScope)
	b = appendPort(b, r.local.Port(), r.portJunk)
	b = appendAddr16(b, r.remote)
	b = le.AppendUint32(b, r.remoteScope)
	b = appendPort(b, r.remote.Port(), r.portJunk)
	b = le.AppendUint32(b, r.state)
	return le.AppendUint32(b, r.pid)
}

// appendUDPRowOwnerPID writes a MIB_UDPROW_OWNER_PID.
func appendUDPRowOwnerPID(b []byte, r mibRow) []byte {
	b = appendAddr4(b, r.local)
	b = appendPort(b, r.local.Port(), r.portJunk)
	return le.AppendUint32(b, r.pid)
}

// appendUDP6RowOwnerPID writes a MIB_UDP6ROW_OWNER_PID.
func appendUDP6RowOwnerPID(b []byte, r mibRow) []byte {
	b = appendAddr16(b, r.local)
	b = le.AppendUint32(b, r.localScope)
	b = appendPort(b, r.local.Port(), r.portJunk)
	return le.AppendUint32(b, r.pid)
}

// pad8 pads b to a multiple of 8 bytes, as C aligns a LARGE_INTEGER.
func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendModuleTail writes liCreateTimestamp and OwningModuleInfo[16],
// with dwFlags between them for UDP rows.
func appendModuleTail(b []byte, r mibRow, udp bool) []byte {
	b = pad8(b)
	b = le.AppendUint64(b, uint64(r.created))
	if udp {
		b = pad8(le.AppendUint32(b, 1)) // SpecificPortBind
	}
	b = le.AppendUint64(b, r.module)
	return append(b, make([]byte, 15*8)...)
}

// rowWriter writes one row of a table kind, starting at the row's first
// byte (b holds only that row).
type rowWriter func(b []byte, r mibRow) []byte

// tableKinds pairs each layout with its independent writer, and the row
// size (sizeof) and offset of the rows in the table (FIELD_OFFSET of
// table[0]) that mingw-w64's headers give.
var tableKinds = []struct {
	t              *mibTable
	write          rowWriter
	sizeof, offset int
}{
	{&mibTCP4OwnerPID, appendTCPRowOwnerPID, 24, 4},
	{&mibTCP6OwnerPID, appendTCP6RowOwnerPID, 56, 4},
	{&mibUDP4OwnerPID, appendUDPRowOwnerPID, 12, 4},
	{&mibUDP6OwnerPID, appendUDP6RowOwnerPID, 28, 4},
	{&mibTCP4OwnerModule, func(b []byte, r mibRow) []byte { return appendModuleTail(appendTCPRowOwnerPID(b, r), r, false) }, 160, 8},
	{&mibTCP6OwnerModule, func(b []byte, r mibRow) []byte { return appendModuleTail(appendTCP6RowOwnerPID(b, r), r, false) }, 192, 8},
	{&mibUDP4OwnerModule, func(b []byte, r mibRow) []byte { return appendModuleTail(appendUDPRowOwnerPID(b, r), r, true) }, 160, 8},
	{&mibUDP6OwnerModule, func(b []byte, r mibRow) []byte { return appendModuleTail(appendUDP6RowOwnerPID(b, r), r, true) }, 176, 8},
}

// mibTableBytes writes a whole table: dwNumEntries, padding up to the
// rows' alignment (8 for owner-module rows, which hold 8-byte fields), the
// rows.
func mibTableBytes(write rowWriter, module bool, rows ...mibRow) []byte {
	b := le.AppendUint32(nil, uint32(len(rows)))
	if module {
		b = pad8(b)
	}
	for _, r := range rows {
		b = write(b, r)
	}
	return b
}

// parseAll parses a table into sockets and PIDs, checking each row's length.
func parseAll(t *testing.T, b []byte, k *mibTable) ([]Socket, []uint32) {
	t.Helper()
	var socks []Socket
	var pids []uint32
	err := parseMIBTable(b, k, func(s *Socket, pid uint32, row []byte) {
		if len(row) != k.rowSize {
			t.Errorf("%s: row of %d bytes, want %d", k.name, len(row), k.rowSize)
		}
		socks = append(socks, *s)
		pids = append(pids, pid)
	})
	if err != nil {
		t.Fatalf("%s: %v", k.name, err)
	}
	return socks, pids
}

func TestMIBLayoutsMatchDocumentedSizes(t *testing.T) {
	for _, k := range tableKinds {
		unspec := netip.MustParseAddrPort("[::]:0")
		if k.t.family == IPv4 {
			unspec = netip.MustParseAddrPort("0.0.0.0:0")
		}
		row := k.write(nil, mibRow{local: unspec, remote: unspec})
		if len(row) != k.sizeof || k.t.rowSize != k.sizeof {
			t.Errorf("%s: written row %d bytes, layout %d, sizeof %d", k.t.name, len(row), k.t.rowSize, k.sizeof)
		}
		if k.t.first != k.offset {
			t.Errorf("%s: rows start at %d, want %d", k.t.name, k.t.first, k.offset)
		}
	}
}

func TestParseMIBTable(t *testing.T) {
	ap := netip.MustParseAddrPort
	v4any, v6any := ap("0.0.0.0:0"), ap("[::]:0")
	tests := []struct {
		name string
		kind int // index in tableKinds
		rows []mibRow
		want []Socket
		pids []uint32
	}{
		{"tcp4 listener and connection", 0, []mibRow{
			{state: 2, local: ap("127.0.0.1:3372"), remote: v4any, pid: 4242},
			{state: 5, local: ap("10.0.0.5:49711"), remote: ap("20.42.65.92:443"), pid: 77, portJunk: 0xbeef},
		}, []Socket{
			{Protocol: TCP, Family: IPv4, Local: ap("127.0.0.1:3372"), Remote: v4any, State: Listen, UID: -1, RecvQ: -1, SendQ: -1},
			{Protocol: TCP, Family: IPv4, Local: ap("10.0.0.5:49711"), Remote: ap("20.42.65.92:443"), State: Established, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{4242, 77}},
		// A listener's remote fields mean nothing: whatever is there,
		// it reads as unspecified.
		{"tcp4 listener, junk remote", 0, []mibRow{
			{state: 2, local: ap("0.0.0.0:445"), remote: ap("10.9.8.7:4242"), pid: 4},
		}, []Socket{
			{Protocol: TCP, Family: IPv4, Local: ap("0.0.0.0:445"), Remote: v4any, State: Listen, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{4}},
		{"tcp4 time wait, no owner", 0, []mibRow{
			{state: 11, local: ap("127.0.0.1:3372"), remote: ap("127.0.0.1:50000"), pid: 0},
		}, []Socket{
			{Protocol: TCP, Family: IPv4, Local: ap("127.0.0.1:3372"), Remote: ap("127.0.0.1:50000"), State: TimeWait, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{0}},
		{"tcp6 listener, link-local connection in host order", 1, []mibRow{
			{state: 2, local: ap("[::]:3372"), remote: v6any, pid: 4242},
			{state: 5, local: ap("[fe80::1]:50001"), localScope: 12, remote: ap("[fe80::2]:22"), remoteScope: 12, pid: 9, portJunk: 0xffff},
		}, []Socket{
			{Protocol: TCP, Family: IPv6, Local: ap("[::]:3372"), Remote: v6any, State: Listen, UID: -1, RecvQ: -1, SendQ: -1},
			{Protocol: TCP, Family: IPv6, Local: ap("[fe80::1%12]:50001"), Remote: ap("[fe80::2%12]:22"), State: Established, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{4242, 9}},
		{"tcp6 scope in network order, as documented", 1, []mibRow{
			{state: 2, local: ap("[fe80::1]:5985"), localScope: bits.ReverseBytes32(7), remote: v6any, pid: 4},
		}, []Socket{
			{Protocol: TCP, Family: IPv6, Local: ap("[fe80::1%7]:5985"), Remote: v6any, State: Listen, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{4}},
		{"tcp6 scope of a global address is no zone", 1, []mibRow{
			{state: 2, local: ap("[2001:db8::1]:443"), localScope: 3, remote: v6any, pid: 4},
		}, []Socket{
			{Protocol: TCP, Family: IPv6, Local: ap("[2001:db8::1]:443"), Remote: v6any, State: Listen, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{4}},
		{"udp4", 2, []mibRow{
			{local: ap("0.0.0.0:3372"), pid: 4242, portJunk: 0x1234},
			{local: ap("192.168.1.10:137"), pid: 4},
		}, []Socket{
			{Protocol: UDP, Family: IPv4, Local: ap("0.0.0.0:3372"), Remote: v4any, State: Unconnected, UID: -1, RecvQ: -1, SendQ: -1},
			{Protocol: UDP, Family: IPv4, Local: ap("192.168.1.10:137"), Remote: v4any, State: Unconnected, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{4242, 4}},
		{"udp6 link-local", 3, []mibRow{
			{local: ap("[fe80::abcd]:546"), localScope: 5, pid: 1300},
			{local: ap("[::]:5353"), pid: 2000},
		}, []Socket{
			{Protocol: UDP, Family: IPv6, Local: ap("[fe80::abcd%5]:546"), Remote: v6any, State: Unconnected, UID: -1, RecvQ: -1, SendQ: -1},
			{Protocol: UDP, Family: IPv6, Local: ap("[::]:5353"), Remote: v6any, State: Unconnected, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{1300, 2000}},
		{"tcp4 owner module", 4, []mibRow{
			{state: 2, local: ap("0.0.0.0:135"), remote: v4any, pid: 1000, module: 42, created: 133_900_000_000_000_001},
			{state: 2, local: ap("0.0.0.0:3372"), remote: v4any, pid: 4242},
		}, []Socket{
			{Protocol: TCP, Family: IPv4, Local: ap("0.0.0.0:135"), Remote: v4any, State: Listen, UID: -1, RecvQ: -1, SendQ: -1, created: 133_900_000_000_000_001},
			{Protocol: TCP, Family: IPv4, Local: ap("0.0.0.0:3372"), Remote: v4any, State: Listen, UID: -1, RecvQ: -1, SendQ: -1},
		}, []uint32{1000, 4242}},
		{"tcp6 owner module", 5, []mibRow{
			{state: 8, local: ap("[::1]:3372"), remote: ap("[::1]:50002"), pid: 4242, created: 133_900_000_000_000_002},
		}, []Socket{
			{Protocol: TCP, Family: IPv6, Local: ap("[::1]:3372"), Remote: ap("[::1]:50002"), State: CloseWait, UID: -1, RecvQ: -1, SendQ: -1, created: 133_900_000_000_000_002},
		}, []uint32{4242}},
		{"udp4 owner module", 6, []mibRow{
			{local: ap("0.0.0.0:5355"), pid: 1400, module: 7, created: 133_900_000_000_000_003},
		}, []Socket{
			{Protocol: UDP, Family: IPv4, Local: ap("0.0.0.0:5355"), Remote: v4any, State: Unconnected, UID: -1, RecvQ: -1, SendQ: -1, created: 133_900_000_000_000_003},
		}, []uint32{1400}},
		{"udp6 owner module", 7, []mibRow{
			{local: ap("[fe80::1]:1900"), localScope: 3, pid: 1500, created: 133_900_000_000_000_004},
		}, []Socket{
			{Protocol: UDP, Family: IPv6, Local: ap("[fe80::1%3]:1900"), Remote: v6any, State: Unconnected, UID: -1, RecvQ: -1, SendQ: -1, created: 133_900_000_000_000_004},
		}, []uint32{1500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := tableKinds[tt.kind]
			b := mibTableBytes(k.write, k.t.first == 8, tt.rows...)
			got, pids := parseAll(t, b, k.t)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d sockets, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if !socketsEqual(got[i], tt.want[i]) || got[i].PIDs != nil {
					t.Errorf("socket %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
			if !slices.Equal(pids, tt.pids) {
				t.Errorf("PIDs %v, want %v", pids, tt.pids)
			}
		})
	}
}

func TestParseMIBTableStates(t *testing.T) {
	want := map[uint32]State{
		0: StateUnknown, 1: Close, 2: Listen, 3: SynSent, 4: SynRecv, 5: Established, 6: FinWait1,
		7: FinWait2, 8: CloseWait, 9: Closing, 10: LastAck, 11: TimeWait, 12: Close, 13: StateUnknown,
		0xffffffff: StateUnknown,
	}
	ap := netip.MustParseAddrPort
	for mib, st := range want {
		for _, k := range []int{0, 1, 4, 5} {
			kind := tableKinds[k]
			local, remote := ap("127.0.0.1:1"), ap("127.0.0.1:2")
			if kind.t.family == IPv6 {
				local, remote = ap("[::1]:1"), ap("[::1]:2")
			}
			b := mibTableBytes(kind.write, kind.t.first == 8, mibRow{state: mib, local: local, remote: remote, pid: 1})
			got, _ := parseAll(t, b, kind.t)
			if len(got) != 1 || got[0].State != st {
				t.Errorf("%s: dwState %d gave %+v, want %v", kind.t.name, mib, got, st)
			}
		}
	}
}

func TestParseMIBTablePortByteOrder(t *testing.T) {
	// 3372 is 0x0D2C: the row holds 0D 2C, then the junk.
	b := mibTableBytes(appendUDPRowOwnerPID, false, mibRow{local: netip.MustParseAddrPort("127.0.0.1:3372"), portJunk: 0xaaaa})
	if got := b[8:12]; got[0] != 0x0d || got[1] != 0x2c || got[2] != 0xaa || got[3] != 0xaa {
		t.Fatalf("fixture port bytes % x", got)
	}
	socks, _ := parseAll(t, b, &mibUDP4OwnerPID)
	if len(socks) != 1 || socks[0].Local.Port() != 3372 {
		t.Errorf("got %+v, want port 3372", socks)
	}
}

func TestParseMIBTableRowBytes(t *testing.T) {
	// The adapter passes a row back to GetOwnerModuleFrom*Entry: it must
	// be the whole row, module data included.
	ap := netip.MustParseAddrPort
	for _, k := range tableKinds[4:] {
		local, remote := ap("127.0.0.1:1"), ap("0.0.0.0:0")
		if k.t.family == IPv6 {
			local, remote = ap("[::1]:1"), ap("[::]:0")
		}
		b := mibTableBytes(k.write, true, mibRow{state: 2, local: local, remote: remote, pid: 1, module: 0x1122334455667788},
			mibRow{state: 2, local: local, remote: remote, pid: 2, module: 0x99})
		var modules []uint64
		err := parseMIBTable(b, k.t, func(_ *Socket, _ uint32, row []byte) {
			modules = append(modules, le.Uint64(row[len(row)-128:]))
		})
		if err != nil || !slices.Equal(modules, []uint64{0x1122334455667788, 0x99}) {
			t.Errorf("%s: module data %x, %v", k.t.name, modules, err)
		}
	}
}

func TestParseMIBTableLengths(t *testing.T) {
	ap := netip.MustParseAddrPort
	one := mibTableBytes(appendTCPRowOwnerPID, false, mibRow{state: 2, local: ap("127.0.0.1:1"), remote: ap("0.0.0.0:0"), pid: 1})
	huge := slices.Clone(one)
	le.PutUint32(huge, 0xffffffff)
	tests := []struct {
		name string
		b    []byte
		k    *mibTable
		rows int
		err  bool
	}{
		{"empty buffer", nil, &mibTCP4OwnerPID, 0, true},
		{"three bytes", []byte{0, 0, 0}, &mibUDP4OwnerPID, 0, true},
		{"no rows", []byte{0, 0, 0, 0}, &mibTCP4OwnerPID, 0, false},
		{"no rows, module table without padding", []byte{0, 0, 0, 0}, &mibTCP6OwnerModule, 0, false},
		{"one row", one, &mibTCP4OwnerPID, 1, false},
		{"one row and slack", append(slices.Clone(one), make([]byte, 100)...), &mibTCP4OwnerPID, 1, false},
		{"row cut short", one[:len(one)-1], &mibTCP4OwnerPID, 0, true},
		{"more rows said than held", append(le.AppendUint32(nil, 2), one[4:]...), &mibTCP4OwnerPID, 0, true},
		{"dwNumEntries 2^32-1", huge, &mibTCP4OwnerPID, 0, true},
		{"owner-PID row read as owner-module", one, &mibTCP4OwnerModule, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := 0
			err := parseMIBTable(tt.b, tt.k, func(*Socket, uint32, []byte) { rows++ })
			if tt.err != (err != nil) || (err != nil && !errors.Is(err, ErrParse)) {
				t.Fatalf("err = %v, want an ErrParse: %v", err, tt.err)
			}
			if err == nil && rows != tt.rows {
				t.Errorf("%d rows, want %d", rows, tt.rows)
			}
			if err != nil && rows != 0 {
				t.Errorf("%d rows reported before the error", rows)
			}
		})
	}
}

func TestMIBScopeID(t *testing.T) {
	for in, want := range map[uint32]uint32{
		0: 0, 1: 1, 12: 12, 0xffff: 0xffff,
		0x0c000000: 12, 0x01000000: 1, 0x00010000: 256,
		0x12345678: 0x12345678, // neither reading is small: leave it
	} {
		if got := mibScopeID(in); got != want {
			t.Errorf("mibScopeID(%#x) = %#x, want %#x", in, got, want)
		}
	}
}

func TestNarrowServices(t *testing.T) {
	hosted := []string{"Dnscache", "LanmanWorkstation", "NlaSvc"}
	tests := []struct {
		name string
		tags []string
		want []string
	}{
		{"no sockets looked at", nil, hosted},
		{"every socket tagged", []string{"dnscache", "Dnscache"}, []string{"Dnscache"}},
		{"two services", []string{"NlaSvc", "Dnscache"}, []string{"Dnscache", "NlaSvc"}},
		{"one socket untagged", []string{"Dnscache", ""}, hosted},
		{"a tag naming no hosted service", []string{"svchost.exe"}, hosted},
	}
	for _, tt := range tests {
		if got := narrowServices(hosted, tt.tags); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// checkMIBRows is what the fuzz targets assert of every row parsed.
func checkMIBRows(t *testing.T, b []byte, k *mibTable) {
	rows := 0
	err := parseMIBTable(b, k, func(s *Socket, _ uint32, row []byte) {
		rows++
		if len(row) != k.rowSize {
			t.Fatalf("%s: row of %d bytes", k.name, len(row))
		}
		if s.Local.Addr().Is4() != (k.family == IPv4) || s.Remote.Addr().Is4() != (k.family == IPv4) {
			t.Fatalf("%s: addresses %v %v", k.name, s.Local, s.Remote)
		}
		if s.State >= numStates || (k.proto == UDP && s.State != Unconnected) {
			t.Fatalf("%s: state %v", k.name, s.State)
		}
		if s.Protocol != k.proto || s.UID != -1 || s.Inode != 0 {
			t.Fatalf("%s: %+v", k.name, s)
		}
	})
	if err != nil {
		if !errors.Is(err, ErrParse) {
			t.Fatalf("%s: error %v is no ErrParse", k.name, err)
		}
		return
	}
	if len(b) >= 4 && uint32(rows) != le.Uint32(b) {
		t.Fatalf("%s: %d rows, dwNumEntries %d", k.name, rows, le.Uint32(b))
	}
}

func pickTable(tcp, v6, module bool) *mibTable {
	i := 0
	if !tcp {
		i += 2
	}
	if v6 {
		i++
	}
	if module {
		i += 4
	}
	return tableKinds[i].t
}

func FuzzParseTCPTable(f *testing.F) {
	ap := netip.MustParseAddrPort
	f.Add(mibTableBytes(appendTCPRowOwnerPID, false, mibRow{state: 2, local: ap("127.0.0.1:3372"), remote: ap("0.0.0.0:0"), pid: 4242}), false, false)
	f.Add(mibTableBytes(appendTCP6RowOwnerPID, false, mibRow{state: 5, local: ap("[fe80::1]:1"), localScope: 12, remote: ap("[::1]:2"), pid: 3}), true, false)
	f.Fuzz(func(t *testing.T, b []byte, v6, module bool) {
		checkMIBRows(t, b, pickTable(true, v6, module))
	})
}

func FuzzParseUDPTable(f *testing.F) {
	ap := netip.MustParseAddrPort
	f.Add(mibTableBytes(appendUDPRowOwnerPID, false, mibRow{local: ap("0.0.0.0:3372"), pid: 4242}), false, false)
	f.Add(mibTableBytes(appendUDP6RowOwnerPID, false, mibRow{local: ap("[fe80::1]:546"), localScope: 5, pid: 1300}), true, false)
	f.Fuzz(func(t *testing.T, b []byte, v6, module bool) {
		checkMIBRows(t, b, pickTable(false, v6, module))
	})
}
