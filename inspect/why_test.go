package inspect

import (
	"net/netip"
	"testing"

	"github.com/portinspect/portinspect/platform"
)

// TestOverlaps is the kernel's bind conflict rule of addresses: the same
// address, or a wildcard of its family on either side; an IPv6 wildcard
// that takes IPv4 (not IPv6-only) covers every IPv4 address, and a bind
// to [::] here takes IPv4 too.
func TestOverlaps(t *testing.T) {
	sock := func(local string, ds platform.DualStack) *platform.Socket {
		return &platform.Socket{Local: netip.MustParseAddrPort(local), State: platform.Listen, DualStack: ds}
	}
	for _, tt := range []struct {
		sock *platform.Socket
		bind string
		want bool
	}{
		{sock("127.0.0.1:80", 0), "127.0.0.1", true},
		{sock("127.0.0.1:80", 0), "0.0.0.0", true},
		{sock("127.0.0.1:80", 0), "127.0.0.2", false},
		{sock("0.0.0.0:80", 0), "10.0.0.1", true},
		{sock("[::]:80", platform.DualStackYes), "0.0.0.0", true},
		{sock("[::]:80", platform.DualStackYes), "127.0.0.1", true},
		{sock("[::]:80", platform.DualStackNo), "0.0.0.0", false},
		{sock("[::]:80", platform.DualStackNo), "::1", true},
		{sock("[::1]:80", 0), "127.0.0.1", false},
		{sock("0.0.0.0:80", 0), "::", true}, // [::] here is dual-stack
		{sock("127.0.0.1:80", 0), "::1", false},
		{sock("[::ffff:127.0.0.1]:80", 0), "127.0.0.1", true},
	} {
		if got := overlaps(tt.sock, netip.MustParseAddr(tt.bind)); got != tt.want {
			t.Errorf("a socket on %s, a bind of %s: %v, want %v", tt.sock.Local, tt.bind, got, tt.want)
		}
	}
}
