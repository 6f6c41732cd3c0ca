package platform

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

type dumpTarget struct {
	proto  Protocol
	family Family
	proc   string // the /proc/net table with the same sockets
}

var dumpTargets = []dumpTarget{
	{TCP, IPv4, "net/tcp"},
	{TCP, IPv6, "net/tcp6"},
	{UDP, IPv4, "net/udp"},
	{UDP, IPv6, "net/udp6"},
}

func (t dumpTarget) wanted(f *Filter) bool {
	return f.wants(t.proto, t.family) && kernelStateMask(t.proto, f.States) != 0
}

func (t dumpTarget) addressFamily() uint8 {
	if t.family == IPv6 {
		return afInet6
	}
	return afInet
}

// netlinkSockets dumps the sockets that pass f through NETLINK_SOCK_DIAG,
// one dump per protocol and family, run side by side: each walks a whole
// kernel hash table on one CPU. It reports whether a dump stayed
// interrupted after every retry, in which case the list may miss sockets
// that changed during it.
func netlinkSockets(ctx context.Context, f Filter, names *ifaceNames) (socks []Socket, interrupted bool, err error) {
	type result struct {
		chunks      [][]Socket
		interrupted bool
		err         error
	}
	results := make([]result, len(dumpTargets))
	// The library sets its byte order on first use without a lock: set it
	// before the dumps run side by side.
	nl.NativeEndian()
	var wg sync.WaitGroup
	for i, t := range dumpTargets {
		if t.wanted(&f) {
			wg.Go(func() {
				r := &results[i]
				r.chunks, r.interrupted, r.err = netlinkDump(ctx, t, &f, names)
			})
		}
	}
	wg.Wait()
	total := 0
	for _, r := range results {
		if r.err != nil {
			return nil, false, r.err
		}
		for _, c := range r.chunks {
			total += len(c)
		}
		interrupted = interrupted || r.interrupted
	}
	socks = make([]Socket, 0, total)
	for _, r := range results {
		for _, c := range r.chunks {
			socks = append(socks, c...)
		}
	}
	return socks, interrupted, nil
}

// dumpChunk is how many sockets a dump collects before it starts another
// chunk: growing one slice for 20,000 sockets copied them over and over.
const dumpChunk = 1024

// netlinkDump dumps the sockets of one protocol and family that pass f,
// in chunks of dumpChunk. The library reports a dump the kernel marked
// interrupted; inet_diag does not mark its dumps today, so it is reported,
// not retried.
func netlinkDump(ctx context.Context, t dumpTarget, f *Filter, names *ifaceNames) (chunks [][]Socket, interrupted bool, err error) {
	bytecode := portBytecode(f.Ports, t.proto, f.PeerPorts)
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		chunks = chunks[:0]
		req := &inetDiagRequest{family: t.addressFamily(), protocol: protoNumber(t.proto),
			states: kernelStateMask(t.proto, f.States), bytecode: bytecode}
		err := dumpInetDiag(req, func(d *inetDiagSocket) {
			if !f.Match(&d.Socket) {
				return
			}
			if d.IfIndex != 0 {
				// idiag_if is the device the socket is bound to
				// (sk_bound_dev_if), a link-local address's scope too.
				d.Local = names.scope(d.Local, d.IfIndex)
				d.Remote = names.scope(d.Remote, d.IfIndex)
				ifc := names.lookup(d.IfIndex)
				d.Device, d.DeviceLoopback = ifc.name, ifc.loopback
			}
			if len(chunks) == 0 || len(chunks[len(chunks)-1]) == dumpChunk {
				chunks = append(chunks, make([]Socket, 0, dumpChunk))
			}
			last := &chunks[len(chunks)-1]
			*last = append(*last, d.Socket)
		})
		switch {
		case errors.Is(err, nl.ErrDumpInterrupted):
			return chunks, true, nil
		case errors.Is(err, unix.EINVAL) && bytecode != nil:
			// A kernel that refuses the filter still dumps without it;
			// Match filters here instead.
			bytecode = nil
			continue
		case errors.Is(err, ErrParse):
			return nil, false, err
		case err != nil:
			return nil, false, fmt.Errorf("netlink sock_diag for %s: %w", t.proc, err)
		}
		return chunks, false, nil
	}
}

// dumpInetDiag sends one sock_diag dump request and calls fn for every
// socket in the reply.
func dumpInetDiag(req *inetDiagRequest, fn func(*inetDiagSocket)) error {
	proto := TCP
	if req.protocol == ipprotoUDP {
		proto = UDP
	}
	var perr error
	nlreq := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
	nlreq.AddData(req)
	err := nlreq.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(msg []byte) bool {
		d, err := parseInetDiagMsg(msg, proto)
		if err != nil {
			perr = err
			return false
		}
		fn(&d)
		return true
	})
	if perr != nil {
		return perr
	}
	return err
}

func protoNumber(p Protocol) uint8 {
	if p == UDP {
		return ipprotoUDP
	}
	return ipprotoTCP
}

// procNetSockets reads the sockets that pass f from /proc/net, for systems
// that refuse NETLINK_SOCK_DIAG.
func procNetSockets(procRoot string, f Filter) ([]Socket, error) {
	// /proc/net is the main thread's network namespace; thread-self's is
	// this thread's, the one a netlink dump from it would see.
	root := filepath.Join(procRoot, "thread-self")
	if _, err := os.Stat(filepath.Join(root, "net")); err != nil {
		root = procRoot
	}
	var socks []Socket
	for _, t := range dumpTargets {
		if !t.wanted(&f) {
			continue
		}
		file, err := os.Open(filepath.Join(root, t.proc))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the protocol or IPv6 is not built in
		}
		if err != nil {
			return nil, err
		}
		err = parseProcNet(file, t.proto, binary.NativeEndian, func(s *Socket) {
			if f.Match(s) {
				socks = append(socks, *s)
			}
		})
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file.Name(), err)
		}
	}
	return socks, nil
}
