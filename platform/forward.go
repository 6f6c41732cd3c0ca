package platform

import (
	"context"
	"net/netip"

	"github.com/portinspect/portinspect/platform/container"
)

// Forwarder is an Inspector that can read the rules that publish ports by
// NAT, and follow a forwarded port to what listens behind it (Linux).
type Forwarder interface {
	// Publications lists the destination NAT rules, in the network
	// namespace f selects, that forward a port f keeps. Each is
	// container.ViaNAT, with the container at its destination where the
	// runtimes' state names it.
	Publications(ctx context.Context, f Filter) ([]container.Publication, error)
	// Reached lists the listeners that take what is forwarded to addr
	// over protocol p, in the network namespace that holds addr, each
	// marked with its namespace; none when no namespace that could be
	// entered holds it.
	Reached(ctx context.Context, p Protocol, addr netip.AddrPort) ([]Socket, error)
}
