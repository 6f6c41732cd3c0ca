package inspect

import (
	"context"
	"errors"
	"strings"
	"testing"

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
	a, err := ParseAssertion(kind, arg, fakeResolver)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEvaluateAssertions(t *testing.T) {
	rep := checkReport(t)
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
		{AssertListening, "22@loopback", false, "nothing listens on 22 (loopback)"},
		{AssertListening, "3000-3400", true, "3372"},
		{AssertClosed, "23", true, "nothing listens"},
		{AssertClosed, "3372/udp", false, "listening on 0.0.0.0:3372/udp by tipd (pid 4242)"},
		{AssertClosed, "3372@beyond-loopback", false, "[::]:3372/tcp by tipd"},
		{AssertClosed, "9000", false, "[::ffff:127.0.0.1]:9000/tcp by no process"},
		{AssertClosed, "8080", false, "192.0.2.10:8080/tcp by a hidden owner"},
		{AssertOwner, "22=sshd", true, "0.0.0.0:22/tcp by sshd"},
		{AssertOwner, "22=/usr/sbin/sshd", true, "sshd"},
		{AssertOwner, "3372/tcp=sshd", false, "held by others: 127.0.0.1:3372/tcp by tipd"},
		{AssertOwner, "23=sshd", false, "nothing listens"},
		{AssertOnlyLoopback, "9000", true, "on loopback only"},
		{AssertOnlyLoopback, "3372", false, "listening beyond loopback on [::]:3372/tcp by tipd (pid 4242); 0.0.0.0:3372/udp"},
		{AssertOnlyLoopback, "23", true, "nothing listens"},
	}
	for _, tt := range tests {
		r := Evaluate(rep, []Assertion{mustAssert(t, tt.kind, tt.arg)}, nil)[0]
		if r.OK != tt.ok || !strings.Contains(r.Found, tt.found) {
			t.Errorf("%s %s: ok %v, found %q; want %v and %q", tt.kind, tt.arg, r.OK, r.Found, tt.ok, tt.found)
		}
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
		{AssertClosed, "abc", `invalid --closed "abc"`},
	} {
		_, err := ParseAssertion(tt.kind, tt.arg, fakeResolver)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s %q: %v, want a usage error with %q", tt.kind, tt.arg, err, tt.msg)
		}
	}
}

func TestEvaluatePolicy(t *testing.T) {
	rep := checkReport(t)
	rule := func(spec string, exp ExposureSelector, owner string) PolicyRule {
		ports, err := ParsePortSpec(spec, fakeResolver)
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
	results := Evaluate(rep, PolicyAssertions(p), p)
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
