package platform

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSELinuxPorts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "selinux", "semanage-port-l.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ports := parseSELinuxPorts(b)
	if len(ports) != 11 {
		t.Fatalf("%d rows: %+v", len(ports), ports)
	}
	for _, tt := range []struct {
		port  uint16
		proto Protocol
		want  string
	}{
		{82, TCP, "http_port_t"}, {8443, TCP, "http_port_t"}, {50022, TCP, "ssh_port_t"}, {7001, UDP, "afs3_callback_port_t"},
		{2181, TCP, "zookeeper_client_port_t"}, {5000, TCP, "unreserved_port_t"}, {40000, TCP, ""}, {82, UDP, ""}, {1229, UDP, "zented_port_t"},
	} {
		if got := SELinuxTypeOf(ports, tt.port, tt.proto); got != tt.want {
			t.Errorf("%d/%s: %q, want %q", tt.port, tt.proto, got, tt.want)
		}
	}
}

func FuzzParseSELinuxPorts(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "selinux", "semanage-port-l.txt")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range parseSELinuxPorts(b) {
			for _, r := range p.Ranges {
				if r.Low > r.High {
					t.Fatalf("bad range %+v", r)
				}
			}
		}
	})
}
