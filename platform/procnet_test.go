package platform

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func readProcNetFixture(t *testing.T, name string, p Protocol) []Socket {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var socks []Socket
	if err := parseProcNet(f, p, binary.LittleEndian, func(s *Socket) { socks = append(socks, *s) }); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return socks
}

func TestParseProcNetFixtures(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		file  string
		proto Protocol
		want  []Socket
	}{
		{"proc_net_tcp", TCP, []Socket{
			{Protocol: TCP, Family: IPv4, Local: ap("127.0.0.1:3372"), Remote: ap("0.0.0.0:0"), State: Listen, Inode: 148068, RecvQ: 3, SendQ: -1},
			{Protocol: TCP, Family: IPv4, Local: ap("127.0.0.1:3372"), Remote: ap("127.0.0.1:39574"), State: Established, Inode: 148072, RecvQ: 0x200, SendQ: 0x10},
			{Protocol: TCP, Family: IPv4, Local: ap("127.0.0.1:39574"), Remote: ap("127.0.0.1:3372"), State: Established, Inode: 148071},
			{Protocol: TCP, Family: IPv4, Local: ap("127.0.0.1:39590"), Remote: ap("127.0.0.1:3372"), State: TimeWait, Inode: 0},
		}},
		{"proc_net_tcp6", TCP, []Socket{
			{Protocol: TCP, Family: IPv6, Local: ap("[::]:3372"), Remote: ap("[::]:0"), State: Listen, Inode: 148069, SendQ: -1},
			{Protocol: TCP, Family: IPv6, Local: ap("[::1]:8080"), Remote: ap("[::]:0"), State: Listen, Inode: 148070, SendQ: -1},
			{Protocol: TCP, Family: IPv6, Local: ap("[::1]:44510"), Remote: ap("[::1]:8080"), State: Established, Inode: 148073},
			{Protocol: TCP, Family: IPv6, Local: ap("[::1]:8080"), Remote: ap("[::1]:44510"), State: Established, Inode: 148074},
		}},
		{"proc_net_udp", UDP, []Socket{
			{Protocol: UDP, Family: IPv4, Local: ap("0.0.0.0:3372"), Remote: ap("0.0.0.0:0"), State: Unconnected, Inode: 148077},
		}},
		{"proc_net_udp6", UDP, []Socket{
			{Protocol: UDP, Family: IPv6, Local: ap("[::1]:5353"), Remote: ap("[::1]:3372"), State: Established, Inode: 148078},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := readProcNetFixture(t, tt.file, tt.proto)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d sockets, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i].UID != 0 {
					t.Errorf("socket %d: UID %d, want 0", i, got[i].UID)
				}
				got[i].UID = 0
				if !socketsEqual(got[i], tt.want[i]) {
					t.Errorf("socket %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func socketsEqual(a, b Socket) bool {
	return a.Protocol == b.Protocol && a.Family == b.Family && a.Local == b.Local &&
		a.Remote == b.Remote && a.State == b.State && a.Inode == b.Inode && a.UID == b.UID &&
		a.RecvQ == b.RecvQ && a.SendQ == b.SendQ && a.DualStack == b.DualStack && a.Cookie == b.Cookie &&
		a.Device == b.Device && a.DeviceLoopback == b.DeviceLoopback && a.created == b.created
}

func TestParseProcNetByteOrder(t *testing.T) {
	// The same table written by a big-endian machine.
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 7F000001:0D2C 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 42 1 0\n"
	var got Socket
	if err := parseProcNet(strings.NewReader(table), TCP, binary.BigEndian, func(s *Socket) { got = *s }); err != nil {
		t.Fatal(err)
	}
	if got.Local != netip.MustParseAddrPort("127.0.0.1:3372") || got.UID != 1000 || got.Inode != 42 {
		t.Errorf("got %+v", got)
	}
}

func TestParseProcNetErrors(t *testing.T) {
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	bad := map[string]string{
		"short line":      "   0: 0100007F:0D2C 00000000:0000 0A\n",
		"odd address":     "   0: 0100007:0D2C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
		"no port":         "   0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
		"hex garbage":     "   0: 0100007G:0D2C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
		"bad state":       "   0: 0100007F:0D2C 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 1\n",
		"bad uid":         "   0: 0100007F:0D2C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 1\n",
		"bad inode":       "   0: 0100007F:0D2C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 -1\n",
		"20-byte address": "   0: 0000000000000000000000000000000000000000:0D2C 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
	}
	for name, line := range bad {
		t.Run(name, func(t *testing.T) {
			err := parseProcNet(strings.NewReader(header+line), TCP, binary.LittleEndian, func(*Socket) {})
			if !errors.Is(err, ErrParse) {
				t.Errorf("err = %v, want ErrParse", err)
			}
		})
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, name := range []string{"proc_net_tcp", "proc_net_tcp6", "proc_net_udp", "proc_net_udp6"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, name := range []string{"sockstat", "sockstat6"} {
		b, err := os.ReadFile("testdata/sockstat/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		counts := make(map[string]int)
		parseSockstat(b, counts)
		for k, v := range counts {
			if v < 0 || !strings.Contains(k, " ") {
				t.Fatalf("sockstat %q: %q = %d", b, k, v)
			}
		}
		_ = parseProcNet(strings.NewReader(string(b)), TCP, binary.LittleEndian, func(s *Socket) {
			if s.Family != IPv4 && s.Family != IPv6 {
				t.Fatalf("family %v", s.Family)
			}
			if s.Local.Addr().Is4() != (s.Family == IPv4) {
				t.Fatalf("address %v in family %v", s.Local, s.Family)
			}
		})
	})
}

// TestSockstatEstimate: the loaded host's counts (testdata/sockstat, 22,001
// TCP and 2,001 UDP sockets) size a full listing, with room to spare, and
// nothing narrower.
func TestSockstatEstimate(t *testing.T) {
	counts := make(map[string]int)
	b, err := os.ReadFile("testdata/sockstat/sockstat")
	if err != nil {
		t.Fatal(err)
	}
	parseSockstat(b, counts)
	if counts["TCP inuse"] != 22001 || counts["UDP inuse"] != 2001 || counts["TCP tw"] != 0 || counts["sockets used"] != 24003 {
		t.Errorf("counts %v", counts)
	}
	parseSockstat([]byte("TCP: inuse x tw -3 alloc\nnonsense\n"), counts)
	if counts["TCP inuse"] != 22001 || counts["TCP tw"] != 0 {
		t.Errorf("bad values replaced good ones: %v", counts)
	}

	all := MatchAll()
	all.States = DefaultStates
	tcp4 := all
	tcp4.UDP, tcp4.IPv6 = false, false
	listeners := all
	listeners.States = States(0).With(Listen)
	port := all
	port.Ports = []PortRange{{Low: 22, High: 22, TCP: true}}
	for _, tt := range []struct {
		name     string
		f        Filter
		min, max int
	}{
		{"every socket", all, 24003, 28000},
		{"TCP over IPv4", tcp4, 22001, 25000},
		{"listeners", listeners, 0, 0},
		{"a port", port, 0, 0},
	} {
		if n := sockstatEstimate(&tt.f, "testdata/sockstat"); n < tt.min || n > tt.max {
			t.Errorf("%s: estimate %d, want %d to %d", tt.name, n, tt.min, tt.max)
		}
	}
	if n := sockstatEstimate(&all, "testdata/no-such-dir"); n != 0 {
		t.Errorf("unreadable counts: estimate %d, want 0", n)
	}
}
