// Package platformtest provides a made-up machine for tests of the
// packages above platform.
package platformtest

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strconv"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
)

// Fake is a platform.Inspector over a fixed set of sockets and processes.
type Fake struct {
	SocketList []platform.Socket
	// Holders maps socket inodes to the PIDs holding them.
	Holders map[uint64][]int
	// Unreadable inodes have holders that cannot be read for lack of
	// privilege.
	Unreadable map[uint64]bool
	Processes  map[int]platform.Process
	Machine    platform.Host
	// Err, when set, is what Sockets returns.
	Err error
	// OwnersErr, when set, is what Owners returns.
	OwnersErr error
	// NAT are the publications its NAT rules make; NATErr, when set, is
	// what reading them returns.
	NAT    []container.Publication
	NATErr error
	// Behind are the listeners, in other namespaces, that take what is
	// forwarded to an address; BehindUnknown says why that of an address
	// could not be told.
	Behind        map[netip.AddrPort][]platform.Socket
	BehindUnknown map[netip.AddrPort]string

	// OwnersCalled records whether an owner lookup ran.
	OwnersCalled bool
	// LastFilter is the filter Sockets was last called with.
	LastFilter platform.Filter
}

func (f *Fake) Sockets(_ context.Context, flt platform.Filter) ([]platform.Socket, error) {
	f.LastFilter = flt
	if f.Err != nil {
		return nil, f.Err
	}
	var out []platform.Socket
	for _, s := range f.SocketList {
		if flt.Match(&s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Publications returns the NAT publications of the protocols and
// families flt keeps, as the Linux adapter does: ports and states are
// the caller's to match.
func (f *Fake) Publications(_ context.Context, flt platform.Filter) ([]container.Publication, error) {
	var out []container.Publication
	for _, p := range f.NAT {
		proto, _ := platform.ProtocolNamed(p.Protocol)
		v6 := p.Host().Addr().Is6()
		if (proto == platform.TCP && flt.TCP || proto == platform.UDP && flt.UDP) && (v6 && flt.IPv6 || !v6 && flt.IPv4) {
			out = append(out, p)
		}
	}
	return out, f.NATErr
}

// Reached returns what Behind has for each target, with its owners.
func (f *Fake) Reached(_ context.Context, _ platform.Filter, targets []platform.Target) (map[platform.Target]platform.Reach, error) {
	out := make(map[platform.Target]platform.Reach)
	for _, t := range targets {
		var socks []platform.Socket
		for _, s := range f.Behind[t.Addr] {
			if s.Protocol == t.Protocol {
				socks = append(socks, s)
			}
		}
		if _, err := f.Owners(context.Background(), socks); err != nil {
			return nil, err
		}
		out[t] = platform.Reach{Sockets: socks, Unknown: f.BehindUnknown[t.Addr]}
	}
	return out, nil
}

func (f *Fake) Owners(_ context.Context, socks []platform.Socket) (platform.OwnerReport, error) {
	f.OwnersCalled = true
	if f.OwnersErr != nil {
		return platform.OwnerReport{}, f.OwnersErr
	}
	denied := 0
	for i := range socks {
		s := &socks[i]
		s.PIDs = slices.Sorted(slices.Values(f.Holders[s.Inode]))
		switch {
		case len(s.PIDs) > 0:
			s.Owners = platform.OwnersKnown
		case f.Unreadable[s.Inode]:
			s.Owners = platform.OwnersHidden
			denied++
		default:
			s.Owners = platform.OwnersNone
		}
	}
	return platform.OwnerReport{Denied: denied}, nil
}

func (f *Fake) Process(pid int, _ platform.ProcessDetail) (platform.Process, error) {
	p, ok := f.Processes[pid]
	if !ok {
		return platform.Process{}, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
	}
	return p, nil
}

// LookupUser knows the users of the fake's processes, and any number.
func (f *Fake) LookupUser(name string) (int64, bool) {
	if uid, err := strconv.ParseInt(name, 10, 64); err == nil && uid >= 0 {
		return uid, true
	}
	for _, p := range f.Processes {
		if p.User == name {
			return p.UID, true
		}
	}
	return 0, false
}

func (f *Fake) Host() platform.Host { return f.Machine }

func (f *Fake) Warnings() []string { return nil }

// Sock makes a socket from address strings.
func Sock(proto platform.Protocol, local, remote string, state platform.State, inode uint64) platform.Socket {
	l, r := netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)
	fam := platform.IPv4
	if l.Addr().Is6() {
		fam = platform.IPv6
	}
	return platform.Socket{Protocol: proto, Family: fam, Local: l, Remote: r, State: state, Inode: inode}
}

// Workstation is a small machine: MSDTC-like tipd on 3372 (loopback TCP,
// all-interfaces TCP6 and UDP), sshd on 22, a connection to 3372 from a
// resolver, a listener whose holder is unreadable, a TIME_WAIT socket and
// a socket whose holder exits before it can be read.
func Workstation() *Fake {
	T, U := platform.TCP, platform.UDP
	return &Fake{
		SocketList: []platform.Socket{
			Sock(T, "127.0.0.1:3372", "127.0.0.1:50000", platform.Established, 5),
			Sock(T, "0.0.0.0:22", "0.0.0.0:0", platform.Listen, 1),
			Sock(T, "127.0.0.1:3372", "0.0.0.0:0", platform.Listen, 2),
			Sock(T, "[::]:3372", "[::]:0", platform.Listen, 3),
			Sock(U, "0.0.0.0:3372", "0.0.0.0:0", platform.Unconnected, 4),
			Sock(T, "127.0.0.1:50000", "127.0.0.1:3372", platform.Established, 6),
			Sock(T, "192.0.2.10:8080", "0.0.0.0:0", platform.Listen, 7),
			Sock(T, "127.0.0.1:50001", "127.0.0.1:3372", platform.TimeWait, 0),
			Sock(T, "[::ffff:127.0.0.1]:9000", "[::]:0", platform.Listen, 8),
		},
		Holders:    map[uint64][]int{1: {100}, 2: {4242}, 3: {4242}, 4: {4242}, 5: {4242}, 6: {777}, 8: {999}},
		Unreadable: map[uint64]bool{7: true},
		Processes: map[int]platform.Process{
			100:  {PID: 100, Name: "sshd", UID: 0, User: "root", Exe: "/usr/sbin/sshd", Cmdline: []string{"sshd: /usr/sbin/sshd -D"}, Service: "ssh.service"},
			4242: {PID: 4242, Name: "tipd", UID: 1000, User: "alice", Exe: "/usr/local/bin/tipd", Cmdline: []string{"/usr/local/bin/tipd", "--tip"}},
			777:  {PID: 777, Name: "systemd-resolve", UID: 101, User: "systemd-resolve", Exe: "/usr/lib/systemd/systemd-resolved"},
			// 999 exits before its details are read.
		},
		Machine: platform.Host{Hostname: "ws1", OS: "linux", Privileged: false, PrivilegeHint: "root"},
	}
}

// Risky is a privileged machine with a listener for each audit rule:
// MSDTC's port on every interface, Redis on loopback, a port nothing
// knows, programs run from /tmp and deleted, a listener no process holds,
// the kernel's nfsd.
func Risky() *Fake {
	T, U := platform.TCP, platform.UDP
	f := &Fake{
		SocketList: []platform.Socket{
			Sock(T, "0.0.0.0:3372", "0.0.0.0:0", platform.Listen, 1),      // MSDTC/TIP on all
			Sock(T, "127.0.0.1:6379", "0.0.0.0:0", platform.Listen, 2),    // Redis, loopback: no finding
			Sock(T, "[::]:47002", "[::]:0", platform.Listen, 3),           // nothing known
			Sock(T, "127.0.0.1:4747", "0.0.0.0:0", platform.Listen, 4),    // run from /tmp
			Sock(T, "127.0.0.1:4748", "0.0.0.0:0", platform.Listen, 5),    // deleted
			Sock(T, "0.0.0.0:8123", "0.0.0.0:0", platform.Listen, 6),      // no holder
			Sock(U, "0.0.0.0:2049", "0.0.0.0:0", platform.Unconnected, 7), // nfsd
			Sock(T, "127.0.0.1:3372", "127.0.0.1:50000", platform.Established, 8),
		},
		Holders: map[uint64][]int{1: {10}, 2: {20}, 3: {30}, 4: {40}, 5: {50}, 8: {10}},
		Processes: map[int]platform.Process{
			10: {PID: 10, Name: "tipd", Exe: "/usr/sbin/tipd"},
			20: {PID: 20, Name: "redis-server", Exe: "/usr/bin/redis-server"},
			30: {PID: 30, Name: "mystery", Exe: "/opt/mystery/bin/mystery"},
			40: {PID: 40, Name: "x", Exe: "/tmp/.x/x", ExeDirWritable: false},
			50: {PID: 50, Name: "gone", Exe: "/usr/local/bin/gone", ExeDeleted: true},
		},
		Machine: platform.Host{Hostname: "ws1", OS: "linux", Privileged: true, PrivilegeHint: "root"},
	}
	return f
}
