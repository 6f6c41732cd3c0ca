package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PortPolicy is what the system says of binding a port, apart from the
// sockets on it.
type PortPolicy struct {
	// PrivilegedBelow: binding a port below it needs privilege (Linux's
	// net.ipv4.ip_unprivileged_port_start, 1024 unless lowered); 0 when
	// no port does.
	PrivilegedBelow uint16
	// CanBindPrivileged says this process may bind them anyway: root, or
	// CAP_NET_BIND_SERVICE.
	CanBindPrivileged bool
	// Ephemeral is the range outgoing connections take their local ports
	// from (net.ipv4.ip_local_port_range), zero when unknown; Reserved are
	// the ports kept out of it (net.ipv4.ip_local_reserved_ports).
	Ephemeral PortRange
	Reserved  []PortRange
	// WildcardUnprivileged says a privileged port is free to bind for
	// anyone on the wildcard address, as macOS (10.14 and later) allows.
	WildcardUnprivileged bool
	// Excluded are the port ranges Windows keeps from every program.
	Excluded []ExcludedRange
	// HTTPQueues are HTTP.sys's request queues and the URLs they take
	// (Windows): the System process holds those ports for them.
	HTTPQueues []HTTPQueue
	// URLReservations are HTTP.sys's URL reservations (Windows).
	URLReservations []URLReservation
	// SELinuxEnforcing says SELinux enforces its policy (Linux);
	// SELinuxPorts are its port types, where semanage could list them.
	SELinuxEnforcing bool
	SELinuxPorts     []SELinuxPort
	// Evidence says where the range facts were read, for people:
	// "net.ipv4.ip_local_port_range", "netsh int ipv4 show dynamicport tcp".
	EphemeralSource, ExcludedSource string
}

// Binder is an Inspector that knows the system's port policy and can try
// a bind for the truth (Linux).
type Binder interface {
	// PortPolicy is what the system says of binding a port of protocol
	// p; an error leaves what could be read.
	PortPolicy(p Protocol) (PortPolicy, error)
	// EphemeralRange is PortPolicy's Ephemeral alone, for what needs no
	// more (a baseline's noise rule): the rest costs semanage, netsh.
	EphemeralRange(p Protocol) (PortRange, error)
	// TryBind binds a socket of protocol p to addr with the options and
	// closes it at once: the error is the system's, an IPv6 wildcard
	// taking IPv4 too (IPV6_V6ONLY off), as Linux's default is.
	TryBind(p Protocol, addr netip.AddrPort, opts BindOptions) error
	// TryBindAs is TryBind as user uid, which needs root.
	TryBindAs(p Protocol, addr netip.AddrPort, opts BindOptions, uid int64) error
}

// BindOptions are the socket options a bind tried sets first.
type BindOptions struct {
	ReuseAddr bool // SO_REUSEADDR: past connections and TIME_WAIT
	ReusePort bool // SO_REUSEPORT: join listeners of the same user that set it
}

// ErrNotTried wraps the error of a bind that could not be tried at all.
var ErrNotTried = errors.New("the bind could not be tried")

// TryBindArg, as portinspect's first argument, makes it the child that
// tries a bind for TryBindAs (TryBindChild), not a command.
const TryBindArg = "__portinspect-try-bind"

// parseSysctlRange reads a sysctl of two numbers, as
// net.ipv4.ip_local_port_range is ("32768\t60999\n").
func parseSysctlRange(b []byte) (PortRange, error) {
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return PortRange{}, fmt.Errorf("%w: a port range %q", ErrParse, b)
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 16)
	hi, err2 := strconv.ParseUint(f[1], 10, 16)
	if err1 != nil || err2 != nil || lo > hi {
		return PortRange{}, fmt.Errorf("%w: a port range %q", ErrParse, b)
	}
	return PortRange{Low: uint16(lo), High: uint16(hi), TCP: true, UDP: true}, nil
}

// parsePortList reads net.ipv4.ip_local_reserved_ports: ports and ranges
// joined by commas ("8080,9000-9010"), empty for none.
func parsePortList(b []byte) ([]PortRange, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, nil
	}
	var out []PortRange
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.ParseUint(lo, 10, 16)
		h, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil || l > h {
			return nil, fmt.Errorf("%w: a reserved port %q", ErrParse, item)
		}
		out = append(out, PortRange{Low: uint16(l), High: uint16(h), TCP: true, UDP: true})
	}
	return out, nil
}

// parseSysctlUint reads a sysctl of one number.
func parseSysctlUint(b []byte) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: a number %q", ErrParse, b)
	}
	return n, nil
}

// Evidence for a port policy: where each of its facts was read.
var (
	SysctlUnprivilegedPortStart = "net.ipv4.ip_unprivileged_port_start"
	SysctlLocalPortRange        = "net.ipv4.ip_local_port_range"
	SysctlLocalReservedPorts    = "net.ipv4.ip_local_reserved_ports"
)

// reservedHas reports whether port is among the reserved ranges.
func reservedHas(rs []PortRange, port uint16) bool {
	for _, r := range rs {
		if port >= r.Low && port <= r.High {
			return true
		}
	}
	return false
}

// InEphemeral reports whether port can be taken at random by an outgoing
// connection: in the ephemeral range and not reserved.
func (p *PortPolicy) InEphemeral(port uint16) bool {
	return p.Ephemeral.High != 0 && port >= p.Ephemeral.Low && port <= p.Ephemeral.High && !reservedHas(p.Reserved, port)
}
