//go:build linux || darwin

package platform

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// tryBindSocket binds a plain socket, as a program that sets no option but
// those asked would, and closes it.
func tryBindSocket(p Protocol, addr netip.AddrPort, opts BindOptions) error {
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
	fd, err := unix.Socket(domain, typ, 0) // macOS has no SOCK_CLOEXEC
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	unix.CloseOnExec(fd)
	for _, o := range []struct {
		set          bool
		level, which int
	}{{opts.ReuseAddr, unix.SOL_SOCKET, unix.SO_REUSEADDR}, {opts.ReusePort, unix.SOL_SOCKET, unix.SO_REUSEPORT}} {
		if o.set {
			if err := unix.SetsockoptInt(fd, o.level, o.which, 1); err != nil {
				return err
			}
		}
	}
	if domain == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return err
		}
	}
	return unix.Bind(fd, sa)
}
