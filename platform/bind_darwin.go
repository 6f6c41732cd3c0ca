package platform

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// PortPolicy reads macOS's port sysctls. Since macOS 10.14 a process
// without root binds a port below 1024 on the wildcard address, though
// not on a specific one.
func (d *darwinInspector) PortPolicy(Protocol) (PortPolicy, error) {
	p := PortPolicy{PrivilegedBelow: 1024, CanBindPrivileged: os.Geteuid() == 0, WildcardUnprivileged: true, EphemeralSource: "net.inet.ip.portrange.first/last"}
	if high, err := unix.SysctlUint32("net.inet.ip.portrange.reservedhigh"); err == nil && high < 65535 {
		p.PrivilegedBelow = uint16(high + 1)
	}
	var err error
	p.Ephemeral, err = d.EphemeralRange(TCP)
	return p, err
}

// EphemeralRange reads net.inet.ip.portrange.first and .last.
func (d *darwinInspector) EphemeralRange(Protocol) (PortRange, error) {
	first, err1 := unix.SysctlUint32("net.inet.ip.portrange.first")
	last, err2 := unix.SysctlUint32("net.inet.ip.portrange.last")
	if err1 != nil || err2 != nil || first > last || last > 65535 {
		return PortRange{}, fmt.Errorf("the ephemeral port range: %v %v", err1, err2)
	}
	return PortRange{Low: uint16(first), High: uint16(last), TCP: true, UDP: true}, nil
}

func (d *darwinInspector) TryBind(p Protocol, addr netip.AddrPort, opts BindOptions) error {
	return tryBindSocket(p, addr, opts)
}

// TryBindAs is Linux's alone: the child it needs is started with a
// user's credentials, which portinspect does only there.
func (d *darwinInspector) TryBindAs(Protocol, netip.AddrPort, BindOptions, int64) error {
	return fmt.Errorf("%w as another user on macOS", ErrNotTried)
}
