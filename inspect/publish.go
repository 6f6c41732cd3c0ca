package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
)

// Publication is a host port published to a container's port, or to
// another network namespace's, with what listens behind it.
//
// A Publication's listeners are final when each is held by known
// processes none of which forwards on (finalListeners).
type Publication struct {
	container.Publication
	// Listeners are the sockets that take what is forwarded, in the
	// namespace that holds the container's address, with their
	// processes; none when nothing listens there or it could not be
	// told.
	Listeners []Socket
	// ListenersUnknown says why what listens behind could not be told;
	// "" when Listeners is the answer.
	ListenersUnknown string
}

// publish finds what the report's ports are published to: what the
// processes holding its listeners forward (docker-proxy), and the NAT
// rules that forward its ports, whether a process holds the port for them
// (Podman's conmon, dockerd) or none does. A rule that no listed socket
// holds is a publication of its own (rep.Published), for a query about
// ports that keeps listeners whoever holds them, and for an audit: there
// the port answers, though nothing listens on it.
func publish(ctx context.Context, src Source, q *Query, f platform.Filter, rep *Report) {
	byHolder := false
	for i := range rep.Sockets {
		s := &rep.Sockets[i]
		if !s.Listening() {
			continue
		}
		for _, p := range s.Processes {
			if fw := p.Forward; fw != nil && fw.HostPort == 0 {
				byHolder = true
			} else if fw != nil && fw.HostPort == s.Local.Port() && fw.Protocol == s.Protocol.String() {
				s.Published = append(s.Published, &Publication{Publication: *fw})
			}
		}
	}
	fwd, ok := src.(platform.Forwarder)
	if !ok {
		return
	}
	if q.Ports != nil || byHolder || q.everyPublication {
		rules, err := fwd.Publications(ctx, f)
		// The rules judge other namespaces' listeners (audit) only when
		// they are the host's, read whole.
		rep.natRead = err == nil && q.Netns == ""
		if err != nil {
			rep.Warnings = append(rep.Warnings, natWarning(err, rep, q, byHolder)...)
		}
		unheld := (q.everyPublication || q.Ports != nil) && !q.filtersOwners()
		for _, rule := range rules {
			switch {
			case attach(rep.Sockets, rule, q.Netns != ""):
			case unheld && q.selectsPublication(rule, f):
				rep.Published = append(rep.Published, &Publication{Publication: rule})
			case q.everyPublication:
				// An audit narrowed by owner, port or family leaves out a
				// rule that may reach a listener it shows: the rules no
				// longer tell what is unpublished.
				rep.natRead = false
			}
		}
	}
	reach(ctx, src, fwd, q, f, rep)
}

// attach adds a NAT rule's publication to every listener that holds its
// host port for it, as conmon does, at the rule's address and family, and
// reports whether one does or already forwards the same (docker-proxy
// does, beside Docker's own rule). The rules are this namespace's, and
// hold for its sockets alone, unless every socket is of the one namespace
// asked for (onlyNetns), whose rules they are.
func attach(socks []Socket, rule container.Publication, onlyNetns bool) bool {
	held := false
	host := rule.Host()
	for i := range socks {
		s := &socks[i]
		if !s.Listening() || s.Role != RoleLocal || s.Local.Port() != rule.HostPort || s.Protocol.String() != rule.Protocol ||
			!s.At(host.Addr()) || !onlyNetns && s.Netns != nil && !s.Netns.Own {
			continue
		}
		if slices.ContainsFunc(s.Published, func(p *Publication) bool {
			return p.ContainerAddr == rule.ContainerAddr && p.ContainerPort == rule.ContainerPort
		}) {
			held = true
			continue
		}
		for _, p := range s.Processes {
			if fw := p.Forward; fw != nil && fw.HostPort == 0 {
				pub := rule
				pub.Via = fw.Via
				if fw.Container != nil {
					pub.Container = fw.Container
				}
				s.Published = append(s.Published, &Publication{Publication: pub})
				held = true
				break
			}
		}
	}
	return held
}

// finalListeners reports whether what listens behind p is known to end
// there: found, each held by processes read, none of them a forwarder of
// its own (Docker in Docker's docker-proxy or dockerd, a nested conmon),
// by executable name, whether or not in a container.
func (p *Publication) finalListeners() bool {
	if p.ListenersUnknown != "" || p.ContainerAddr.IsValid() && len(p.Listeners) == 0 {
		return false
	}
	for _, l := range p.Listeners {
		if l.Owners != platform.OwnersKnown || len(l.Processes) == 0 || slices.ContainsFunc(l.Processes, forwarder) {
			return false
		}
	}
	return true
}

// forwarder reports whether a process passes connections on: it forwards
// for a container, or is a runtime's forwarder by name.
func forwarder(p *Process) bool {
	switch path.Base(p.Exe) {
	case "docker-proxy", "dockerd", "conmon", "rootlessport", "slirp4netns", "pasta":
		return true
	}
	return p.Forward != nil
}

