package firewall

import (
	"bufio"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func windowsFixture(t testing.TB) []WinRule {
	t.Helper()
	f, err := os.Open("testdata/windows-rules.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []WinRule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		id, rest, _ := strings.Cut(sc.Text(), "\t")
		store, s, _ := strings.Cut(rest, "\t")
		r, err := ParseWinRule(id, store, s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	return rules
}

func TestParseWinRule(t *testing.T) {
	rules := windowsFixture(t)
	rdp := rules[0]
	if rdp.ID != "RemoteDesktop-UserMode-In-TCP" || rdp.Action != "Allow" || !rdp.Active || !rdp.Inbound || rdp.Protocol != 6 ||
		!slices.Equal(rdp.Profiles, []string{"Domain", "Private", "Public"}) || !slices.Equal(rdp.LocalPorts, [][2]uint16{{3389, 3389}}) ||
		rdp.App != `%SystemRoot%\system32\svchost.exe` || rdp.Svc != "termservice" {
		t.Errorf("RDP: %+v", rdp)
	}
	if r := rules[3]; !slices.Equal(r.RemoteAddresses, []string{"LocalSubnet", "LocalSubnet"}) || r.Protocol != 17 {
		t.Errorf("LLMNR: %+v", r)
	}
	if r := rules[4]; !slices.Equal(r.LocalPortKeywords, []string{"RPC-EPMap"}) || r.Svc != "Rpcss" {
		t.Errorf("RPCSS: %+v", r)
	}
	if r := rules[7]; r.Active || r.Action != "Block" {
		t.Errorf("an inactive block: %+v", r)
	}
	for _, bad := range []string{"", "Action=Allow|", "v2.30|Action", "v2.30|Protocol=tcp|", "v2.30|LPort=9-1|", "v2.30|Protocol=300|"} {
		if _, err := ParseWinRule("x", "local", bad); !errors.Is(err, errParse) {
			t.Errorf("%q: %v, want errParse", bad, err)
		}
	}
}

func TestJudgeWindows(t *testing.T) {
	rules := windowsFixture(t)
	on := WinProfile{Enabled: true, InboundBlock: true, LocalRules: true}
	policy := func(profiles map[string]WinProfile, rules ...WinRule) *WinPolicy {
		if profiles == nil {
			profiles = map[string]WinProfile{"Domain": on, "Private": on, "Public": on}
		}
		return &WinPolicy{Profiles: profiles, Rules: rules}
	}
	svchost := `C:\Windows\System32\svchost.exe`
	for _, tt := range []struct {
		name    string
		p       *WinPolicy
		l       WinListener
		verdict Verdict
		conds   []string
		rule    string
	}{
		{"RDP, allowed everywhere", policy(nil, rules...), WinListener{Protocol: 6, Port: 3389, Exe: svchost, Services: []string{"TermService"}},
			Open, nil, "RemoteDesktop-UserMode-In-TCP: Allow In TCP port 3389"},
		{"3389 held by another program", policy(nil, rules...), WinListener{Protocol: 6, Port: 3389, Exe: `C:\tools\rdp-proxy.exe`},
			Filtered, nil, "default inbound action block"},
		{"SMB, the kernel's", policy(nil, rules...), WinListener{Protocol: 6, Port: 445, Exe: "System"}, Open, nil, "FPS-SMB-In-TCP: Allow In TCP port 445 System"},
		{"LLMNR, local subnet only", policy(nil, rules...), WinListener{Protocol: 17, Port: 5355, Exe: svchost, Services: []string{"Dnscache"}},
			Partly, []string{"from LocalSubnet, LocalSubnet"}, "FPS-LLMNR-In-UDP"},
		{"the RPC endpoint mapper", policy(nil, rules...), WinListener{Protocol: 6, Port: 135, Exe: svchost, Services: []string{"RpcEptMapper", "RpcSs"}},
			Open, nil, "FPS-RPCSS-In-TCP"},
		{"MSDTC's 3372, no rule", policy(nil, rules...), WinListener{Protocol: 6, Port: 3372, Exe: `C:\Windows\System32\msdtc.exe`, Services: []string{"MSDTC"}},
			Filtered, nil, "default inbound action block"},
		{"a program's own rule", policy(nil, rules...), WinListener{Protocol: 6, Port: 8080, Exe: `c:\program files\netpanel\NETPANEL.EXE`}, Open, nil, "NetPanel-In-TCP"},
		{"a block wins over an allow", policy(nil, append(slices.Clone(rules), WinRule{ID: "deny-rdp", Store: "group policy", Action: "Block", Active: true, Inbound: true, Protocol: 6, LocalPorts: [][2]uint16{{3389, 3389}}})...),
			WinListener{Protocol: 6, Port: 3389, Exe: svchost, Services: []string{"termservice"}}, Filtered, nil, "deny-rdp: Block In TCP port 3389"},
		{"local rules not merged", policy(map[string]WinProfile{"Domain": {Enabled: true, InboundBlock: true}, "Private": {Enabled: true, InboundBlock: true}, "Public": {Enabled: true, InboundBlock: true}}, rules...),
			WinListener{Protocol: 6, Port: 3389, Exe: svchost, Services: []string{"termservice"}}, Filtered, nil, "default inbound action block"},
		{"off in the Private profile", policy(map[string]WinProfile{"Domain": on, "Private": {}, "Public": on}, rules...),
			WinListener{Protocol: 6, Port: 3372, Exe: `C:\Windows\System32\msdtc.exe`}, Partly, []string{"on the Private profile"}, "firewall off"},
		{"a hidden program", policy(nil, rules...), WinListener{Protocol: 6, Port: 8080}, Unknown, nil, "rule set too complex: a rule for program"},
		{"default allow", policy(map[string]WinProfile{"Domain": {Enabled: true, LocalRules: true}, "Private": {Enabled: true, LocalRules: true}, "Public": {Enabled: true, LocalRules: true}}),
			WinListener{Protocol: 6, Port: 3372}, Open, nil, "default inbound action allow"},
		{"no profile read", &WinPolicy{}, WinListener{Protocol: 6, Port: 3372}, Unknown, nil, "every profile's settings were not read"},
	} {
		j := JudgeWindows(tt.p, tt.l)
		got := j.Reason
		if j.Rule != nil && j.Verdict != Unknown {
			got = j.Rule.Text
		}
		if j.Verdict != tt.verdict || !strings.Contains(got, tt.rule) || !slices.Equal(j.Conditions, tt.conds) {
			t.Errorf("%s: %s %v by %q (%s); want %s %v by %q", tt.name, j.Verdict, j.Conditions, got, j.Reason, tt.verdict, tt.conds, tt.rule)
		}
	}
	if !winAddrHas("10.0.0.0/255.0.0.0", netip.MustParseAddr("10.1.2.3")) || !winAddrHas("10.0.0.1-10.0.0.9", netip.MustParseAddr("10.0.0.5")) ||
		winAddrHas("10.0.0.0/8", netip.MustParseAddr("11.0.0.1")) || !winAddrHas("fd00::/8", netip.MustParseAddr("fd00::1")) {
		t.Error("address fields")
	}
}

func FuzzParseWinRule(f *testing.F) {
	b, err := os.ReadFile("testdata/windows-rules.txt")
	if err != nil {
		f.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if _, s, ok := strings.Cut(strings.TrimSpace(line), "\tlocal\t"); ok {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseWinRule("x", "local", s)
		if err != nil {
			return
		}
		for _, p := range r.LocalPorts {
			if p[0] > p[1] {
				t.Fatalf("%q: range %v", s, p)
			}
		}
		JudgeWindows(&WinPolicy{Profiles: map[string]WinProfile{"Domain": {Enabled: true, LocalRules: true}}, Rules: []WinRule{r}},
			WinListener{Protocol: 6, Port: 3389, Exe: "System"})
	})
}
