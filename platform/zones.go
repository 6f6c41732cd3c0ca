package platform

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// ifaceNames caches interface names by index for address zones. It is
// safe for concurrent use.
type ifaceNames struct {
	mu    sync.Mutex
	names map[uint32]string
}

// scope adds the interface to a link-local address, which means nothing
// without it; other addresses are returned as they are.
func (m *ifaceNames) scope(ap netip.AddrPort, index uint32) netip.AddrPort {
	a := ap.Addr()
	if !a.Is6() || !(a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		return ap
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names == nil {
		m.names = make(map[uint32]string)
	}
	name, ok := m.names[index]
	if !ok {
		name = strconv.FormatUint(uint64(index), 10)
		if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
			name = ifi.Name
		}
		m.names[index] = name
	}
	return netip.AddrPortFrom(a.WithZone(name), ap.Port())
}

// nameZone replaces a zone that is an interface index, as the macOS parser
// leaves it, with the interface's name.
func (m *ifaceNames) nameZone(ap netip.AddrPort) netip.AddrPort {
	a := ap.Addr()
	index, err := strconv.ParseUint(a.Zone(), 10, 32)
	if err != nil {
		return ap
	}
	return m.scope(netip.AddrPortFrom(a.WithZone(""), ap.Port()), uint32(index))
}
