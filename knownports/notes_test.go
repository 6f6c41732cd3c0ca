package knownports

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// bareFindstr is a findstr of a port without /C: and the space after
// it: "findstr :80", "findstr \":5000 :7000\"".
var bareFindstr = regexp.MustCompile(`findstr\s+"?:\d`)

// TestNotes checks every note of the embedded notes.yaml against the rules
// its header states, including the editorial ones parsing does not enforce.
func TestNotes(t *testing.T) {
	db := Default()
	if err := db.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	notes := db.tables().notes
	if len(notes) == 0 {
		t.Fatal("no notes")
	}
	platforms := []string{"windows", "linux", "macos", "any"}
	type key struct {
		port        uint16
		proto, titl string
	}
	seen := map[key]bool{}
	aliases := map[string]string{}
	for _, n := range notes {
		t.Run(n.Title, func(t *testing.T) {
			if strings.TrimSpace(n.Title) == "" || strings.TrimSpace(n.Summary) == "" {
				t.Error("empty title or summary")
			}
			if len(n.Ports) == 0 {
				t.Error("no ports")
			}
			for _, pr := range n.Ports {
				if pr.Low > pr.High {
					t.Errorf("port range %v runs backwards", pr)
				}
				for _, p := range n.Protocols {
					for port := int(pr.Low); port <= int(pr.High); port++ {
						k := key{uint16(port), p, strings.ToLower(n.Title)}
						if seen[k] {
							t.Errorf("another note %q covers %d/%s", n.Title, port, p)
						}
						seen[k] = true
					}
				}
			}
			if len(n.Protocols) == 0 {
				t.Error("no protocols")
			}
			for _, p := range n.Protocols {
				if p != "tcp" && p != "udp" {
					t.Errorf("protocol %q", p)
				}
			}
			if len(n.Platforms) == 0 {
				t.Error("no platforms")
			}
			for _, p := range n.Platforms {
				if !slices.Contains(platforms, p) {
					t.Errorf("platform %q", p)
				}
			}
			for _, r := range []Risk{n.Risk, n.RiskLoopback} {
				if r > RiskCritical {
					t.Errorf("risk %v", r)
				}
			}
			if n.RiskLoopback > n.Risk {
				t.Errorf("risk_loopback %v above risk %v", n.RiskLoopback, n.Risk)
			}
			for _, a := range n.Aliases {
				if a != strings.ToLower(a) || a == "" {
					t.Errorf("alias %q is not lower case", a)
				}
				if other, ok := aliases[a]; ok {
					t.Errorf("alias %q is also an alias of %q", a, other)
				}
				aliases[a] = n.Title
				// An alias that is also an IANA name must mean the same port,
				// or a PORTSPEC using it would resolve to two places.
				for _, pp := range db.Resolve(a) {
					if !slices.ContainsFunc(n.Ports, func(pr PortRange) bool { return pr.Low <= pp.High && pp.Low <= pr.High }) {
						t.Errorf("alias %q also resolves to %v, outside the note's ports", a, pp)
					}
				}
			}
			for _, s := range n.CommonlySeen {
				if !slices.Contains(platforms, s.Platform) {
					t.Errorf("commonly_seen platform %q", s.Platform)
				}
				if s.Default != "" && s.Default != "on" && s.Default != "off" {
					t.Errorf("commonly_seen default %q", s.Default)
				}
			}
			if len(n.Advice) == 0 {
				t.Error("no advice")
			}
			for _, a := range n.Advice {
				if !slices.Contains(platforms, a.Platform) {
					t.Errorf("advice platform %q", a.Platform)
				}
				if strings.TrimSpace(a.Text) == "" {
					t.Error("advice without text")
				}
				if a.Commands == nil || a.References == nil {
					t.Error("advice with nil commands or references")
				}
				for _, c := range a.Commands {
					if strings.TrimSpace(c) == "" {
						t.Error("empty command")
					}
					// findstr :80 also matches :8080 and :8000.
					if bareFindstr.MatchString(c) {
						t.Errorf("command %q: a bare findstr :N matches longer ports too: use findstr /C:\":N \" or Get-NetTCPConnection -LocalPort N", c)
					}
				}
				for _, r := range a.References {
					if !slices.Contains(n.References, r) {
						t.Errorf("advice reference %q missing from the note's references", r)
					}
				}
			}
			if len(n.References) == 0 {
				t.Error("no references")
			}
			for _, r := range n.References {
				if !strings.Contains(r, "https://") && !strings.Contains(r, "http://") {
					t.Errorf("reference without a URL: %q", r)
				}
			}
		})
	}
}

