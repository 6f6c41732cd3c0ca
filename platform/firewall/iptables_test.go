package firewall

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

// ufwJudged is what the fixture's ruleset, ufw 0.36's as `ufw enable;
// ufw allow 22/tcp; ufw allow from 10.0.0.0/8 to any port 5432 proto tcp;
// ufw limit 2222/tcp; ufw deny 6379` left it (iptables-save and
// ip6tables-save, testdata/ufw.*), does with a connection to each port.
// ufw leaves its IPv6 limit-accept chain empty, so 2222 is dropped over
// IPv6 by the policy: the rules say so, whatever ufw status prints.
var ufwJudged = []struct {
	fam     Family
	proto   uint8
	port    uint16
	verdict Verdict
	conds   []string
	rule    string // the deciding rule's text, or its end
}{
	{FamilyIPv4, 6, 22, Open, nil, "--dport 22 -j ACCEPT"},
	{FamilyIPv6, 6, 22, Open, nil, "--dport 22 -j ACCEPT"},
	{FamilyIPv4, 6, 2222, Open, []string{"except a source's recent connections (-m recent)"}, "-A ufw-user-limit-accept -j ACCEPT"},
	{FamilyIPv6, 6, 2222, Filtered, nil, "policy drop"},
	{FamilyIPv4, 6, 5432, Partly, []string{"ip saddr 10.0.0.0/8"}, "-s 10.0.0.0/8 -p tcp -m tcp --dport 5432 -j ACCEPT"},
	{FamilyIPv6, 6, 5432, Filtered, nil, "policy drop"},
	{FamilyIPv4, 6, 6379, Filtered, nil, "--dport 6379 -j DROP"},
	{FamilyIPv4, 17, 6379, Filtered, nil, "--dport 6379 -j DROP"},
	{FamilyIPv4, 6, 8080, Filtered, nil, "policy drop"},
	// The DHCP client's port: from a server's port 67 only.
	{FamilyIPv4, 17, 68, Partly, []string{"th sport 67"}, "--sport 67 --dport 68 -j ACCEPT"},
}

func ufwRuleset(t testing.TB) *Ruleset {
	t.Helper()
	rs := &Ruleset{Source: "iptables"}
	for file, fam := range map[string]Family{"testdata/ufw.iptables-save": FamilyIPv4, "testdata/ufw.ip6tables-save": FamilyIPv6} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		chains, err := ParseIptablesSave(b, fam, "iptables")
		if err != nil {
			t.Fatal(err)
		}
		rs.Chains = append(rs.Chains, chains...)
	}
	return rs
}

func TestJudgeUfw(t *testing.T) {
	rs := ufwRuleset(t)
	for _, tt := range ufwJudged {
		j := Judge(rs, Packet{Family: tt.fam, Proto: tt.proto, Dport: tt.port})
		got := j.Reason
		if j.Rule != nil {
			got = j.Rule.Text
		}
		if j.Verdict != tt.verdict || !strings.HasSuffix(got, tt.rule) && !strings.Contains(got, tt.rule) || !slices.Equal(j.Conditions, tt.conds) {
			t.Errorf("%d/%d over %v: %s %v by %q (%s); want %s %v by %q", tt.port, tt.proto, tt.fam, j.Verdict, j.Conditions, got, j.Reason, tt.verdict, tt.conds, tt.rule)
		}
	}
}

func TestParseIptablesSave(t *testing.T) {
	chains, err := ParseIptablesSave([]byte(`*nat
:PREROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 6379 -j DNAT --to-destination 172.17.0.2:6379
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
-A INPUT -s 192.0.2.0/255.255.255.0 -m comment --comment "a \"blocked\" net" -j DROP
-A INPUT -p tcp -m multiport --dports 80,443,8000:8100 -j ACCEPT
-A INPUT -m mark --mark 0x1 -j ACCEPT
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD ! -i docker0 -o docker0 -j ACCEPT
COMMIT
`), FamilyIPv4, "iptables-legacy")
	if err != nil {
		t.Fatal(err)
	}
	rs := &Ruleset{Chains: chains}
	p := Packet{Family: FamilyIPv4, Proto: 6, Dport: 6379, Internal: func(n string) bool { return n == "docker0" },
		RouteOIF: func(netip.Addr) string { return "docker0" }}
	if j := Judge(rs, p); j.Verdict != Open || j.Forwarded != netip.MustParseAddrPort("172.17.0.2:6379") ||
		j.Rule.Text != "-A FORWARD ! -i docker0 -o docker0 -j ACCEPT" || j.Rule.Table != "iptables-legacy filter" || j.Rule.Handle != 2 {
		t.Errorf("Docker's published port: %s to %v by %+v (%s)", j.Verdict, j.Forwarded, j.Rule, j.Reason)
	}
	p.Dport = 8050
	if j := Judge(rs, p); j.Verdict != Open || !slices.Equal(j.Conditions, []string{"except ip saddr 192.0.2.0/24"}) {
		t.Errorf("a multiport range after a blocklist: %s %v (%s)", j.Verdict, j.Conditions, j.Reason)
	}
	p.Dport = 22
	if j := Judge(rs, p); j.Verdict != Unknown || !strings.Contains(j.Reason, "-m mark") {
		t.Errorf("a mark: %s (%s)", j.Verdict, j.Reason)
	}
	for _, bad := range []string{"-A INPUT -j ACCEPT\n", "*filter\n-A NOPE -j ACCEPT\n", "*filter\n:INPUT\n", "*filter\n:INPUT ACCEPT\n-A INPUT -m comment --comment \"open\n", "garbage\n"} {
		if _, err := ParseIptablesSave([]byte(bad), FamilyIPv4, "x"); !errors.Is(err, errParse) {
			t.Errorf("%q: %v, want errParse", bad, err)
		}
	}
}

func FuzzParseIptablesSave(f *testing.F) {
	for _, file := range []string{"testdata/ufw.iptables-save", "testdata/ufw.ip6tables-save"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		chains, err := ParseIptablesSave(b, FamilyIPv4, "x")
		if err != nil {
			return
		}
		// Whatever parses, judges without panicking, in bounded time.
		Judge(&Ruleset{Chains: chains}, Packet{Family: FamilyIPv4, Proto: 6, Dport: 22})
	})
}

// BenchmarkJudgeUfw judges one listener against ufw's rule set: a
// listing judges each listener beyond loopback once per address family.
func BenchmarkJudgeUfw(b *testing.B) {
	rs := ufwRuleset(b)
	b.ReportAllocs()
	for b.Loop() {
		Judge(rs, Packet{Family: FamilyIPv4, Proto: 6, Dport: 8080})
	}
}
