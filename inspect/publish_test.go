package inspect

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/platformtest"
)

// publishedMachine has a port conmon holds for NAT rules, one docker-proxy
// forwards (beside Docker's rule for it), a UDP port that NAT rules
// forward away from the program listening on it, and a port that NAT
// rules alone publish.
func publishedMachine() *platformtest.Fake {
	pweb1 := &container.Container{Runtime: container.Podman, ID: "1c89e3f730d6cf132b1352ad1c315e78d972f253c03a784536e023cb6725538f", Name: "pweb1"}
	web1 := &container.Container{Runtime: container.Docker, ID: "294b6b6a799661c93e87e14371e222e6097f91e2c8509f1a7e00710b6ba700a7", Name: "web1"}
	nat := func(proto, host string, port uint16, to string) container.Publication {
		p := container.Publication{Protocol: proto, HostPort: port, Via: container.ViaNAT}
		if host != "*" {
			p.HostAddr = netip.MustParseAddr(host)
		}
		ap := netip.MustParseAddrPort(to)
		p.ContainerAddr, p.ContainerPort = ap.Addr(), ap.Port()
		return p
	}
	inPod := platformtest.Sock(platform.TCP, "0.0.0.0:8080", "0.0.0.0:0", platform.Listen, 4)
	inPod.Netns = &platform.Netns{Inode: 4026532174, Name: "netns-d24ac46f", Container: pweb1}
	inTestNS := platformtest.Sock(platform.TCP, "10.200.0.2:8080", "0.0.0.0:0", platform.Listen, 5)
	inTestNS.Netns = &platform.Netns{Inode: 4026532300, Name: "pi-test"}
	return &platformtest.Fake{
		SocketList: []platform.Socket{
			platformtest.Sock(platform.TCP, "127.0.0.1:18090", "0.0.0.0:0", platform.Listen, 1),
			platformtest.Sock(platform.TCP, "127.0.0.1:18080", "0.0.0.0:0", platform.Listen, 2),
			platformtest.Sock(platform.UDP, "0.0.0.0:18090", "0.0.0.0:0", platform.Unconnected, 3),
		},
		Holders: map[uint64][]int{1: {10}, 2: {20}, 3: {30}, 4: {40}, 5: {50}},
		Processes: map[int]platform.Process{
			10: {PID: 10, Name: "conmon", Forward: &container.Publication{Container: pweb1, Via: container.ViaConmon}},
			20: {PID: 20, Name: "docker-proxy", Forward: &container.Publication{Protocol: "tcp", HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: 18080,
				Container: web1, ContainerAddr: netip.MustParseAddr("172.17.0.2"), ContainerPort: 8080, Via: container.ViaDockerProxy}},
			30: {PID: 30, Name: "dnsmasq"},
			40: {PID: 40, Name: "httpd", Container: pweb1},
			50: {PID: 50, Name: "portinspect.test"},
		},
		NAT: []container.Publication{
			nat("tcp", "127.0.0.1", 18090, "10.88.0.2:8080"),
			nat("tcp", "127.0.0.1", 18080, "172.17.0.2:8080"),
			nat("tcp", "10.200.0.1", 18081, "10.200.0.2:8080"),
			nat("udp", "*", 18090, "10.88.0.2:53"),
			nat("tcp", "*", 9999, "10.88.0.3:80"),
		},
		Behind: map[netip.AddrPort][]platform.Socket{
			netip.MustParseAddrPort("10.88.0.2:8080"):  {inPod},
			netip.MustParseAddrPort("10.200.0.2:8080"): {inTestNS},
		},
		Machine: platform.Host{OS: "linux", Privileged: true},
	}
}

// describePub is a publication in one line: where from, to which
// container and address, by what, and who listens there.
func describePub(p *Publication) string {
	name := "-"
	if p.Container != nil {
		name = p.Container.Label()
	}
	var who []string
	for _, l := range p.Listeners {
		for _, proc := range l.Processes {
			who = append(who, fmt.Sprintf("%s@%s", proc.Name, l.Netns.Label()))
		}
	}
	return fmt.Sprintf("%s %s:%d -> %s %s:%d via %s %v", p.Protocol, p.HostAddr, p.HostPort, name, p.ContainerAddr, p.ContainerPort, p.Via, who)
}