func TestNote3372(t *testing.T) {
	n := Default().Port(3372).Notes[0]
	if !slices.Equal(n.Ports, []PortRange{{3372, 3372}}) || !slices.Equal(n.Protocols, []string{"tcp"}) ||
		!slices.Equal(n.Aliases, []string{"msdtc", "tip"}) || !slices.Equal(n.Platforms, []string{"windows"}) {
		t.Errorf("3372 note: ports %v, protocols %q, aliases %q, platforms %q", n.Ports, n.Protocols, n.Aliases, n.Platforms)
	}
	var platforms []string
	all := n.Summary
	for _, a := range n.Advice {
		if !slices.Contains(platforms, a.Platform) {
			platforms = append(platforms, a.Platform)
		}
		all += "\n" + a.Text + "\n" + strings.Join(a.Commands, "\n")
	}
	for _, s := range n.CommonlySeen {
		all += "\n" + s.Note
	}
	all += "\n" + strings.Join(n.References, "\n")
	if !slices.Equal(platforms, []string{"windows", "linux", "macos"}) {
		t.Errorf("advice for %q, want windows, linux, macos", platforms)
	}
	// What the facts file requires the note to say, and cite.
	for _, s := range []string{
		`"tip2"`, "RFC 2371", "deprecated", "Windows XP and Windows Server 2003",
		`HKLM\Software\Microsoft\MSDTC\Security`, "NetworkDtcAccessTip", "not verified",
		"dcomcnfg", "Get-DtcNetworkSetting", "SetNetworkTIPAccess",
		`netstat -ano | findstr /C:":3372 "`, "tasklist /svc",
		"sc.exe config msdtc start= disabled", "New-NetFirewallRule",
		"MS05-051", "CVE-2005-2119", "CVE-2005-1978", "CVE-2005-1979", "CVE-2005-1980",
		"MS06-018", "CVE-2006-0034", "CVE-2006-1184", "CVE-2002-0224",
		"ss -ltnp 'sport = :3372'", "sudo lsof -nP -iTCP:3372 -sTCP:LISTEN", "portinspect 3372",
	} {
		if !strings.Contains(all, s) {
			t.Errorf("3372 note does not mention %q", s)
		}
	}
	// Set-DtcNetworkSetting has no TIP parameter: it may appear only to say so.
	for _, a := range n.Advice {
		for _, c := range a.Commands {
			if strings.Contains(c, "Set-DtcNetworkSetting") {
				t.Errorf("command %q: Set-DtcNetworkSetting cannot turn TIP off", c)
			}
		}
		if strings.Contains(a.Text, "Set-DtcNetworkSetting") && !strings.Contains(a.Text, "no TIP parameter") {
			t.Errorf("advice mentions Set-DtcNetworkSetting without saying it has no TIP parameter: %q", a.Text)
		}
	}
}

func TestNotesStrict(t *testing.T) {
	f, err := os.Open("testdata/notes-unknown-field.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Parse(nil, f)
	if err == nil || !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), "risk_loopbak") {
		t.Errorf("Parse with a misspelt field: error %v, want ErrParse naming risk_loopbak", err)
	}
}

// validNote is a minimal note that parses; the cases below break one thing.
const validNote = `
- ports: ["8080", "9000-9010"]
  protocols: [tcp]
  title: Test listener
  aliases: [testsvc]
  platforms: [any]
  risk: low
  risk_loopback: info
  summary: A test.
  advice:
    - platform: any
      text: Check it.
      commands: ["true"]
      references: ["Advice source (https://example.org/a)"]
  references: ["Source (https://example.org/)"]
`

