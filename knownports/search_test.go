package knownports

import (
	"slices"
	"testing"
)

func TestSearch(t *testing.T) {
	db := Default()
	tests := []struct {
		query string
		first uint16
	}{
		{"remote desktop", 3389},
		{"kerberos", 88},
		{"airplay receiver", 5000},
		{"php-fpm", 9000},
		{"node exporter", 9100},
		{"secure shell", 22},
		{"SSH", 22},
		{"x window", 6000},
		{"msdtc", 3372},
		{"transaction internet protocol", 3372},
		{"postgresql", 5432},
	}
	for _, tt := range tests {
		got := db.Search(tt.query)
		if len(got) == 0 || got[0].Port != tt.first {
			var ports []uint16
			for _, e := range got {
				ports = append(ports, e.Port)
			}
			t.Errorf("Search(%q) = %v, want %d first", tt.query, ports, tt.first)
		}
	}
	for _, q := range []string{"", "  ", "zzqqx", "kerberos zzqqx"} {
		if got := db.Search(q); len(got) != 0 {
			t.Errorf("Search(%q) found %d entries, want none (every word must match)", q, len(got))
		}
	}
}

func TestHasWordPrefix(t *testing.T) {
	for _, tt := range []struct {
		text, w string
		want    bool
	}{
		{"microsoft windows", "window", true},
		{"netconf-ssh", "ssh", true},
		{"openssh server", "ssh", false},
		{"x11", "x", true},
		{"", "x", false},
	} {
		if got := hasWordPrefix(tt.text, tt.w); got != tt.want {
			t.Errorf("hasWordPrefix(%q, %q) = %v", tt.text, tt.w, got)
		}
	}
}

func TestEntryOnly(t *testing.T) {
	e := Default().Port(3372)
	udp := e.Only("udp")
	if len(udp.IANA) != 1 || udp.IANA[0].Protocol != "udp" || len(udp.Notes) != 0 || !slices.Equal(udp.Protocols, []string{"udp"}) {
		t.Errorf("Only(udp) = %+v", udp)
	}
	tcp := e.Only("tcp")
	if len(tcp.IANA) != 1 || len(tcp.Notes) != 1 || !slices.Equal(tcp.Protocols, []string{"tcp"}) {
		t.Errorf("Only(tcp) = %+v", tcp)
	}
}

func BenchmarkSearch(b *testing.B) {
	db := Default()
	db.Err()
	b.ReportAllocs()
	for b.Loop() {
		db.Search("remote desktop")
	}
}