func TestPublish(t *testing.T) {
	ports, err := ParsePortSpec("18080,18081,18090", Names{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), publishedMachine(), nil, Query{Ports: ports, Detail: platform.DetailFull})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Sockets {
		for _, p := range s.Published {
			got = append(got, s.LocalName()+"/"+s.Protocol.String()+": "+describePub(p))
		}
	}
	for _, p := range rep.Published {
		got = append(got, "unheld: "+describePub(p))
	}
	want := []string{
		// Docker's rule says what docker-proxy does: once.
		"127.0.0.1:18080/tcp: tcp 127.0.0.1:18080 -> web1 172.17.0.2:8080 via docker-proxy []",
		// conmon holds the port, the rule forwards it, to conmon's container.
		"127.0.0.1:18090/tcp: tcp 127.0.0.1:18090 -> pweb1 10.88.0.2:8080 via conmon [httpd@netns-d24ac46f]",
		// dnsmasq holds 18090/udp but forwards nothing.
		"unheld: tcp 10.200.0.1:18081 -> - 10.200.0.2:8080 via nat [portinspect.test@pi-test]",
		"unheld: udp invalid IP:18090 -> - 10.88.0.2:53 via nat []",
	}
	if !slices.Equal(got, want) {
		t.Errorf("publications\n %q\nwant\n %q", got, want)
	}

	// An address asked for narrows the rules as it does the sockets.
	ports, _ = ParsePortSpec("127.0.0.1:18081", Names{})
	if rep, err = Run(context.Background(), publishedMachine(), nil, Query{Ports: ports}); err != nil {
		t.Fatal(err)
	}
	if len(rep.Published) != 0 {
		t.Errorf("127.0.0.1:18081 is published on 10.200.0.1 only, yet: %s", describePub(rep.Published[0]))
	}
}

// TestPublishUnreadable: rules that cannot be read leave a warning only
// where a port may be missing for it.
func TestPublishUnreadable(t *testing.T) {
	for _, tt := range []struct {
		spec string
		warn bool
	}{
		{"18081", true},
		{"18080", false}, // a listener answers
	} {
		m := publishedMachine()
		m.NAT, m.NATErr = nil, fmt.Errorf("reading NAT rules: %w", fs.ErrPermission)
		ports, _ := ParsePortSpec(tt.spec, Names{})
		rep, err := Run(context.Background(), m, nil, Query{Ports: ports})
		if err != nil {
			t.Fatal(err)
		}
		warned := slices.ContainsFunc(rep.Warnings, func(w string) bool { return w == natUnreadable })
		if warned != tt.warn {
			t.Errorf("port %s: warnings %q, want the NAT one: %v", tt.spec, rep.Warnings, tt.warn)
		}
	}
}

// TestPublishMatching: a forward or rule holds for the sockets of its
// port, protocol and family alone, every one of them; a query that keeps
// sockets by owner or by a state no listener is in has no port that NAT
// rules alone publish; a listener that could not be told says why.
func TestPublishMatching(t *testing.T) {
	m := publishedMachine()
	// docker-proxy, as before, on 18080/tcp, and the same process on
	// 18080/udp and 18082/tcp, which it forwards nothing from.
	m.SocketList = append(m.SocketList,
		platformtest.Sock(platform.UDP, "127.0.0.1:18080", "0.0.0.0:0", platform.Unconnected, 6),
		platformtest.Sock(platform.TCP, "127.0.0.1:18082", "0.0.0.0:0", platform.Listen, 7),
		// conmon on [::]:18090 too, IPv6 only, for the IPv6 rule.
		platformtest.Sock(platform.TCP, "[::]:18090", "[::]:0", platform.Listen, 8))
	m.Holders[6], m.Holders[7], m.Holders[8] = []int{20}, []int{20}, []int{10}
	m.NAT = append(m.NAT, container.Publication{Protocol: "tcp", HostAddr: netip.MustParseAddr("::1"), HostPort: 18090,
		ContainerAddr: netip.MustParseAddr("fd00::2"), ContainerPort: 8080, Via: container.ViaNAT})
	m.BehindUnknown = map[netip.AddrPort]string{netip.MustParseAddrPort("[fd00::2]:8080"): "1 network namespace could not be entered"}
	ports, _ := ParsePortSpec("18080,18082,18090/tcp,18080/udp", Names{})
	rep, err := Run(context.Background(), m, nil, Query{Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range rep.Sockets {
		var pubs []string
		for _, p := range s.Published {
			pubs = append(pubs, p.ContainerAddr.String()+" "+p.ListenersUnknown)
		}
		got[s.LocalName()+"/"+s.Protocol.String()] = strings.Join(pubs, "; ")
	}
	want := map[string]string{
		"127.0.0.1:18080/tcp": "172.17.0.2 ",
		"127.0.0.1:18080/udp": "",
		"127.0.0.1:18082/tcp": "",
		"127.0.0.1:18090/tcp": "10.88.0.2 ",
		"[::]:18090/tcp":      "fd00::2 1 network namespace could not be entered",
	}
	if !maps.Equal(got, want) {
		t.Errorf("publications by socket\n %q\nwant\n %q", got, want)
	}

	ports, _ = ParsePortSpec("18081", Names{})
	for _, q := range []Query{
		{Ports: ports, Processes: []string{"nginx"}},
		{Ports: ports, PIDs: []int{50}},
		{Ports: ports, States: platform.States(0).With(platform.Established)},
	} {
		rep, err := Run(context.Background(), publishedMachine(), nil, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Published) != 0 {
			t.Errorf("%+v: published %s", q, describePub(rep.Published[0]))
		}
	}
}