func TestParseNotes(t *testing.T) {
	db := mustParse(t, "", validNote)
	n := db.Port(9005).Notes
	if len(n) != 1 || n[0].Title != "Test listener" {
		t.Fatalf("Port(9005).Notes = %+v", n)
	}
	if !slices.Equal(n[0].References, []string{"Source (https://example.org/)", "Advice source (https://example.org/a)"}) {
		t.Errorf("references %q: want the note's, then the advice's", n[0].References)
	}
	if n[0].CommonlySeen == nil || n[0].Aliases == nil {
		t.Error("nil slices in a parsed note")
	}
	if got := db.Resolve("TestSvc"); !slices.Equal(got, []PortProto{{8080, 8080, "tcp"}, {9000, 9010, "tcp"}}) {
		t.Errorf("Resolve(TestSvc) = %v", got)
	}
	if got := db.ServiceName(9010, "tcp"); got != "testsvc" {
		t.Errorf("ServiceName(9010, tcp) = %q", got)
	}
	if got := db.ServiceName(9010, "udp"); got != "" {
		t.Errorf("ServiceName(9010, udp) = %q", got)
	}
	if !db.Known(8080) || db.Known(8081) {
		t.Error("Known wrong around 8080")
	}
	if db := mustParse(t, "", ""); len(db.tables().notes) != 0 {
		t.Error("an empty notes file has notes")
	}
}

func TestParseNotesErrors(t *testing.T) {
	tests := []struct{ name, from, to, want string }{
		{"unknown field", "  title:", "  titel:", "field titel not found"},
		{"missing risk", "  risk: low\n", "", "risk: missing"},
		{"bad risk", "risk: low", "risk: severe", `unknown risk level "severe"`},
		{"upper-case risk", "risk: low", "risk: Low", "lower case"},
		{"loopback above risk", "risk_loopback: info", "risk_loopback: high", "above risk"},
		{"bad platform", "platforms: [any]", "platforms: [bsd]", `platforms: "bsd"`},
		{"bad advice platform", "- platform: any", "- platform: win", `platform "win"`},
		{"bad protocol", "protocols: [tcp]", "protocols: [sctp]", `protocols: "sctp"`},
		{"no protocols", "protocols: [tcp]", "protocols: []", "protocols: missing"},
		{"port out of range", `"8080"`, `"65536"`, `"65536" is not a port`},
		{"backward range", `"9000-9010"`, `"9010-9000"`, "ends before it starts"},
		{"overlapping ports", `"8080"`, `"9005"`, "overlaps"},
		{"no ports", `ports: ["8080", "9000-9010"]`, "ports: []", "ports: missing"},
		{"upper-case alias", "[testsvc]", "[TestSvc]", "lower case"},
		{"numeric alias", "[testsvc]", `["8080"]`, "needs a letter"},
		{"alias with slash", "[testsvc]", "[test/svc]", "no commas"},
		{"empty title", "title: Test listener", `title: ""`, "title: missing"},
		{"empty summary", "summary: A test.", "summary: ' '", "summary: missing"},
		{"no references", `  references: ["Source (https://example.org/)"]`, "  references: []", "references: missing"},
		{"empty reference", `["Source (https://example.org/)"]`, `[""]`, "references[0]: empty"},
		{"empty command", `commands: ["true"]`, `commands: [" "]`, "commands[0]: empty"},
		{"no advice text", "text: Check it.", "text: ''", "text: missing"},
		{"bad default", "  advice:", "  commonly_seen: [{platform: any, program: x, default: maybe}]\n  advice:", `default "maybe"`},
		{"seen without program", "  advice:", "  commonly_seen: [{platform: any}]\n  advice:", "program or a service"},
		{"not a list", validNote, "title: x\n", "cannot unmarshal"},
		{"two documents", validNote, validNote + "---\n" + validNote, "one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(validNote, tt.from, tt.to, 1)
			if in == validNote {
				t.Fatalf("%q not found in the valid note", tt.from)
			}
			_, err := Parse(nil, strings.NewReader(in))
			if err == nil || !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrParse mentioning %q", err, tt.want)
			}
		})
	}

	// Rules across notes.
	second := strings.Replace(validNote, "[testsvc]", "[other]", 1)
	if _, err := Parse(nil, strings.NewReader(validNote+second)); err == nil || !strings.Contains(err.Error(), "already covers") {
		t.Errorf("duplicate title on one port: error %v", err)
	}
	second = strings.NewReplacer(`"8080", "9000-9010"`, `"7000"`, "Test listener", "Other").Replace(validNote)
	if _, err := Parse(nil, strings.NewReader(validNote+second)); err == nil || !strings.Contains(err.Error(), `"testsvc" is already an alias`) {
		t.Errorf("duplicate alias: error %v", err)
	}
	second = strings.NewReplacer("[testsvc]", "[]", "Test listener", "Other").Replace(validNote)
	db := mustParse(t, "", validNote+second)
	if got := len(db.Port(8080).Notes); got != 2 {
		t.Errorf("two notes on 8080 with different titles: Port(8080) has %d", got)
	}
}

