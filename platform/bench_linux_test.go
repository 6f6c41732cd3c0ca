package platform

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// procNetTable makes a /proc/net/tcp table of n sockets.
func procNetTable(n int) []byte {
	var b bytes.Buffer
	b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	for i := range n {
		fmt.Fprintf(&b, "%4d: 0100007F:%04X 0100007F:0D2C 01 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 20 4 30 10 -1\n",
			i, 10000+i%50000, 100000+i)
	}
	return b.Bytes()
}

func BenchmarkParseProcNet(b *testing.B) {
	table := procNetTable(20000)
	b.SetBytes(int64(len(table)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := parseProcNet(bytes.NewReader(table), TCP, binary.LittleEndian, func(*Socket) { n++ }); err != nil || n != 20000 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkParseInetDiagMsg(b *testing.B) {
	msg := inetDiagMsg(afInet6, kernelEstablished, netip.MustParseAddrPort("[::1]:44510"), netip.MustParseAddrPort("[::1]:8080"), 0, 1000, 7)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseInetDiagMsg(msg, TCP); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOwnerWalkFixture walks a fixture tree of 500 processes with 40
// descriptors each, half of them sockets: the walk's own cost, without
// procfs's.
func BenchmarkOwnerWalkFixture(b *testing.B) {
	root := b.TempDir()
	want := make(map[uint64]struct{})
	for pid := 1; pid <= 500; pid++ {
		dir := filepath.Join(root, strconv.Itoa(pid), "fd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for fd := range 40 {
			target := "/var/log/some/file.log"
			if fd%2 == 0 {
				inode := uint64(pid*100 + fd)
				target = fmt.Sprintf("socket:[%d]", inode)
				want[inode] = struct{}{}
			}
			if err := os.Symlink(target, filepath.Join(dir, strconv.Itoa(fd))); err != nil {
				b.Fatal(err)
			}
		}
	}
	benchmarkWalk(b, root, want)
}

// BenchmarkOwnerWalkProc walks this machine's /proc for every socket it
// has: the number to compare with ss -p on the same machine.
func BenchmarkOwnerWalkProc(b *testing.B) {
	in, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	socks, err := in.Sockets(context.Background(), MatchAll())
	if err != nil {
		b.Skip(err)
	}
	want := make(map[uint64]struct{})
	for _, s := range socks {
		want[s.Inode] = struct{}{}
	}
	benchmarkWalk(b, "/proc", want)
}

func benchmarkWalk(b *testing.B, root string, want map[uint64]struct{}) {
	b.Helper()
	l := newLinuxInspector(Options{ProcRoot: root})
	socks := make([]Socket, 0, len(want))
	for inode := range want {
		socks = append(socks, Socket{Inode: inode})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Owners(context.Background(), socks); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(want)), "sockets")
}

// BenchmarkNetlinkDump lists every socket in the default states, as
// `portinspect list` does.
func BenchmarkNetlinkDump(b *testing.B) {
	var names ifaceNames
	f := MatchAll()
	f.States = DefaultStates
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := netlinkSockets(context.Background(), f, &names, nil); err != nil {
			b.Skip(err)
		}
	}
}
