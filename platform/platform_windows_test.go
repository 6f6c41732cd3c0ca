package platform

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// These tests run on Windows, and on Linux under Wine:
//
//	GOOS=windows go test -c -o /tmp/platform.test.exe ./platform
//	tools/wine/run-exe /tmp/platform.test.exe -test.v
//
// Wine's limits, checked for rather than hidden: every socket's owner
// PID is 0, iphlpapi has no GetOwnerModuleFrom*Entry, and the Service
// Control Manager lists only Wine's own few services.

func newTestInspector(t *testing.T) *windowsInspector {
	t.Helper()
	in, err := newOS(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return in.(*windowsInspector)
}

func TestWindowsLiveSockets(t *testing.T) {
	w := newTestInspector(t)
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	udpAddr := bindUDP(t)
	tcpAddr := netip.MustParseAddrPort(ln.Addr().String())

	f := MatchAll()
	f.Ports = []PortRange{{Low: tcpAddr.Port(), High: tcpAddr.Port(), TCP: true}, {Low: udpAddr.Port(), High: udpAddr.Port(), UDP: true}}
	socks, err := w.Sockets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Owners(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	var tcp, udp *Socket
	for i := range socks {
		s := &socks[i]
		switch {
		case s.Protocol == TCP && s.Local == tcpAddr && s.State == Listen:
			tcp = s
		case s.Protocol == UDP && s.Local == udpAddr:
			udp = s
		}
	}
	if tcp == nil || udp == nil {
		t.Fatalf("listeners %v/tcp and %v/udp not both among %+v", tcpAddr, udpAddr, socks)
	}
	if udp.State != Unconnected || udp.Family != IPv4 || tcp.Family != IPv6 || tcp.UID != -1 || tcp.Inode != 0 {
		t.Errorf("tcp %+v, udp %+v", *tcp, *udp)
	}
	for _, s := range []*Socket{tcp, udp} {
		// The rows' creation times: the test made both sockets just now
		// (Wine leaves them 0).
		if s.created != 0 {
			if at := filetimeToTime(s.created); time.Since(at) < -time.Second || time.Since(at) > time.Hour {
				t.Errorf("%v/%v created at %v by its row", s.Local, s.Protocol, at)
			}
		} else if !w.wine() {
			t.Errorf("%v/%v has no creation time", s.Local, s.Protocol)
		}
		switch {
		case w.wine():
			if s.Owners != OwnersUnknown || s.PIDs != nil {
				t.Errorf("under Wine: %v has owners %v %v, want unknown", s.Local, s.Owners, s.PIDs)
			}
		case s.Owners != OwnersKnown || !slices.Equal(s.PIDs, []int{os.Getpid()}):
			t.Errorf("%v: owners %v %v, want known, [%d]", s.Local, s.Owners, s.PIDs, os.Getpid())
		}
	}
	// The row each socket keeps names the module that opened it: this
	// test's executable (Wine has no GetOwnerModuleFrom*Entry).
	if len(tcp.mibRow) != mibTCP6OwnerModule.rowSize || len(udp.mibRow) != mibUDP4OwnerModule.rowSize {
		t.Errorf("rows of %d and %d bytes", len(tcp.mibRow), len(udp.mibRow))
	}
	buf := make([]uint64, 1)
	exe, _ := os.Executable()
	for _, s := range []*Socket{tcp, udp} {
		name, ok := socketModule(s, &buf)
		switch {
		case w.wine():
			if ok {
				t.Errorf("under Wine, %v's module: %q", s.Local, name)
			}
		case !ok || !strings.EqualFold(name, filepath.Base(exe)):
			t.Errorf("%v's module: %q, %v; want %s", s.Local, name, ok, filepath.Base(exe))
		}
	}

	warnings := w.Warnings()
	if w.wine() && !slices.ContainsFunc(warnings, func(s string) bool { return strings.Contains(s, "no owner for 2 sockets (PID 0)") }) {
		t.Errorf("warnings %q", warnings)
	}

	// A filter for listeners only asks for the listener table.
	f.States = States(0).With(Listen)
	socks, err = w.Sockets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 1 || socks[0].Local != tcpAddr {
		t.Errorf("listeners: %+v", socks)
	}
}

// bindUDP binds a UDP socket to 127.0.0.1 and an ephemeral port, closed
// when the test ends. Not through net.ListenPacket: Go's UDP sockets ask
// for SIO_UDP_CONNRESET, which Wine refuses.
func bindUDP(t *testing.T) netip.AddrPort {
	t.Helper()
	s, err := windows.Socket(windows.AF_INET, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { windows.Closesocket(s) })
	if err := windows.Bind(s, &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := windows.Getsockname(s)
	if err != nil {
		t.Fatal(err)
	}
	in4, ok := sa.(*windows.SockaddrInet4)
	if !ok {
		t.Fatalf("bound to %T", sa)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port))
}

func TestWindowsOwnerModuleTables(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	for _, src := range mibSources {
		class, _ := src.class(AllStates)
		b, err := src.call(class)
		if err != nil {
			t.Fatalf("%s: %v", src.layout.name, err)
		}
		found := false
		err = parseMIBTable(b, src.layout, func(s *Socket, pid uint32, row []byte) {
			if s.Protocol == TCP && s.Local == addr {
				found = true
				if err := src.owner.Find(); err != nil {
					t.Logf("%s: %v", src.layout.name, err) // Wine has no GetOwnerModuleFrom*Entry
					return
				}
				buf := make([]uint64, 1) // too small: Windows must say what it needs
				name, err := ownerModule(src.owner, row, &buf)
				t.Logf("%s: our listener's module: %q, %v (pid %d)", src.layout.name, name, err, pid)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if src.layout == &mibTCP4OwnerModule && !found {
			t.Errorf("%s: no %v", src.layout.name, addr)
		}
	}
}

func TestWindowsProcessSelf(t *testing.T) {
	w := newTestInspector(t)
	p, err := w.Process(os.Getpid(), DetailFull)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p)
	if !strings.EqualFold(p.Name, filepath.Base(exe)) || !strings.EqualFold(p.Exe, exe) {
		t.Errorf("name %q, exe %q; want %q", p.Name, p.Exe, exe)
	}
	if !strings.Contains(p.User, `\`) || p.Hidden {
		t.Errorf("user %q, hidden %v", p.User, p.Hidden)
	}
	if age := time.Since(p.Started); age < 0 || age > time.Hour {
		t.Errorf("started %v", p.Started)
	}
	// The command line, from the process's PEB through gopsutil.
	if !slices.Equal(p.Cmdline, os.Args) {
		t.Errorf("command line %q, want %q", p.Cmdline, os.Args)
	}
	if p.UID >= -2 {
		t.Errorf("UID %d, want a SID's stand-in below -2", p.UID)
	}
	names := []string{p.User, p.User[strings.LastIndex(p.User, `\`)+1:]}
	if !w.wine() {
		// Windows compares account names without regard to case; Wine
		// does not.
		names = append(names, strings.ToUpper(p.User))
	}
	for _, name := range names {
		if uid, ok := w.LookupUser(name); !ok || uid != p.UID {
			t.Errorf("LookupUser(%q) = %d, %v; want %d", name, uid, ok, p.UID)
		}
	}
}

// TestWindowsProcessChild reads another process: this test binary run
// again with arguments that need quoting on a Windows command line.
func TestWindowsProcessChild(t *testing.T) {
	w := newTestInspector(t)
	self, err := w.Process(os.Getpid(), DetailFull)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestWindowsHelperChild$", "an argument with spaces", `a "quoted" one`, `C:\path with\trailing\`, "")
	cmd.Env = append(os.Environ(), "PORTINSPECT_HELPER=child")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	// Read once the child runs: under Wine, a process read right after
	// its start can have no command line yet.
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("the child: %q, %v", line, err)
	}
	p, err := w.Process(cmd.Process.Pid, DetailFull)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p)
	if !strings.EqualFold(p.Exe, exe) || !strings.EqualFold(p.Name, filepath.Base(exe)) {
		t.Errorf("exe %q, name %q; want %q", p.Exe, p.Name, exe)
	}
	if !slices.Equal(p.Cmdline, cmd.Args) {
		t.Errorf("command line %q, want %q", p.Cmdline, cmd.Args)
	}
	if p.User != self.User || p.UID != self.UID || p.Hidden {
		t.Errorf("user %q (%d), hidden %v; want %q (%d)", p.User, p.UID, p.Hidden, self.User, self.UID)
	}
	if p.Started.Before(self.Started) || time.Since(p.Started) > time.Minute {
		t.Errorf("started %v, this test %v", p.Started, self.Started)
	}
}

// TestWindowsHelperChild is the child TestWindowsProcessChild reads: it
// waits until its standard input closes.
func TestWindowsHelperChild(t *testing.T) {
	if os.Getenv("PORTINSPECT_HELPER") != "child" {
		t.Skip("a helper for TestWindowsProcessChild")
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
}

func TestWindowsProcessSpecialPIDs(t *testing.T) {
	w := newTestInspector(t)
	if _, err := w.Process(0, DetailFull); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PID 0: %v, want ErrNotExist", err)
	}
	// PIDs are multiples of 4, and no system gets this far.
	if _, err := w.Process(0x7ffffff0, DetailFull); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a PID no process has: %v, want ErrNotExist", err)
	}
	p, err := w.Process(systemPID, DetailFull)
	system, _ := w.LookupUser("S-1-5-18")
	if err != nil || p.Name != "System" || !strings.Contains(p.Service, "kernel") || p.User == "" || p.UID != system {
		t.Errorf("PID 4: %+v, %v", p, err)
	}
}

func TestWindowsLookupUser(t *testing.T) {
	w := newTestInspector(t)
	for _, name := range []string{`NT AUTHORITY\SYSTEM`, "S-1-5-18"} {
		if uid, ok := w.LookupUser(name); !ok || uid >= -2 {
			t.Errorf("LookupUser(%q) = %d, %v", name, uid, ok)
		}
	}
	a, _ := w.LookupUser(`NT AUTHORITY\SYSTEM`)
	b, _ := w.LookupUser("S-1-5-18")
	if a != b {
		t.Errorf("SYSTEM by name %d, by SID %d", a, b)
	}
	if _, ok := w.LookupUser("no-such-user-3372"); ok {
		t.Error("an unknown user is found")
	}
}

func TestWindowsServices(t *testing.T) {
	byPID, err := runningServices()
	if err != nil {
		t.Fatal(err)
	}
	w := newTestInspector(t)
	// The same enumeration for what Process says and what it is checked
	// against: a real host starts services on demand between two.
	w.run.services = func() map[uint32]string { return w.run.servicesOf(byPID) }
	n := 0
	for pid, names := range byPID {
		n += len(names)
		if pid == 0 || len(names) == 0 || slices.Contains(names, "") || !slices.IsSorted(names) {
			t.Errorf("PID %d: %q", pid, names)
		}
		p, err := w.Process(int(pid), DetailFull)
		t.Logf("PID %d: %q; %+v, %v", pid, names, p, err)
		if err == nil && p.Service != strings.Join(names, ", ") {
			t.Errorf("PID %d: Service %q, want %q", pid, p.Service, strings.Join(names, ", "))
		}
	}
	t.Logf("%d running services in %d processes", n, len(byPID))
}

// TestWindowsOwnerGone: the PID a table gives is the socket's creator's;
// when no process has it any more, the holder is unknown (a child may
// have inherited the socket), never none.
func TestWindowsOwnerGone(t *testing.T) {
	w := newTestInspector(t)
	socks := []Socket{
		{Protocol: TCP, State: Listen, PIDs: []int{0x7ffffff0}},
		{Protocol: TCP, State: Listen, PIDs: []int{os.Getpid()}},
	}
	if _, err := w.Owners(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	if socks[0].Owners != OwnersUnknown || socks[0].PIDs != nil || socks[1].Owners != OwnersKnown {
		t.Errorf("owners %v %v, %v", socks[0].Owners, socks[0].PIDs, socks[1].Owners)
	}
	if !slices.ContainsFunc(w.Warnings(), func(s string) bool { return strings.Contains(s, "the process that created 1 socket has exited") }) {
		t.Errorf("warnings %q", w.Warnings())
	}
}

// TestWindowsDebugPrivilege: an elevated run enables SeDebugPrivilege for
// the process reads, as psutil does.
func TestWindowsDebugPrivilege(t *testing.T) {
	w := newTestInspector(t)
	if !w.elevated() {
		t.Skip("needs an elevated prompt")
	}
	if err := enableDebugPrivilege(); err != nil {
		t.Fatal(err)
	}
}

func TestWindowsHost(t *testing.T) {
	h := newTestInspector(t).Host()
	if h.OS != "windows" || h.Hostname == "" || h.PrivilegeHint != windowsPrivilegeHint {
		t.Errorf("%+v", h)
	}
	t.Logf("%+v", h)
}

// filetime is t as a FILETIME's 100 ns ticks since 1601.
func filetime(t time.Time) int64 {
	ft := windows.NsecToFiletime(t.UnixNano())
	return int64(ft.HighDateTime)<<32 | int64(ft.LowDateTime)
}

func TestWindowsProcessSnapshot(t *testing.T) {
	var spi windows.SYSTEM_PROCESS_INFORMATION
	l := systemProcessLayout64
	if unsafe.Sizeof(uintptr(0)) == 4 {
		l = systemProcessLayout32
	}
	if got := (systemProcessLayout{
		created:    int(unsafe.Offsetof(spi.CreateTime)),
		nameLength: int(unsafe.Offsetof(spi.ImageName) + unsafe.Offsetof(spi.ImageName.Length)),
		nameBuffer: int(unsafe.Offsetof(spi.ImageName) + unsafe.Offsetof(spi.ImageName.Buffer)),
		pid:        int(unsafe.Offsetof(spi.UniqueProcessID)),
		need:       l.need,
		ptrSize:    int(unsafe.Sizeof(uintptr(0))),
	}); got != l || l.need > int(unsafe.Sizeof(spi)) {
		t.Errorf("x/sys/windows lays SYSTEM_PROCESS_INFORMATION out as %+v, the parser as %+v", got, l)
	}

	procs := processSnapshot()
	self, ok := procs[uint32(os.Getpid())]
	exe, _ := os.Executable()
	if !ok || !strings.EqualFold(self.name, filepath.Base(exe)) {
		t.Fatalf("this process in the snapshot: %+v, %v (of %d)", self, ok, len(procs))
	}
	if started := filetimeToTime(self.created); time.Since(started) < 0 || time.Since(started) > time.Hour {
		t.Errorf("this process started at %v, by the snapshot", started)
	}
	if _, ok := procs[systemPID]; !ok {
		t.Logf("no System process in the snapshot (%d processes)", len(procs)) // Wine has none
	}
}

// TestWindowsOwnerReused: a process younger than a socket has only taken
// the PID of the socket's creator, which exited: the holder is unknown.
func TestWindowsOwnerReused(t *testing.T) {
	w := newTestInspector(t)
	now := filetime(time.Now())
	socks := []Socket{
		{Protocol: TCP, State: Listen, PIDs: []int{os.Getpid()}, created: filetime(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))},
		{Protocol: TCP, State: Listen, PIDs: []int{os.Getpid()}, created: now},
		{Protocol: TCP, State: Listen, PIDs: []int{os.Getpid()}}, // no timestamp
	}
	if _, err := w.Owners(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	if socks[0].Owners != OwnersUnknown || socks[0].PIDs != nil || socks[1].Owners != OwnersKnown || socks[2].Owners != OwnersKnown {
		t.Errorf("owners %v %v, %v, %v", socks[0].Owners, socks[0].PIDs, socks[1].Owners, socks[2].Owners)
	}
	if !slices.ContainsFunc(w.Warnings(), func(s string) bool {
		return strings.Contains(s, "the PID that created 1 socket now belongs to a process started after it")
	}) {
		t.Errorf("warnings %q", w.Warnings())
	}
}
