package platform

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/portinspect/portinspect/platform/container"
)

// Publications reads the rules of the nat chains through nf_tables's
// netlink API (google/nftables). iptables-nft writes nf_tables rules too,
// so Docker's, netavark's and CNI portmap's rules read alike whichever
// tool wrote them; rules iptables-legacy wrote live in x_tables, which
// this does not read, and says so. With every namespace asked for, the
// rules are this namespace's: the host's, where runtimes publish.
func (l *linuxInspector) Publications(ctx context.Context, f Filter) ([]container.Publication, error) {
	ns, err := l.rulesNetns(f)
	if err != nil {
		return nil, err
	}
	var fd int = -1
	if !ns.Own {
		if fd, err = openNetns(ns); err != nil {
			return nil, err
		}
		defer unix.Close(fd)
	}
	var incomplete []error
	if n := legacyRules(l.procRoot, ns, "nat", natBuiltinEntries); n > 0 {
		incomplete = append(incomplete, fmt.Errorf("%w (%s)", ErrLegacyNAT, Plural(n, "rule")))
	}
	pubs, unparsed, err := natPublications(fd)
	if errors.Is(err, unix.ENOENT) {
		// A chain went between the listing and its rules (a runtime
		// restarting): read them all again, once.
		pubs, unparsed, err = natPublications(fd)
	}
	switch {
	case err != nil:
		return nil, err
	case unparsed > 0:
		incomplete = append(incomplete, fmt.Errorf("%w (%s)", ErrUnparsedNAT, Plural(unparsed, "rule")))
	}
	kept := pubs[:0]
	for _, p := range pubs {
		proto, ok := ProtocolNamed(p.Protocol)
		if !ok {
			continue // SCTP: no socket listing here shows it
		}
		fam := IPv4
		if p.Host().Addr().Is6() {
			fam = IPv6
		}
		if !f.wants(proto, fam) {
			continue
		}
		if p.ContainerAddr.IsValid() {
			p.Container = l.procs.containers.ByAddress(p.ContainerAddr)
		}
		kept = append(kept, p)
	}
	return kept, errors.Join(incomplete...)
}

// rulesNetns is the namespace whose NAT rules publish the ports f is
// about: the one f.Netns names, else this one.
func (l *linuxInspector) rulesNetns(f Filter) (*Netns, error) {
	list, _, err := l.listNetns()
	if err != nil {
		return nil, err
	}
	if f.Netns != "" {
		ns, err := selectNetns(l.procRoot, list, f.Netns)
		return &ns, err
	}
	for i := range list {
		if list[i].Own {
			return &list[i], nil
		}
	}
	return nil, errors.New("this process's network namespace is not among the machine's")
}

// natPublications reads every destination NAT rule of the namespace of
// fd (-1: this one) that publishes one port, and counts those that
// forward but publish no one port. Only tables with a nat chain are read:
// a DNAT anywhere else is refused by the kernel.
func natPublications(fd int) (pubs []container.Publication, unparsed int, err error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if fd >= 0 {
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	// No nf_tables in this kernel, or none loaded, is no rules there.
	absent := func(err error) bool {
		return errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT)
	}
	conn, err := nftables.New(opts...)
	if absent(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading NAT rules: %w", err)
	}
	defer conn.CloseLasting()
	chains, err := conn.ListChains()
	if absent(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading NAT rules: %w", err)
	}
	type tableKey struct {
		family nftables.TableFamily
		name   string
	}
	nat := make(map[tableKey]bool)
	for _, c := range chains {
		if c.Type == nftables.ChainTypeNAT {
			nat[tableKey{c.Table.Family, c.Table.Name}] = true
		}
	}
	for _, c := range chains {
		if !nat[tableKey{c.Table.Family, c.Table.Name}] {
			continue
		}
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, 0, fmt.Errorf("reading NAT rules of chain %s: %w", c.Name, err)
		}
		for _, r := range rules {
			p, ok := container.ParseDNAT(r.Exprs)
			switch {
			case !ok && container.IsDNAT(r.Exprs):
				unparsed++
			case ok && !slices.Contains(pubs, p):
				// netavark and Docker write one rule per published port,
				// but the same in an ip and an inet table says it twice.
				pubs = append(pubs, p)
			}
		}
	}
	return pubs, unparsed, nil
}