// selectsPublication reports whether q and its filter f keep a NAT
// rule's host port, as they would a listener there: its port (and
// address), protocol, family and a listening state.
func (q *Query) selectsPublication(p container.Publication, f platform.Filter) bool {
	proto, ok := platform.ProtocolNamed(p.Protocol)
	if !ok {
		return false
	}
	s := Socket{Socket: platform.Socket{Protocol: proto, Family: platform.IPv4, State: platform.Listen, Local: p.Host()}}
	if proto == platform.UDP {
		s.State = platform.Unconnected
	}
	if s.Local.Addr().Is6() {
		s.Family = platform.IPv6
	}
	if !f.Match(&s.Socket) || q.onlyIPv4() && s.Family == platform.IPv6 {
		return false
	}
	if q.Ports == nil {
		return true
	}
	role, ok := q.role(&s, nil)
	return ok && role == RoleLocal
}

// natAloneHidden is what NAT rules that could not be read hide.
const natAloneHidden = "ports published by NAT rules alone (Docker without its proxy, CNI portmap) are not shown"

// natUnreadable is the warning of a run without CAP_NET_ADMIN.
const natUnreadable = natAloneHidden + ": reading the rules needs root (CAP_NET_ADMIN)"

// natWarning says what rules that could not be read hide, where it
// matters: an audit, a port asked for that no listener answers (NAT rules
// alone may publish it), and a port held for NAT rules (conmon, dockerd,
// byHolder), whose container they would name. Destination NAT rules that
// publish no one port (kube-proxy's) are no news.
func natWarning(err error, rep *Report, q *Query, byHolder bool) []string {
	legacy := errors.Is(err, platform.ErrLegacyNAT)
	if !legacy && errors.Is(err, platform.ErrUnparsedNAT) {
		return nil
	}
	missing := q.everyPublication || q.Ports != nil && slices.ContainsFunc(q.Ports, func(r PortRange) bool {
		return !slices.ContainsFunc(rep.Sockets, func(s Socket) bool { return s.Role == RoleLocal && r.Selects(&s) })
	})
	switch {
	case !missing && !byHolder:
		return nil
	case legacy:
		return []string{"ports published by iptables-legacy's NAT rules are not shown: its nat table holds rules, which portinspect does not read"}
	case !missing:
		what := "the containers that ports held by conmon or dockerd forward to are not named"
		if errors.Is(err, fs.ErrPermission) {
			return []string{what + ": reading the NAT rules needs root (CAP_NET_ADMIN)"}
		}
		return []string{fmt.Sprintf("%s: %v", what, err)}
	case errors.Is(err, fs.ErrPermission):
		return []string{natUnreadable}
	}
	return []string{fmt.Sprintf("%s: %v", natAloneHidden, err)}
}

// reach finds the listeners behind every publication of the report, and
// their processes, and names the container of a namespace the runtimes'
// state did not.
func reach(ctx context.Context, src Source, fwd platform.Forwarder, q *Query, f platform.Filter, rep *Report) {
	pubs := rep.Publications()
	var targets []platform.Target
	for _, p := range pubs {
		proto, ok := platform.ProtocolNamed(p.Protocol)
		t := platform.Target{Protocol: proto, Addr: netip.AddrPortFrom(p.ContainerAddr, p.ContainerPort)}
		if ok && p.ContainerAddr.IsValid() && !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return
	}
	reached, err := fwd.Reached(ctx, f, targets)
	if err != nil {
		for _, p := range pubs {
			if p.ContainerAddr.IsValid() {
				p.ListenersUnknown = err.Error()
			}
		}
		return
	}
	var all []platform.Socket
	for _, r := range reached {
		all = append(all, r.Sockets...)
	}
	var procs map[int]*Process
	if len(all) > 0 && !q.NoProcesses {
		procs = readProcesses(src, all, q.Detail)
	}
	for _, p := range pubs {
		proto, _ := platform.ProtocolNamed(p.Protocol)
		r := reached[platform.Target{Protocol: proto, Addr: netip.AddrPortFrom(p.ContainerAddr, p.ContainerPort)}]
		p.ListenersUnknown = r.Unknown
		for _, s := range r.Sockets {
			sock := Socket{Socket: s, Exposure: exposureOf(&s)}
			for _, pid := range s.PIDs {
				if proc := procs[pid]; proc != nil {
					sock.Processes = append(sock.Processes, proc)
				}
			}
			if sock.Owners == platform.OwnersKnown && len(sock.Processes) == 0 && !q.NoProcesses {
				sock.Owners = platform.OwnersNone // every holder exited since
			}
			p.Listeners = append(p.Listeners, sock)
			if p.Container == nil {
				p.Container = sock.Container()
			}
		}
	}
}
