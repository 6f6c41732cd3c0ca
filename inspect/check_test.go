package inspect

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/firewall"
	"github.com/portinspect/portinspect/platform/platformtest"
)

func checkReport(t *testing.T) *Report {
	t.Helper()
	rep, err := Run(context.Background(), platformtest.Workstation(), nil, Query{Listening: true})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustAssert(t *testing.T, kind AssertionKind, arg string) Assertion {
	t.Helper()
	a, err := ParseAssertion(kind, arg, fakeNames)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEvaluateAssertions(t *testing.T) {
	rep := checkReport(t) // as alice: 192.0.2.10:8080's owner is hidden
	tests := []struct {
		kind  AssertionKind
		arg   string
		ok    bool
		found string
	}{
		{AssertListening, "22/tcp", true, "0.0.0.0:22/tcp by sshd (pid 100)"},
		{AssertListening, "22", true, "0.0.0.0:22/tcp by sshd"},
		{AssertListening, "22/udp", false, "nothing listens on 22/udp"},
		{AssertListening, "22,3372", true, "[::]:3372/tcp by tipd (pid 4242)"},
		{AssertListening, "22,23", false, "nothing listens on 23"},
		{AssertListening, "3372/tcp@loopback", true, "127.0.0.1:3372/tcp by tipd"},
		{AssertListening, "22@loopback", false, "listens on 0.0.0.0:22/tcp (all), not on loopback only"},
		{AssertListening, "23@loopback", false, "nothing listens on 23 (loopback)"},
		{AssertListening, "3000-3400", true, "3372"},
		{AssertClosed, "23", true, "nothing listens"},
		{AssertClosed, "3372/udp", false, "listening on 0.0.0.0:3372/udp by tipd (pid 4242)"},
		{AssertClosed, "3372@beyond-loopback", false, "[::]:3372/tcp by tipd"},
		{AssertClosed, "9000", false, "[::ffff:127.0.0.1]:9000/tcp by no process"},
		{AssertClosed, "8080", false, "192.0.2.10:8080/tcp by a hidden owner"},
		{AssertOwner, "22=sshd", true, "0.0.0.0:22/tcp by sshd"},
		{AssertOwner, "22=/usr/sbin/sshd", true, "sshd"},
		{AssertOwner, "3372/tcp=sshd", false, "held by tipd (pid 4242) on 127.0.0.1:3372/tcp, [::]:3372/tcp, not sshd"},
		{AssertOwner, "23=sshd", false, "nothing listens"},
		{AssertOnlyLoopback, "9000", true, "on loopback only"},
		{AssertOnlyLoopback, "3372", false, "listening beyond loopback on [::]:3372/tcp by tipd (pid 4242); 0.0.0.0:3372/udp"},
		{AssertOnlyLoopback, "23", true, "nothing listens"},

		// ssh resolves to 22/tcp and 22/udp; sshd listens on TCP only.
		{AssertListening, "ssh", true, "0.0.0.0:22/tcp by sshd"},
		{AssertClosed, "ssh", false, "listening on 0.0.0.0:22/tcp"},
		{AssertListening, "ssh/udp", false, "nothing listens on 22/udp"},
		// Owners that cannot be seen fail, saying why.
		{AssertOwner, "8080=nginx", false, "owner hidden on 192.0.2.10:8080/tcp: run as root to see it"},
		{AssertListening, "8080", true, "192.0.2.10:8080/tcp by a hidden owner"},
		{AssertClosed, "8080", false, "listening on 192.0.2.10:8080/tcp by a hidden owner"},
		{AssertOwner, "22=nginx", false, "held by sshd (pid 100) on 0.0.0.0:22/tcp, not nginx"},
		// Addresses: 127.0.0.1:22 is taken by the 0.0.0.0 listener.
		{AssertListening, "127.0.0.1:22", true, "0.0.0.0:22/tcp by sshd"},
		{AssertListening, "[::1]:22", false, "nothing listens on [::1]:22"},
		{AssertListening, "[::1]:3372/tcp", true, "[::]:3372/tcp"},
	}
	for _, tt := range tests {
		r := Evaluate(rep, []Assertion{mustAssert(t, tt.kind, tt.arg)})[0]
		if r.OK != tt.ok || !strings.Contains(r.Found, tt.found) {
			t.Errorf("%s %s: ok %v, found %q; want %v and %q", tt.kind, tt.arg, r.OK, r.Found, tt.ok, tt.found)
		}
	}
}

// TestEvaluatePolicyNeverBlind checks policy rules about owners the
// report could not see.
func TestEvaluatePolicyNeverBlind(t *testing.T) {
	rep := checkReport(t) // as alice: 192.0.2.10:8080's owner is hidden

	// Policy rules with an owner: listening, closed and default deny.
	rule := func(spec string, owner string) PolicyRule {
		ports, err := ParsePortSpec(spec, fakeNames)
		if err != nil {
			t.Fatal(err)
		}
		return PolicyRule{Spec: spec, Ports: ports, Owner: owner, Line: 1}
	}
	p := &Policy{
		Name:    "p.yaml",
		Default: DefaultDeny,
		Require: []PolicyRule{rule("3372/tcp", "nginx")},
		Allow:   []PolicyRule{rule("8080", "nginx"), rule("22,9000", ""), rule("3372", "")},
		Deny:    []PolicyRule{rule("8080", "python3")},
	}
	results := Evaluate(rep, PolicyAssertions(p))
	want := []struct {
		ok    bool
		found string
	}{
		{false, "held by tipd (pid 4242) on 127.0.0.1:3372/tcp, [::]:3372/tcp, not nginx"},
		{false, "owner hidden on 192.0.2.10:8080/tcp: run as root to see it"},
		{false, "owner hidden on 192.0.2.10:8080/tcp: run as root to see it"},
	}
	for i, w := range want {
		if r := results[i]; r.OK != w.ok || r.Found != w.found {
			t.Errorf("%s %s: ok %v, found %q; want %v and %q", r.Kind, r.Source, r.OK, r.Found, w.ok, w.found)
		}
	}

	// Root refused by a process: more privilege would not help.
	rep.Host.Privileged = true
	r := Evaluate(rep, []Assertion{mustAssert(t, AssertOwner, "8080=nginx")})[0]
	if want := "owner hidden on 192.0.2.10:8080/tcp: a process refused even this privileged run"; r.OK || r.Found != want {
		t.Errorf("privileged: ok %v, found %q, want %q", r.OK, r.Found, want)
	}
}

func TestParseAssertionErrors(t *testing.T) {
	for _, tt := range []struct {
		kind AssertionKind
		arg  string
		msg  string
	}{
		{AssertListening, "0", `invalid --listening "0": invalid port "0"`},
		{AssertListening, "22@nowhere", `invalid exposure "nowhere"`},
		{AssertOwner, "22", `want PORTSPEC=PROCESS`},
		{AssertOwner, "22=", `want PORTSPEC=PROCESS`},
		{AssertOwner, "22=container:", `PORTSPEC=container:NAME`},
		{AssertClosed, "abc", `invalid --closed "abc"`},
	} {
		_, err := ParseAssertion(tt.kind, tt.arg, fakeNames)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s %q: %v, want a usage error with %q", tt.kind, tt.arg, err, tt.msg)
		}
	}
}

func TestEvaluatePolicy(t *testing.T) {
	rep := checkReport(t)
	rule := func(spec string, exp ExposureSelector, owner string) PolicyRule {
		ports, err := ParsePortSpec(spec, fakeNames)
		if err != nil {
			t.Fatal(err)
		}
		return PolicyRule{Spec: spec, Ports: ports, Exposure: exp, Owner: owner, Line: 1}
	}
	p := &Policy{
		Name:    "p.yaml",
		Default: DefaultDeny,
		Require: []PolicyRule{rule("22/tcp", AnyExposure, "sshd")},
		Allow:   []PolicyRule{rule("9000", OnLoopback, ""), rule("8080", AnyExposure, "")},
		Deny:    []PolicyRule{rule("3372", BeyondLoopback, "")},
	}
	results := Evaluate(rep, PolicyAssertions(p))
	var lines []string
	for _, r := range results {
		lines = append(lines, r.Kind.String()+" "+r.Source+" ok="+map[bool]string{true: "yes", false: "no"}[r.OK])
	}
	want := "listening p.yaml:1 require ok=yes|closed p.yaml:1 deny ok=no|default deny p.yaml default ok=no"
	if got := strings.Join(lines, "|"); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// 127.0.0.1:3372 is named by no rule (the deny is about beyond
	// loopback), so default deny flags it; [::]:3372 and 0.0.0.0:3372/udp
	// are the deny rule's.
	if dd := results[2]; !strings.Contains(dd.Found, "127.0.0.1:3372/tcp") || strings.Contains(dd.Found, "[::]:3372") || strings.Contains(dd.Found, ":22/") {
		t.Errorf("default deny found %q", dd.Found)
	}
}

// TestOwnedByContainer matches container owners: a process in the
// container, or a socket whose port is published to it.
func TestOwnedByContainer(t *testing.T) {
	web1 := &container.Container{Runtime: container.Docker, ID: "294b6b6a799661c93e87e14371e222e6097f91e2c8509f1a7e00710b6ba700a7", Name: "web1"}
	inside := &Socket{Socket: platform.Socket{Protocol: platform.TCP, Local: netip.MustParseAddrPort("172.17.0.2:8080")}, Processes: []*Process{{Name: "httpd", Container: web1}}}
	pub := &Publication{Publication: container.Publication{Protocol: "tcp", HostPort: 18080, Container: web1}}
	proxy := &Socket{Socket: platform.Socket{Protocol: platform.TCP, Local: netip.MustParseAddrPort("127.0.0.1:18080")},
		Processes: []*Process{{Name: "docker-proxy"}}, Published: []*Publication{pub}}
	unnamed := &Socket{Socket: proxy.Socket, Processes: proxy.Processes,
		Published: []*Publication{{Publication: container.Publication{Protocol: "tcp", HostPort: 18080}}}}
	for _, tt := range []struct {
		s     *Socket
		owner string
		want  bool
	}{
		{inside, "container:web1", true},
		{inside, "container:294b6b6a7996", true},
		{inside, "container:294b6b6a79", false}, // too short to be an ID
		{inside, "container:web2", false},
		{inside, "httpd", true},
		{proxy, "container:web1", true},
		{proxy, "docker-proxy", true},
		{unnamed, "container:web1", false}, // to a container not named here
		{proxy, "web1", false},             // a process name, not a container
	} {
		if got := ownedBy(tt.s, tt.owner); got != tt.want {
			t.Errorf("%s held by %s: %v, want %v", tt.s.Local, tt.owner, got, tt.want)
		}
	}
	if q := CheckQuery([]Assertion{{Owner: "container:web1"}}); q.Detail != platform.DetailFull || !q.Listening {
		t.Errorf("a container owner's query: %+v", q)
	}
	if q := CheckQuery([]Assertion{{Owner: "sshd"}}); q.Detail != platform.DetailBasic {
		t.Errorf("a process owner's query: %+v", q)
	}
}

// TestEvaluateReach: --reachable and --filtered against the firewall's
// verdicts on the workstation's listeners: sshd's 22 open, tipd's
// 3372/udp filtered, [::]:3372/tcp partly, 8080 unknown.
func TestEvaluateReach(t *testing.T) {
	rep := checkReport(t)
	rule := &firewall.RuleRef{Table: "inet filter", Chain: "input", Handle: 7, Text: "tcp dport 22 accept"}
	for i := range rep.Sockets {
		s := &rep.Sockets[i]
		if s.Exposure == ExposureLoopback {
			continue
		}
		switch {
		case s.Local.Port() == 22:
			s.Reach = &firewall.Judgement{Verdict: firewall.Open, Rule: rule}
		case s.Local.Port() == 3372 && s.Protocol == platform.UDP:
			s.Reach = &firewall.Judgement{Verdict: firewall.Filtered, Rule: &firewall.RuleRef{Table: "inet filter", Chain: "input", Text: "policy drop"}}
		case s.Local.Port() == 3372:
			s.Reach = &firewall.Judgement{Verdict: firewall.Partly, Conditions: []string{"ip saddr 10.0.0.0/8"}, Rule: rule}
		default:
			s.Reach = &firewall.Judgement{Verdict: firewall.Unknown, Reason: "needs root"}
		}
	}
	for _, tt := range []struct {
		kind  AssertionKind
		arg   string
		ok    bool
		found string
	}{
		{AssertReachable, "22", true, "0.0.0.0:22/tcp open (table inet filter chain input handle 7: tcp dport 22 accept)"},
		{AssertReachable, "3372/tcp", true, "[::]:3372/tcp partly for ip saddr 10.0.0.0/8"},
		{AssertReachable, "3372/udp", false, "out of the network's reach: 0.0.0.0:3372/udp filtered (table inet filter chain input: policy drop)"},
		{AssertReachable, "9000", false, "listens on loopback only"},
		{AssertReachable, "23", false, "nothing listens on 23"},
		{AssertReachable, "8080", false, "192.0.2.10:8080/tcp unknown (needs root)"},
		{AssertFiltered, "3372/udp", true, "out of the network's reach: 0.0.0.0:3372/udp filtered"},
		{AssertFiltered, "9000", true, "[::ffff:127.0.0.1]:9000/tcp on loopback"},
		{AssertFiltered, "23", true, "nothing listens"},
		{AssertFiltered, "22", false, "reachable from the network on 0.0.0.0:22/tcp open"},
		{AssertFiltered, "3372", false, "reachable from the network on [::]:3372/tcp partly"},
		{AssertFiltered, "8080", false, "the firewall's verdict is unknown on 192.0.2.10:8080/tcp unknown (needs root)"},
	} {
		r := Evaluate(rep, []Assertion{mustAssert(t, tt.kind, tt.arg)})[0]
		if r.OK != tt.ok || !strings.Contains(r.Found, tt.found) {
			t.Errorf("%s %s: ok %v, found %q; want %v and %q", tt.kind, tt.arg, r.OK, r.Found, tt.ok, tt.found)
		}
	}
	p := &Policy{Name: "p.yaml", Default: DefaultDeny, Filtered: []PolicyRule{{Spec: "1-65535", Ports: PortSet{{PortRange: platform.PortRange{Low: 1, High: 65535, TCP: true, UDP: true}}}, Line: 3}}}
	if !CheckQuery(PolicyAssertions(p)).Reachability {
		t.Error("a policy with filtered rules does not ask for the firewall's verdicts")
	}
	results := Evaluate(rep, PolicyAssertions(p))
	if results[0].Kind != AssertFiltered || results[0].Source != "p.yaml:3 filtered" || results[0].OK || !results[1].OK {
		t.Errorf("policy: %+v", results)
	}
}
