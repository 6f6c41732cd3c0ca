package platform

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// These tests need a Mac: they open real sockets and look for them, and for
// this process as their holder.

func newDarwinTest(t *testing.T, source string) Inspector {
	t.Helper()
	in, err := New(Options{SocketSource: source})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// findOwn lists the sockets on port and checks that this process holds one
// with local address want.
func findOwn(t *testing.T, in Inspector, p Protocol, want netip.AddrPort, state State) {
	t.Helper()
	f := MatchAll()
	f.Ports = []PortRange{{Low: want.Port(), High: want.Port(), TCP: p == TCP, UDP: p == UDP}}
	socks, err := in.Sockets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Owners(context.Background(), socks); err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if s.Protocol == p && s.Local == want && s.State == state {
			if s.Owners != OwnersKnown || !slices.Contains(s.PIDs, os.Getpid()) {
				t.Errorf("socket %v: owners %v %v, want this process (%d)", want, s.Owners, s.PIDs, os.Getpid())
			}
			return
		}
	}
	t.Errorf("no %v %v socket in %+v", p, want, socks)
}

func TestDarwinLiveSockets(t *testing.T) {
	for _, source := range []string{"sysctl", "lsof"} {
		t.Run(source, func(t *testing.T) {
			in := newDarwinTest(t, source)
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			findOwn(t, in, TCP, ln.Addr().(*net.TCPAddr).AddrPort(), Listen)

			pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			findOwn(t, in, UDP, pc.LocalAddr().(*net.UDPAddr).AddrPort(), Unconnected)

			ln6, err := net.Listen("tcp6", "[::1]:0")
			if err != nil {
				t.Skip("no IPv6 loopback:", err)
			}
			defer ln6.Close()
			findOwn(t, in, TCP, ln6.Addr().(*net.TCPAddr).AddrPort(), Listen)
		})
	}
}

func TestDarwinLiveGone(t *testing.T) {
	in := newDarwinTest(t, "")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	ln.Close()
	f := MatchAll()
	f.Ports = []PortRange{{Low: port, High: port, TCP: true}}
	socks, err := in.Sockets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if s.State == Listen {
			t.Errorf("closed listener still listed: %+v", s)
		}
	}
}

func TestDarwinProcess(t *testing.T) {
	in := newDarwinTest(t, "")
	p, err := in.Process(os.Getpid(), DetailFull)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if p.PID != os.Getpid() || p.UID != int64(os.Geteuid()) || p.Started.IsZero() || p.Hidden {
		t.Errorf("process %+v", p)
	}
	if got, _ := filepath.EvalSymlinks(p.Exe); got != exe {
		t.Errorf("exe %q, want %q", p.Exe, exe)
	}
	// The name is the executable's base name, which p_comm would cut to
	// 16 bytes.
	if p.Name != filepath.Base(p.Exe) {
		t.Errorf("name %q, want %q", p.Name, filepath.Base(p.Exe))
	}
	if len(p.Cmdline) == 0 || p.Cmdline[0] != os.Args[0] {
		t.Errorf("cmdline %q, want to start with %q", p.Cmdline, os.Args[0])
	}
	if u, err := user.Current(); err == nil && p.User != u.Username && p.User != u.Uid {
		t.Errorf("user %q, want %q", p.User, u.Username)
	}
	if uid, ok := in.LookupUser(p.User); !ok || uid != p.UID {
		t.Errorf("LookupUser(%q) = %d %v, want %d", p.User, uid, ok, p.UID)
	}
	if uid, ok := in.LookupUser(strconv.Itoa(os.Geteuid())); !ok || uid != int64(os.Geteuid()) {
		t.Errorf("LookupUser by number = %d %v", uid, ok)
	}
	if _, err := in.Process(1<<30, DetailBasic); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a PID with no process: err = %v, want fs.ErrNotExist", err)
	}
	if h := in.Host(); h.OS != "macos" || h.Privileged != (os.Geteuid() == 0) {
		t.Errorf("host %+v", h)
	}
}
