package platform

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/netip"

	"github.com/portinspect/portinspect/platform/container"
)

// Forwarder is an Inspector that can read the rules that publish ports by
// NAT, and follow a forwarded port to what listens behind it (Linux).
type Forwarder interface {
	// Publications lists the destination NAT rules, in the network
	// namespace f selects, that forward a port f's protocols and
	// families keep. Each is container.ViaNAT, with the container at its
	// destination where the runtimes' state names it. An error wrapping
	// ErrLegacyNAT or ErrUnparsedNAT comes with the rules that could be
	// read.
	Publications(ctx context.Context, f Filter) ([]container.Publication, error)
	// Reached says, for each target, what listens behind it: the
	// listeners in the network namespace that holds its address, each
	// marked with its namespace and with its owners as Owners fills them
	// in, or why that could not be told.
	Reached(ctx context.Context, f Filter, targets []Target) (map[Target]Reach, error)
}

// Target is where a publication forwards to.
type Target struct {
	Protocol Protocol
	Addr     netip.AddrPort
}

// Reach is what listens behind a forwarded port.
type Reach struct {
	Sockets []Socket
	// Unknown says why what listens there could not be told (namespaces
	// not entered, the address held in several); "" when Sockets is the
	// answer, none included.
	Unknown string
}

// ErrUnparsedNAT says some destination NAT rules forward no one port
// that portinspect could tell (port ranges, sets, maps, kube-proxy's
// service rules): a port no publication names may still be forwarded.
var ErrUnparsedNAT = errors.New("destination NAT rules that publish no one port")

// ErrLegacyNAT says a namespace has NAT rules in x_tables, where
// iptables-legacy writes them, beside nf_tables's: those are not read.
var ErrLegacyNAT = errors.New("iptables-legacy's nat table, which portinspect does not read, holds rules")

// hasTable reads /proc/net/ip_tables_names (or ip6_tables_names), the
// x_tables tables loaded, one name a line, for name.
func hasTable(b []byte, name string) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if bytes.Equal(bytes.TrimSpace(sc.Bytes()), []byte(name)) {
			return true
		}
	}
	return false
}
