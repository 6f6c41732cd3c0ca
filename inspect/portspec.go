package inspect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portinspect/portinspect/platform"
)

// UsageError is an error in what the user asked for: a bad PORTSPEC,
// state or filter value. Its message names the bad value and what is
// allowed.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// PortSet is what a PORTSPEC selects. The nil set selects every port.
type PortSet []platform.PortRange

// HasPort reports whether any protocol's range holds port.
func (ps PortSet) HasPort(port uint16) bool {
	if ps == nil {
		return true
	}
	return slices.ContainsFunc(ps, func(r platform.PortRange) bool { return r.Low <= port && port <= r.High })
}

// Has reports whether port is selected for protocol p.
func (ps PortSet) Has(port uint16, p platform.Protocol) bool {
	if ps == nil {
		return true
	}
	return slices.ContainsFunc(ps, func(r platform.PortRange) bool { return r.Has(port, p) })
}

// Singles returns the single ports the set names (3372, not 3000-3100), in
// the order given, without repeats.
func (ps PortSet) Singles() []uint16 {
	var ports []uint16
	for _, r := range ps {
		if r.Low == r.High && !slices.Contains(ports, r.Low) {
			ports = append(ports, r.Low)
		}
	}
	return ports
}

// ServiceResolver resolves a service name to port ranges, e.g. from the
// known-ports database. It returns nil for an unknown name.
type ServiceResolver func(name string) []platform.PortRange

const portSpecHelp = "want a port 1-65535, a range like 3000-3100, either with /tcp or /udp, a comma list, or a service name like ssh"

// ParsePortSpec parses a PORTSPEC: "3372", "3372/tcp", "3000-3100/udp",
// "msdtc", or a comma list of these. A protocol applies to the bare items
// before it as well, so "22,80,443/tcp" is all TCP, as one would read it.
// Errors are *UsageError and name the bad part.
func ParsePortSpec(spec string, resolve ServiceResolver) (PortSet, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, usagef("empty port spec: %s", portSpecHelp)
	}
	var set PortSet
	bare := 0 // set[bare:] came from items without a protocol
	for item := range strings.SplitSeq(spec, ",") {
		ranges, proto, err := parsePortItem(strings.TrimSpace(item), resolve)
		if err != nil {
			return nil, err
		}
		if proto != "" {
			for i := bare; i < len(set); i++ {
				set[i].TCP, set[i].UDP = proto == "tcp", proto == "udp"
			}
			set = append(set, ranges...)
			bare = len(set)
			continue
		}
		set = append(set, ranges...)
	}
	return set, nil
}

// parsePortItem parses one item of a comma list and returns its protocol
// suffix ("tcp", "udp" or "").
func parsePortItem(item string, resolve ServiceResolver) ([]platform.PortRange, string, error) {
	if item == "" {
		return nil, "", usagef("empty item in port spec: %s", portSpecHelp)
	}
	ports, proto, hasProto := strings.Cut(item, "/")
	proto = strings.ToLower(proto)
	tcp, udp := true, true
	if hasProto {
		switch proto {
		case "tcp":
			udp = false
		case "udp":
			tcp = false
		default:
			return nil, "", usagef("invalid protocol %q in %q: want tcp or udp", proto, item)
		}
	}
	if ports == "" {
		return nil, "", usagef("invalid port spec %q: %s", item, portSpecHelp)
	}
	if isPortSyntax(ports) {
		low, high, err := parsePortRange(ports)
		if err != nil {
			return nil, "", err
		}
		return []platform.PortRange{{Low: low, High: high, TCP: tcp, UDP: udp}}, proto, nil
	}
	var resolved []platform.PortRange
	if resolve != nil {
		resolved = resolve(strings.ToLower(ports))
	}
	var ranges []platform.PortRange
	for _, r := range resolved {
		r.TCP, r.UDP = r.TCP && tcp, r.UDP && udp
		if r.TCP || r.UDP {
			ranges = append(ranges, r)
		}
	}
	if len(ranges) == 0 {
		if len(resolved) > 0 {
			return nil, "", usagef("service %q has no %s port", ports, proto)
		}
		return nil, "", usagef("invalid port spec %q: not a port number or a known service name: %s", item, portSpecHelp)
	}
	return ranges, proto, nil
}

// isPortSyntax reports whether s is made of digits, signs and a dash, so
// that "-1" and "10-5" are reported as bad numbers, not unknown names.
func isPortSyntax(s string) bool {
	return strings.Trim(s, "0123456789+-") == ""
}

func parsePortRange(s string) (low, high uint16, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	low, okLow := parsePort(lo)
	high, okHigh := low, true
	if isRange {
		high, okHigh = parsePort(hi)
	}
	if !okLow || !okHigh {
		return 0, 0, usagef("invalid port %q: ports are 1-65535", s)
	}
	if high < low {
		return 0, 0, usagef("invalid port range %q: the first port must not exceed the last", s)
	}
	return low, high, nil
}

func parsePort(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || strings.HasPrefix(s, "+") {
		return 0, false
	}
	return uint16(n), true
}
