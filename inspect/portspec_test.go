package inspect

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/platform"
)

func fakeResolver(name string) []platform.PortRange {
	switch name {
	case "msdtc":
		return []platform.PortRange{{Low: 3372, High: 3372, TCP: true}}
	case "ssh":
		return []platform.PortRange{{Low: 22, High: 22, TCP: true}, {Low: 22, High: 22, UDP: true}}
	case "x11":
		return []platform.PortRange{{Low: 6000, High: 6063, TCP: true, UDP: true}}
	}
	return nil
}

// fakeNames knows fakeResolver's services and one host name.
var fakeNames = Names{
	Services: fakeResolver,
	Hosts: func() map[string][]netip.Addr {
		return map[string][]netip.Addr{"ws1": {netip.MustParseAddr("127.0.1.1")}}
	},
	HostsFile: "/etc/hosts",
}

func TestParsePortSpec(t *testing.T) {
	r := func(lo, hi uint16, tcp, udp bool) PortRange {
		return PortRange{PortRange: platform.PortRange{Low: lo, High: hi, TCP: tcp, UDP: udp}}
	}
	named := func(name string, pr PortRange) PortRange {
		pr.Service = name
		return pr
	}
	at := func(pr PortRange, addrs ...string) PortRange {
		for _, a := range addrs {
			pr.Addrs = append(pr.Addrs, netip.MustParseAddr(a))
		}
		return pr
	}
	tests := []struct {
		spec string
		want PortSet
	}{
		{"3372", PortSet{r(3372, 3372, true, true)}},
		{"3372/tcp", PortSet{r(3372, 3372, true, false)}},
		{"3372/UDP", PortSet{r(3372, 3372, false, true)}},
		{"1", PortSet{r(1, 1, true, true)}},
		{"65535", PortSet{r(65535, 65535, true, true)}},
		{"3000-3100", PortSet{r(3000, 3100, true, true)}},
		{"3000-3100/tcp", PortSet{r(3000, 3100, true, false)}},
		{"80-80", PortSet{r(80, 80, true, true)}},
		{"22,80,443/tcp", PortSet{r(22, 22, true, false), r(80, 80, true, false), r(443, 443, true, false)}},
		{"53/udp,80,443/tcp", PortSet{r(53, 53, false, true), r(80, 80, true, false), r(443, 443, true, false)}},
		{"53/udp, 80", PortSet{r(53, 53, false, true), r(80, 80, true, true)}},
		{"msdtc", PortSet{named("msdtc", r(3372, 3372, true, false))}},
		{"MSDTC", PortSet{named("msdtc", r(3372, 3372, true, false))}},
		{"ssh/udp", PortSet{named("ssh", r(22, 22, false, true))}},
		{"x11,22", PortSet{named("x11", r(6000, 6063, true, true)), r(22, 22, true, true)}},
		{"msdtc,53/udp", PortSet{named("msdtc", r(3372, 3372, true, false)), r(53, 53, false, true)}},
		// A name's protocols on one port are one range.
		{"ssh,22,80/udp", PortSet{named("ssh", r(22, 22, true, true)), r(22, 22, false, true), r(80, 80, false, true)}},
		{"tcp/3372", PortSet{r(3372, 3372, true, false)}},
		{"UDP/53,80", PortSet{r(53, 53, false, true), r(80, 80, true, true)}},
		// Addresses as ss, logs and browsers print them.
		{":3372", PortSet{r(3372, 3372, true, true)}},
		{"*:80", PortSet{r(80, 80, true, true)}},
		{"0.0.0.0:3372", PortSet{at(r(3372, 3372, true, true), "0.0.0.0")}},
		{"127.0.0.1:3372/tcp", PortSet{at(r(3372, 3372, true, false), "127.0.0.1")}},
		{"[::1]:3372", PortSet{at(r(3372, 3372, true, true), "::1")}},
		{"[::ffff:127.0.0.1]:80", PortSet{at(r(80, 80, true, true), "127.0.0.1")}},
		{"[fe80::1%eth0]:546/udp", PortSet{at(r(546, 546, false, true), "fe80::1%eth0")}},
		{"localhost:3372", PortSet{at(r(3372, 3372, true, true), "127.0.0.1", "::1")}},
		{"LocalHost:ssh", PortSet{at(named("ssh", r(22, 22, true, true)), "127.0.0.1", "::1")}},
		{"ws1:8000-8100,22", PortSet{at(r(8000, 8100, true, true), "127.0.1.1"), r(22, 22, true, true)}},
		// URLs pasted from a browser.
		{"http://localhost:3000/app?x=1", PortSet{at(r(3000, 3000, true, false), "127.0.0.1", "::1")}},
		{"https://[::1]/", PortSet{at(r(443, 443, true, false), "::1")}},
		{"HTTP://127.0.0.1", PortSet{at(r(80, 80, true, false), "127.0.0.1")}},
		// A URL's TCP is its own: 53 stays both protocols.
		{"53,http://localhost:8080", PortSet{r(53, 53, true, true), at(r(8080, 8080, true, false), "127.0.0.1", "::1")}},
	}
	for _, tt := range tests {
		got, err := ParsePortSpec(tt.spec, fakeNames)
		if err != nil {
			t.Errorf("ParsePortSpec(%q): %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePortSpec(%q) =\n %+v\nwant\n %+v", tt.spec, got, tt.want)
		}
	}
}

