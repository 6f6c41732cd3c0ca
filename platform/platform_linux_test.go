package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// liveSockets opens the sockets the live tests look for and closes them
// when the test ends.
type liveSockets struct {
	tcp4, tcp6     *net.TCPListener
	udp4, udp6     *net.UDPConn
	client, server net.Conn
}

func openLiveSockets(t *testing.T) *liveSockets {
	t.Helper()
	var ls liveSockets
	listen := func(network, addr string) *net.TCPListener {
		l, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		t.Cleanup(func() { l.Close() })
		return l.(*net.TCPListener)
	}
	packet := func(network, addr string) *net.UDPConn {
		c, err := net.ListenPacket(network, addr)
		if err != nil {
			t.Skipf("cannot bind %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UDPConn)
	}
	ls.tcp4 = listen("tcp4", "127.0.0.1:0")
	ls.tcp6 = listen("tcp6", "[::1]:0")
	ls.udp4 = packet("udp4", "127.0.0.1:0")
	ls.udp6 = packet("udp6", "[::1]:0")
	var err error
	if ls.client, err = net.Dial("tcp4", ls.tcp4.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.client.Close() })
	if ls.server, err = ls.tcp4.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.server.Close() })
	return &ls
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	panic(a)
}

func TestLiveSocketsAndOwners(t *testing.T) {
	ls := openLiveSockets(t)
	want := []struct {
		name   string
		proto  Protocol
		local  netip.AddrPort
		remote netip.AddrPort
		state  State
	}{
		{"tcp4 listener", TCP, addrPort(ls.tcp4.Addr()), netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Listen},
		{"tcp6 listener", TCP, addrPort(ls.tcp6.Addr()), netip.AddrPortFrom(netip.IPv6Unspecified(), 0), Listen},
		{"udp4", UDP, addrPort(ls.udp4.LocalAddr()), netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Unconnected},
		{"udp6", UDP, addrPort(ls.udp6.LocalAddr()), netip.AddrPortFrom(netip.IPv6Unspecified(), 0), Unconnected},
		{"client", TCP, addrPort(ls.client.LocalAddr()), addrPort(ls.client.RemoteAddr()), Established},
		{"server", TCP, addrPort(ls.server.LocalAddr()), addrPort(ls.server.RemoteAddr()), Established},
	}
	for _, source := range []string{"netlink", "proc"} {
		t.Run(source, func(t *testing.T) {
			in, err := New(Options{SocketSource: source})
			if err != nil {
				t.Fatal(err)
			}
			socks, err := in.Sockets(context.Background(), MatchAll())
			if err != nil {
				if source == "netlink" {
					t.Skipf("netlink sock_diag refused here: %v", err)
				}
				t.Fatal(err)
			}
			if _, err := in.Owners(context.Background(), socks); err != nil {
				t.Fatal(err)
			}
			for _, w := range want {
				i := slices.IndexFunc(socks, func(s Socket) bool {
					return s.Protocol == w.proto && s.Local == w.local && s.Remote == w.remote
				})
				if i < 0 {
					t.Errorf("%s %v -> %v not listed", w.name, w.local, w.remote)
					continue
				}
				s := socks[i]
				if s.State != w.state {
					t.Errorf("%s: state %v, want %v", w.name, s.State, w.state)
				}
				if s.Owners != OwnersKnown || !slices.Contains(s.PIDs, os.Getpid()) {
					t.Errorf("%s: owners %v %v, want this test's PID %d", w.name, s.Owners, s.PIDs, os.Getpid())
				}
				if s.UID != int64(os.Geteuid()) {
					t.Errorf("%s: uid %d, want %d", w.name, s.UID, os.Geteuid())
				}
			}
		})
	}
}

