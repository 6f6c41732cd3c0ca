package inspect

import (
	"fmt"
	"net/netip"
	"net/url"
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

// PortRange is one item of a PORTSPEC: ports for TCP, UDP or both,
// perhaps at an address.
type PortRange struct {
	platform.PortRange
	// Addrs are the local addresses the item named ("127.0.0.1:3372";
	// "localhost:3372" is 127.0.0.1 and ::1). None means any address.
	Addrs []netip.Addr
	// Service is the service name the item was ("ssh"), "" for numbers.
	// A name's ranges are alternatives: ssh listens when 22/tcp or
	// 22/udp does.
	Service string
}

// PortSet is what a PORTSPEC selects. The nil set selects every port.
type PortSet []PortRange

// Selects reports whether the set selects s by its local port, protocol
// and address.
func (ps PortSet) Selects(s *Socket) bool {
	return ps == nil || slices.ContainsFunc(ps, func(r PortRange) bool { return r.Selects(s) })
}

// Selects reports whether the range holds s's local port for its protocol
// and, if the range names addresses, s is at one of them.
func (r *PortRange) Selects(s *Socket) bool {
	return r.Has(s.Local.Port(), s.Protocol) && (len(r.Addrs) == 0 || slices.ContainsFunc(r.Addrs, s.At))
}

// servesClient reports whether s, a connection from this machine, is a
// client of the range: its remote port is in the range, at one of its
// addresses if it names any.
func (r *PortRange) servesClient(s *Socket) bool {
	return r.Has(s.Remote.Port(), s.Protocol) && peerAmong(r.Addrs, s.Remote.Addr())
}

// peerAmong reports whether remote, a connection's peer address, is one of
// addrs (none: any), zones aside; the wildcard takes every address.
func peerAmong(addrs []netip.Addr, remote netip.Addr) bool {
	remote = remote.Unmap().WithZone("")
	return len(addrs) == 0 || slices.ContainsFunc(addrs, func(a netip.Addr) bool {
		return a.IsUnspecified() || a.Unmap().WithZone("") == remote
	})
}

// hasAddrs reports whether any range of the set names addresses.
func (ps PortSet) hasAddrs() bool {
	return slices.ContainsFunc(ps, func(r PortRange) bool { return len(r.Addrs) > 0 })
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

// Names resolves the names a PORTSPEC or an address may hold. The zero
// value knows no service and no host but localhost.
type Names struct {
	// Services resolves service names.
	Services ServiceResolver
	// Hosts returns the hosts file's lower-case names and their
	// addresses, read when a name is first asked for; names are never
	// looked up in DNS.
	Hosts func() map[string][]netip.Addr
	// HostsFile names the file Hosts came from, for the error that a name
	// is not in it.
	HostsFile string
}

// host returns the addresses a host name stands for. localhost is the
// loopback addresses even where the hosts file does not say so (RFC 6761).
func (n Names) host(name string) []netip.Addr {
	name = strings.ToLower(name)
	if n.Hosts != nil {
		if addrs := n.Hosts()[name]; len(addrs) > 0 {
			return addrs
		}
	}
	if name == "localhost" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	}
	return nil
}

// ParseAddress parses an address as --address takes it: 127.0.0.1, ::1,
// [::1], or a name from the hosts file such as localhost.
func ParseAddress(s string, names Names) ([]netip.Addr, error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	addrs, err := names.addresses(s)
	if err != nil {
		return nil, usagef("invalid --address %q: %s", s, err)
	}
	if len(addrs) == 0 {
		return nil, usagef("invalid --address %q: want an IP address (127.0.0.1, ::1) or a name from %s", s, names.hostsFile())
	}
	return addrs, nil
}

// addresses resolves the address part of "ADDR:PORT": nothing for "" and
// "*", which mean any address.
func (n Names) addresses(host string) ([]netip.Addr, error) {
	if host == "" || host == "*" {
		return nil, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if addrs := n.host(host); len(addrs) > 0 {
		return addrs, nil
	}
	return nil, fmt.Errorf("not an IP address, and not a name in %s (names are never looked up in DNS)", n.hostsFile())
}

func (n Names) hostsFile() string {
	if n.HostsFile == "" {
		return "the hosts file"
	}
	return n.HostsFile
}

// specParser parses PORTSPECs whose ports start at lowest: 1 for sockets
// (port 0 is not a port anything listens on), 0 for the database, which
// has IANA's rows for it.
type specParser struct {
	names  Names
	lowest uint16
	// nameAtFirstPort makes a service name stand for its first port
	// alone (see ParseLookupSpec).
	nameAtFirstPort bool
}

func (p specParser) help() string {
	return fmt.Sprintf("want a port %d-65535, a range like 3000-3100, either with /tcp or /udp, a comma list, a service name like ssh, or ADDRESS:PORT", p.lowest)
}

// ParsePortSpec parses a PORTSPEC: "3372", "3372/tcp" (or "tcp/3372"),
// "3000-3100/udp", "msdtc", an address with a port as ss, logs and
// browsers print it ("127.0.0.1:3372", "[::1]:3372", "localhost:3372",
// ":3372", "http://localhost:3000/"), or a comma list of these. A protocol applies to the bare port
// numbers before it as well, so "22,80,443/tcp" is all TCP, as one would
// read it; a service name keeps its own protocols. Errors are *UsageError,
// one line that names the bad part and, where it can guess, the form meant.
func ParsePortSpec(spec string, names Names) (PortSet, error) {
	return specParser{names: names, lowest: 1}.parse(spec)
}

// ParseLookupSpec is ParsePortSpec for the known-ports database, where
// port 0 is a valid question, and a service name stands for its service,
// one answer at its first port: not x11's 64 ports or the ephemeral
// range's 32,768.
func ParseLookupSpec(spec string, names Names) (PortSet, error) {
	return specParser{names: names, lowest: 0, nameAtFirstPort: true}.parse(spec)
}

func (p specParser) parse(spec string) (PortSet, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, usagef("empty port spec: %s", p.help())
	}
	var set PortSet
	var bare []int // indexes in set of port numbers given without a protocol
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, usagef("empty item in port spec %q: write a comma list without spaces, as in 22,80", spec)
		}
		ranges, proto, named, err := p.item(item)
		if err != nil {
			return nil, err
		}
		if named && p.nameAtFirstPort {
			for i := range ranges {
				ranges[i].High = ranges[i].Low
			}
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

// item parses one item of a comma list and returns its protocol ("tcp",
// "udp" or "") and whether it was a service name.
func (p specParser) item(item string) (ranges []PortRange, proto string, named bool, err error) {
	if strings.Contains(item, "://") {
		return p.url(item)
	}
	body, proto, err := splitProtocol(item)
	if err != nil {
		return nil, "", false, err
	}
	host, ports, err := splitHost(body, item)
	if err != nil {
		return nil, "", false, err
	}
	addrs, err := p.names.addresses(host)
	if err != nil {
		if guess := didYouMean(item); guess != "" {
			return nil, "", false, usagef("invalid port spec %q%s", item, guess)
		}
		return nil, "", false, usagef("invalid address %q in %q: %s", host, item, err)
	}
	tcp, udp := proto != "udp", proto != "tcp"
	if ports == "" {
		return nil, "", false, usagef("invalid port spec %q: no port: %s", item, p.help())
	}
	if isPortSyntax(ports) {
		low, high, err := p.portRange(ports)
		if err != nil {
			return nil, "", false, err
		}
		r := PortRange{PortRange: platform.PortRange{Low: low, High: high, TCP: tcp, UDP: udp}, Addrs: addrs}
		return []PortRange{r}, proto, false, nil
	}
	name := strings.ToLower(ports)
	var resolved []platform.PortRange
	if p.names.Services != nil {
		resolved = p.names.Services(name)
	}
	for _, r := range resolved {
		r.TCP, r.UDP = r.TCP && tcp, r.UDP && udp
		if !r.TCP && !r.UDP {
			continue
		}
		// One range for both protocols: "nothing listens on 22" reads
		// better than "on 22/tcp, 22/udp".
		if i := slices.IndexFunc(ranges, func(o PortRange) bool { return o.Low == r.Low && o.High == r.High }); i >= 0 {
			ranges[i].TCP, ranges[i].UDP = ranges[i].TCP || r.TCP, ranges[i].UDP || r.UDP
			continue
		}
		ranges = append(ranges, PortRange{PortRange: r, Addrs: addrs, Service: name})
	}
	if len(ranges) == 0 {
		if len(resolved) > 0 {
			return nil, "", false, usagef("service %q has no %s port", ports, proto)
		}
		return nil, "", false, usagef("invalid port spec %q: not a port number or a known service name: %s%s", item, p.help(), didYouMean(item))
	}
	return ranges, proto, true, nil
}

// url parses a URL pasted from a browser or a log
// ("http://localhost:3000/app") as the item it names: its host and its
// port (or the scheme's), over TCP. Its protocol is its own: it does not
// apply to bare ports before it, as a /tcp the user wrote would.
func (p specParser) url(item string) (ranges []PortRange, proto string, named bool, err error) {
	u, err := url.Parse(item)
	if err != nil || u.Host == "" {
		return nil, "", false, usagef("invalid URL %q: want scheme://host:port, as in http://localhost:3000/", item)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21"}[strings.ToLower(u.Scheme)]
	}
	if port == "" {
		return nil, "", false, usagef("invalid URL %q: no port, and %s has no usual one", item, u.Scheme)
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	ranges, _, _, err = p.item(host + ":" + port + "/tcp")
	if err != nil {
		return nil, "", false, usagef("invalid URL %q: %v", item, err)
	}
	return ranges, "", true, nil
}

// splitProtocol splits "3372/tcp" or "tcp/3372" into the rest and the
// protocol, in lower case.
func splitProtocol(item string) (rest, proto string, err error) {
	before, after, ok := strings.Cut(item, "/")
	if !ok {
		return item, "", nil
	}
	if isProtocol(before) && !isProtocol(after) {
		before, after = after, before // tcp/3372, as some tools write it
	}
	proto = strings.ToLower(after)
	if !isProtocol(proto) {
		return "", "", usagef("invalid protocol %q in %q: want tcp or udp%s", after, item, didYouMean(item))
	}
	if before == "" {
		return "", "", usagef("invalid port spec %q: no port before /%s", item, proto)
	}
	return before, proto, nil
}

func isProtocol(s string) bool {
	return strings.EqualFold(s, "tcp") || strings.EqualFold(s, "udp")
}

// splitHost splits "ADDR:PORT" as ss and browsers print it ("[::1]:3372",
// "127.0.0.1:3372", ":3372", "*:80") into the address and the port. The
// address is "" when there is none.
func splitHost(body, item string) (host, port string, err error) {
	if strings.HasPrefix(body, "[") {
		end := strings.IndexByte(body, ']')
		if end <= 1 || !strings.HasPrefix(body[end+1:], ":") {
			return "", "", usagef("invalid address in %q: want [IPv6 address]:PORT, as in [::1]:3372", item)
		}
		return body[1:end], body[end+2:], nil
	}
	switch strings.Count(body, ":") {
	case 0:
		return "", body, nil
	case 1:
		host, port, _ = strings.Cut(body, ":")
		return host, port, nil
	}
	// An IPv6 address needs brackets to be told from its port.
	i := strings.LastIndexByte(body, ':')
	if a, err := netip.ParseAddr(body[:i]); err == nil && isPortSyntax(body[i+1:]) && body[i+1:] != "" {
		return "", "", usagef("invalid port spec %q: put an IPv6 address in brackets (did you mean [%s]:%s?)", item, a, body[i+1:])
	}
	return "", "", usagef("invalid port spec %q: put an IPv6 address in brackets, as in [::1]:3372", item)
}

// didYouMean guesses the form a malformed item was meant to have:
// "3372:tcp" and "3372tcp" for 3372/tcp, "80/tpc" for 80/tcp.
func didYouMean(item string) string {
	lower := strings.ToLower(item)
	guess := ""
	for _, sep := range []string{":", "", "-", " ", "."} {
		for _, proto := range []string{"tcp", "udp"} {
			if ports, ok := strings.CutSuffix(lower, sep+proto); ok && ports != "" && isPortSyntax(ports) {
				guess = ports + "/" + proto
			}
			if ports, ok := strings.CutPrefix(lower, proto+sep); ok && ports != "" && isPortSyntax(ports) {
				guess = ports + "/" + proto
			}
		}
	}
	if ports, p, ok := strings.Cut(lower, "/"); ok && guess == "" && ports != "" && isPortSyntax(ports) {
		for _, proto := range []string{"tcp", "udp"} {
			if editDistance(p, proto) == 1 || len(p) == 3 && sameLetters(p, proto) {
				guess = ports + "/" + proto
			}
		}
	}
	if guess == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", guess)
}

// sameLetters reports whether a and b are the same letters in another
// order: "tpc" for "tcp".
func sameLetters(a, b string) bool {
	x, y := []byte(a), []byte(b)
	slices.Sort(x)
	slices.Sort(y)
	return string(x) == string(y)
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
		return 0, 0, usagef("invalid port range %q: the first port must not exceed the last (did you mean %d-%d?)", s, high, low)
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
