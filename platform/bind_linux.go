package platform

import (
	"net/netip"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// PortPolicy reads the sysctls of the network namespace portinspect runs
// in (/proc/sys/net shows the reader's) and this process's capabilities.
func (l *linuxInspector) PortPolicy() (PortPolicy, error) {
	sys := filepath.Join(l.procRoot, "sys", "net", "ipv4")
	var p PortPolicy
	b, err := os.ReadFile(filepath.Join(sys, "ip_unprivileged_port_start"))
	if err != nil {
		return p, err
	}
	start, err := parseSysctlUint(b)
	if err != nil {
		return p, err
	}
	p.PrivilegedBelow = uint16(min(start, 65535))
	if b, err = os.ReadFile(filepath.Join(sys, "ip_local_port_range")); err != nil {
		return p, err
	}
	if p.Ephemeral, err = parseSysctlRange(b); err != nil {
		return p, err
	}
	if b, err = os.ReadFile(filepath.Join(sys, "ip_local_reserved_ports")); err != nil {
		return p, err
	}
	if p.Reserved, err = parsePortList(b); err != nil {
		return p, err
	}
	if b, err := os.ReadFile(filepath.Join(l.procRoot, "self", "status")); err == nil {
		caps, ok := parseStatusCapEff(b)
		p.CanBindPrivileged = ok && caps&(1<<unix.CAP_NET_BIND_SERVICE) != 0
	}
	return p, nil
}

// TryBind binds a plain socket, as a program that sets no option but
// those asked would, and closes it.
func (l *linuxInspector) TryBind(p Protocol, addr netip.AddrPort, reuse, v6only bool) error {
	domain, sa := unix.AF_INET, unix.Sockaddr(nil)
	a := addr.Addr()
	if a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: a.As4()}
	} else {
		domain = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: a.As16()}
	}
	typ := unix.SOCK_STREAM
	if p == UDP {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return err
		}
	}
	if domain == unix.AF_INET6 {
		v := 0
		if v6only {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			return err
		}
	}
	return unix.Bind(fd, sa)
}
