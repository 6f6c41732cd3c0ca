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
	// namespace f selects, that forward a port f keeps. Each is
	// container.ViaNAT, with the container at its destination where the
	// runtimes' state names it. An error wrapping ErrLegacyNAT comes with
	// the rules that could be read.
	Publications(ctx context.Context, f Filter) ([]container.Publication, error)
	// Reached lists the listeners that take what is forwarded to addr
	// over protocol p, in the network namespace that holds addr, each
	// marked with its namespace and with its owners, as Owners fills
	// them in; none when no namespace that could be entered holds it.
	Reached(ctx context.Context, p Protocol, addr netip.AddrPort) ([]Socket, error)
}

// ErrLegacyNAT says a namespace has NAT rules in x_tables, where
// iptables-legacy writes them, beside nf_tables's: those are not read.
var ErrLegacyNAT = errors.New("iptables-legacy has a nat table here, whose rules portinspect does not read")

// hasNATTable reads /proc/net/ip_tables_names (or ip6_tables_names), the
// x_tables tables in use, one name a line, for "nat".
func hasNATTable(b []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if bytes.Equal(bytes.TrimSpace(sc.Bytes()), []byte("nat")) {
			return true
		}
	}
	return false
}
