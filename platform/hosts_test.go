package platform

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseHosts(t *testing.T) {
	const file = `# /etc/hosts
127.0.0.1	localhost
127.0.1.1	ws1.example.org ws1
::1     localhost ip6-localhost ip6-loopback   # the IPv6 loopback
fe80::1%lo0 LinkLocal
not-an-address	bogus
10.0.0.5
127.0.0.1 LOCALHOST
`
	hosts, err := ParseHosts(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"localhost":       {"127.0.0.1", "::1"},
		"ws1":             {"127.0.1.1"},
		"ws1.example.org": {"127.0.1.1"},
		"ip6-localhost":   {"::1"},
		"ip6-loopback":    {"::1"},
		"linklocal":       {"fe80::1%lo0"},
	}
	if len(hosts) != len(want) {
		t.Errorf("got %d names %v, want %d", len(hosts), hosts, len(want))
	}
	for name, addrs := range want {
		var got []string
		for _, a := range hosts[name] {
			got = append(got, a.String())
		}
		if !slices.Equal(got, addrs) {
			t.Errorf("%s: got %v, want %v", name, got, addrs)
		}
	}
}

func TestLoadHostsMissing(t *testing.T) {
	// Not t.TempDir: Wine cannot remove directories, which fails its
	// cleanup.
	if hosts := LoadHosts(filepath.Join(os.TempDir(), "portinspect-no-such-hosts-file")); len(hosts) != 0 {
		t.Errorf("a missing file gives %v", hosts)
	}
}

func FuzzParseHosts(f *testing.F) {
	f.Add("127.0.0.1 localhost\n::1 localhost ip6-localhost # comment\n")
	f.Add("fe80::1%eth0 a\n\n#\n1.2.3.4\n")
	f.Fuzz(func(t *testing.T, s string) {
		hosts, err := ParseHosts(strings.NewReader(s))
		if err != nil {
			return
		}
		for name, addrs := range hosts {
			if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, " \t#") {
				t.Fatalf("name %q", name)
			}
			for i, a := range addrs {
				if !a.IsValid() || slices.Contains(addrs[:i], a) {
					t.Fatalf("%s: addresses %v", name, addrs)
				}
			}
		}
	})
}
