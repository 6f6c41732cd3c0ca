package platform

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

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
//
// A table too big for one reply is dumped twice, and the listing is the
// union by socket cookie. Such a dump resumes at a position within a hash
// bucket (udp_dump, inet_diag_dump_icsk), so a socket closed before that
// position between two replies shifts the next one past it: a long-lived
// listener vanishes from the listing while the kernel never marks the
// dump interrupted. The second dump starts as soon as the first outgrows
// its first reply and runs beside it, and its messages carry one more
// attribute, so its replies end at other sockets: one close cannot skip
// the same socket in both. A dump that came in one reply was not resumed
// and is not repeated: a port's answer, a quiet machine's tables.
//
// The sockets are ns's, or those of the namespace portinspect runs in when
// ns is nil.
func netlinkSockets(ctx context.Context, f Filter, names *ifaceNames, ns *Netns) (socks []Socket, interrupted bool, err error) {
	type result struct {
		interrupted bool
		err         error
	}
	results := make([]result, len(dumpTargets))
	store := &socketStore{}
	if ns == nil {
		store.socks = make([]Socket, 0, sockstatEstimate(&f, "/proc/thread-self/net"))
	}
	// Each second dump's sockets apart, for the union.
	again := make([]*socketStore, len(dumpTargets))
	var wg sync.WaitGroup
	for i, t := range dumpTargets {
		if !t.wanted(&f) {
			continue
		}
		wg.Go(func() {
			r := &results[i]
			var second sync.WaitGroup
			var secondResult result
			r.interrupted, r.err = netlinkDump(ctx, ns, t, &f, names, 0, store, func() {
				// What a skip costs is a listener: TCP's second dump asks
				// for listeners alone, a fifth of the loaded host's table
				// (connections come and go; one missed is as ss misses
				// it), and UDP's for all, every UDP socket being bound.
				g := f
				if t.proto == TCP {
					if g.States &= 1 << Listen; g.States == 0 {
						return
					}
				}
				again[i] = &socketStore{}
				second.Go(func() {
					secondResult.interrupted, secondResult.err = netlinkDump(ctx, ns, t, &g, names, inetDiagExtTOS, again[i], nil)
				})
			})
			second.Wait()
			if again[i] != nil {
				r.interrupted = r.interrupted && secondResult.interrupted
				r.err = cmp.Or(r.err, secondResult.err)
			}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return nil, false, r.err
		}
		interrupted = interrupted || r.interrupted
	}
	socks = store.all()
	var more [][]Socket
	for _, a := range again {
		if a != nil {
			more = append(more, a.all())
		}
	}
	if more != nil {
		socks = unionByCookie(socks, more)
	}
	return socks, interrupted, nil
}

// socketStore collects the sockets of dumps running side by side in one
// slice, sized beforehand where the kernel's counts tell (sockstatEstimate):
// collected in chunks and then joined, the loaded host's listing was
// copied once more, 5 MB of fresh memory, a twentieth of `list
// --no-processes`'s time in page faults. What does not fit goes into
// chunks, joined at the end.
type socketStore struct {
	mu     sync.Mutex
	socks  []Socket
	chunks [][]Socket
}

// add stores a batch of sockets, which the caller may then reuse.
func (st *socketStore) add(batch []Socket) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := min(len(batch), cap(st.socks)-len(st.socks))
	st.socks = append(st.socks, batch[:n]...)
	if rest := batch[n:]; len(rest) > 0 {
		st.chunks = append(st.chunks, slices.Clone(rest))
	}
}

// all returns every socket stored.
func (st *socketStore) all() []Socket {
	if len(st.chunks) == 0 {
		return st.socks
	}
	return slices.Concat(append([][]Socket{st.socks}, st.chunks...)...)
}

// testHookDumping, set by a test, runs as a dump reads its first socket:
// the kernel has then built the dump's second reply and not its third.
var testHookDumping func(dumpTarget)

// oneReply is the most bytes of messages a dump's first reply surely
// holds: the kernel fills it up to NLMSG_GOODSIZE, a page (or 8 KiB)
// less the skb's overhead, which is below 1 KiB.
const oneReply = 3 << 10

// dumpBatch is how many sockets a dump parses before it stores them.
const dumpBatch = 256

