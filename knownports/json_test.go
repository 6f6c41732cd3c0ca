package knownports

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestEntryJSON(t *testing.T) {
	b, err := json.Marshal(Default().Port(3372))
	if err != nil {
		t.Fatal(err)
	}
	// The shape of DESIGN.md's known_ports items.
	var got struct {
		Port      int      `json:"port"`
		Protocols []string `json:"protocols"`
		IANA      []map[string]any
		Notes     []map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Port != 3372 || !slices.Equal(got.Protocols, []string{"tcp", "udp"}) {
		t.Errorf("port %d, protocols %q", got.Port, got.Protocols)
	}
	if len(got.IANA) != 2 {
		t.Fatalf("iana: %v", got.IANA)
	}
	wantIANA := map[string]any{"service": "tip2", "protocol": "tcp", "description": "TIP 2"}
	if !maps.Equal(got.IANA[0], wantIANA) {
		t.Errorf("iana[0] = %v, want %v (no range for a single port, no low/high)", got.IANA[0], wantIANA)
	}
	if len(got.Notes) != 1 {
		t.Fatalf("notes: %v", got.Notes)
	}
	n := got.Notes[0]
	for k, want := range map[string]any{
		"title":         "MSDTC TIP listener",
		"risk":          "medium",
		"risk_loopback": "low",
	} {
		if n[k] != want {
			t.Errorf("notes[0].%s = %v, want %v", k, n[k], want)
		}
	}
	for k, want := range map[string][]any{
		"ports":     {"3372"},
		"protocols": {"tcp"},
		"platforms": {"windows"},
		"aliases":   {"msdtc", "tip"},
	} {
		if got, _ := n[k].([]any); !slices.Equal(got, want) {
			t.Errorf("notes[0].%s = %v, want %v", k, n[k], want)
		}
	}
	for _, k := range []string{"summary", "commonly_seen", "advice", "references"} {
		if n[k] == nil {
			t.Errorf("notes[0] has no %s", k)
		}
	}
	advice, _ := n["advice"].([]any)
	first, _ := advice[0].(map[string]any)
	if first["platform"] != "windows" || first["text"] == nil || first["commands"] == nil {
		t.Errorf("advice[0] = %v", first)
	}
	seen, _ := n["commonly_seen"].([]any)
	if s, _ := seen[0].(map[string]any); s["program"] != "msdtc.exe" || s["service"] != "MSDTC" || s["default"] != "off" {
		t.Errorf("commonly_seen[0] = %v", s)
	}
}

func TestEntryJSONEmpty(t *testing.T) {
	b, err := json.Marshal(ianaOnly(t).Port(50000))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"port":50000,"protocols":[],"iana":[],"notes":[]}`; got != want {
		t.Errorf("Port(50000) JSON = %s, want %s", got, want)
	}
}

func TestRangeJSON(t *testing.T) {
	b, err := json.Marshal(Default().Port(6010).IANA[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"service":"x11","protocol":"tcp","description":"X Window System","range":"6000-6063"}`; got != want {
		t.Errorf("x11 row JSON = %s, want %s", got, want)
	}
}

func TestSourceJSON(t *testing.T) {
	b, err := json.Marshal(Default().IANASource())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"name":`, `"url":`, `"date":"2024-04-30"`, `"rows":14447`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("IANASource JSON %s lacks %s", b, k)
		}
	}
}

func TestSeenJSONOmitsEmpty(t *testing.T) {
	b, err := json.Marshal(Seen{Platform: "linux", Program: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"platform":"linux","program":"x"}`; got != want {
		t.Errorf("Seen JSON = %s, want %s", got, want)
	}
}
