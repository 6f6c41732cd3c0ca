package platform

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/portinspect/portinspect/platform/container"
)

// Publications reads the rules of the nat chains through nf_tables's
// netlink API (google/nftables). iptables-nft writes nf_tables rules too,
// so Docker's, netavark's and CNI portmap's rules read alike whichever
// tool wrote them; rules iptables-legacy wrote live in x_tables, which
// this does not read. With every namespace asked for, the rules are this
// namespace's: the host's, where runtimes publish.
func (l *linuxInspector) Publications(ctx context.Context, f Filter) ([]container.Publication, error) {
	var ns *Netns
	if f.Netns != "" {
		list, _, err := l.listNetns()
		if err != nil {
			return nil, err
		}
		sel, err := selectNetns(l.procRoot, list, f.Netns)
		if err != nil {
			return nil, err
		}
		ns = &sel
	}
	pubs, err := natPublications(ns)
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT) {
		return nil, nil // no nf_tables in this kernel, or none loaded: no rules
	}
	if err != nil {
		return nil, err
	}
	// The x_tables of the namespace read: this thread's, or those of a
	// process in the one asked for. A namespace only a mount keeps has no
	// /proc/PID/net to show them, and goes unchecked.
	procNet := filepath.Join(l.procRoot, "thread-self", "net")
	if ns != nil && !ns.Own {
		procNet = filepath.Join(l.procRoot, strconv.Itoa(ns.PID), "net")
	}
	if ns == nil || ns.Own || ns.PID != 0 {
		for _, name := range []string{"ip_tables_names", "ip6_tables_names"} {
			if b, rerr := os.ReadFile(filepath.Join(procNet, name)); rerr == nil && hasNATTable(b) {
				err = ErrLegacyNAT
			}
		}
	}
	kept := pubs[:0]
	for _, p := range pubs {
		proto := TCP
		switch p.Protocol {
		case "udp":
			proto = UDP
		case "sctp":
			continue // no socket listing here shows SCTP
		}
		fam := IPv4
		if a := cmpOrAddr(p.HostAddr, p.ContainerAddr); a.Is6() && !a.Is4In6() {
			fam = IPv6
		}
		if !f.wants(proto, fam) || f.Ports != nil && !slices.ContainsFunc(f.Ports, func(r PortRange) bool { return r.Has(p.HostPort, proto) }) {
			continue
		}
		if p.ContainerAddr.IsValid() {
			p.Container = l.procs.containers.ByAddress(p.ContainerAddr)
		}
		kept = append(kept, p)
	}
	return kept, err
}

func cmpOrAddr(a, b netip.Addr) netip.Addr {
	if a.IsValid() {
		return a
	}
	return b
}

// natPublications reads every destination NAT rule of ns (nil: this
// namespace) that publishes one port. Only tables with a nat chain are
// read: a DNAT anywhere else is refused by the kernel.
func natPublications(ns *Netns) ([]container.Publication, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if ns != nil && !ns.Own {
		fd, err := openNetns(ns)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("reading NAT rules: %w", err)
	}
	defer conn.CloseLasting()
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("reading NAT rules: %w", err)
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
	var pubs []container.Publication
	for _, c := range chains {
		if !nat[tableKey{c.Table.Family, c.Table.Name}] {
			continue
		}
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, fmt.Errorf("reading NAT rules of chain %s: %w", c.Name, err)
		}
		for _, r := range rules {
			// netavark and Docker write one rule per published port, but
			// the same in an ip and an inet table would say it twice.
			if p, ok := container.ParseDNAT(r.Exprs); ok && !slices.Contains(pubs, p) {
				pubs = append(pubs, p)
			}
		}
	}
	return pubs, nil
}

// Reached finds the namespace that holds addr and has listeners on its
// port. A listener bound to addr itself names it at once; one bound to a
// wildcard only once the namespace's interfaces are seen to hold addr.
// Their owners are searched among the namespace's processes first, not
// in a second walk of every descriptor on the machine.
func (l *linuxInspector) Reached(ctx context.Context, p Protocol, addr netip.AddrPort) ([]Socket, error) {
	want := addr.Addr().Unmap()
	if !want.IsValid() {
		return nil, nil
	}
	list, _, err := l.listNetns()
	if err != nil {
		return nil, err
	}
	f := Filter{TCP: p == TCP, UDP: p == UDP, IPv4: true, IPv6: true, States: 1<<Listen | 1<<Unconnected,
		Ports: []PortRange{{Low: addr.Port(), High: addr.Port(), TCP: p == TCP, UDP: p == UDP}}}
	for i := range list {
		ns := &list[i]
		socks, _, err := netlinkSockets(ctx, f, l.namesIn(ns), ns)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			continue // not to be entered without privilege
		}
		var bound, wild []Socket
		for _, s := range socks {
			a := s.Local.Addr().Unmap()
			switch {
			case a == want:
				bound = append(bound, s)
			case a.IsUnspecified() && (a.Is4() == want.Is4() || s.DualStack == DualStackYes):
				wild = append(wild, s)
			}
		}
		found := bound
		if len(found) == 0 && len(wild) > 0 && netnsHolds(ns, want) {
			found = wild
		}
		if len(found) == 0 {
			continue
		}
		ns.Container = l.procs.containerOf(ns.PID)
		for j := range found {
			found[j].Netns = ns
		}
		if _, err := l.ownersAmong(ctx, found, ns.pids); err != nil {
			return found, err
		}
		return found, nil
	}
	return nil, nil
}

// netnsHolds reports whether an interface of ns has address a.
func netnsHolds(ns *Netns, a netip.Addr) bool {
	const seq = 1
	req := make([]byte, ifAddrMsgLen) // ifaddrmsg: every family
	found := false
	err := dumpNetlink(ns, unix.NETLINK_ROUTE, netlinkRequest(rtmGetAddr, nlmFRequest|nlmFDump, seq, req), seq, func(payload []byte) error {
		if got, ok := parseIfAddrMsg(payload); ok && got.Unmap() == a {
			found = true
		}
		return nil
	})
	return err == nil && found
}
