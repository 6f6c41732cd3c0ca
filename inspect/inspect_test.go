package inspect

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/platformtest"
)

func TestRunPortQuery(t *testing.T) {
	src := platformtest.Workstation()
	ports, _ := ParsePortSpec("3372", Names{})
	rep, err := Run(context.Background(), src, knownports.Default(), Query{Ports: ports, KnownPorts: KnownPortsAsked})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Sockets {
		got = append(got, s.Protocol.String()+" "+s.Local.String()+" "+s.State.String()+" "+s.Exposure.String())
	}
	want := []string{
		"tcp 127.0.0.1:3372 LISTEN loopback",
		"tcp [::]:3372 LISTEN all",
		"udp 0.0.0.0:3372 UNCONN all",
		"tcp 127.0.0.1:3372 ESTABLISHED loopback",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sockets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range rep.Sockets {
		if len(s.Processes) != 1 || s.Processes[0].PID != 4242 || s.Owners != platform.OwnersKnown {
			t.Errorf("%v: processes %v, want tipd 4242", s.Local, s.Processes)
		}
	}
	if len(rep.KnownPorts) != 1 || rep.KnownPorts[0].Port != 3372 || len(rep.KnownPorts[0].Notes) == 0 {
		t.Errorf("known ports %+v, want the 3372 entry with its note", rep.KnownPorts)
	}
}

func TestRunNothingOnPortStillDescribesIt(t *testing.T) {
	ports, _ := ParsePortSpec("3389/tcp", Names{})
	rep, err := Run(context.Background(), platformtest.Workstation(), knownports.Default(), Query{Ports: ports, KnownPorts: KnownPortsAsked})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sockets) != 0 {
		t.Errorf("sockets %v", rep.Sockets)
	}
	if len(rep.KnownPorts) != 1 || rep.KnownPorts[0].Port != 3389 {
		t.Errorf("known ports %+v, want 3389", rep.KnownPorts)
	}
}

func TestRunListFilters(t *testing.T) {
	tests := []struct {
		name  string
		q     Query
		local []string
	}{
		{"listening", Query{Listening: true}, []string{"0.0.0.0:22", "127.0.0.1:3372", "[::]:3372", "0.0.0.0:3372", "192.0.2.10:8080", "[::ffff:127.0.0.1]:9000"}},
		{"udp", Query{UDP: true}, []string{"0.0.0.0:3372"}},
		{"ipv6 listening", Query{IPv6: true, Listening: true}, []string{"[::]:3372", "[::ffff:127.0.0.1]:9000"}},
		{"time-wait", Query{States: platform.States(0).With(platform.TimeWait)}, []string{"127.0.0.1:50001"}},
		{"pid", Query{PIDs: []int{100}}, []string{"0.0.0.0:22"}},
		{"process by cut name", Query{Processes: []string{"systemd-resolved"}}, []string{"127.0.0.1:50000"}},
		{"process by exe", Query{Processes: []string{"/usr/local/bin/tipd"}, TCP: true, Listening: true}, []string{"127.0.0.1:3372", "[::]:3372"}},
		{"user name", Query{Users: []string{"root"}}, []string{"0.0.0.0:22", "192.0.2.10:8080"}},
		{"user uid", Query{Users: []string{"1000"}, UDP: true}, []string{"0.0.0.0:3372"}},
		{"two users", Query{Users: []string{"alice", "systemd-resolve"}, TCP: true, States: platform.States(0).With(platform.Established)}, []string{"127.0.0.1:3372", "127.0.0.1:50000"}},
		{"two processes", Query{Processes: []string{"sshd", "systemd-resolved"}}, []string{"0.0.0.0:22", "127.0.0.1:50000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), platformtest.Workstation(), nil, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range rep.Sockets {
				got = append(got, s.Local.String())
			}
			if !slices.Equal(got, tt.local) {
				t.Errorf("got %v, want %v", got, tt.local)
			}
		})
	}
}

