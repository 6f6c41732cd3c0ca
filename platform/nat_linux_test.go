package platform

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/portinspect/portinspect/internal/testtools"
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
	tests := []struct {
		target Target
		want   netip.AddrPort // invalid: nothing
	}{
		{Target{TCP, addrPort(bound.Addr())}, addrPort(bound.Addr())},
		{Target{UDP, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addrPort(wild.LocalAddr()).Port())}, addrPort(wild.LocalAddr())},
		// TEST-NET-1 is on no interface here.
		{Target{UDP, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.77"), addrPort(wild.LocalAddr()).Port())}, netip.AddrPort{}},
		{Target{UDP, addrPort(bound.Addr())}, netip.AddrPort{}}, // TCP's port, over UDP
	}
	var targets []Target
	for _, tt := range tests {
		targets = append(targets, tt.target)
	}
	reached, err := l.Reached(context.Background(), Filter{}, targets)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		r := reached[tt.target]
		socks := r.Sockets
		if !tt.want.IsValid() {
			// Unknown is honest where some namespace could not be read
			// (a sandbox's PID 1 refuses even root).
			if len(socks) != 0 {
				t.Errorf("%+v reaches %+v, want nothing", tt.target, socks)
			}
			continue
		}
		if r.Unknown != "" || len(socks) != 1 || socks[0].Local != tt.want || socks[0].Netns == nil || !socks[0].Netns.Own ||
			socks[0].Owners != OwnersKnown || !slices.Contains(socks[0].PIDs, os.Getpid()) {
			t.Errorf("%+v reaches %+v, want %s held by this process", tt.target, socks, tt.want)
		}
	}
	own := &Netns{Own: true}
	if addrs := netnsAddrs(own); !slices.Contains(addrs, netip.MustParseAddr("127.0.0.1")) || slices.Contains(addrs, netip.MustParseAddr("192.0.2.77")) {
		t.Errorf("this namespace's addresses: %v", addrs)
	}
}

// TestLiveNetnsIsolated builds namespaces of its own: one whose only
// link is a veth with a private address is isolated; a bridge, or a
// public address, makes it not.
func TestLiveNetnsIsolated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: ip netns")
	}
	testtools.Need(t, "ip")
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %q: %v: %s", args, err, out)
		}
	}
	a, b := fmt.Sprintf("pi-iso%d-a", os.Getpid()), fmt.Sprintf("pi-iso%d-b", os.Getpid())
	ip("netns", "add", a)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", a).Run() })
	ip("netns", "add", b)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b).Run() })
	ip("-n", a, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", b)
	ip("-n", a, "addr", "add", "10.201.0.1/24", "dev", "v0")
	ip("-n", b, "addr", "add", "10.201.0.2/24", "dev", "v1")
	ip("-n", a, "link", "set", "v0", "up")
	ip("-n", b, "link", "set", "v1", "up")
	for _, ns := range []string{a, b} {
		ip("-n", ns, "link", "set", "lo", "up")
	}
	isolated := func(name string) bool {
		ns, err := selectNetns("/proc", nil, "/run/netns/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return netnsIsolated(&ns)
	}
	if !isolated(a) || !isolated(b) {
		t.Errorf("veth ends with private addresses: isolated %v, %v", isolated(a), isolated(b))
	}
	ip("-n", a, "link", "add", "br0", "type", "bridge")
	ip("-n", a, "link", "set", "br0", "up")
	ip("-n", b, "addr", "add", "198.51.100.7/32", "dev", "v1")
	if isolated(a) || isolated(b) {
		t.Errorf("a bridge, a public address: isolated %v, %v", isolated(a), isolated(b))
	}
}
