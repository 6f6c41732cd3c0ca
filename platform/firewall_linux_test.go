package platform

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portinspect/portinspect/internal/testtools"
	"github.com/portinspect/portinspect/platform/firewall"
)

// fwNetnsCount numbers the namespaces this test process makes.
var fwNetnsCount atomic.Int64

// testNetns makes a network namespace for t, named for ip netns, with lo
// up; it is deleted when t ends.
func testNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	testtools.Need(t, "ip", "nft")
	name := fmt.Sprintf("pifw%d-%d", os.Getpid(), fwNetnsCount.Add(1))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

func run(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// inNetns runs fn on a thread in the namespace: the sockets it opens are
// that namespace's. The thread goes back to this process's namespace
// after: it may be the main thread, whose namespace /proc/self shows.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic("cannot return to this process's network namespace: " + err.Error())
		}
	}()
	fn()
}

// judgeListeners lists the listeners of namespace ns on ports, in that
// order, and judges them as a listing does, with the inspector's warnings.
func judgeListeners(t *testing.T, ns string, ports []uint16) ([]firewall.Judgement, []string) {
	t.Helper()
	in, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := MatchAll()
	f.Netns, f.States = ns, 1<<Listen
	socks, err := in.Sockets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var judged []*Socket
	for _, p := range ports {
		i := slices.IndexFunc(socks, func(s Socket) bool { return s.Local.Port() == p })
		if i < 0 {
			t.Fatalf("the listener on %d is not listed", p)
		}
		judged = append(judged, &socks[i])
	}
	return in.(FirewallJudge).Reachable(context.Background(), f, judged, make([]Holder, len(judged))), in.Warnings()
}

// TestFirewallLive writes nftables rule sets into a namespace standing for
// a host, with listeners in it, and checks each verdict and its deciding
// rule, then probes each port from a second namespace, a machine on the
// host's network: what is judged open connects, what is filtered does
// not. A third namespace stands for a container that the host publishes
// a port of by DNAT, past an input chain that would drop it.
func TestFirewallLive(t *testing.T) {
	host, client, ctr := testNetns(t), testNetns(t), testNetns(t)
	veth := func(a, b, aAddr, bAddr string) {
		// Created here and moved: named apart from this host's.
		ifa, ifb := fmt.Sprintf("pifw%d", fwNetnsCount.Add(1)), fmt.Sprintf("pifw%d", fwNetnsCount.Add(1))
		run(t, "ip", "link", "add", ifa, "netns", a, "type", "veth", "peer", "name", ifb, "netns", b)
		run(t, "ip", "-n", a, "addr", "add", aAddr, "dev", ifa)
		run(t, "ip", "-n", b, "addr", "add", bAddr, "dev", ifb)
		run(t, "ip", "-n", a, "link", "set", ifa, "up")
		run(t, "ip", "-n", b, "link", "set", ifb, "up")
	}
	veth(host, client, "10.77.0.1/24", "10.77.0.2/24")
	veth(host, ctr, "10.78.0.1/24", "10.78.0.2/24")
	run(t, "ip", "-n", ctr, "route", "add", "default", "via", "10.78.0.1")
	run(t, "ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1")

	rules := `
table inet filter {
	set trusted { type ipv4_addr; flags interval; elements = { 10.77.0.2 } }
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept
		ct state invalid drop
		iifname "lo" accept
		tcp dport 7001 accept
		tcp dport 7002 drop
		ip saddr @trusted tcp dport 7003 accept
		ip saddr 10.99.0.0/16 tcp dport 7004 accept
		ct state new tcp dport 7007 accept
		tcp dport 7008 meta mark 0x1 accept
		jump ufw-user-input
	}
	chain ufw-user-input {
		tcp dport 7005 accept
		return
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
	}
}
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport 6380 dnat to 10.78.0.2:6380
	}
}
`
	cmd := exec.Command("ip", "netns", "exec", host, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}

	ports := []uint16{6380, 7001, 7002, 7003, 7004, 7005, 7006, 7007, 7008}
	listen := func(ns, addr string) {
		inNetns(t, ns, func() {
			l, err := net.Listen("tcp4", addr)
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		})
	}
	for _, p := range ports {
		listen(host, fmt.Sprintf("0.0.0.0:%d", p))
	}
	listen(ctr, "10.78.0.2:6380")

	js, _ := judgeListeners(t, host, ports)

	want := map[uint16]struct {
		verdict firewall.Verdict
		rule    string // the deciding rule's text
		conds   []string
		connect bool // from 10.77.0.2
	}{
		6380: {firewall.Open, "policy accept", nil, true},
		7001: {firewall.Open, "tcp dport 7001 accept", nil, true},
		7002: {firewall.Filtered, "tcp dport 7002 drop", nil, false},
		7003: {firewall.Partly, "ip saddr @trusted tcp dport 7003 accept", []string{"ip saddr @trusted"}, true},
		7004: {firewall.Partly, "ip saddr 10.99.0.0/16 tcp dport 7004 accept", []string{"ip saddr 10.99.0.0/16"}, false},
		7005: {firewall.Open, "tcp dport 7005 accept", nil, true},
		7006: {firewall.Filtered, "policy drop", nil, false},
		7007: {firewall.Open, "ct state new tcp dport 7007 accept", nil, true},
		7008: {firewall.Unknown, "tcp dport 7008 meta mark accept", nil, false},
	}
	for i, p := range ports {
		w, j := want[p], js[i]
		if j.Verdict != w.verdict || j.Rule == nil || j.Rule.Text != w.rule || !slices.Equal(j.Conditions, w.conds) {
			t.Errorf("%d: %s %v (%s), rule %+v; want %s %v by %q", p, j.Verdict, j.Conditions, j.Reason, j.Rule, w.verdict, w.conds, w.rule)
		}
	}
	if j := js[0]; j.Forwarded != netip.MustParseAddrPort("10.78.0.2:6380") || !j.Bypassed || j.Rule.Chain != "forward" {
		t.Errorf("6380: forwarded to %v, bypassed %v, by %v; want 10.78.0.2:6380, bypassed, by the forward chain's policy", j.Forwarded, j.Bypassed, j.Rule)
	}
	if j := js[8]; !strings.Contains(j.Reason, "rule set too complex: meta mark") {
		t.Errorf("7008: %q, want the mark named as what stopped the evaluation", j.Reason)
	}

	// The packets themselves: from the client's namespace.
	for _, p := range ports {
		if want[p].verdict == firewall.Unknown {
			continue
		}
		var err error
		inNetns(t, client, func() {
			var c net.Conn
			c, err = net.DialTimeout("tcp4", fmt.Sprintf("10.77.0.1:%d", p), 500*time.Millisecond)
			if err == nil {
				c.Close()
			}
		})
		if connected := err == nil; connected != want[p].connect {
			t.Errorf("%d, judged %s: connected %v (%v), want %v", p, want[p].verdict, connected, err, want[p].connect)
		}
	}
}

