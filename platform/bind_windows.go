package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"
)

// PortPolicy asks netsh: Windows has no privileged ports, but keeps
// excluded port ranges from every program, hands out dynamic ports from
// its own range, and lets HTTP.sys take ports in the System process's
// name. netsh is the only documented reader of all three; each is read
// alone, and what fails is left out with the error.
func (w *windowsInspector) PortPolicy(p Protocol) (PortPolicy, error) {
	policy := PortPolicy{
		EphemeralSource: "netsh int ipv4 show dynamicport " + p.String(),
		ExcludedSource:  "netsh int ipv4 show excludedportrange protocol=" + p.String(),
	}
	var errs []string
	if out, err := netsh("int", "ipv4", "show", "excludedportrange", "protocol="+p.String()); err != nil {
		errs = append(errs, err.Error())
	} else if policy.Excluded, err = parseExcludedPortRanges(out, p); err != nil {
		errs = append(errs, err.Error())
	}
	for _, r := range policy.Excluded {
		policy.Reserved = append(policy.Reserved, r.PortRange)
	}
	var err error
	if policy.Ephemeral, err = w.EphemeralRange(p); err != nil {
		errs = append(errs, err.Error())
	}
	if p == TCP {
		if out, err := netsh("http", "show", "servicestate", "view=requestq"); err != nil {
			errs = append(errs, err.Error())
		} else {
			policy.HTTPQueues = parseHTTPServiceState(out)
		}
		if out, err := netsh("http", "show", "urlacl"); err != nil {
			errs = append(errs, err.Error())
		} else {
			policy.URLReservations = parseURLACL(out)
		}
	}
	if len(errs) > 0 {
		return policy, errors.New(strings.Join(errs, "; "))
	}
	return policy, nil
}

// EphemeralRange asks netsh for the dynamic port range of p.
func (w *windowsInspector) EphemeralRange(p Protocol) (PortRange, error) {
	out, err := netsh("int", "ipv4", "show", "dynamicport", p.String())
	if err != nil {
		return PortRange{}, err
	}
	return parseDynamicPortRange(out)
}

func netsh(args ...string) ([]byte, error) {
	out, err := exec.Command("netsh", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("netsh %v: %w", args, err)
	}
	return out, nil
}

// TryBind binds a plain Winsock socket and closes it. Its errors are
// given as the errno constants the other systems' are, so one reading of
// them serves every system.
func (w *windowsInspector) TryBind(p Protocol, addr netip.AddrPort, opts BindOptions) error {
	if opts.ReuseAddr || opts.ReusePort {
		// SO_REUSEADDR on Windows binds over a live listener: no server
		// sets it to get past TIME_WAIT, as on Unix.
		return fmt.Errorf("%w: Windows has no SO_REUSEADDR of Unix's meaning, nor SO_REUSEPORT", ErrNotTried)
	}
	domain, sa := windows.AF_INET, windows.Sockaddr(nil)
	a := addr.Addr()
	if a.Is4() {
		sa = &windows.SockaddrInet4{Port: int(addr.Port()), Addr: a.As4()}
	} else {
		domain = windows.AF_INET6
		sa = &windows.SockaddrInet6{Port: int(addr.Port()), Addr: a.As16()}
	}
	typ, proto := windows.SOCK_STREAM, windows.IPPROTO_TCP
	if p == UDP {
		typ, proto = windows.SOCK_DGRAM, windows.IPPROTO_UDP
	}
	fd, err := windows.Socket(domain, typ, proto)
	if err != nil {
		return err
	}
	defer windows.Closesocket(fd)
	if domain == windows.AF_INET6 {
		// Windows's default is IPv6 only; the bind asked about takes both.
		windows.SetsockoptInt(fd, windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, 0)
	}
	switch err := windows.Bind(fd, sa); {
	case errors.Is(err, windows.WSAEADDRINUSE):
		return syscall.EADDRINUSE
	case errors.Is(err, windows.WSAEACCES):
		return syscall.EACCES
	case errors.Is(err, windows.WSAEADDRNOTAVAIL):
		return syscall.EADDRNOTAVAIL
	case errors.Is(err, windows.WSAEAFNOSUPPORT):
		return syscall.EAFNOSUPPORT
	default:
		return err
	}
}

// TryBindAs is Linux's alone.
func (w *windowsInspector) TryBindAs(Protocol, netip.AddrPort, BindOptions, int64) error {
	return fmt.Errorf("%w as another user on Windows", ErrNotTried)
}