// netlinkDump dumps the sockets of one protocol and family that pass f
// into store, asking for the attributes ext selects (idiag_ext). It calls
// outgrown, if not nil, once the dump has outgrown one reply. A dump the
// kernel marked interrupted is reported, not retried: inet_diag does not
// mark its dumps today.
func netlinkDump(ctx context.Context, ns *Netns, t dumpTarget, f *Filter, names *ifaceNames, ext uint8, store *socketStore, outgrown func()) (interrupted bool, err error) {
	bytecode := portBytecode(f.Ports, t.proto, f.PeerPorts)
	batch := make([]Socket, 0, dumpBatch)
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		req := &inetDiagRequest{family: t.addressFamily(), protocol: protoNumber(t.proto), ext: ext,
			states: kernelStateMask(t.proto, f.States), bytecode: bytecode}
		first := true
		err = dumpInetDiag(ns, req, func(d *inetDiagSocket, size int) {
			if first && testHookDumping != nil {
				testHookDumping(t)
			}
			first = false
			if size > oneReply && outgrown != nil {
				outgrown()
				outgrown = nil
			}
			if !f.Match(&d.Socket) {
				return
			}
			if d.IfIndex != 0 {
				// idiag_if is the device the socket is bound to
				// (sk_bound_dev_if), a link-local address's scope too.
				ifc := names.lookup(d.IfIndex)
				d.Local, d.Remote = scope(d.Local, ifc.name), scope(d.Remote, ifc.name)
				d.Device, d.DeviceLoopback = ifc.name, ifc.loopback
			}
			if batch = append(batch, d.Socket); len(batch) == dumpBatch {
				store.add(batch)
				batch = batch[:0]
			}
		})
		switch {
		case errors.Is(err, errDumpInterrupted):
			store.add(batch)
			return true, nil
		case errors.Is(err, unix.EINVAL) && bytecode != nil:
			// A kernel that refuses the filter refuses it before it
			// dumps a socket, and still dumps without it; Match filters
			// here instead.
			bytecode = nil
			continue
		case errors.Is(err, ErrParse):
			return false, err
		case err != nil:
			return false, fmt.Errorf("netlink sock_diag for %s: %w", t.proc, err)
		}
		store.add(batch)
		return false, nil
	}
}

// unionByCookie returns the sockets of a dump, base, and those of other
// dumps of the same tables, more, that base lacks; a socket both hold is
// base's. A dump resumed after a socket was added can hold it twice: it
// is kept once. Sockets without a cookie are base's alone.
func unionByCookie(base []Socket, more [][]Socket) []Socket {
	seen := make(map[uint64]struct{}, len(base))
	base = slices.DeleteFunc(base, func(s Socket) bool {
		if s.Cookie == 0 {
			return false
		}
		_, dup := seen[s.Cookie]
		seen[s.Cookie] = struct{}{}
		return dup
	})
	for _, c := range more {
		for _, s := range c {
			if _, ok := seen[s.Cookie]; !ok && s.Cookie != 0 {
				seen[s.Cookie] = struct{}{}
				base = append(base, s)
			}
		}
	}
	return base
}

// dumpInetDiag sends one sock_diag dump request and calls fn for every
// socket in the reply, with the bytes of messages received so far.
//
// The socket is read here, into one buffer for every reply, rather than
// through vishvananda/netlink, whose ExecuteIter copies each reply and
// allocates for each message: the loaded host's two full dumps took
// 77 ms and 25 MB through it, 62 ms and 14 MB so (BenchmarkNetlinkDump).
func dumpInetDiag(ns *Netns, req *inetDiagRequest, fn func(d *inetDiagSocket, size int)) error {
	proto := TCP
	if req.protocol == ipprotoUDP {
		proto = UDP
	}
	const seq = 1
	msg := netlinkRequest(sockDiagByFamily, nlmFRequest|nlmFDump, seq, req.Serialize())
	size := 0
	// One socket reused for every message: fn's pointer would otherwise
	// cost an allocation per socket.
	var d inetDiagSocket
	return dumpNetlink(ns, unix.NETLINK_SOCK_DIAG, msg, seq, func(payload []byte) error {
		size += nlmsgHdrLen + len(payload)
		var err error
		if d, err = parseInetDiagMsg(payload, proto); err != nil {
			return err
		}
		fn(&d, size)
		return nil
	})
}

// dumpNetlink sends a dump request, msg numbered seq, on a netlink socket
// of the given protocol in ns, and calls parse with each message of the
// reply.
func dumpNetlink(ns *Netns, protocol int, msg []byte, seq uint32, parse func(payload []byte) error) error {
	fd, err := socketIn(ns, unix.AF_NETLINK, unix.SOCK_RAW, protocol)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	// The kernel fills a reply up to the reader's buffer, up to 32 KiB.
	// The buffer is pooled: a listing makes four dumps, and watch one
	// listing a second.
	bp := netlinkBufs.Get().(*[]byte)
	defer netlinkBufs.Put(bp)
	buf := *bp
	interrupted := false
	for {
		n, _, flags, from, err := unix.Recvmsg(fd, buf, nil, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case flags&unix.MSG_TRUNC != 0:
			return fmt.Errorf("%w: a netlink reply longer than %d bytes", ErrParse, len(buf))
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel answers a dump
		}
		r, err := parseNetlinkReply(buf[:n], seq, parse)
		if err != nil {
			return err
		}
		interrupted = interrupted || r.interrupted
		switch {
		case !r.done:
			continue
		case r.errno != 0:
			return unix.Errno(r.errno)
		case interrupted:
			return errDumpInterrupted
		}
		return nil
	}
}

// netlinkBufs are dumpNetlink's receive buffers.
var netlinkBufs = sync.Pool{New: func() any {
	b := make([]byte, 64<<10)
	return &b
}}

// errDumpInterrupted is a dump the kernel marked NLM_F_DUMP_INTR.
var errDumpInterrupted = errors.New("the table changed while it was dumped")

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
