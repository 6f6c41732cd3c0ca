package platform

import (
	"slices"
	"testing"
)

func TestParsePortSysctls(t *testing.T) {
	if r, err := parseSysctlRange([]byte("32768\t60999\n")); err != nil || r.Low != 32768 || r.High != 60999 {
		t.Errorf("ip_local_port_range: %+v %v", r, err)
	}
	for _, bad := range []string{"", "1", "60999 32768", "1 2 3", "a b", "1 70000"} {
		if _, err := parseSysctlRange([]byte(bad)); err == nil {
			t.Errorf("range %q taken", bad)
		}
	}
	got, err := parsePortList([]byte("8080,9000-9010\n"))
	want := []PortRange{{Low: 8080, High: 8080, TCP: true, UDP: true}, {Low: 9000, High: 9010, TCP: true, UDP: true}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ip_local_reserved_ports: %+v %v", got, err)
	}
	if got, err := parsePortList([]byte("\n")); err != nil || got != nil {
		t.Errorf("none reserved: %+v %v", got, err)
	}
	for _, bad := range []string{"8080,", "9010-9000", "x", "70000"} {
		if _, err := parsePortList([]byte(bad)); err == nil {
			t.Errorf("reserved %q taken", bad)
		}
	}
	if n, err := parseSysctlUint([]byte("1024\n")); err != nil || n != 1024 {
		t.Errorf("ip_unprivileged_port_start: %d %v", n, err)
	}
	p := PortPolicy{Ephemeral: PortRange{Low: 40000, High: 40100}, Reserved: want}
	for port, in := range map[uint16]bool{39999: false, 40000: true, 40100: true, 40101: false} {
		if p.InEphemeral(port) != in {
			t.Errorf("InEphemeral(%d) = %v", port, !in)
		}
	}
	p.Reserved = []PortRange{{Low: 40050, High: 40050}}
	if p.InEphemeral(40050) || (&PortPolicy{}).InEphemeral(40050) {
		t.Error("a reserved port, or an unknown range, counted as ephemeral")
	}
}

func FuzzParsePortList(f *testing.F) {
	f.Add([]byte("8080,9000-9010\n"))
	f.Add([]byte("32768\t60999\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := parsePortList(b)
		for _, r := range rs {
			if err == nil && r.Low > r.High {
				t.Errorf("%q: %+v", b, r)
			}
		}
		if r, err := parseSysctlRange(b); err == nil && r.Low > r.High {
			t.Errorf("%q: %+v", b, r)
		}
	})
}