func TestRisk(t *testing.T) {
	for r := RiskInfo; r <= RiskCritical; r++ {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Risk
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%v: round trip gave %v, %v", r, back, err)
		}
	}
	if !(RiskInfo < RiskLow && RiskLow < RiskMedium && RiskMedium < RiskHigh && RiskHigh < RiskCritical) {
		t.Error("risk levels out of order")
	}
	if r, err := ParseRisk("HIGH"); r != RiskHigh || err != nil {
		t.Errorf("ParseRisk(HIGH) = %v, %v", r, err)
	}
	if _, err := ParseRisk("severe"); err == nil {
		t.Error("ParseRisk(severe) succeeded")
	}
	if _, err := Risk(9).MarshalText(); err == nil {
		t.Error("Risk(9) marshalled")
	}
	if s := Risk(9).String(); s != "Risk(9)" {
		t.Errorf("Risk(9).String() = %q", s)
	}
}

func TestPortRangeText(t *testing.T) {
	for _, s := range []string{"0", "3372", "65535", "6000-6063", "7-7"} {
		var r PortRange
		if err := r.UnmarshalText([]byte(s)); err != nil {
			t.Errorf("%q: %v", s, err)
		}
		if want := strings.TrimSuffix(s, "-7"); r.String() != want {
			t.Errorf("%q: String() = %q, want %q", s, r.String(), want)
		}
	}
	for _, s := range []string{"", "-", "-1", "+1", "65536", "1-", "-5", "5-1", "a", "1-2-3", " 1", "0x10"} {
		var r PortRange
		if err := r.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("%q parsed as %v", s, r)
		}
	}
}

// TestRequiredNotes checks that every port issue 3 lists has a note.
func TestRequiredNotes(t *testing.T) {
	required := []string{
		"20-21", "22", "23", "25", "53", "67-68", "69", "80", "443", "8080", "8443", "88",
		"110", "995", "111", "123", "135", "137-139", "143", "993", "161-162", "389", "636",
		"445", "500", "4500", "514", "515", "631", "873", "1080", "1433-1434", "1521", "1900",
		"2049", "2375-2376", "2379-2380", "3268-3269", "3306", "3372", "3389", "3702", "4369",
		"5000", "7000", "5353", "5355", "5357", "5432", "5672", "5900", "5985-5986",
		"6000-6063", "6379", "6443", "8000", "8888", "9000", "9090", "9100", "9200", "9300",
		"10250", "11211", "27017", "49152", "50000", "65535",
	}
	db := Default()
	for _, s := range required {
		r, err := parsePortRange(s)
		if err != nil {
			t.Fatal(err)
		}
		for p := int(r.Low); p <= int(r.High); p++ {
			if len(db.Port(uint16(p)).Notes) == 0 {
				t.Errorf("port %d has no note", p)
			}
		}
	}
}
