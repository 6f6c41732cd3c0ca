package platform

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"sync"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/portinspect/portinspect/platform/firewall"
)

// Reachable reads the nf_tables rule set of the namespace f selects (this
// one unless --netns names another) and judges each listener of it.
func (l *linuxInspector) Reachable(ctx context.Context, f Filter, socks []*Socket, _ []Holder) []firewall.Judgement {
	ns, err := l.rulesNetns(f)
	if err != nil {
		return unknownFor(socks, "the firewall's network namespace: "+err.Error())
	}
	var opts []nftables.ConnOption
	if !ns.Own {
		fd, err := openNetns(ns)
		if err != nil {
			return unknownFor(socks, "the firewall's network namespace could not be entered: "+err.Error())
		}
		defer unix.Close(fd)
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	rs, err := firewall.ReadNftables(opts...)
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return unknownFor(socks, "needs root: reading the firewall's rules takes CAP_NET_ADMIN")
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOENT):
		rs = &firewall.Ruleset{Source: "nftables"} // no nf_tables here: no rules in it
	case err != nil:
		return unknownFor(socks, "the firewall's rules could not be read: "+err.Error())
	}
	if n := legacyRules(l.procRoot, ns, "filter", filterBuiltinEntries) + legacyRules(l.procRoot, ns, "nat", natBuiltinEntries); n > 0 {
		legacy, err := readLegacy(ns)
		if err != nil {
			return unknownFor(socks, fmt.Sprintf("iptables-legacy holds %s, which could not be read: %v", Plural(n, "rule"), err))
		}
		if len(rs.Chains) > 0 {
			l.warnings = append(l.warnings, fmt.Sprintf("both nftables and iptables-legacy (%s) hold firewall rules: "+
				"a packet must pass both, and both are judged", Plural(n, "rule")))
		}
		rs.Chains = append(rs.Chains, legacy...)
	}
	// The interfaces are read only if a rule asks about one: a host
	// without firewall rules is judged without two more netlink dumps.
	links := sync.OnceValue(func() map[uint32]link {
		l, _ := netnsLinks(ns) // what could be read: an interface not read is not internal
		return l
	})
	internal := sync.OnceValue(func() map[string]bool { return internalLinks(links()) })
	prefixes := sync.OnceValue(func() []ifPrefix { return netnsPrefixes(ns) })
	routeOIF := func(a netip.Addr) string {
		best, name := -1, ""
		for _, p := range prefixes() {
			if p.prefix.Contains(a) && p.prefix.Bits() > best {
				best, name = p.prefix.Bits(), links()[p.index].Name
			}
		}
		return name
	}
	type key struct {
		fam   firewall.Family
		proto uint8
		addr  netip.Addr
		port  uint16
	}
	cache := make(map[key]firewall.Judgement)
	judge := func(fam firewall.Family, proto uint8, addr netip.Addr, port uint16) firewall.Judgement {
		k := key{fam, proto, addr, port}
		if j, ok := cache[k]; ok {
			return j
		}
		j := firewall.Judge(rs, firewall.Packet{Family: fam, Proto: proto, Daddr: addr, Dport: port,
			Internal: func(name string) bool { return internal()[name] }, RouteOIF: routeOIF})
		cache[k] = j
		return j
	}
	out := make([]firewall.Judgement, len(socks))
	for i, s := range socks {
		if s.Netns != nil && s.Netns.Inode != ns.Inode {
			out[i] = firewall.Judgement{Verdict: firewall.Unknown,
				Reason: "in another network namespace, whose own rules and this host's forward chains decide: judge it with --netns"}
			continue
		}
		proto := uint8(6)
		if s.Protocol == UDP {
			proto = 17
		}
		addr, port := s.Local.Addr().Unmap(), s.Local.Port()
		if addr.IsUnspecified() {
			addr = netip.Addr{}
		}
		switch {
		case s.Family == IPv4 || addr.Is4():
			out[i] = judge(firewall.FamilyIPv4, proto, addr, port)
		case s.DualStack == DualStackYes:
			out[i] = firewall.JoinFamilies(judge(firewall.FamilyIPv4, proto, addr, port), judge(firewall.FamilyIPv6, proto, addr, port))
		default:
			out[i] = judge(firewall.FamilyIPv6, proto, addr, port)
		}
	}
	return out
}

