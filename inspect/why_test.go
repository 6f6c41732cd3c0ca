package inspect

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/platformtest"
)

// TestOverlaps is the kernel's bind conflict rule of addresses: the same
// address, or a wildcard of its family on either side; an IPv6 wildcard
// that takes IPv4 (not IPv6-only) covers every IPv4 address, and a bind
// to [::] here takes IPv4 too.
func TestOverlaps(t *testing.T) {
	sock := func(local string, ds platform.DualStack) *platform.Socket {
		return &platform.Socket{Local: netip.MustParseAddrPort(local), State: platform.Listen, DualStack: ds}
	}
	for _, tt := range []struct {
		sock *platform.Socket
		bind string
		want bool
	}{
		{sock("127.0.0.1:80", 0), "127.0.0.1", true},
		{sock("127.0.0.1:80", 0), "0.0.0.0", true},
		{sock("127.0.0.1:80", 0), "127.0.0.2", false},
		{sock("0.0.0.0:80", 0), "10.0.0.1", true},
		{sock("[::]:80", platform.DualStackYes), "0.0.0.0", true},
		{sock("[::]:80", platform.DualStackYes), "127.0.0.1", true},
		{sock("[::]:80", platform.DualStackNo), "0.0.0.0", false},
		{sock("[::]:80", platform.DualStackNo), "::1", true},
		{sock("[::1]:80", 0), "127.0.0.1", false},
		{sock("0.0.0.0:80", 0), "::", true}, // [::] here is dual-stack
		{sock("127.0.0.1:80", 0), "::1", false},
		{sock("[::ffff:127.0.0.1]:80", 0), "127.0.0.1", true},
	} {
		if got := overlaps(tt.sock, netip.MustParseAddr(tt.bind)); got != tt.want {
			t.Errorf("a socket on %s, a bind of %s: %v, want %v", tt.sock.Local, tt.bind, got, tt.want)
		}
	}
}

// binderFake is a machine whose port policy and binds are given: the
// systems portinspect cannot run here (Windows, macOS).
type binderFake struct {
	*platformtest.Fake
	policy  platform.PortPolicy
	bindErr error
	// reuseOK makes a bind with SO_REUSEADDR succeed, as macOS lets one
	// beside a wildcard listener.
	reuseOK bool
}

func (b *binderFake) PortPolicy(platform.Protocol) (platform.PortPolicy, error) { return b.policy, nil }
func (b *binderFake) EphemeralRange(platform.Protocol) (platform.PortRange, error) {
	return b.policy.Ephemeral, nil
}
func (b *binderFake) TryBind(_ platform.Protocol, _ netip.AddrPort, opts platform.BindOptions) error {
	if opts.ReuseAddr && b.reuseOK {
		return nil
	}
	return b.bindErr
}
func (b *binderFake) TryBindAs(platform.Protocol, netip.AddrPort, platform.BindOptions, int64) error {
	return platform.ErrNotTried
}

func whyCodes(ans *BindAnswer) string {
	codes := ans.Verdict
	for _, r := range ans.Reasons {
		codes += " " + r.Code
		if r.Blocks {
			codes += "!"
		}
	}
	return codes
}

