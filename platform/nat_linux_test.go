package platform

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
)

// TestLiveReached follows a forward to listeners this test opens, in its
// own namespace: one bound to the address itself, and a wildcard, which
// counts once the namespace is seen to hold the address; an address no
// interface holds reaches nothing. Each comes with this process as its
// owner, found without a walk of the whole machine.
func TestLiveReached(t *testing.T) {
	bound, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	wild, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	l := newLinuxInspector(Options{})
	ctx := context.Background()
	for _, tt := range []struct {
		proto Protocol
		to    netip.AddrPort
		want  netip.AddrPort // invalid: nothing
	}{
		{TCP, addrPort(bound.Addr()), addrPort(bound.Addr())},
		{UDP, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addrPort(wild.LocalAddr()).Port()), addrPort(wild.LocalAddr())},
		// TEST-NET-1 is on no interface here.
		{UDP, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.77"), addrPort(wild.LocalAddr()).Port()), netip.AddrPort{}},
		{UDP, addrPort(bound.Addr()), netip.AddrPort{}}, // TCP's port, over UDP
	} {
		socks, err := l.Reached(ctx, tt.proto, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		if !tt.want.IsValid() {
			if len(socks) != 0 {
				t.Errorf("%s %s reaches %+v, want nothing", tt.proto, tt.to, socks)
			}
			continue
		}
		if len(socks) != 1 || socks[0].Local != tt.want || socks[0].Netns == nil || !socks[0].Netns.Own ||
			socks[0].Owners != OwnersKnown || !slices.Contains(socks[0].PIDs, os.Getpid()) {
			t.Errorf("%s %s reaches %+v, want %s held by this process", tt.proto, tt.to, socks, tt.want)
		}
	}
	if !netnsHolds(nil, netip.MustParseAddr("127.0.0.1")) || netnsHolds(nil, netip.MustParseAddr("192.0.2.77")) {
		t.Error("netnsHolds: 127.0.0.1 not held, or 192.0.2.77 held")
	}
}