// legacyRules counts the rules iptables-legacy keeps in the x_tables
// table named table (IPv4 and IPv6) of ns, beyond the builtin entries
// every such table starts with (its built-in chains' policies and the
// error entry that ends it). A table only probed (iptables-wrapper does)
// has none. Where the table's size cannot be asked (without
// CAP_NET_ADMIN), a table that is there counts as one rule: it may hold
// any. The tables loaded are read from a thread in ns, so that a
// namespace no process is in (ip netns add's) is read too.
func legacyRules(procRoot string, ns *Netns, table string, builtin int) int {
	n := 0
	for _, t := range []struct {
		names         string
		domain, level int
	}{{"ip_tables_names", unix.AF_INET, unix.IPPROTO_IP}, {"ip6_tables_names", unix.AF_INET6, unix.IPPROTO_IPV6}} {
		var b []byte
		err := doIn(ns, func() (err error) {
			b, err = os.ReadFile(filepath.Join(procRoot, "thread-self", "net", t.names))
			return err
		})
		if err != nil || !hasTable(b, table) {
			continue
		}
		entries, err := xtablesEntries(ns, t.domain, t.level, table)
		if err != nil {
			n++
			continue
		}
		n += max(0, entries-builtin)
	}
	return n
}

// The builtin entries of the x_tables nat and filter tables: a policy
// for each hook (nat: four; filter: input, forward, output) and the
// error entry.
const (
	natBuiltinEntries    = 5
	filterBuiltinEntries = 4
)

// xtablesEntries asks x_tables (IPT_SO_GET_INFO, linux/netfilter_ipv4/
// ip_tables.h; IP6T_SO_GET_INFO is the same number) how many entries a
// table holds, from a raw socket in ns.
func xtablesEntries(ns *Netns, domain, level int, table string) (int, error) {
	fd, err := socketIn(ns, domain, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var info struct {
		name       [32]byte
		validHooks uint32
		hookEntry  [5]uint32
		underflow  [5]uint32
		numEntries uint32
		size       uint32
	}
	copy(info.name[:], table)
	const soGetInfo = 64 // IPT_BASE_CTL
	size := uint32(unsafe.Sizeof(info))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), soGetInfo,
		uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(info.numEntries), nil
}