// netnsLinks lists the interfaces of ns by index. A message that does
// not parse is an error, with the links read so far.
func netnsLinks(ns *Netns) (map[uint32]link, error) {
	const seq = 1
	req := make([]byte, ifInfoMsgLen) // ifinfomsg: every family
	links := make(map[uint32]link)
	err := dumpNetlink(ns, unix.NETLINK_ROUTE, netlinkRequest(rtmGetLink, nlmFRequest|nlmFDump, seq, req), seq, func(payload []byte) error {
		l, ok := parseIfInfoMsg(payload)
		if !ok {
			return fmt.Errorf("%w: an RTM_NEWLINK message of %d bytes", ErrParse, len(payload))
		}
		links[l.Index] = l
		return nil
	})
	return links, err
}

type ifPrefix struct {
	prefix netip.Prefix
	index  uint32
}

// netnsPrefixes lists the addresses of ns's interfaces with their
// prefix lengths, which say the subnets the interfaces reach. One the
// dump could not say is not there.
func netnsPrefixes(ns *Netns) []ifPrefix {
	const seq = 1
	req := make([]byte, ifAddrMsgLen)
	var out []ifPrefix
	dumpNetlink(ns, unix.NETLINK_ROUTE, netlinkRequest(rtmGetAddr, nlmFRequest|nlmFDump, seq, req), seq, func(payload []byte) error {
		if p, index, ok := parseIfAddrMsg(payload); ok {
			out = append(out, ifPrefix{netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), index})
		}
		return nil
	})
	return out
}

// internalLinks names the interfaces the network's packets do not arrive
// on: bridges whose ports are all virtual (veth, tun/tap), or that have
// none: docker0, podman0, cni0, virbr0, a Compose network's br-. A bridge
// with another port (the uplink enslaved to br0 on a VM host) is where
// the network arrives, and so is a veth that is no bridge's port (a
// container's own eth0, seen from inside).
func internalLinks(links map[uint32]link) map[string]bool {
	out := make(map[string]bool)
	for _, l := range links {
		if l.Kind != "bridge" {
			continue
		}
		virtual := true
		for _, port := range links {
			if port.Master == l.Index && port.Kind != "veth" && port.Kind != "tun" {
				virtual = false
			}
		}
		if virtual {
			out[l.Name] = true
		}
	}
	return out
}

// readLegacy reads the rules iptables-legacy keeps in x_tables, which
// nftables does not show, through iptables-legacy-save and
// ip6tables-legacy-save run in ns.
func readLegacy(ns *Netns) ([]*firewall.Chain, error) {
	var chains []*firewall.Chain
	for _, t := range []struct {
		cmd string
		fam firewall.Family
	}{{"iptables-legacy-save", firewall.FamilyIPv4}, {"ip6tables-legacy-save", firewall.FamilyIPv6}} {
		path, err := exec.LookPath(t.cmd)
		if err != nil {
			return nil, fmt.Errorf("%s is not installed (the iptables package has it)", t.cmd)
		}
		out, err := outputIn(ns, path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.cmd, err)
		}
		c, err := firewall.ParseIptablesSave(out, t.fam, "iptables-legacy")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.cmd, err)
		}
		chains = append(chains, c...)
	}
	return chains, nil
}

// outputIn runs a program in ns and returns its output: forked from a
// thread that has entered ns, the child starts there.
func outputIn(ns *Netns, argv ...string) (out []byte, err error) {
	err = doIn(ns, func() error {
		out, err = exec.Command(argv[0], argv[1:]...).Output()
		return err
	})
	return out, err
}