// TestRunPIDFilterKeepsOtherHolders: --pid picks the sockets a process
// holds, and each still lists every holder.
func TestRunPIDFilterKeepsOtherHolders(t *testing.T) {
	src := platformtest.Workstation()
	src.Holders[2] = []int{4242, 100}
	rep, err := Run(context.Background(), src, nil, Query{PIDs: []int{100}, TCP: true, IPv4: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Sockets {
		var pids []string
		for _, p := range s.Processes {
			pids = append(pids, p.Name)
		}
		got = append(got, s.Local.String()+" "+strings.Join(pids, ","))
	}
	want := []string{"0.0.0.0:22 sshd", "127.0.0.1:3372 sshd,tipd"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRunOwnerStatuses(t *testing.T) {
	src := platformtest.Workstation()
	rep, err := Run(context.Background(), src, nil, Query{Listening: true})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]platform.OwnerStatus{}
	for _, s := range rep.Sockets {
		status[s.Local.String()] = s.Owners
	}
	if status["192.0.2.10:8080"] != platform.OwnersHidden {
		t.Errorf("unreadable holder: %v, want hidden", status["192.0.2.10:8080"])
	}
	if status["[::ffff:127.0.0.1]:9000"] != platform.OwnersNone {
		t.Errorf("holder exited before its details were read: %v, want none", status["[::ffff:127.0.0.1]:9000"])
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "owners of 1 socket are hidden (and sockets shown with owners may have more)") || !strings.Contains(rep.Warnings[0], "run as root") {
		t.Errorf("warnings %q", rep.Warnings)
	}
	for _, s := range rep.Sockets {
		if s.Local.String() == "[::ffff:127.0.0.1]:9000" && s.Exposure != ExposureLoopback {
			t.Errorf("v4-mapped loopback exposure %v", s.Exposure)
		}
		if s.Local.String() == "192.0.2.10:8080" && s.Exposure != ExposureAddress {
			t.Errorf("specific address exposure %v", s.Exposure)
		}
	}
}

func TestRunNoProcessesSkipsOwners(t *testing.T) {
	src := platformtest.Workstation()
	rep, err := Run(context.Background(), src, nil, Query{NoProcesses: true})
	if err != nil {
		t.Fatal(err)
	}
	if src.OwnersCalled {
		t.Error("owner lookup ran with NoProcesses")
	}
	if len(rep.Sockets) != len(src.SocketList) {
		t.Errorf("%d sockets, want %d", len(rep.Sockets), len(src.SocketList))
	}
	for _, s := range rep.Sockets {
		if s.Owners != platform.OwnersNotLooked || len(s.Processes) != 0 {
			t.Errorf("%v: owners %v %v", s.Local, s.Owners, s.Processes)
		}
	}
}

func TestRunPassesKernelFilter(t *testing.T) {
	src := platformtest.Workstation()
	ports, _ := ParsePortSpec("3372/udp", Names{})
	if _, err := Run(context.Background(), src, nil, Query{Ports: ports, IPv4: true, Listening: true}); err != nil {
		t.Fatal(err)
	}
	// -4 dumps IPv6 listeners too, for the dual-stack ones.
	f := src.LastFilter
	if f.TCP || !f.UDP || !f.IPv4 || !f.IPv6 || f.States != ListeningStates || len(f.Ports) != 1 || f.Ports[0] != (platform.PortRange{Low: 3372, High: 3372, UDP: true}) {
		t.Errorf("filter %+v", f)
	}
}

// TestRunIPv4TakesDualStack: -4 lists a :: listener that takes IPv4, and
// no other IPv6 socket.
func TestRunIPv4TakesDualStack(t *testing.T) {
	src := platformtest.Workstation()
	dual := platformtest.Sock(platform.TCP, "[::]:1003", "[::]:0", platform.Listen, 40)
	dual.DualStack = platform.DualStackYes
	v6only := platformtest.Sock(platform.TCP, "[::]:1004", "[::]:0", platform.Listen, 41)
	v6only.DualStack = platform.DualStackNo
	src.SocketList = append(src.SocketList, dual, v6only)
	rep, err := Run(context.Background(), src, nil, Query{IPv4: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Sockets {
		if s.Family == platform.IPv6 {
			got = append(got, s.Local.String())
		}
	}
	if !slices.Equal(got, []string{"[::]:1003"}) {
		t.Errorf("IPv6 sockets under -4: %v, want only the dual-stack listener", got)
	}
}

func TestRunWithoutProcessTable(t *testing.T) {
	src := platformtest.Workstation()
	src.OwnersErr = errors.New("open /proc: no such file or directory")
	rep, err := Run(context.Background(), src, nil, Query{Listening: true})
	if err != nil {
		t.Fatalf("an owner lookup failure aborted the answer: %v", err)
	}
	if len(rep.Sockets) == 0 {
		t.Fatal("no sockets")
	}
	for _, s := range rep.Sockets {
		if s.Owners != platform.OwnersHidden || len(s.Processes) != 0 {
			t.Errorf("%v: %v %v", s.Local, s.Owners, s.Processes)
		}
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "owners of all sockets are unknown: open /proc") {
		t.Errorf("warnings %q", rep.Warnings)
	}
}

// Where sockets have no inode (macOS, Windows), only TIME_WAIT is known to
// have no owner when the owner lookup fails.
func TestRunWithoutProcessTableElsewhere(t *testing.T) {
	src := platformtest.Workstation()
	src.Machine.OS = "macos"
	for i := range src.SocketList {
		src.SocketList[i].Inode = 0
	}
	src.OwnersErr = errors.New("sysctl net.inet.tcp.pcblist_n: operation not permitted")
	rep, err := Run(context.Background(), src, nil, Query{States: platform.AllStates})
	if err != nil {
		t.Fatal(err)
	}
	var timeWait int
	for _, s := range rep.Sockets {
		want := platform.OwnersHidden
		if s.State == platform.TimeWait {
			want = platform.OwnersNone
			timeWait++
		}
		if s.Owners != want {
			t.Errorf("%v %v: owners %v, want %v", s.Local, s.State, s.Owners, want)
		}
	}
	if timeWait == 0 {
		t.Error("the fixture has no TIME_WAIT socket")
	}
}

func TestRunDefaultStates(t *testing.T) {
	src := platformtest.Workstation()
	if _, err := Run(context.Background(), src, nil, Query{}); err != nil {
		t.Fatal(err)
	}
	if src.LastFilter.States != platform.DefaultStates {
		t.Errorf("states %b, want the default %b", src.LastFilter.States, platform.DefaultStates)
	}
	states, _ := ParseStates("close")
	if _, err := Run(context.Background(), src, nil, Query{States: states}); err != nil {
		t.Fatal(err)
	}
	if !src.LastFilter.States.Has(platform.Close) {
		t.Errorf("--state close: states %b", src.LastFilter.States)
	}
}

func TestExposureOf(t *testing.T) {
	for addr, want := range map[string]Exposure{
		"127.0.0.1": ExposureLoopback, "127.8.9.10": ExposureLoopback, "::1": ExposureLoopback,
		"::ffff:127.0.0.1": ExposureLoopback, "0.0.0.0": ExposureAll, "::": ExposureAll,
		"192.0.2.1": ExposureAddress, "fe80::1%eth0": ExposureAddress, "::ffff:0.0.0.0": ExposureAll,
	} {
		if got := ExposureOf(netip.MustParseAddr(addr)); got != want {
			t.Errorf("ExposureOf(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestExposureOfDevice: a wildcard bound to one interface is reached
// through it alone; bound to a loopback interface, from here alone.
func TestExposureOfDevice(t *testing.T) {
	sock := func(local, device string, loopback bool) platform.Socket {
		s := platformtest.Sock(platform.UDP, local, "0.0.0.0:0", platform.Unconnected, 1)
		s.Device, s.DeviceLoopback = device, loopback
		return s
	}
	tests := []struct {
		s    platform.Socket
		want Exposure
		name string
	}{
		{sock("0.0.0.0:67", "virbr0", false), ExposureInterface, "0.0.0.0%virbr0:67"},
		{sock("[::]:547", "eth1", false), ExposureInterface, "[::]%eth1:547"},
		{sock("0.0.0.0:53", "lo", true), ExposureLoopback, "0.0.0.0%lo:53"},
		{sock("192.0.2.1:53", "eth0", false), ExposureAddress, "192.0.2.1:53"},
		{sock("127.0.0.1:53", "eth0", false), ExposureLoopback, "127.0.0.1:53"},
		{sock("0.0.0.0:53", "", false), ExposureAll, "0.0.0.0:53"},
	}
	for _, tt := range tests {
		s := Socket{Socket: tt.s}
		if got := exposureOf(&tt.s); got != tt.want || s.LocalName() != tt.name {
			t.Errorf("%v on %q: %v %q, want %v %q", tt.s.Local, tt.s.Device, got, s.LocalName(), tt.want, tt.name)
		}
	}
	if !BeyondLoopback.Matches(ExposureInterface) || OnAll.Matches(ExposureInterface) || !OnInterface.Matches(ExposureInterface) {
		t.Error("exposure selectors and interface")
	}
}

func TestHiddenWarnings(t *testing.T) {
	hint := platform.Host{PrivilegeHint: "root"}
	root := platform.Host{Privileged: true, PrivilegeHint: "root"}
	known := Socket{Socket: platform.Socket{Owners: platform.OwnersKnown}}
	hidden := Socket{Socket: platform.Socket{Owners: platform.OwnersHidden}}
	none := Socket{Socket: platform.Socket{Owners: platform.OwnersNone}}
	tests := []struct {
		socks  []Socket
		denied int
		host   platform.Host
		want   string
	}{
		{[]Socket{known, none}, 0, hint, ""},
		{[]Socket{none}, 3, hint, ""},
		{[]Socket{hidden, hidden}, 3, hint, "owners of 2 sockets are hidden: run as root to see them"},
		// hidepid: nothing was denied, other users' processes were not there.
		{[]Socket{hidden, known}, 0, hint, "owners of 1 socket are hidden: run as root to see them"},
		{[]Socket{known}, 3, hint, "sockets shown with owners may have more holders: run as root to see them"},
		{[]Socket{known}, 1, root, ""},
		{[]Socket{hidden, known}, 1, root, "owners of 1 socket are hidden (and sockets shown with owners may have more): 1 process refused access to its descriptors even with privilege"},
	}
	for _, tt := range tests {
		got := strings.Join(hiddenWarnings(tt.socks, platform.OwnerReport{Denied: tt.denied}, tt.host), "|")
		if got != tt.want {
			t.Errorf("denied %d privileged %v:\n got %q\nwant %q", tt.denied, tt.host.Privileged, got, tt.want)
		}
	}
}

func TestRunNamesServices(t *testing.T) {
	src := platformtest.Workstation()
	src.SocketList = append(src.SocketList,
		platformtest.Sock(platform.TCP, "192.0.2.10:45678", "198.51.100.1:443", platform.Established, 20))
	rep, err := Run(context.Background(), src, knownports.Default(), Query{NoProcesses: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range rep.Sockets {
		got[s.Local.String()+">"+s.Remote.String()] = s.Service
	}
	for conn, want := range map[string]string{
		"0.0.0.0:22>0.0.0.0:0":              "ssh",   // a listener: its own port
		"127.0.0.1:3372>127.0.0.1:50000":    "msdtc", // the server end of a connection to a listener here
		"127.0.0.1:50000>127.0.0.1:3372":    "msdtc", // the client end: the peer's port
		"192.0.2.10:45678>198.51.100.1:443": "https",
		"[::ffff:127.0.0.1]:9000>[::]:0":    "cslistener",
	} {
		if got[conn] != want {
			t.Errorf("%s: service %q, want %q", conn, got[conn], want)
		}
	}
}

func TestKnownPortsNarrowedToProtocol(t *testing.T) {
	ports, _ := ParsePortSpec("3372/udp", Names{})
	rep, err := Run(context.Background(), platformtest.Workstation(), knownports.Default(), Query{Ports: ports, KnownPorts: KnownPortsAsked})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.KnownPorts) != 1 {
		t.Fatalf("known ports %+v", rep.KnownPorts)
	}
	e := rep.KnownPorts[0]
	if len(e.Notes) != 0 || len(e.IANA) != 1 || e.IANA[0].Protocol != "udp" {
		t.Errorf("3372/udp: %+v, want the udp registration and no TCP note", e)
	}
}

// describeSockets is a report's sockets as "role proto local>remote".
func describeSockets(socks []Socket) []string {
	var out []string
	for _, s := range socks {
		out = append(out, s.Role.String()+" "+s.Protocol.String()+" "+s.Local.String()+">"+s.Remote.String())
	}
	return out
}

func TestRunClients(t *testing.T) {
	src := platformtest.Workstation()
	// A connection from here to another machine's 3372 is no client of
	// this machine's port.
	src.SocketList = append(src.SocketList, platformtest.Sock(platform.TCP, "192.0.2.10:50002", "198.51.100.7:3372", platform.Established, 20))
	ports, _ := ParsePortSpec("3372/tcp", Names{})
	rep, err := Run(context.Background(), src, nil, Query{Ports: ports, Clients: true})
	if err != nil {
		t.Fatal(err)
	}
	if !src.LastFilter.PeerPorts {
		t.Error("the platform was not asked for the port's clients")
	}
	want := []string{
		"local tcp 127.0.0.1:3372>0.0.0.0:0",
		"local tcp [::]:3372>[::]:0",
		"local tcp 127.0.0.1:3372>127.0.0.1:50000",
		"client tcp 127.0.0.1:50000>127.0.0.1:3372",
		"client tcp 127.0.0.1:50001>127.0.0.1:3372",
	}
	if got := describeSockets(rep.Sockets); !slices.Equal(got, want) {
		t.Errorf("sockets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := rep.Sockets[3].Processes; len(p) != 1 || p[0].Name != "systemd-resolve" {
		t.Errorf("client's processes %v, want systemd-resolve", p)
	}
}

func TestRunAddresses(t *testing.T) {
	tests := []struct {
		spec      string
		addresses []string
		want      []string
	}{
		// The wildcard listeners take 127.0.0.1's connections.
		// [::]:3372 is not said to be dual-stack.
		{"127.0.0.1:3372/tcp", nil, []string{"local tcp 127.0.0.1:3372>0.0.0.0:0", "local tcp 127.0.0.1:3372>127.0.0.1:50000"}},
		{"[::1]:3372", nil, []string{"local tcp [::]:3372>[::]:0"}},
		{"[::]:3372", nil, []string{"local tcp [::]:3372>[::]:0"}},
		{"0.0.0.0:3372", nil, []string{"local udp 0.0.0.0:3372>0.0.0.0:0"}},
		{"192.0.2.10:8080", nil, []string{"local tcp 192.0.2.10:8080>0.0.0.0:0"}},
		{"127.0.0.1:8080", nil, nil},
		{"22", []string{"127.0.0.1"}, []string{"local tcp 0.0.0.0:22>0.0.0.0:0"}},
		{"22", []string{"::1"}, nil},
	}
	for _, tt := range tests {
		ports, err := ParsePortSpec(tt.spec, Names{})
		if err != nil {
			t.Fatal(err)
		}
		q := Query{Ports: ports}
		for _, a := range tt.addresses {
			q.Addresses = append(q.Addresses, netip.MustParseAddr(a))
		}
		rep, err := Run(context.Background(), platformtest.Workstation(), nil, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := describeSockets(rep.Sockets); !slices.Equal(got, tt.want) {
			t.Errorf("%s %v:\n%s\nwant:\n%s", tt.spec, tt.addresses, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

func TestSocketAt(t *testing.T) {
	sock := func(local string, state platform.State, dual platform.DualStack) *Socket {
		s := platformtest.Sock(platform.TCP, local, "0.0.0.0:0", state, 1)
		s.DualStack = dual
		return &Socket{Socket: s}
	}
	tests := []struct {
		s    *Socket
		addr string
		want bool
	}{
		{sock("127.0.0.1:80", platform.Listen, 0), "127.0.0.1", true},
		{sock("127.0.0.1:80", platform.Listen, 0), "127.0.0.2", false},
		{sock("0.0.0.0:80", platform.Listen, 0), "10.1.2.3", true},
		{sock("0.0.0.0:80", platform.Listen, 0), "::1", false},
		{sock("0.0.0.0:80", platform.Established, 0), "10.1.2.3", false},
		{sock("[::]:80", platform.Listen, platform.DualStackYes), "127.0.0.1", true},
		{sock("[::]:80", platform.Listen, platform.DualStackNo), "127.0.0.1", false},
		{sock("[::]:80", platform.Listen, platform.DualStackUnknown), "127.0.0.1", false},
		{sock("[::]:80", platform.Listen, platform.DualStackNo), "::1", true},
		{sock("[::]:80", platform.Listen, platform.DualStackYes), "0.0.0.0", true},
		{sock("[::]:80", platform.Listen, platform.DualStackUnknown), "0.0.0.0", false},
		{sock("[::ffff:127.0.0.1]:80", platform.Listen, 0), "127.0.0.1", true},
		{sock("[fe80::1%eth0]:80", platform.Listen, 0), "fe80::1", true},
		{sock("[fe80::1%eth0]:80", platform.Listen, 0), "fe80::1%eth1", false},
	}
	for _, tt := range tests {
		if got := tt.s.At(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("%v (%v, dual stack %d) at %s: %v, want %v", tt.s.Local, tt.s.State, tt.s.DualStack, tt.addr, got, tt.want)
		}
	}
}

// TestRunServiceWithoutListeners checks that a server end is named by its
// port's service when the query leaves the listener out.
func TestRunServiceWithoutListeners(t *testing.T) {
	src := platformtest.Workstation()
	src.SocketList = append(src.SocketList,
		platformtest.Sock(platform.TCP, "0.0.0.0:2049", "0.0.0.0:0", platform.Listen, 30),
		platformtest.Sock(platform.TCP, "10.0.0.1:2049", "10.0.0.2:993", platform.Established, 31))
	for _, q := range []Query{{}, {States: platform.States(0).With(platform.Established)}} {
		rep, err := Run(context.Background(), src, knownports.Default(), q)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(rep.Sockets, func(s Socket) bool { return s.Inode == 31 })
		if i < 0 {
			t.Fatalf("states %v: the server end of 2049 is not listed", q.States)
		}
		if rep.Sockets[i].Service != "nfs" {
			t.Errorf("states %v: the server end of 2049 is %+v, want service nfs", q.States, rep.Sockets[i])
		}
	}
}

// TestSortSockets: the sort by index that moves sockets into place gives
// the order compareSockets defines, with every socket kept once.
func TestSortSockets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 500} {
		socks := make([]Socket, n)
		for i := range socks {
			s := &socks[i]
			s.Protocol = platform.Protocol(1 + r.IntN(2))
			s.State = []platform.State{platform.Listen, platform.Established, platform.Unconnected}[r.IntN(3)]
			s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(r.IntN(3))}), uint16(r.IntN(20)))
			s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(3))}), uint16(r.IntN(5)))
			s.Inode = uint64(i) // tells every socket apart
		}
		want := slices.Clone(socks)
		slices.SortStableFunc(want, func(a, b Socket) int { return compareSockets(&a, &b) })
		sortSockets(socks)
		for i := range socks {
			if socks[i].Inode != want[i].Inode {
				t.Fatalf("n=%d: at %d inode %d, want %d", n, i, socks[i].Inode, want[i].Inode)
			}
		}
	}
}

// TestRunSorts: Run sorts as it copies the sockets in, roles included (a
// port's clients after its own sockets), to the order compareSockets
// defines.
func TestRunSorts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var list []platform.Socket
	for i := range 300 {
		state := []platform.State{platform.Listen, platform.Established}[r.IntN(2)]
		local := "127.0.0." + strconv.Itoa(1+r.IntN(3)) + ":" + strconv.Itoa(3370+r.IntN(5))
		remote := "0.0.0.0:0"
		if state == platform.Established {
			remote = "127.0.0." + strconv.Itoa(1+r.IntN(3)) + ":" + strconv.Itoa(3370+r.IntN(5))
		}
		list = append(list, platformtest.Sock(platform.TCP, local, remote, state, uint64(i+1)))
	}
	src := &platformtest.Fake{SocketList: list, Machine: platform.Host{OS: "linux", Privileged: true}}
	ports, _ := ParsePortSpec("3372/tcp", Names{})
	for _, q := range []Query{{}, {Ports: ports, Clients: true}} {
		rep, err := Run(context.Background(), src, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Sockets) == 0 {
			t.Fatalf("query %+v: no sockets", q)
		}
		if !slices.IsSortedFunc(rep.Sockets, func(a, b Socket) int { return compareSockets(&a, &b) }) {
			t.Errorf("query %+v: sockets out of order", q)
		}
		if q.Ports != nil && !slices.ContainsFunc(rep.Sockets, func(s Socket) bool { return s.Role == RoleClient }) {
			t.Errorf("query %+v: no client of 3372 to order", q)
		}
	}
}

// TestRunClientsAtZonedAddress: a client of a link-local address given
// with its zone (--address fe80::1%eth0) is that address's client.
func TestRunClientsAtZonedAddress(t *testing.T) {
	src := &platformtest.Fake{
		SocketList: []platform.Socket{
			platformtest.Sock(platform.TCP, "[fe80::1%eth0]:3372", "[::]:0", platform.Listen, 1),
			platformtest.Sock(platform.TCP, "[fe80::1%eth0]:3372", "[fe80::2%eth0]:50000", platform.Established, 2),
			platformtest.Sock(platform.TCP, "[fe80::2%eth0]:50000", "[fe80::1%eth0]:3372", platform.Established, 3),
		},
		Machine: platform.Host{OS: "linux", Privileged: true},
	}
	ports, _ := ParsePortSpec("3372/tcp", Names{})
	rep, err := Run(context.Background(), src, nil, Query{Ports: ports, Clients: true,
		Addresses: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"local tcp [fe80::1%eth0]:3372>[::]:0",
		"local tcp [fe80::1%eth0]:3372>[fe80::2%eth0]:50000",
		"client tcp [fe80::2%eth0]:50000>[fe80::1%eth0]:3372",
	}
	if got := describeSockets(rep.Sockets); !slices.Equal(got, want) {
		t.Errorf("sockets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