// Reached finds, in one pass over the machine's network namespaces, the
// namespace that holds each target's address, and its listeners on the
// target's port, bound to the address or to a wildcard that takes it. A
// loopback address is looked for only where the rules are; any other
// held by more than one namespace (Docker in Docker, kind) is ambiguous.
// Owners are searched among the namespace's processes first, not in
// another walk of every descriptor on the machine. A namespace gone since
// it was listed is no one's.
func (l *linuxInspector) Reached(ctx context.Context, f Filter, targets []Target) (map[Target]Reach, error) {
	out := make(map[Target]Reach, len(targets))
	if len(targets) == 0 {
		return out, nil
	}
	home, err := l.rulesNetns(f)
	if err != nil {
		return nil, err
	}
	list, unreadable, err := l.listNetns()
	if err != nil {
		return nil, err
	}
	flt := Filter{IPv4: true, IPv6: true, States: 1<<Listen | 1<<Unconnected}
	for _, t := range targets {
		flt.TCP, flt.UDP = flt.TCP || t.Protocol == TCP, flt.UDP || t.Protocol == UDP
		flt.Ports = append(flt.Ports, PortRange{Low: t.Addr.Port(), High: t.Addr.Port(), TCP: t.Protocol == TCP, UDP: t.Protocol == UDP})
	}
	holders := make(map[Target][]*Netns)
	listeners := make(map[Target][]Socket)
	denied, failed, homeMissed := 0, 0, false
	for i := range list {
		ns := &list[i]
		isHome := ns.Inode == home.Inode
		socks, _, err := netlinkSockets(ctx, flt, l.namesIn(ns), ns)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		switch {
		case err != nil && errors.Is(err, errNetnsGone):
			continue
		case err != nil && errors.Is(err, fs.ErrPermission):
			denied++
		case err != nil:
			failed++
		}
		if err != nil {
			homeMissed = homeMissed || isHome
			continue
		}
		var addrs []netip.Addr
		addrsRead := false
		for _, t := range targets {
			want := t.Addr.Addr().Unmap()
			if want.IsLoopback() {
				if !isHome {
					continue
				}
			} else {
				if !addrsRead {
					addrs, addrsRead = netnsAddrs(ns), true
				}
				if !slices.Contains(addrs, want) {
					continue
				}
			}
			holders[t] = append(holders[t], ns)
			var bound, wild []Socket
			for _, s := range socks {
				switch {
				case s.Protocol != t.Protocol || s.Local.Port() != t.Addr.Port():
				case s.Local.Addr().Unmap() == want:
					bound = append(bound, s)
				case s.Local.Addr().IsUnspecified() && s.At(want):
					wild = append(wild, s)
				}
			}
			if len(bound) == 0 {
				bound = wild // a socket bound to the address takes its packets first
			}
			for j := range bound {
				bound[j].Netns = ns
			}
			listeners[t] = append(listeners[t], bound...)
		}
	}
	for _, t := range targets {
		r := Reach{}
		switch h := holders[t]; {
		case len(h) > 1:
			r.Unknown = fmt.Sprintf("%d network namespaces hold %s", len(h), t.Addr.Addr())
		case len(h) == 1:
			ns := h[0]
			ns.Container = l.procs.containerOf(ns.PID)
			if _, err := l.ownersAmong(ctx, listeners[t], ns.pids); err != nil {
				return nil, err
			}
			r.Sockets = listeners[t]
		case t.Addr.Addr().IsLoopback():
			if homeMissed {
				r.Unknown = "the rules' network namespace could not be read"
			}
		case denied > 0:
			r.Unknown = fmt.Sprintf("%s could not be entered (entering one needs CAP_SYS_ADMIN)", Plural(denied, "network namespace"))
		case failed > 0:
			r.Unknown = fmt.Sprintf("%s could not be read", Plural(failed, "network namespace"))
		case unreadable > 0:
			r.Unknown = fmt.Sprintf("the network namespaces of %s could not be read", Plural(unreadable, "process"))
		}
		out[t] = r
	}
	return out, nil
}

// netnsAddrs lists the addresses of ns's interfaces.
func netnsAddrs(ns *Netns) []netip.Addr {
	var addrs []netip.Addr
	for _, p := range netnsPrefixes(ns) {
		addrs = append(addrs, p.prefix.Addr())
	}
	return addrs
}

// netnsIsolated reports whether ns reaches other machines only through
// this host: every interface but loopback is a veth, the end of a
// container bridge, and every address private (RFC 1918, unique local,
// link-local). A macvlan, ipvlan or physical interface, or a public
// address, may be reached directly; so may a namespace whose links could
// not be read.
func netnsIsolated(ns *Netns) bool {
	links, err := netnsLinks(ns)
	if err != nil {
		return false
	}
	for _, l := range links {
		// A link that is down carries nothing: the fallback devices
		// (tunl0, sit0) that tunnel modules put in every namespace.
		if l.Up && !l.Loopback && l.Kind != "veth" {
			return false
		}
	}
	for _, a := range netnsAddrs(ns) {
		if !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() {
			return false
		}
	}
	return true
}