func TestParsePortSpecErrors(t *testing.T) {
	tests := []struct{ spec, mentions string }{
		{"0", `"0"`},
		{"65536", `"65536"`},
		{"-1", `"-1"`},
		{"abc", `"abc"`},
		{"10-5", `"10-5"`},
		{"80/xyz", `"xyz"`},
		{"", "empty"},
		{"22,", "empty item"},
		{"/tcp", `"/tcp"`},
		{"80/", `""`},
		{"1-", `"1-"`},
		{"1-70000", `"1-70000"`},
		{"+80", `"+80"`},
		{"3372/tcp/udp", `"tcp/udp"`},
		{"msdtc/udp", "no udp port"},
		{"99999999999999999999", `"99999999999999999999"`},
		{"3372:tcp", "did you mean 3372/tcp?"},
		{"tcp:3372", "did you mean 3372/tcp?"},
		{"3372tcp", "did you mean 3372/tcp?"},
		{"53udp", "did you mean 53/udp?"},
		{"80/tpc", "did you mean 80/tcp?"},
		{"80/ucp", "did you mean 80/udp?"},
		{"22,", `empty item in port spec "22,": write a comma list without spaces, as in 22,80`},
		{"10-5", "did you mean 5-10?"},
		{"::1:3372", "did you mean [::1]:3372?"},
		{"fe80::1:2:3", "brackets"},
		{"[::1]3372", "[IPv6 address]:PORT"},
		{"127.0.0.1:", `no port`},
		{"nosuchhost:80", `invalid address "nosuchhost" in "nosuchhost:80": not an IP address, and not a name in /etc/hosts (names are never looked up in DNS)`},
		{"1.2.3:80", `"1.2.3"`},
		{"gopher://localhost/", `invalid URL "gopher://localhost/": no port, and gopher has no usual one`},
		{"http://", `invalid URL "http://"`},
		{"ftp://nosuchhost/", `invalid URL "ftp://nosuchhost/": invalid address "nosuchhost"`},
		{"[]:22", "[IPv6 address]:PORT"},
		{"/tpc", `"/tpc"`},
	}
	for _, tt := range tests {
		_, err := ParsePortSpec(tt.spec, fakeNames)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParsePortSpec(%q): err = %v, want a UsageError", tt.spec, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.mentions) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePortSpec(%q): %q should be one line mentioning %s", tt.spec, err, tt.mentions)
		}
	}
}

