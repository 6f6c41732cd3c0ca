package inspect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portinspect/portinspect/knownports"
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

// Has reports whether the set selects port for protocol p.
func (ps PortSet) Has(port uint16, p platform.Protocol) bool {
	return ps == nil || slices.ContainsFunc(ps, func(r platform.PortRange) bool { return r.Has(port, p) })
}

// Singles returns the single ports the set names (3372, not 3000-3100), in
// the order given, without repeats.
func (ps PortSet) Singles() []uint16 {
	var ports []uint16
	seen := make(map[uint16]bool)
	for _, r := range ps {
		if r.Low == r.High && !seen[r.Low] {
			seen[r.Low] = true
			ports = append(ports, r.Low)
		}
	}
	return ports
}

// merged returns the set as few ranges as possible, one protocol each,
// sorted: "1,2,3,…,20000" is one range, which the kernel's filter takes
// whole and a socket is checked against once.
func (ps PortSet) merged() []platform.PortRange {
	var out []platform.PortRange
	for _, p := range []platform.Protocol{platform.TCP, platform.UDP} {
		var rs []platform.PortRange
		for _, r := range ps {
			if r.Covers(p) {
				rs = append(rs, platform.PortRange{Low: r.Low, High: r.High, TCP: p == platform.TCP, UDP: p == platform.UDP})
			}
		}
		slices.SortFunc(rs, func(a, b platform.PortRange) int { return int(a.Low) - int(b.Low) })
		start := len(out)
		for _, r := range rs {
			if last := len(out) - 1; last >= start && int(r.Low) <= int(out[last].High)+1 {
				out[last].High = max(out[last].High, r.High)
				continue
			}
			out = append(out, r)
		}
	}
	return out
}

// ServiceResolver resolves a service name to port ranges, e.g. from the
// known-ports database. It returns nil for an unknown name.
type ServiceResolver func(name string) []platform.PortRange

// ResolverFrom resolves service names with the known-ports database: its
// curated aliases and IANA's service names.
func ResolverFrom(db *knownports.DB) ServiceResolver {
	return func(name string) []platform.PortRange {
		var ranges []platform.PortRange
		for _, pp := range db.Resolve(name) {
			ranges = append(ranges, platform.PortRange{
				Low: pp.Low, High: pp.High,
				TCP: pp.Protocol == "tcp", UDP: pp.Protocol == "udp",
			})
		}
		return ranges
	}
}

// specParser parses PORTSPECs whose ports start at lowest: 1 for sockets
// (port 0 is not a port anything listens on), 0 for the database, which
// has IANA's rows for it.
type specParser struct {
	resolve ServiceResolver
	lowest  uint16
}

func (p specParser) help() string {
	return fmt.Sprintf("want a port %d-65535, a range like 3000-3100, either with /tcp or /udp, a comma list, or a service name like ssh", p.lowest)
}

// ParsePortSpec parses a PORTSPEC: "3372", "3372/tcp", "3000-3100/udp",
// "msdtc", or a comma list of these. A protocol applies to the bare port
// numbers before it as well, so "22,80,443/tcp" is all TCP, as one would
// read it; a service name keeps its own protocols. Errors are *UsageError
// and name the bad part.
func ParsePortSpec(spec string, resolve ServiceResolver) (PortSet, error) {
	return specParser{resolve: resolve, lowest: 1}.parse(spec)
}

// ParseLookupSpec is ParsePortSpec for the known-ports database, where
// port 0 is a valid question.
func ParseLookupSpec(spec string, resolve ServiceResolver) (PortSet, error) {
	return specParser{resolve: resolve, lowest: 0}.parse(spec)
}

func (p specParser) parse(spec string) (PortSet, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, usagef("empty port spec: %s", p.help())
	}
	var set PortSet
	var bare []int // indexes in set of port numbers given without a protocol
	for item := range strings.SplitSeq(spec, ",") {
		ranges, proto, named, err := p.item(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		if proto != "" {
			for _, i := range bare {
				set[i].TCP, set[i].UDP = proto == "tcp", proto == "udp"
			}
			bare = bare[:0]
		} else if !named {
			bare = append(bare, len(set))
		}
		set = append(set, ranges...)
	}
	return set, nil
}

// parsePortItem parses one item of a comma list and returns its protocol
// suffix ("tcp", "udp" or "") and whether it was a service name.
func (p specParser) item(item string) (ranges []platform.PortRange, proto string, named bool, err error) {
	if item == "" {
		return nil, "", false, usagef("empty item in port spec: %s", p.help())
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
			return nil, "", false, usagef("invalid protocol %q in %q: want tcp or udp", proto, item)
		}
	}
	if ports == "" {
		return nil, "", false, usagef("invalid port spec %q: %s", item, p.help())
	}
	if isPortSyntax(ports) {
		low, high, err := p.portRange(ports)
		if err != nil {
			return nil, "", false, err
		}
		return []platform.PortRange{{Low: low, High: high, TCP: tcp, UDP: udp}}, proto, false, nil
	}
	var resolved []platform.PortRange
	if p.resolve != nil {
		resolved = p.resolve(strings.ToLower(ports))
	}
	for _, r := range resolved {
		r.TCP, r.UDP = r.TCP && tcp, r.UDP && udp
		if r.TCP || r.UDP {
			ranges = append(ranges, r)
		}
	}
	if len(ranges) == 0 {
		if len(resolved) > 0 {
			return nil, "", false, usagef("service %q has no %s port", ports, proto)
		}
		return nil, "", false, usagef("invalid port spec %q: not a port number or a known service name: %s", item, p.help())
	}
	return ranges, proto, true, nil
}

// isPortSyntax reports whether s is made of digits, signs and a dash, so
// that "-1" and "10-5" are reported as bad numbers, not unknown names.
func isPortSyntax(s string) bool {
	return strings.Trim(s, "0123456789+-") == ""
}

func (p specParser) portRange(s string) (low, high uint16, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	low, okLow := p.port(lo)
	high, okHigh := low, true
	if isRange {
		high, okHigh = p.port(hi)
	}
	if !okLow || !okHigh {
		return 0, 0, usagef("invalid port %q: ports are %d-65535", s, p.lowest)
	}
	if high < low {
		return 0, 0, usagef("invalid port range %q: the first port must not exceed the last", s)
	}
	return low, high, nil
}

func (p specParser) port(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || uint16(n) < p.lowest || strings.HasPrefix(s, "+") {
		return 0, false
	}
	return uint16(n), true
}
