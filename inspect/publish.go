package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
)

// Publication is a host port published to a container's port, or to
// another network namespace's, with what listens behind it.
type Publication struct {
	container.Publication
	// Listeners are the sockets that take what is forwarded, in the
	// namespace that holds the container's address, with their
	// processes; none when nothing listens there or it could not be
	// looked into.
	Listeners []Socket
}

// publish finds what the report's ports are published to: what the
// processes holding its listeners forward (docker-proxy), and the NAT
// rules that forward its ports, whether a process holds the port for them
// (Podman's conmon, dockerd) or none does. A rule that no listed socket
// holds is a publication of its own (rep.Published), when the query asked
// for ports: nothing listens on the port, yet it answers.
func publish(ctx context.Context, src Source, q *Query, f platform.Filter, rep *Report) {
	byHolder := false
	for i := range rep.Sockets {
		s := &rep.Sockets[i]
		for _, p := range s.Processes {
			if fw := p.Forward; fw != nil && fw.HostPort == 0 {
				byHolder = true
			} else if fw != nil && s.Listening() && fw.HostPort == s.Local.Port() && fw.Protocol == s.Protocol.String() {
				s.Published = append(s.Published, &Publication{Publication: *fw})
			}
		}
	}
	fwd, ok := src.(platform.Forwarder)
	if !ok || q.Ports == nil && !byHolder && !q.everyPublication {
		reach(ctx, src, nil, q, rep)
		return
	}
	rules, err := fwd.Publications(ctx, f)
	rep.natRead = err == nil
	if err != nil {
		rep.Warnings = append(rep.Warnings, natWarning(err, rep, q)...)
	}
	for _, rule := range rules {
		if attach(rep.Sockets, rule) {
			continue
		}
		if q.Ports != nil && q.selectsPublication(rule) || q.Ports == nil && q.everyPublication {
			rep.Published = append(rep.Published, &Publication{Publication: rule})
		}
	}
	reach(ctx, src, fwd, q, rep)
}

// attach adds a NAT rule's publication to the listener that holds its host
// port for it, as conmon does, and reports whether one does or already
// forwards the same (docker-proxy does, beside Docker's own rule).
func attach(socks []Socket, rule container.Publication) bool {
	for i := range socks {
		s := &socks[i]
		if !s.Listening() || s.Role != RoleLocal || s.Local.Port() != rule.HostPort || s.Protocol.String() != rule.Protocol ||
			rule.HostAddr.IsValid() && !s.At(rule.HostAddr) {
			continue
		}
		if slices.ContainsFunc(s.Published, func(p *Publication) bool {
			return p.ContainerAddr == rule.ContainerAddr && p.ContainerPort == rule.ContainerPort
		}) {
			return true
		}
		for _, p := range s.Processes {
			if fw := p.Forward; fw != nil && fw.HostPort == 0 {
				pub := rule
				pub.Via = fw.Via
				if fw.Container != nil {
					pub.Container = fw.Container
				}
				s.Published = append(s.Published, &Publication{Publication: pub})
				return true
			}
		}
	}
	return false
}

// selectsPublication reports whether q asks for the host port (and
// address) a NAT rule publishes, as it would for a listener there.
func (q *Query) selectsPublication(p container.Publication) bool {
	s := Socket{Socket: platform.Socket{Protocol: platform.TCP, Family: platform.IPv4, State: platform.Listen}}
	if p.Protocol == "udp" {
		s.Protocol, s.State = platform.UDP, platform.Unconnected
	}
	addr := p.HostAddr
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
		if p.ContainerAddr.Is6() {
			addr = netip.IPv6Unspecified()
		}
	}
	if addr.Is6() {
		s.Family = platform.IPv6
	}
	s.Local = netip.AddrPortFrom(addr, p.HostPort)
	role, ok := q.role(&s, nil)
	return ok && role == RoleLocal
}

const natUnreadable = "ports published by NAT rules alone (Docker without its proxy, CNI portmap) are not shown: reading the rules needs root (CAP_NET_ADMIN)"

// natWarning says what an unreadable rule set hides, where it matters: a
// port query that found no listener may be missing a port that NAT rules
// alone publish.
func natWarning(err error, rep *Report, q *Query) []string {
	switch {
	case q.Ports != nil && slices.ContainsFunc(rep.Sockets, func(s Socket) bool { return s.Role == RoleLocal }):
		return nil
	case errors.Is(err, fs.ErrPermission):
		return []string{natUnreadable}
	case errors.Is(err, platform.ErrLegacyNAT):
		return []string{"ports published by NAT rules of iptables-legacy are not shown: " + err.Error()}
	}
	return []string{fmt.Sprintf("ports published by NAT rules are not shown: %v", err)}
}

// reach finds the listeners behind every publication of the report, and
// their processes, and names the container of a namespace the runtimes'
// state did not.
func reach(ctx context.Context, src Source, fwd platform.Forwarder, q *Query, rep *Report) {
	pubs := rep.Publications()
	if len(pubs) == 0 {
		return
	}
	if fwd == nil {
		var ok bool
		if fwd, ok = src.(platform.Forwarder); !ok {
			return
		}
	}
	type target struct {
		proto string
		addr  netip.AddrPort
	}
	found := make(map[target][]platform.Socket)
	var all []platform.Socket
	for _, p := range pubs {
		t := target{p.Protocol, netip.AddrPortFrom(p.ContainerAddr, p.ContainerPort)}
		if _, ok := found[t]; ok || !p.ContainerAddr.IsValid() {
			continue
		}
		proto := platform.TCP
		if p.Protocol == "udp" {
			proto = platform.UDP
		}
		socks, err := fwd.Reached(ctx, proto, t.addr)
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("what listens behind %s/%s is unknown: %v", t.addr, t.proto, err))
		}
		found[t] = socks
		all = append(all, socks...)
	}
	var procs map[int]*Process
	if len(all) > 0 && !q.NoProcesses {
		procs = readProcesses(src, all, q.Detail)
	}
	for _, p := range pubs {
		for _, s := range found[target{p.Protocol, netip.AddrPortFrom(p.ContainerAddr, p.ContainerPort)}] {
			sock := Socket{Socket: s, Exposure: exposureOf(&s)}
			for _, pid := range s.PIDs {
				if proc := procs[pid]; proc != nil {
					sock.Processes = append(sock.Processes, proc)
				}
			}
			p.Listeners = append(p.Listeners, sock)
			if p.Container == nil {
				p.Container = sock.Container()
			}
		}
	}
}