func TestPortSetFilter(t *testing.T) {
	set, err := ParsePortSpec("22/tcp,3000-3100,3101,5-7/udp,1,2,3,4", fakeNames)
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Ports: set}
	f := q.filter()
	r := func(lo, hi uint16, tcp bool) platform.PortRange {
		return platform.PortRange{Low: lo, High: hi, TCP: tcp, UDP: !tcp}
	}
	want := []platform.PortRange{r(1, 4, true), r(22, 22, true), r(1, 7, false), r(3000, 3101, false)}
	if !slices.Equal(f.Ports, want) {
		t.Errorf("merged ranges %+v, want %+v", f.Ports, want)
	}
	checks := []struct {
		port uint16
		tcp  bool
		keep bool
	}{
		{22, true, true}, {22, false, false}, {3000, false, true}, {3101, false, true}, {3000, true, false},
		{6, false, true}, {6, true, false}, {4, true, true}, {3102, false, false},
	}
	for _, c := range checks {
		s := platform.Socket{Protocol: proto(c.tcp), Family: platform.IPv4, State: platform.Listen,
			Local: netip.AddrPortFrom(netip.IPv4Unspecified(), c.port)}
		if got := f.Match(&s); got != c.keep {
			t.Errorf("port %d tcp=%v: kept %v, want %v", c.port, c.tcp, got, c.keep)
		}
	}
	if got := set.Singles(); !slices.Equal(got, []uint16{22, 3101, 1, 2, 3, 4}) {
		t.Errorf("Singles = %v", got)
	}
	many := strings.TrimSuffix(strings.Repeat("7,", 30000)+"9", ",")
	set, err = ParsePortSpec(many, fakeNames)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Singles(); !slices.Equal(got, []uint16{7, 9}) {
		t.Errorf("Singles of a long list = %v", got)
	}
}

func TestParseStates(t *testing.T) {
	tests := map[string][]string{
		"LISTEN":             {"LISTEN"},
		"listen,established": {"LISTEN", "ESTABLISHED"},
		"time-wait":          {"TIME_WAIT"},
		"fin-wait-1":         {"FIN_WAIT1"},
		"estab":              {"ESTABLISHED"},
		"unconn":             {"UNCONN"},
	}
	for spec, names := range tests {
		got, err := ParseStates(spec)
		if err != nil {
			t.Errorf("ParseStates(%q): %v", spec, err)
			continue
		}
		for _, n := range names {
			s, _ := platform.StateNamed(n)
			if !got.Has(s) {
				t.Errorf("ParseStates(%q) lacks %s", spec, n)
			}
		}
	}
	connected, _ := ParseStates("connected")
	for _, n := range []string{"LISTEN", "UNCONN", "CLOSE"} {
		if s, _ := platform.StateNamed(n); connected.Has(s) {
			t.Errorf("connected includes %s", n)
		}
	}
	if s, _ := platform.StateNamed("ESTABLISHED"); !connected.Has(s) {
		t.Error("connected lacks ESTABLISHED")
	}
	_, err := ParseStates("listen,bogus")
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("bad state: %v", err)
	}
}

func FuzzParsePortSpec(f *testing.F) {
	for _, s := range []string{"3372", "22,80,443/tcp", "3000-3100/udp", "msdtc", "10-5", "-1", "80/xyz", " 1 , 2 ", "x11,22/tcp",
		"tcp/3372", "127.0.0.1:3372", "[::1]:3372/udp", "localhost:ssh", ":80", "*:80", "[fe80::1%eth0]:546", "::1:3372", "3372:tcp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		set, err := ParsePortSpec(spec, fakeNames)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") && !strings.Contains(spec, "\n") {
				t.Fatalf("%q: %v", spec, err)
			}
			return
		}
		if len(set) == 0 {
			t.Fatalf("%q: no error and no ports", spec)
		}
		for _, r := range set {
			if r.Low == 0 || r.High < r.Low || !r.TCP && !r.UDP {
				t.Fatalf("%q: bad range %+v", spec, r)
			}
			for _, a := range r.Addrs {
				if !a.IsValid() || a.Is4In6() {
					t.Fatalf("%q: bad address %v", spec, a)
				}
			}
		}
	})
}

func proto(tcp bool) platform.Protocol {
	if tcp {
		return platform.TCP
	}
	return platform.UDP
}