// TestLiveFilterInKernel checks that the kernel accepts the port filter
// portBytecode compiles and applies it as Filter.Match would.
func TestLiveFilterInKernel(t *testing.T) {
	ls := openLiveSockets(t)
	in, err := New(Options{SocketSource: "netlink"})
	if err != nil {
		t.Fatal(err)
	}
	tcp, udp := addrPort(ls.tcp4.Addr()).Port(), addrPort(ls.udp6.LocalAddr()).Port()
	f := MatchAll()
	f.Ports = []PortRange{
		{Low: 1, High: 1, TCP: true, UDP: true},
		{Low: tcp, High: tcp, TCP: true},
		{Low: udp, High: udp, UDP: true},
		{Low: 65535, High: 65535, TCP: true},
	}
	f.States = States(0).With(Listen).With(Unconnected)
	socks, err := in.Sockets(context.Background(), f)
	if err != nil {
		t.Skipf("netlink sock_diag refused here: %v", err)
	}
	var got []netip.AddrPort
	for _, s := range socks {
		got = append(got, s.Local)
	}
	want := []netip.AddrPort{addrPort(ls.tcp4.Addr()), addrPort(ls.udp6.LocalAddr())}
	// The dumps run side by side: no order is promised.
	slices.SortFunc(got, netip.AddrPort.Compare)
	slices.SortFunc(want, netip.AddrPort.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want only %v", got, want)
	}

	// The kernel itself applies the filter: what it sends is only the
	// listener and the connection's server end, both on the port.
	req := &inetDiagRequest{family: afInet, protocol: ipprotoTCP, states: kernelStateMask(TCP, AllStates),
		bytecode: portBytecode([]PortRange{{Low: tcp, High: tcp, TCP: true}}, TCP, false)}
	var sent []netip.AddrPort
	if err := dumpInetDiag(nil, req, func(d *inetDiagSocket, _ int) { sent = append(sent, d.Local) }); err != nil {
		t.Fatalf("the kernel refused the filter: %v", err)
	}
	if len(sent) != 2 || sent[0].Port() != tcp || sent[1].Port() != tcp {
		t.Errorf("the kernel sent %v, want the two sockets on %d", sent, tcp)
	}
}