// TestFirewallLegacyLive restores ufw's rule set (platform/firewall's
// fixture) with iptables-legacy-restore into x_tables, which nftables
// does not show, and judges listeners through iptables-legacy-save run in
// the namespace; then adds an nftables table that drops SSH: with both
// live, a packet must pass both, and a warning says so.
func TestFirewallLegacyLive(t *testing.T) {
	host := testNetns(t)
	testtools.Need(t, "iptables-legacy-restore", "ip6tables-legacy-restore", "iptables-legacy-save")
	for file, restore := range map[string]string{"firewall/testdata/ufw.iptables-save": "iptables-legacy-restore", "firewall/testdata/ufw.ip6tables-save": "ip6tables-legacy-restore"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ip", "netns", "exec", host, restore)
		cmd.Stdin = f
		out, err := cmd.CombinedOutput()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v\n%s", restore, err, out)
		}
	}
	ports := []uint16{22, 5432, 6379, 8080}
	for _, p := range ports {
		inNetns(t, host, func() {
			l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		})
	}
	js, _ := judgeListeners(t, host, ports)
	want := []struct {
		verdict firewall.Verdict
		rule    string
	}{
		{firewall.Open, "-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT"},
		{firewall.Partly, "-A ufw-user-input -s 10.0.0.0/8 -p tcp -m tcp --dport 5432 -j ACCEPT"},
		{firewall.Filtered, "-A ufw-user-input -p tcp -m tcp --dport 6379 -j DROP"},
		{firewall.Filtered, "policy drop"},
	}
	for i, w := range want {
		if j := js[i]; j.Verdict != w.verdict || j.Rule == nil || j.Rule.Text != w.rule || !strings.HasPrefix(j.Rule.Table, "iptables-legacy ") {
			t.Errorf("%d: %s by %+v (%s); want %s by %q", ports[i], j.Verdict, j.Rule, j.Reason, w.verdict, w.rule)
		}
	}

	cmd := exec.Command("ip", "netns", "exec", host, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader("table inet extra {\n\tchain input {\n\t\ttype filter hook input priority 10; policy accept;\n\t\ttcp dport 22 drop\n\t}\n}\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}
	js, warnings := judgeListeners(t, host, ports)
	if j := js[0]; j.Verdict != firewall.Filtered || j.Rule.Text != "tcp dport 22 drop" {
		t.Errorf("22 with an nftables drop too: %s by %+v", j.Verdict, j.Rule)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "both nftables and iptables-legacy") }) {
		t.Errorf("warnings %q, want one saying both are live", warnings)
	}
}
