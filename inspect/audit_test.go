package inspect

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/platformtest"
)

func TestAuditRules(t *testing.T) {
	a, err := RunAudit(context.Background(), platformtest.Risky(), knownports.Default(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range a.Findings {
		got = append(got, f.Severity.String()+" "+f.Rule+" "+findingWhere(f))
	}
	want := []string{
		"high exposed-risky-service 2049/udp", // NFS: its note's risk
		"high suspicious-executable 4747/tcp",
		"high suspicious-executable 4748/tcp",
		"medium exposed-risky-service 3372/tcp",
		"medium ownerless-listener 8123/tcp",
		"info ownerless-listener 2049/udp", // the kernel's nfsd: named, not alarming
		"info unknown-listener 8123/tcp",
		"info unknown-listener 47002/tcp", // the ephemeral-range note names no service
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range a.Findings {
		// Every finding says what to do, on this platform first.
		if len(f.Advice) == 0 || f.Advice[0].Platform != "linux" {
			t.Errorf("%s %s: advice %+v", f.Rule, findingWhere(f), f.Advice)
		}
		switch f.Rule {
		case RuleExposedRiskyService:
			if f.Port != 3372 {
				continue
			}
			if !strings.Contains(f.Message, "MSDTC TIP listener is reachable beyond loopback on 0.0.0.0:3372") ||
				len(f.Advice) == 0 || f.Advice[0].Platform != "linux" || len(f.Processes) != 1 || f.Processes[0].PID != 10 {
				t.Errorf("exposed finding %+v", f)
			}
			if len(f.Sockets) != 1 || f.Sockets[0].Local.Port() != 3372 {
				t.Errorf("the established socket on 3372 is not a listener: %+v", f.Sockets)
			}
			// One process holds it: its PID is in the commands, and the
			// shared note keeps its placeholder.
			var cmds []string
			for _, a := range f.Advice {
				cmds = append(cmds, a.Commands...)
			}
			note := knownports.Default().Port(3372).Notes[0]
			if !slices.Contains(cmds, `tasklist /svc /FI "PID eq 10"`) || !strings.Contains(fmt.Sprint(note.Advice), "<PID>") {
				t.Errorf("commands %q", cmds)
			}
		case RuleOwnerlessListener:
			if f.Port == 2049 && !strings.Contains(f.Message, "kernel NFS server") {
				t.Errorf("nfsd finding %q", f.Message)
			}
		case RuleSuspiciousExecutable:
			if f.Port == 4747 && !strings.Contains(f.Message, "temporary directory /tmp/.x") ||
				f.Port == 4748 && !strings.Contains(f.Message, "deleted") {
				t.Errorf("suspicious finding %q", f.Message)
			}
			if !slices.Contains(f.Advice[0].Commands, fmt.Sprintf("ps -o pid,ppid,user,lstart,args -p %d", f.Processes[0].PID)) {
				t.Errorf("suspicious finding's advice does not look at pid %d: %+v", f.Processes[0].PID, f.Advice)
			}
		}
	}
	if worst, ok := a.Worst(); !ok || worst != knownports.RiskHigh || a.Count(knownports.RiskHigh) != 3 {
		t.Errorf("worst %v %v, high count %d", worst, ok, a.Count(knownports.RiskHigh))
	}
}

// TestAuditUpgradedDaemon tells a daemon whose executable an upgrade
// replaced (low: restart it) from one whose executable is gone (high), and
// still finds it by its path.
func TestAuditUpgradedDaemon(t *testing.T) {
	m := &platformtest.Fake{
		SocketList: []platform.Socket{
			platformtest.Sock(platform.TCP, "127.0.0.1:8001", "0.0.0.0:0", platform.Listen, 1),
			platformtest.Sock(platform.TCP, "127.0.0.1:8002", "0.0.0.0:0", platform.Listen, 2),
			platformtest.Sock(platform.TCP, "127.0.0.1:8003", "0.0.0.0:0", platform.Listen, 3),
		},
		Holders: map[uint64][]int{1: {10}, 2: {20}, 3: {30}},
		Processes: map[int]platform.Process{
			10: {PID: 10, Name: "upgraded", Exe: "/usr/sbin/upgraded", ExeDeleted: true, ExeReplaced: true},
			20: {PID: 20, Name: "vanished", Exe: "/usr/sbin/vanished", ExeDeleted: true},
			// Replaced, but in /tmp: the directory decides, and the advice
			// says the same as the finding.
			30: {PID: 30, Name: "dropper", Exe: "/tmp/dropper", ExeDeleted: true, ExeReplaced: true},
		},
		Machine: platform.Host{OS: "linux", Privileged: true},
	}
	a, err := RunAudit(context.Background(), m, knownports.Default(), Query{Processes: []string{"/usr/sbin/upgraded", "vanished", "dropper"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range a.Findings {
		got = append(got, fmt.Sprintf("%s %s %d %s", f.Severity, f.Rule, f.Port, f.Advice[0].Text[:12]))
	}
	want := []string{
		"high suspicious-executable 8002 Nothing is a",
		"high suspicious-executable 8003 A program th",
		"low suspicious-executable 8001 A file is at",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

func findingWhere(f Finding) string {
	if f.Port == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%s", f.Port, f.Protocol)
}

func TestAuditUnprivileged(t *testing.T) {
	m := platformtest.Risky()
	m.Machine.Privileged = false
	m.Unreadable = map[uint64]bool{6: true}
	a, err := RunAudit(context.Background(), m, knownports.Default(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	var partial []Finding
	for _, f := range a.Findings {
		if f.Rule == RulePartialCoverage {
			partial = append(partial, f)
		}
		if f.Rule == RuleOwnerlessListener {
			t.Errorf("without privilege a listener without a visible owner is not ownerless: %+v", f)
		}
	}
	if len(partial) != 1 || partial[0].Severity != knownports.RiskInfo ||
		!strings.Contains(partial[0].Message, "the owners of 1 listener are hidden; run as root") {
		t.Errorf("partial coverage findings %+v", partial)
	}
}

func TestAuditDualStackIsAll(t *testing.T) {
	m := &platformtest.Fake{
		SocketList: []platform.Socket{platformtest.Sock(platform.TCP, "[::]:445", "[::]:0", platform.Listen, 1)},
		Holders:    map[uint64][]int{1: {4}},
		Processes:  map[int]platform.Process{4: {PID: 4, Name: "smbd"}},
		Machine:    platform.Host{OS: "linux", Privileged: true},
	}
	a, err := RunAudit(context.Background(), m, knownports.Default(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Findings) != 1 || a.Findings[0].Rule != RuleExposedRiskyService || a.Findings[0].Severity != knownports.RiskHigh {
		t.Errorf("[::]:445 findings %+v, want SMB exposed, high", a.Findings)
	}
}

func TestGroupAdvice(t *testing.T) {
	adv := func(platform, text string) knownports.Advice {
		return knownports.Advice{Platform: platform, Text: text}
	}
	advice := []knownports.Advice{adv("windows", "w1"), adv("any", "a1"), adv("linux", "l1"), adv("windows", "w2"), adv("macos", "m1"), adv("linux", "l2")}
	describe := func(groups []AdviceGroup) string {
		var parts []string
		for _, g := range groups {
			var steps []string
			for _, s := range g.Steps {
				steps = append(steps, s.Text)
			}
			parts = append(parts, g.Platform+":"+strings.Join(steps, ","))
		}
		return strings.Join(parts, " ")
	}
	for here, want := range map[string]string{
		"linux":   "linux:l1,l2,a1 windows:w1,w2 macos:m1",
		"windows": "windows:w1,w2,a1 linux:l1,l2 macos:m1",
		"freebsd": "freebsd:a1 windows:w1,w2 linux:l1,l2 macos:m1",
	} {
		if got := describe(GroupAdvice(advice, here)); got != want {
			t.Errorf("on %s: %s, want %s", here, got, want)
		}
	}
	if got := describe(GroupAdvice(advice[:1], "linux")); got != "windows:w1" {
		t.Errorf("nothing for here: %s", got)
	}
}

// TestAuditContainers: Redis on 0.0.0.0 in the network namespace of a
// container that Docker says publishes no port is reachable from this host
// and its bridge only (the note's risk on loopback); published on every
// address by docker-proxy it is the note's full risk, naming the
// container, with the advice to publish on 127.0.0.1 first; in a
// namespace nothing says is unpublished, the full risk too.
func TestAuditContainers(t *testing.T) {
	cache := &container.Container{Runtime: container.Docker, ID: strings.Repeat("cd", 32), Name: "cache", BindingsKnown: true}
	web1 := &container.Container{Runtime: container.Docker, ID: strings.Repeat("ab", 32), Name: "web1", BindingsKnown: true,
		Bindings: []container.Binding{{Protocol: "tcp", ContainerPort: 6379, HostPort: 6379}}}
	inCache := platformtest.Sock(platform.TCP, "0.0.0.0:6379", "0.0.0.0:0", platform.Listen, 1)
	inCache.Netns = &platform.Netns{Inode: 4026532240, Name: "e150162819d6", Isolated: true}
	inPod := platformtest.Sock(platform.TCP, "0.0.0.0:5432", "0.0.0.0:0", platform.Listen, 3)
	inPod.Netns = &platform.Netns{Inode: 4026532241, PID: 4242}
	m := &platformtest.Fake{
		SocketList: []platform.Socket{inCache, platformtest.Sock(platform.TCP, "0.0.0.0:6379", "0.0.0.0:0", platform.Listen, 2), inPod},
		Holders:    map[uint64][]int{1: {10}, 2: {20}, 3: {30}},
		Processes: map[int]platform.Process{
			10: {PID: 10, Name: "redis-server", Exe: "/usr/local/bin/redis-server", Container: cache},
			20: {PID: 20, Name: "docker-proxy", Exe: "/usr/sbin/docker-proxy", Forward: &container.Publication{
				Protocol: "tcp", HostPort: 6379, Container: web1, ContainerAddr: netip.MustParseAddr("172.17.0.2"), ContainerPort: 6379, Via: "docker-proxy"}},
			30: {PID: 30, Name: "postgres", Exe: "/usr/lib/postgresql/16/bin/postgres"},
		},
		Machine: platform.Host{OS: "linux", Privileged: true},
	}
	a, err := RunAudit(context.Background(), m, knownports.Default(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range a.Findings {
		if f.Rule == RuleExposedRiskyService {
			got = append(got, fmt.Sprintf("%s | %s | %.42s", f.Severity, f.Message, f.Advice[0].Text))
		}
	}
	want := []string{
		"critical | Redis server is reachable beyond loopback on 0.0.0.0:6379, published to container web1 port 6379/tcp | Publish the container's port on 127.0.0.1 ",
		knownports.Default().Port(5432).Only("tcp").Notes[0].Risk.String() + " | " + knownports.Default().Port(5432).Only("tcp").Notes[0].Title +
			" listens on 0.0.0.0:5432 in network namespace pid 4242, held by postgres (pid 30): reachable from other machines if that namespace has an interface or a published port of theirs | " +
			fmt.Sprintf("%.42s", AdvicePlatformFirst(knownports.Default().Port(5432).Only("tcp").Notes[0].Advice, "linux")[0].Text),
		"low | Redis server listens on 0.0.0.0:6379 in network namespace e150162819d6 (container cache), held by redis-server (pid 10), which publishes no port: reachable from this host and that namespace's network (a container bridge), not from other machines (unless they route to it through this host) | " +
			fmt.Sprintf("%.42s", AdvicePlatformFirst(knownports.Default().Port(6379).Only("tcp").Notes[0].Advice, "linux")[0].Text),
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n %q\nwant\n %q", got, want)
	}
}

// TestAuditPublishedNetns: Redis in three Podman containers, whose
// runtime keeps no published ports, judged by the NAT rules that reach
// them: published on every address by NAT rules alone, published on
// loopback (conmon holding the port), and published by none. Without the
// rules, nothing says the last is unpublished.
func TestAuditPublishedNetns(t *testing.T) {
	machine := func() *platformtest.Fake {
		m := &platformtest.Fake{
			Holders:   map[uint64][]int{1: {10}},
			Processes: map[int]platform.Process{10: {PID: 10, Name: "conmon", Exe: "/usr/bin/conmon", UID: 0, Forward: &container.Publication{Via: container.ViaConmon}}},
			Behind:    map[netip.AddrPort][]platform.Socket{},
			Machine:   platform.Host{OS: "linux", Privileged: true},
		}
		m.SocketList = append(m.SocketList, platformtest.Sock(platform.TCP, "127.0.0.1:16379", "0.0.0.0:0", platform.Listen, 1))
		for i, name := range []string{"wide", "local", "none"} {
			c := &container.Container{Runtime: container.Podman, ID: strings.Repeat(strconv.Itoa(i+1), 64), Name: name}
			s := platformtest.Sock(platform.TCP, "0.0.0.0:6379", "0.0.0.0:0", platform.Listen, uint64(i+2))
			s.Netns = &platform.Netns{Inode: uint64(4026532200 + i), Name: "netns-" + name, Container: c, Isolated: true}
			m.SocketList = append(m.SocketList, s)
			pid := 20 + i
			m.Holders[s.Inode] = []int{pid}
			m.Processes[pid] = platform.Process{PID: pid, Name: "redis-server", Exe: "/usr/bin/redis-server", Container: c}
			m.Behind[netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 88, 0, byte(i + 2)}), 6379)] = []platform.Socket{s}
		}
		m.NAT = []container.Publication{
			{Protocol: "tcp", HostPort: 26379, ContainerAddr: netip.MustParseAddr("10.88.0.2"), ContainerPort: 6379, Via: container.ViaNAT},
			{Protocol: "tcp", HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: 16379, ContainerAddr: netip.MustParseAddr("10.88.0.3"), ContainerPort: 6379, Via: container.ViaNAT},
		}
		return m
	}
	findings := func(m *platformtest.Fake) []string {
		t.Helper()
		a, err := RunAudit(context.Background(), m, knownports.Default(), Query{AllNetns: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range a.Findings {
			if f.Rule == RuleExposedRiskyService && f.Port == 6379 {
				got = append(got, fmt.Sprintf("%s | %s | %.52s", f.Severity, f.Message, f.Advice[0].Text))
			}
		}
		return got
	}
	const redis = "Redis server listens on 0.0.0.0:6379 in network namespace "
	first := fmt.Sprintf("%.52s", AdvicePlatformFirst(knownports.Default().Port(6379).Only("tcp").Notes[0].Advice, "linux")[0].Text)
	want := []string{
		"critical | " + redis + "netns-wide (container wide), held by redis-server (pid 20), published on *:26379/tcp: reachable from other machines | Publish the container's port on 127.0.0.1 only, so t",
		"low | " + redis + "netns-local (container local), held by redis-server (pid 21), published on 127.0.0.1:16379/tcp only: reachable from this host and that namespace's network (a container bridge), not from other machines (unless they route to it through this host) | " + first,
		"low | " + redis + "netns-none (container none), held by redis-server (pid 22), which publishes no port: reachable from this host and that namespace's network (a container bridge), not from other machines (unless they route to it through this host) | " + first,
	}
	if got := findings(machine()); !slices.Equal(got, want) {
		t.Errorf("findings\n %q\nwant\n %q", got, want)
	}

	// A namespace with an interface of its own (macvlan, a public
	// address), or a pod's, which a cluster routes to, is not judged by
	// its publications on loopback or none; nor is any when a rule's
	// listener could not be told, or forwards on, or the audit left a rule
	// out: that rule may lead to this one.
	const unknownSuffix = ": reachable from other machines if that namespace has an interface or a published port of theirs | "
	unknown := "critical | " + redis + "netns-local (container local), network namespace netns-none (container none), held by redis-server (pid 21), redis-server (pid 22)" + unknownSuffix + first
	for name, change := range map[string]func(m *platformtest.Fake){
		"not isolated": func(m *platformtest.Fake) {
			for i := range m.SocketList {
				if ns := m.SocketList[i].Netns; ns != nil {
					ns.Isolated = false
				}
			}
		},
		"pods": func(m *platformtest.Fake) {
			for i := range m.SocketList {
				if ns := m.SocketList[i].Netns; ns != nil {
					ns.Container.Pod = "web-0"
				}
			}
		},
		"a pod by its cgroup": func(m *platformtest.Fake) {
			for i := range m.SocketList {
				if ns := m.SocketList[i].Netns; ns != nil {
					ns.Container.PodUID = "0f4c5e2a-9b1d-4c3e-8f7a-6b5d4c3e2f10"
				}
			}
		},
		"a rule's listener unknown": func(m *platformtest.Fake) {
			m.NAT = append(m.NAT, container.Publication{Protocol: "tcp", HostPort: 36379, ContainerAddr: netip.MustParseAddr("10.88.0.9"), ContainerPort: 6379, Via: container.ViaNAT})
			m.BehindUnknown = map[netip.AddrPort]string{netip.MustParseAddrPort("10.88.0.9:6379"): "2 network namespaces hold 10.88.0.9"}
		},
		"a rule's listener forwards on": func(m *platformtest.Fake) {
			proxy := platformtest.Sock(platform.TCP, "0.0.0.0:6380", "0.0.0.0:0", platform.Listen, 40)
			m.Holders[40] = []int{40}
			m.Processes[40] = platform.Process{PID: 40, Name: "docker-proxy", Exe: "/usr/bin/docker-proxy", UID: 0,
				Container: &container.Container{Runtime: container.Docker, ID: strings.Repeat("9", 64), Name: "dind"}}
			m.NAT = append(m.NAT, container.Publication{Protocol: "tcp", HostPort: 36380, ContainerAddr: netip.MustParseAddr("10.88.0.9"), ContainerPort: 6380, Via: container.ViaNAT})
			m.Behind[netip.MustParseAddrPort("10.88.0.9:6380")] = []platform.Socket{proxy}
		},
	} {
		m := machine()
		change(m)
		if got := findings(m); len(got) != 2 || got[1] != unknown {
			t.Errorf("%s: findings\n %q\nwant the last\n %q", name, got, unknown)
		}
	}
	// An audit narrowed to an owner leaves the rules out, and with them
	// what they tell of the others.
	a, err := RunAudit(context.Background(), machine(), knownports.Default(), Query{AllNetns: true, Processes: []string{"redis-server"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Findings {
		if f.Port == 6379 && f.Severity != knownports.Default().Port(6379).Only("tcp").Notes[0].Risk {
			t.Errorf("audit --process redis-server: %s | %s", f.Severity, f.Message)
		}
	}

	// Rules that cannot be read say nothing of the third.
	m := machine()
	m.NATErr = fmt.Errorf("reading NAT rules: %w", fs.ErrPermission)
	m.NAT = nil
	got := findings(m)
	want = []string{"critical | " + redis + "netns-wide (container wide), network namespace netns-local (container local), network namespace netns-none (container none), " +
		"held by redis-server (pid 20), redis-server (pid 21), redis-server (pid 22): reachable from other machines if that namespace has an interface or a published port of theirs | " + first}
	if !slices.Equal(got, want) {
		t.Errorf("without the rules\n %q\nwant\n %q", got, want)
	}
}