func TestWhyOtherSystems(t *testing.T) {
	T := platform.TCP
	windows := func(socks ...platform.Socket) *platformtest.Fake {
		return &platformtest.Fake{SocketList: socks, Holders: map[uint64][]int{1: {4}, 2: {500}},
			Processes: map[int]platform.Process{
				4:     {PID: 4, Name: "System", Service: "kernel (http.sys and other drivers)"},
				37584: {PID: 37584, Name: "MYOBAddon.exe"},
				500:   {PID: 500, Name: "ControlCe"},
			},
			Machine: platform.Host{OS: "windows", Privileged: true}}
	}
	excluded := platform.PortPolicy{Excluded: []platform.ExcludedRange{
		{PortRange: platform.PortRange{Low: 50000, High: 50059, TCP: true}},
		{PortRange: platform.PortRange{Low: 55679, High: 55679, TCP: true}, Administered: true},
	}, ExcludedSource: "netsh int ipv4 show excludedportrange protocol=tcp"}
	darwin := func(socks ...platform.Socket) *platformtest.Fake {
		f := windows(socks...)
		f.Machine.OS = "macos"
		return f
	}
	mac := platform.PortPolicy{PrivilegedBelow: 1024, WildcardUnprivileged: true}
	linuxFake := func() *platformtest.Fake {
		f := windows()
		f.Machine.OS = "linux"
		return f
	}
	for _, tt := range []struct {
		name    string
		src     *binderFake
		req     BindRequest
		want    string
		command string // a command the first reason gives
		text    string // a phrase of the first reason's summary or fix
	}{
		{"a range WinNAT reserved", &binderFake{windows(), excluded, syscall.EACCES, false}, BindRequest{Protocol: T, Port: 50010, UID: -1},
			"blocked excluded_range!", "net stop winnat", "a service reserved"},
		{"an administered range", &binderFake{windows(), excluded, syscall.EACCES, false}, BindRequest{Protocol: T, Port: 55679, UID: -1},
			"blocked excluded_range!", "netsh int ipv4 delete excludedportrange protocol=tcp startport=55679 numberofports=1", "an administrator added"},
		{"HTTP.sys for an application", &binderFake{windows(platformtest.Sock(T, "0.0.0.0:8080", "0.0.0.0:0", platform.Listen, 1)),
			platform.PortPolicy{HTTPQueues: []platform.HTTPQueue{{PIDs: []int{37584}, URLs: []string{"HTTP://LOCALHOST:8080/"}}}}, syscall.EADDRINUSE, false},
			BindRequest{Protocol: T, Port: 8080, UID: -1}, "blocked in_use! http_sys", "", "System (pid 4)"},
		{"an HTTP.sys URL reservation", &binderFake{windows(), platform.PortPolicy{URLReservations: []platform.URLReservation{
			{URL: "http://+:80/Temporary_Listen_Addresses/", Users: []string{`\Everyone`}}, {URL: "http://*:5357/"}}}, nil, false},
			BindRequest{Protocol: T, Port: 80, UID: -1}, "free http_urlacl", "netsh http delete urlacl url=http://+:80/Temporary_Listen_Addresses/", `http://+:80/Temporary_Listen_Addresses/ for \Everyone:`},
		{"SELinux refuses 82", &binderFake{linuxFake(), platform.PortPolicy{SELinuxEnforcing: true, SELinuxPorts: []platform.SELinuxPort{
			{Type: "http_port_t", Protocol: "tcp", Ranges: []platform.PortRange{{Low: 82, High: 82, TCP: true}}}}}, syscall.EACCES, false},
			BindRequest{Protocol: T, Port: 82, UID: -1}, "blocked selinux!", "sudo semanage port -a -t TYPE_port_t -p tcp 82", "Likely: SELinux is enforcing and gives 82/tcp the type http_port_t"},
		{"SELinux, a bind that works", &binderFake{linuxFake(), platform.PortPolicy{SELinuxEnforcing: true}, nil, false},
			BindRequest{Protocol: T, Port: 8089, UID: -1}, "free selinux", "", "semanage, which would tell"},
		{"macOS, 80 on the wildcard", &binderFake{darwin(), mac, nil, false}, BindRequest{Protocol: T, Port: 80, UID: -1}, "free", "", ""},
		{"macOS, 80 on loopback", &binderFake{darwin(), mac, syscall.EACCES, false},
			BindRequest{Protocol: T, Port: 80, UID: -1, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}, "blocked privileged!", "", "on a specific address"},
		{"macOS, 127.0.0.1:5000 beside AirPlay, SO_REUSEADDR", &binderFake{darwin(platformtest.Sock(T, "0.0.0.0:5000", "0.0.0.0:0", platform.Listen, 2)), mac, syscall.EADDRINUSE, true},
			BindRequest{Protocol: T, Port: 5000, UID: -1, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}, "free in_use", "", "a bind with SO_REUSEADDR gets past it here"},
		{"macOS, AirPlay on 5000", &binderFake{darwin(platformtest.Sock(T, "0.0.0.0:5000", "0.0.0.0:0", platform.Listen, 2)), mac, syscall.EADDRINUSE, false},
			BindRequest{Protocol: T, Port: 5000, UID: -1}, "blocked in_use!", "", "AirPlay Receiver"},
	} {
		ans, err := Why(context.Background(), tt.src, tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := whyCodes(ans); got != tt.want {
			t.Errorf("%s: %s, want %s: %+v", tt.name, got, tt.want, ans.Reasons)
			continue
		}
		if len(ans.Reasons) == 0 {
			continue
		}
		first := ans.Reasons[0]
		if tt.command != "" && !slices.Contains(first.Commands, tt.command) {
			t.Errorf("%s: commands %q lack %q", tt.name, first.Commands, tt.command)
		}
		if !strings.Contains(first.Summary+" "+first.Fix, tt.text) {
			t.Errorf("%s: %q / %q lacks %q", tt.name, first.Summary, first.Fix, tt.text)
		}
		if tt.name == "HTTP.sys for an application" && !strings.Contains(ans.Reasons[1].Summary, "MYOBAddon.exe (pid 37584)") {
			t.Errorf("HTTP.sys: the application is not named: %q", ans.Reasons[1].Summary)
		}
	}
}
