package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestFirewallReachability runs the commands over a namespace standing for
// a host whose nftables input chain drops everything but SSH, and whose
// prerouting publishes 6380 to a second namespace, a container, by DNAT:
// the verdicts in JSON and the wide table, the port's answer, check's
// --reachable and --filtered, the audit's findings, and what is said
// without root.
func TestFirewallReachability(t *testing.T) {
	requireRoot(t, "ip", "nft", "setpriv")
	inNS, inCtr := newNetns(t), newNetns(t)
	host, ctr := inNS[3], inCtr[3]
	veth := "pifw" + host[len(host)-4:]
	run(t, "ip", "link", "add", veth+"a", "netns", host, "type", "veth", "peer", "name", veth+"b", "netns", ctr)
	run(t, "ip", "-n", host, "addr", "add", "10.79.0.1/24", "dev", veth+"a")
	run(t, "ip", "-n", ctr, "addr", "add", "10.79.0.2/24", "dev", veth+"b")
	run(t, "ip", "-n", host, "link", "set", veth+"a", "up")
	run(t, "ip", "-n", ctr, "link", "set", veth+"b", "up")
	nft := exec.Command("ip", "netns", "exec", host, "nft", "-f", "-")
	nft.Stdin = strings.NewReader(`
table inet filter {
	chain input {
		type filter hook input priority 0; policy drop;
		iifname "lo" accept
		tcp dport 22 accept
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
	}
}
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport 6380 dnat to 10.79.0.2:6380
	}
}
`)
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}
	startListener(t, inNS, "-comm", "sshd", "tcp4:0.0.0.0:22")
	startListener(t, inNS, "-comm", "redis-server", "tcp4:0.0.0.0:6379")
	startListener(t, inNS, "-comm", "docker-proxy", "tcp4:0.0.0.0:6380")
	startListener(t, inNS, "tcp4:127.0.0.1:5432")
	startListener(t, inCtr, "-comm", "redis-server", "tcp4:10.79.0.2:6380")

	type socket struct {
		LocalPort int    `json:"local_port"`
		Reachable string `json:"reachable"`
		Firewall  *struct {
			Reason string
			Rule   *struct {
				Table, Chain, Text string
				Handle             int
			}
			ForwardedTo string `json:"forwarded_to"`
			Bypassed    bool
		}
	}
	list := func(prefix []string) map[int]socket {
		t.Helper()
		out, errOut, code := runCommand(t, append(prefix, "list", "-l", "-t", "-o", "json"))
		if code != 0 {
			t.Fatalf("list -o json: exit %d, %s", code, errOut)
		}
		var doc struct{ Sockets []socket }
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		byPort := make(map[int]socket)
		for _, s := range doc.Sockets {
			byPort[s.LocalPort] = s
		}
		return byPort
	}
	bin, _ := exec.LookPath("portinspect")
	socks := list(append(inNS, bin))
	if s := socks[22]; s.Reachable != "open" || s.Firewall.Rule.Text != "tcp dport 22 accept" || s.Firewall.Rule.Table != "inet filter" || s.Firewall.Rule.Handle == 0 {
		t.Errorf("22: %+v, want open by tcp dport 22 accept", s)
	}
	if s := socks[6379]; s.Reachable != "filtered" || s.Firewall.Rule.Text != "policy drop" || s.Firewall.Rule.Chain != "input" {
		t.Errorf("6379: %+v, want filtered by the input chain's policy", s)
	}
	if s := socks[6380]; s.Reachable != "open" || s.Firewall.ForwardedTo != "10.79.0.2:6380" || !s.Firewall.Bypassed || s.Firewall.Rule.Chain != "forward" {
		t.Errorf("6380: %+v, want open through the forward chain to 10.79.0.2:6380, bypassing the input chain", s.Firewall)
	}
	if s := socks[5432]; s.Reachable != "" || s.Firewall != nil {
		t.Errorf("5432, on loopback: %+v, want no verdict", s)
	}

	out, _, _ := portinspect(t, inNS, "list", "-l", "-t", "-o", "wide")
	if !strings.Contains(out, "\tall\tfiltered\t") || !strings.Contains(out, "\tloopback\t-\t") {
		t.Errorf("list -o wide:\n%s", out)
	}
	out, _, _ = portinspect(t, inNS, "6379")
	if !strings.Contains(out, "\nFirewall\n  0.0.0.0:6379/tcp filtered: table inet filter chain input: policy drop\n") {
		t.Errorf("the answer for 6379:\n%s", out)
	}

	out, _, code := portinspect(t, inNS, "check", "--reachable", "22", "--filtered", "6379", "--filtered", "5432")
	if code != 0 {
		t.Errorf("check --reachable 22 --filtered 6379 --filtered 5432: exit %d\n%s", code, out)
	}
	out, _, code = portinspect(t, inNS, "check", "--filtered", "6380", "--reachable", "6379")
	if code != 1 || !strings.Contains(out, "FAIL 6380 filtered: reachable from the network on 0.0.0.0:6380/tcp open") ||
		!strings.Contains(out, "FAIL 6379 reachable: out of the network's reach: 0.0.0.0:6379/tcp filtered") {
		t.Errorf("check --filtered 6380 --reachable 6379: exit %d\n%s", code, out)
	}

	out, errOut, _ := portinspect(t, inNS, "audit", "--netns", "self", "-o", "json")
	var audit struct {
		Findings []struct {
			Rule, Severity, Message string
			Port                    int
		}
	}
	if err := json.Unmarshal([]byte(out), &audit); err != nil {
		t.Fatalf("audit -o json: %v, %s", err, errOut)
	}
	var redis, bypass bool
	for _, f := range audit.Findings {
		switch {
		case f.Rule == "exposed-risky-service" && f.Port == 6379:
			// Redis beyond loopback is critical; behind a drop, one less.
			redis = f.Severity == "high" && strings.Contains(f.Message, "filtered by table inet filter chain input: policy drop")
		case f.Rule == "firewall-bypassed" && f.Port == 6380:
			bypass = strings.Contains(f.Message, "forwarded to 10.79.0.2:6380 by destination NAT, past the input chains")
		}
	}
	if !redis || !bypass {
		t.Errorf("audit: redis filtered %v, 6380 bypassed %v:\n%+v", redis, bypass, audit.Findings)
	}

	// Without root the rules cannot be read: unknown, never open.
	nobody := append(append([]string{}, inNS...), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", publicCopy(t))
	socks = list(nobody)
	if s := socks[6379]; s.Reachable != "unknown" || !strings.Contains(s.Firewall.Reason, "needs root") {
		t.Errorf("as nobody, 6379: %+v, want unknown (needs root)", s)
	}
}