// TestLivePeerPortsInKernel checks the filter that keeps a port's clients
// too: the kernel sends the listener, the server end and the client end.
func TestLivePeerPortsInKernel(t *testing.T) {
	ls := openLiveSockets(t)
	in, err := New(Options{SocketSource: "netlink"})
	if err != nil {
		t.Fatal(err)
	}
	port := addrPort(ls.tcp4.Addr()).Port()
	f := MatchAll()
	f.Ports = []PortRange{{Low: port, High: port, TCP: true}}
	f.PeerPorts = true
	socks, err := in.Sockets(context.Background(), f)
	if err != nil {
		t.Skipf("netlink sock_diag refused here: %v", err)
	}
	client := addrPort(ls.client.LocalAddr())
	var got []string
	for _, s := range socks {
		got = append(got, s.Local.String()+">"+s.Remote.String())
	}
	slices.Sort(got)
	want := []string{
		"127.0.0.1:" + strconv.Itoa(int(port)) + ">0.0.0.0:0",
		"127.0.0.1:" + strconv.Itoa(int(port)) + ">" + client.String(),
		client.String() + ">127.0.0.1:" + strconv.Itoa(int(port)),
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestLiveAcceptQueue checks that a listener's queues are its accept queue
// and backlog, from netlink and from /proc/net, and a connection's are the
// bytes it has not read.
func TestLiveAcceptQueue(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	ap := addrPort(l.Addr())
	// Two connections the server never accepts, one of which has sent
	// bytes nobody reads.
	for i := range 2 {
		c, err := net.Dial("tcp4", ap.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i == 0 {
			c.Write([]byte("hello"))
		}
	}
	for _, source := range []string{"netlink", "proc"} {
		t.Run(source, func(t *testing.T) {
			in, err := New(Options{SocketSource: source})
			if err != nil {
				t.Fatal(err)
			}
			f := MatchAll()
			f.Ports = []PortRange{{Low: ap.Port(), High: ap.Port(), TCP: true}}
			var listener, unread *Socket
			// The kernel finishes the handshakes and queues the bytes
			// just after Dial and Write return.
			for try := 0; try < 50; try++ {
				socks, err := in.Sockets(context.Background(), f)
				if err != nil {
					t.Skipf("%s refused here: %v", source, err)
				}
				listener, unread = nil, nil
				for i := range socks {
					switch s := &socks[i]; {
					case s.State == Listen:
						listener = s
					case s.RecvQ == 5:
						unread = s
					}
				}
				if listener != nil && listener.RecvQ == 2 && unread != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if listener == nil || listener.RecvQ != 2 {
				t.Fatalf("listener %+v: want an accept queue of 2", listener)
			}
			wantBacklog := int64(-1) // /proc/net does not have it
			if source == "netlink" {
				b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
				if err != nil {
					t.Skip(err)
				}
				n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				wantBacklog = int64(n) // Go listens with the largest backlog allowed
			}
			if listener.SendQ != wantBacklog {
				t.Errorf("listener backlog %d, want %d", listener.SendQ, wantBacklog)
			}
			if unread == nil {
				t.Errorf("no server end with the 5 unread bytes")
			}
		})
	}
}

func TestLiveClosedSocketIsGone(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	ap := addrPort(l.Addr())
	in, _ := New(Options{})
	f := MatchAll()
	f.Ports = []PortRange{{Low: ap.Port(), High: ap.Port(), TCP: true}}
	listeners := func() int {
		socks, err := in.Sockets(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range socks {
			if s.Local == ap && s.State == Listen {
				n++
			}
		}
		return n
	}
	if n := listeners(); n != 1 {
		t.Fatalf("open listener %v listed %d times, want once", ap, n)
	}
	l.Close()
	if n := listeners(); n != 0 {
		t.Errorf("closed listener %v still listed", ap)
	}
}

func TestLiveProcess(t *testing.T) {
	in, _ := New(Options{})
	p, err := in.Process(os.Getpid(), DetailFull)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if p.PID != os.Getpid() || p.Exe != exe {
		t.Errorf("pid %d exe %q, want %d %q", p.PID, p.Exe, os.Getpid(), exe)
	}
	if !slices.Equal(p.Cmdline, os.Args) {
		t.Errorf("cmdline %q, want %q", p.Cmdline, os.Args)
	}
	if p.UID != int64(os.Geteuid()) || p.User == "" {
		t.Errorf("uid %d user %q, want %d", p.UID, p.User, os.Geteuid())
	}
	if age := time.Since(p.Started); age < -2*time.Second || age > 10*time.Minute {
		t.Errorf("started %v (%v ago)", p.Started, age)
	}
	if base := p.Name; len(base) == 0 || len(base) > 15 {
		t.Errorf("name %q", base)
	}
	if _, err := in.Process(1<<30, DetailFull); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a PID that does not exist: err = %v, want fs.ErrNotExist", err)
	}
}

func TestLiveHost(t *testing.T) {
	in, _ := New(Options{})
	h := in.Host()
	if h.OS != "linux" || h.Hostname == "" {
		t.Errorf("host %+v", h)
	}
	if os.Geteuid() == 0 && !h.Privileged {
		t.Errorf("root is not privileged: %+v", h)
	}
	if os.Geteuid() != 0 && h.Privileged {
		t.Errorf("an unprivileged user is privileged: %+v", h)
	}
}

func TestUnknownSocketSource(t *testing.T) {
	if _, err := New(Options{SocketSource: "bpf"}); !errors.Is(err, ErrUnknownSource) {
		t.Errorf("unknown source: %v, want ErrUnknownSource", err)
	}
}

// TestLiveReusePortListeners opens two SO_REUSEPORT listeners on one
// address: they are two sockets, and both must be listed.
func TestLiveReusePortListeners(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	first, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer first.Close()
	second, err := lc.Listen(context.Background(), "tcp4", first.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	ap := addrPort(first.Addr())
	in, _ := New(Options{})
	f := MatchAll()
	f.Ports = []PortRange{{Low: ap.Port(), High: ap.Port(), TCP: true}}
	socks, err := in.Sockets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Owners(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	if len(socks) != 2 || socks[0].Inode == socks[1].Inode {
		t.Fatalf("got %+v, want two listeners on %v", socks, ap)
	}
	for _, s := range socks {
		if s.State != Listen || s.Local != ap || !slices.Equal(s.PIDs, []int{os.Getpid()}) {
			t.Errorf("socket %+v, want LISTEN on %v held by %d", s, ap, os.Getpid())
		}
	}
}

// TestLiveSharedSocket hands a listener to a child process, as a forking
// server does: one socket, two holders, both listed.
func TestLiveSharedSocket(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	file, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	child := exec.Command(os.Args[0], "-test.run=^TestHelperHoldStdin$")
	child.Env = append(os.Environ(), "PORTINSPECT_TEST_HELPER=hold")
	child.ExtraFiles = []*os.File{file}
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		child.Wait()
	}()

	ap := addrPort(l.Addr())
	in, _ := New(Options{})
	f := MatchAll()
	f.Ports = []PortRange{{Low: ap.Port(), High: ap.Port(), TCP: true}}
	want := []int{os.Getpid(), child.Process.Pid}
	slices.Sort(want)
	// The child holds the descriptor from its start; give exec a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		socks, err := in.Sockets(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Owners(context.Background(), socks); err != nil {
			t.Fatal(err)
		}
		if len(socks) == 1 && slices.Equal(socks[0].PIDs, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %+v, want one listener held by %v", socks, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHelperHoldStdin is the child of TestLiveSharedSocket: it keeps the
// descriptors it inherited until its standard input closes.
func TestHelperHoldStdin(t *testing.T) {
	if os.Getenv("PORTINSPECT_TEST_HELPER") != "hold" {
		t.Skip("helper process for TestLiveSharedSocket")
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// TestLiveBoundTCPSocket binds a TCP socket without listening: it holds
// the port, shows in the CLOSE state when asked for, and is left out of
// the default states.
func TestLiveBoundTCPSocket(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skip(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(sa.(*unix.SockaddrInet4).Port)
	in, err := New(Options{SocketSource: "netlink"})
	if err != nil {
		t.Fatal(err)
	}
	f := MatchAll()
	f.Ports = []PortRange{{Low: port, High: port, TCP: true}}
	f.States = States(0).With(Close)
	socks, err := in.Sockets(context.Background(), f)
	if err != nil {
		t.Skipf("netlink sock_diag refused here: %v", err)
	}
	if _, err := in.Owners(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	if len(socks) != 1 {
		t.Skipf("this kernel does not report bound, inactive TCP sockets (Linux 6.5 and later do): %+v", socks)
	}
	if socks[0].State != Close || !slices.Equal(socks[0].PIDs, []int{os.Getpid()}) {
		t.Errorf("got %+v, want CLOSE held by %d", socks[0], os.Getpid())
	}
	f.States = DefaultStates
	if socks, _ := in.Sockets(context.Background(), f); len(socks) != 0 {
		t.Errorf("the default states list %+v", socks)
	}
}

// TestLiveExecutableFlags runs a copy of this test binary from a
// world-writable directory, deletes it, and reads both facts back.
func TestLiveExecutableFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := dir + "/helper"
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run=^TestHelperHoldStdin$")
	child.Env = append(os.Environ(), "PORTINSPECT_TEST_HELPER=hold")
	stdin, _ := child.StdinPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); child.Wait() }()
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	in, _ := New(Options{})
	p, err := in.Process(child.Process.Pid, DetailFull)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ExeDeleted || p.ExeReplaced || !p.ExeDirWritable || p.Exe != exe {
		t.Errorf("exe %q: deleted %v, replaced %v, dir world-writable %v; want %q deleted, not replaced, world-writable",
			p.Exe, p.ExeDeleted, p.ExeReplaced, p.ExeDirWritable, exe)
	}
	me, _ := in.Process(os.Getpid(), DetailFull)
	if me.ExeDeleted {
		t.Errorf("this test's own executable %q reads as deleted", me.Exe)
	}

	// An upgrade: a new file renamed over the running one's path.
	if err := os.WriteFile(exe+".new", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(exe+".new", exe); err != nil {
		t.Fatal(err)
	}
	p, err = in.Process(child.Process.Pid, DetailFull)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ExeDeleted || !p.ExeReplaced || p.Exe != exe {
		t.Errorf("after an upgrade: exe %q, deleted %v, replaced %v; want %q, both", p.Exe, p.ExeDeleted, p.ExeReplaced, exe)
	}
}

// TestLiveMainThreadExited: a process whose main thread has exited while
// another thread runs on keeps its descriptors, which show only under
// /proc/PID/task/TID/fd.
func TestLiveMainThreadExited(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3")
	}
	const script = `
import ctypes, socket, sys, threading
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
def hold():
    sys.stdin.read()
    import os
    os._exit(0)
threading.Thread(target=hold).start()
ctypes.CDLL(None).pthread_exit(None)
`
	cmd := exec.Command(python, "-c", script)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	var port int
	if _, err := fmt.Fscan(stdout, &port); err != nil {
		t.Fatal(err)
	}
	// Wait for the main thread to become a zombie.
	for try := 0; ; try++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if _, state, _ := strings.Cut(string(b), ") "); strings.HasPrefix(state, "Z") {
			break
		}
		if try == 100 {
			t.Skip("the main thread did not exit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	in, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := MatchAll()
	f.Ports = []PortRange{{Low: uint16(port), High: uint16(port), TCP: true}}
	socks, err := in.Sockets(context.Background(), f)
	if err != nil || len(socks) != 1 {
		t.Fatalf("sockets %+v, %v", socks, err)
	}
	if _, err := in.Owners(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	if socks[0].Owners != OwnersKnown || !slices.Equal(socks[0].PIDs, []int{cmd.Process.Pid}) {
		t.Errorf("owners %v %v, want %d", socks[0].Owners, socks[0].PIDs, cmd.Process.Pid)
	}
}

// TestLiveDumpSkipRecovered closes a socket while a dump is read, as a busy
// host's churn does. The kernel resumes the dump at a position in the hash
// bucket that the closed socket no longer fills, so the dump skips a
// socket that stayed open all along; the listing must still hold it.
func TestLiveDumpSkipRecovered(t *testing.T) {
	// UDP's dump walks a table hashed by port alone: sockets on one port
	// at different loopback addresses share a bucket, and a filter for the
	// port keeps every reply inside it.
	const n = 1000
	var port uint16
	var socks []*net.UDPConn
	t.Cleanup(func() {
		for _, c := range socks {
			c.Close()
		}
	})
	for i := range n {
		a := netip.AddrFrom4([4]byte{127, 0, byte(1 + i/250), byte(1 + i%250)})
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
		if err != nil {
			t.Skipf("%d loopback sockets: %v", n, err)
		}
		port = addrPort(c.LocalAddr()).Port()
		socks = append(socks, c)
	}
	// The newest socket heads the bucket: the dump's first reply holds it.
	closed := addrPort(socks[n-1].LocalAddr())
	var once sync.Once
	testHookDumping = func(d dumpTarget) {
		if d.proto == UDP && d.family == IPv4 {
			once.Do(func() { socks[n-1].Close() })
		}
	}
	t.Cleanup(func() { testHookDumping = nil })

	f := MatchAll()
	f.TCP, f.IPv6 = false, false
	f.Ports = []PortRange{{Low: port, High: port, UDP: true}}
	var names ifaceNames
	got, _, err := netlinkSockets(context.Background(), f, &names, nil)
	if err != nil {
		t.Skipf("netlink sock_diag refused here: %v", err)
	}
	seen := make(map[netip.AddrPort]bool, len(got))
	for _, s := range got {
		seen[s.Local] = true
	}
	var missing []netip.AddrPort
	for _, c := range socks[:n-1] {
		if a := addrPort(c.LocalAddr()); !seen[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		t.Errorf("open throughout, missing: %v (closed during the dump: %v)", missing, closed)
	}
}

func TestUnionByCookie(t *testing.T) {
	sock := func(cookie uint64, st State) Socket { return Socket{Cookie: cookie, State: st} }
	// base missed 4, holds 3 twice (added while it was read), and saw 1
	// in a later state than more did.
	base := []Socket{sock(3, Listen), sock(1, Established), sock(3, Listen), sock(0, TimeWait), sock(2, Established)}
	more := [][]Socket{{sock(1, SynSent), sock(2, Established), sock(0, TimeWait)}, {sock(4, Listen)}}
	got := unionByCookie(base, more)
	want := []Socket{sock(3, Listen), sock(1, Established), sock(0, TimeWait), sock(2, Established), sock(4, Listen)}
	if !slices.EqualFunc(got, want, socketsEqual) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// TestSocketStore: what outgrows the estimate is kept, in chunks, and
// the batches stored may be reused by their dump.
func TestSocketStore(t *testing.T) {
	for _, estimate := range []int{0, 3, 6, 100} {
		st := &socketStore{socks: make([]Socket, 0, estimate)}
		batch := make([]Socket, 0, 2)
		for cookie := uint64(1); cookie <= 6; cookie++ {
			if batch = append(batch, Socket{Cookie: cookie}); len(batch) == cap(batch) {
				st.add(batch)
				batch = batch[:0]
			}
		}
		var got []uint64
		for _, s := range st.all() {
			got = append(got, s.Cookie)
		}
		if !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6}) {
			t.Errorf("estimate %d: got %v", estimate, got)
		}
	}
}
