package platform

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// ifaceNames caches interfaces by index, for address zones and the
// devices sockets are bound to. It is safe for concurrent use.
type ifaceNames struct {
	mu     sync.Mutex
	ifaces map[uint32]iface
	// elsewhere marks another network namespace's interfaces, which the
	// lookups here, made in this one, would misname: they keep their
	// numbers.
	elsewhere bool
}

type iface struct {
	name     string
	loopback bool
}

// byIndex looks an interface up in this namespace, and fails for another's.
func (m *ifaceNames) byIndex(index uint32) (*net.Interface, error) {
	if m.elsewhere {
		return nil, errors.New("an interface of another network namespace")
	}
	return net.InterfaceByIndex(int(index))
}

// lookup returns the interface with index: its name (the number, when it
// is gone) and whether it is a loopback interface.
func (m *ifaceNames) lookup(index uint32) iface {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ifaces == nil {
		m.ifaces = make(map[uint32]iface)
	}
	ifc, ok := m.ifaces[index]
	if !ok {
		ifc.name = strconv.FormatUint(uint64(index), 10)
		if ifi, err := m.byIndex(index); err == nil {
			ifc = iface{name: ifi.Name, loopback: ifi.Flags&net.FlagLoopback != 0}
		}
		m.ifaces[index] = ifc
	}
	return ifc
}

// scope adds the interface named ifname to a link-local address, which
// means nothing without it; other addresses are returned as they are.
func scope(ap netip.AddrPort, ifname string) netip.AddrPort {
	a := ap.Addr()
	if !a.Is6() || !(a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		return ap
	}
	return netip.AddrPortFrom(a.WithZone(ifname), ap.Port())
}

// nameZone replaces a zone that is an interface index, as the macOS parser
// leaves it, with the interface's name.
func (m *ifaceNames) nameZone(ap netip.AddrPort) netip.AddrPort {
	a := ap.Addr()
	index, err := strconv.ParseUint(a.Zone(), 10, 32)
	if err != nil {
		return ap
	}
	return scope(netip.AddrPortFrom(a.WithZone(""), ap.Port()), m.lookup(uint32(index)).name)
}
