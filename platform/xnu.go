package platform

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
)

// This file decodes what macOS's kernel (XNU) and its tools report about
// sockets and processes: the net.inet.{tcp,udp}.pcblist_n sysctl tables,
// libproc's descriptor lists and socket_fdinfo, kern.procargs2, and lsof's
// field output. It has no build tag so that its tests and fuzz targets run
// everywhere; only the darwin adapter calls it.
//
// The kernel writes its structures in the machine's byte order, which is
// little-endian on every Mac (x86_64 and arm64). Layouts are transcribed
// from the XNU sources named at each one (github.com/apple-oss-distributions
// /xnu), and only the fields read here are placed.

// xle is the byte order of every structure XNU hands out.
var xle = binary.LittleEndian

// Record kinds of a pcblist_n table (bsd/sys/socketvar.h, XSO_*).
const (
	xsoSocket = 0x001 // struct xsocket_n
	xsoRcvBuf = 0x002 // struct xsockbuf_n, the receive buffer
	xsoSndBuf = 0x004 // struct xsockbuf_n, the send buffer
	xsoStats  = 0x008 // struct xsockstat_n
	xsoInPCB  = 0x010 // struct xinpcb_n
	xsoTCPCB  = 0x020 // struct xtcpcb_n
)

// inp_vflag bits (bsd/netinet/in_pcb.h); libproc's insi_vflag uses the same
// values (INI_IPV4, INI_IPV6 in bsd/sys/proc_info.h).
const (
	inpIPv4       = 0x1
	inpIPv6       = 0x2
	inpV4MappedV6 = 0x4
)

// Offsets into the records portinspect reads. XNU declares these structures
// under #pragma pack(4), so a 64-bit field may sit at a multiple of 4.
const (
	// struct xinpgen (bsd/netinet/in_pcb.h): xig_len u32, xig_count u32,
	// xig_gen u64, xig_sogen u64. One opens the table and one closes it.
	sizeofXinpgen = 24

	// struct xinpcb_n (bsd/netinet/in_pcb.h): xi_len u32, xi_kind u32,
	// xi_inpp u64, inp_fport u16, inp_lport u16 (both in network order),
	// inp_ppcb u64 @20, inp_gencnt u64 @28, inp_flags i32 @36, inp_flow u32
	// @40, inp_vflag u8 @44, inp_ip_ttl, inp_ip_p, then the foreign and the
	// local address, each a 16-byte union of struct in6_addr and struct
	// in_addr_4in6 (three pad words, then the IPv4 address); 104 bytes in
	// all.
	xinpFport   = 16
	xinpLport   = 18
	xinpVflag   = 44
	xinpFaddr   = 48
	xinpLaddr   = 64
	minXinpcbN  = xinpLaddr + 16
	sizeofInp46 = 16

	// struct xsocket_n (bsd/sys/socketvar.h): xso_len u32, xso_kind u32,
	// xso_so u64 @8 (the socket's opaque handle), so_type i16 @16,
	// so_options u32 @20, so_linger @24, so_state @26, so_pcb u64 @28,
	// xso_protocol i32 @36, xso_family i32 @40, five shorts, so_pgid @56,
	// so_oobmark @60, so_uid u32 @64, so_last_pid i32 @68, so_e_pid @72;
	// newer kernels append so_gencnt and flags (104 bytes on macOS 13+).
	xsoHandle   = 8
	xsoProtocol = 36
	xsoQlen     = 44 // so_qlen: connections ready to be accepted
	xsoQlimit   = 48 // so_qlimit: the listen backlog
	xsoUID      = 64
	xsoLastPID  = 68
	minXsocketN = xsoLastPID + 4

	// struct xsockbuf_n (bsd/sys/socketvar.h): xsb_len u32, xsb_kind u32,
	// sb_cc u32 @8 (bytes in the buffer), sb_hiwat, …
	xsbCC       = 8
	minXsockbuf = xsbCC + 4

	// struct xtcpcb_n (bsd/netinet/tcp_var.h): xt_len u32, xt_kind u32,
	// t_segq u64, t_dupacks i32 @16, t_timer[TCPT_NTIMERS_EXT = 4] @20,
	// t_state i32 @36.
	xtState    = 36
	minXtcpcbN = xtState + 4
)

// TCP states as XNU numbers them (bsd/netinet/tcp_fsm.h, TCPS_*).
var xnuTCPStates = [...]State{
	0:  Close,       // TCPS_CLOSED
	1:  Listen,      // TCPS_LISTEN
	2:  SynSent,     // TCPS_SYN_SENT
	3:  SynRecv,     // TCPS_SYN_RECEIVED
	4:  Established, // TCPS_ESTABLISHED
	5:  CloseWait,   // TCPS_CLOSE_WAIT
	6:  FinWait1,    // TCPS_FIN_WAIT_1
	7:  Closing,     // TCPS_CLOSING
	8:  LastAck,     // TCPS_LAST_ACK
	9:  FinWait2,    // TCPS_FIN_WAIT_2
	10: TimeWait,    // TCPS_TIME_WAIT
}

// pcbRow is one socket of a pcblist_n table, with what the darwin adapter
// needs to find its owners.
type pcbRow struct {
	Socket
	// handle is the kernel's opaque name for the socket (xso_so), which
	// libproc gives a descriptor's socket as soi_so. It is zero when the
	// table has no socket for the pcb.
	handle uint64
	// lastPID is the last process that used the socket (so_last_pid): not
	// necessarily one that holds it now, nor the one that created it.
	lastPID int
	// noSocket says the pcb has no socket at all: the socket was closed
	// (TIME_WAIT) and the kernel left the socket record zero.
	noSocket bool
	// userland marks a flow of a user-space network stack (Skywalk), which
	// the kernel lists with a socket record naming a protocol and its
	// owning process (lastPID) but no socket handle and no user: no
	// descriptor anywhere holds it.
	userland bool
}

// roundup64 is XNU's ROUNDUP64: records are 8-byte aligned.
func roundup64(n int) int { return (n + 7) &^ 7 }

// parsePCBList decodes a net.inet.tcp.pcblist_n or net.inet.udp.pcblist_n
// table (bsd/netinet/in_pcblist.c, get_pcblist_n) for protocol p and calls
// fn for every IPv4 or IPv6 socket in it. The table is an xinpgen, then per
// socket a run of records, each starting with its length and kind (the pcb,
// the socket, two buffers, statistics and, for TCP, the TCP control block,
// each padded to 8 bytes), then a closing xinpgen.
//
// Records are read by kind and length, not at fixed places: kinds not read
// here (and the kind-0 buffer records the kernel writes for a socketless
// pcb) are skipped by their length, a record longer than the layout above
// is read for its known prefix, and a socket's run ends where a kind it
// already has comes again. A record whose length is no more than an
// xinpgen's ends the table, as netstat decides (network_cmds
// netstat.tproj/inet.c). fn's row is only valid during the call.
func parsePCBList(b []byte, p Protocol, fn func(*pcbRow)) error {
	if len(b) < sizeofXinpgen {
		return fmt.Errorf("%w: pcblist_n of %d bytes, shorter than its header", ErrParse, len(b))
	}
	hlen := int(xle.Uint32(b))
	if hlen < sizeofXinpgen || hlen > len(b) {
		return fmt.Errorf("%w: pcblist_n header of %d bytes in %d", ErrParse, hlen, len(b))
	}
	var (
		row      pcbRow
		seen     uint32 // the kinds read into row
		inp      []byte
		so, tcp  []byte
		rcv, snd []byte
	)
	flush := func() error {
		defer func() { seen, inp, so, tcp, rcv, snd = 0, nil, nil, nil, nil, nil }()
		if seen == 0 {
			return nil
		}
		if inp == nil {
			return fmt.Errorf("%w: pcblist_n socket records without their pcb", ErrParse)
		}
		if decodePCB(&row, p, inp, so, tcp) {
			decodeQueues(&row, so, rcv, snd)
			fn(&row)
		}
		return nil
	}
	for off := roundup64(hlen); ; {
		if off >= len(b) && seen == 0 && xle.Uint32(b[4:]) == 0 {
			// No sockets: the kernel writes the opening header alone
			// (get_pcblist_n: if xig_count == 0, goto done).
			return nil
		}
		if off > len(b)-8 {
			return fmt.Errorf("%w: pcblist_n ends without its closing header", ErrParse)
		}
		n, kind := int(xle.Uint32(b[off:])), xle.Uint32(b[off+4:])
		if n < 8 || n > len(b)-off {
			return fmt.Errorf("%w: pcblist_n record of %d bytes at %d in %d", ErrParse, n, off, len(b))
		}
		if n <= sizeofXinpgen {
			return flush()
		}
		rec := b[off : off+n]
		switch kind {
		case xsoInPCB, xsoSocket, xsoTCPCB, xsoRcvBuf, xsoSndBuf:
			if seen&kind != 0 {
				if err := flush(); err != nil {
					return err
				}
			}
			seen |= kind
			var short bool
			switch kind {
			case xsoInPCB:
				inp, short = rec, n < minXinpcbN
			case xsoSocket:
				so, short = rec, n < minXsocketN
			case xsoTCPCB:
				tcp, short = rec, n < minXtcpcbN
			case xsoRcvBuf:
				rcv, short = rec, n < minXsockbuf
			case xsoSndBuf:
				snd, short = rec, n < minXsockbuf
			}
			if short {
				return fmt.Errorf("%w: pcblist_n record of kind %#x is %d bytes", ErrParse, kind, n)
			}
		}
		off += roundup64(n)
	}
}

// decodePCB fills row from one socket's records (so and tcp may be nil).
// It reports false for a pcb of no IP version, which has no address to show.
func decodePCB(row *pcbRow, p Protocol, inp, so, tcp []byte) bool {
	fam, local, remote, ok := inpEndpoints(inp[xinpVflag],
		inp[xinpLaddr:xinpLaddr+sizeofInp46], inp[xinpFaddr:xinpFaddr+sizeofInp46],
		binary.BigEndian.Uint16(inp[xinpLport:]), binary.BigEndian.Uint16(inp[xinpFport:]))
	if !ok {
		return false
	}
	*row = pcbRow{Socket: Socket{Protocol: p, Family: fam, Local: local, Remote: remote, UID: -1, RecvQ: -1, SendQ: -1}}
	if fam == IPv6 && local.Addr().IsUnspecified() {
		// XNU marks a :: socket that takes IPv4 too with both flags
		// (tcp_usr_listen6, udp6_bind), which netstat prints as "tcp46".
		row.DualStack = DualStackNo
		if inp[xinpVflag]&inpIPv4 != 0 {
			row.DualStack = DualStackYes
		}
	}
	switch {
	case so == nil:
		row.noSocket = true
	case xle.Uint64(so[xsoHandle:]) != 0:
		row.handle = xle.Uint64(so[xsoHandle:])
		row.UID = int64(xle.Uint32(so[xsoUID:]))
		row.lastPID = int(int32(xle.Uint32(so[xsoLastPID:])))
	case xle.Uint32(so[xsoProtocol:]) != 0:
		// The kernel leaves a socketless pcb's record zero but for its
		// length and kind (sotoxsocket_n); a user-space stack's flow
		// names its protocol and the process that owns it
		// (nstat_userland_to_xsocket_n sets so_last_pid).
		row.userland = true
		row.lastPID = int(int32(xle.Uint32(so[xsoLastPID:])))
	default:
		row.noSocket = true
	}
	if p == TCP {
		row.State = StateUnknown
		if tcp != nil {
			if st := xle.Uint32(tcp[xtState:]); st < uint32(len(xnuTCPStates)) {
				row.State = xnuTCPStates[st]
			}
		}
	} else {
		row.State = Unconnected
		if remote.Port() != 0 || !remote.Addr().IsUnspecified() {
			row.State = Established
		}
	}
	return true
}

// decodeQueues fills in row's queues as netstat shows them: the buffers'
// byte counts (sb_cc), or for a listener its accept queue and backlog from
// the socket record, as Linux reports a listener's. Records that are
// missing leave the queues unknown.
func decodeQueues(row *pcbRow, so, rcv, snd []byte) {
	if row.State == Listen {
		if so != nil && !row.noSocket {
			row.RecvQ = int64(int16(xle.Uint16(so[xsoQlen:])))
			row.SendQ = int64(int16(xle.Uint16(so[xsoQlimit:])))
		}
		return
	}
	if rcv != nil && snd != nil {
		row.RecvQ = int64(xle.Uint32(rcv[xsbCC:]))
		row.SendQ = int64(xle.Uint32(snd[xsbCC:]))
	}
}

// inpEndpoints decodes a pcb's addresses as XNU keeps them in struct inpcb
// and copies them to xinpcb_n and in_sockinfo: laddr and faddr are 16-byte
// unions, an in6_addr when vflag has INP_IPV6, else an in_addr_4in6 whose
// last 4 bytes are the IPv4 address. An IPv6 socket that connects to a
// v4-mapped address is turned into an IPv4 pcb (INP_IPV4, and maybe
// INP_V4MAPPEDV6), so it reads as IPv4, as netstat shows it; a listener
// that takes both (INP_IPV4|INP_IPV6, netstat's "tcp46") reads as IPv6,
// as a Linux [::] listener does.
func inpEndpoints(vflag uint8, laddr, faddr []byte, lport, fport uint16) (fam Family, local, remote netip.AddrPort, ok bool) {
	switch {
	case vflag&inpIPv6 != 0:
		return IPv6, netip.AddrPortFrom(kameAddr([16]byte(laddr)), lport),
			netip.AddrPortFrom(kameAddr([16]byte(faddr)), fport), true
	case vflag&inpIPv4 != 0:
		return IPv4, netip.AddrPortFrom(netip.AddrFrom4([4]byte(laddr[12:16])), lport),
			netip.AddrPortFrom(netip.AddrFrom4([4]byte(faddr[12:16])), fport), true
	}
	return 0, local, remote, false
}

// kameAddr turns an IPv6 address as the kernel keeps it into one to show.
// XNU, like the other KAME-derived stacks, may embed the interface index of
// a link- or interface-local address in its second 16-bit word
// (in6_embedded_scope); the index becomes the zone, as netstat prints it,
// and the adapter names the interface.
func kameAddr(a [16]byte) netip.Addr {
	addr := netip.AddrFrom16(a)
	if !addr.IsLinkLocalUnicast() && !addr.IsLinkLocalMulticast() && !addr.IsInterfaceLocalMulticast() {
		return addr
	}
	scope := binary.BigEndian.Uint16(a[2:4])
	if scope == 0 {
		return addr
	}
	a[2], a[3] = 0, 0
	return netip.AddrFrom16(a).WithZone(strconv.Itoa(int(scope)))
}

// Descriptor types and socket kinds of libproc (bsd/sys/proc_info.h).
const (
	proxFDTypeSocket = 2 // PROX_FDTYPE_SOCKET
	// struct proc_fdinfo (proc_fd i32, proc_fdtype u32) and struct
	// proc_fileportinfo (proc_fileport u32, proc_fdtype u32).
	sizeofProcFDInfo = 8

	sockinfoIn  = 1 // SOCKINFO_IN
	sockinfoTCP = 2 // SOCKINFO_TCP

	darwinAFInet  = 2  // AF_INET
	darwinAFInet6 = 30 // AF_INET6 (bsd/sys/socket.h)
)

// Offsets into struct socket_fdinfo (bsd/sys/proc_info.h), which
// proc_pidfdinfo(PROC_PIDFDSOCKETINFO) returns: struct proc_fileinfo (24
// bytes), then struct socket_info: a 136-byte vinfo_stat, soi_so u64 @160,
// soi_pcb u64 @168, soi_type @176, soi_protocol @180, soi_family @184, eight
// shorts, soi_oobmark @204, two 24-byte sockbuf_info, soi_kind @256, rfu_1,
// and the soi_proto union @264. 792 bytes in all.
const (
	sizeofSocketFDInfo = 792
	sfiHandle          = 160
	sfiProtocol        = 180
	sfiFamily          = 184
	sfiKind            = 256
	minSocketFDInfo    = sfiKind + 4
)

// parseSocketFDInfo decodes a struct socket_fdinfo into the socket's
// opaque handle (soi_so), which names it in the pcb tables too. It
// reports false for a socket that is not a TCP or UDP socket over IPv4 or
// IPv6.
func parseSocketFDInfo(b []byte) (handle uint64, ok bool, err error) {
	if len(b) < minSocketFDInfo {
		return 0, false, fmt.Errorf("%w: socket_fdinfo of %d bytes, want %d", ErrParse, len(b), sizeofSocketFDInfo)
	}
	if fam := xle.Uint32(b[sfiFamily:]); fam != darwinAFInet && fam != darwinAFInet6 {
		return 0, false, nil
	}
	if kind := xle.Uint32(b[sfiKind:]); kind != sockinfoIn && kind != sockinfoTCP {
		return 0, false, nil
	}
	if p := xle.Uint32(b[sfiProtocol:]); p != ipprotoTCP && p != ipprotoUDP {
		return 0, false, nil
	}
	return xle.Uint64(b[sfiHandle:]), true, nil
}

// socketEntries appends to dst the descriptors of an array of struct
// proc_fdinfo (proc_pidinfo PROC_PIDLISTFDS), or the fileports of an
// array of struct proc_fileportinfo (PROC_PIDLISTFILEPORTS), that are
// sockets: both are a 32-bit number then a 32-bit type.
func socketEntries(dst []uint32, b []byte) []uint32 {
	for ; len(b) >= sizeofProcFDInfo; b = b[sizeofProcFDInfo:] {
		if xle.Uint32(b[4:]) == proxFDTypeSocket {
			dst = append(dst, xle.Uint32(b))
		}
	}
	return dst
}

// heldSocket is a socket, by its handle, some process holds a descriptor
// to.
type heldSocket struct {
	pid    int
	handle uint64
}

// matchHolders returns, for every row, the sorted PIDs of the processes in
// held that hold it: a socket is the same in both lists when its handle
// is. xso_so and soi_so are the kernel's one opaque name for a socket (both
// VM_KERNEL_ADDRHASH of it in every XNU release since 2017), so listeners
// sharing a port (SO_REUSEPORT) and sockets on the same addresses are told
// apart. A user-space stack's flow, which no descriptor holds, is its
// owner's.
func matchHolders(rows []pcbRow, held []heldSocket) [][]int {
	handles := make(map[uint64]int, len(rows))
	for i := range rows {
		if rows[i].handle != 0 {
			handles[rows[i].handle] = i
		}
	}
	owners := make([][]int, len(rows))
	for _, h := range held {
		if i, ok := handles[h.handle]; ok && h.handle != 0 {
			owners[i] = append(owners[i], h.pid)
		}
	}
	for i, ps := range owners {
		if len(ps) == 0 && rows[i].userland && rows[i].lastPID > 0 {
			ps = []int{rows[i].lastPID}
		}
		slices.Sort(ps)
		owners[i] = slices.Compact(ps)
	}
	return owners
}

// ownerStatus says what is known of the holders of row, which pids hold,
// after a search that could not read denied processes. As on Linux, a
// socket no readable process holds is hidden, not ownerless, when some
// process could not be read, or when it is another user's and the search
// ran without privilege.
func ownerStatus(row *pcbRow, pids []int, denied int, privileged bool, euid int64) OwnerStatus {
	switch {
	case len(pids) > 0:
		return OwnersKnown
	case row.noSocket, row.State == TimeWait:
		return OwnersNone
	case row.userland:
		return OwnersUnknown
	case denied > 0, !privileged && row.UID != euid:
		return OwnersHidden
	}
	return OwnersNone
}

// lastUser gives row's last user (so_last_pid) as its holder, for when no
// process's descriptors can be read at all.
func lastUser(row *pcbRow) ([]int, OwnerStatus) {
	switch {
	case row.noSocket, row.State == TimeWait:
		return nil, OwnersNone
	case row.lastPID > 0:
		return []int{row.lastPID}, OwnersKnown
	}
	return nil, OwnersUnknown
}

// endpointKey names a socket by its protocol and addresses, to pair the
// sockets of a listing with the rows they were made from.
type endpointKey struct {
	proto         Protocol
	local, remote netip.AddrPort
}

// pairRows returns for each of socks the index of the row in rows (the
// sockets a listing returned, with what finding their owners needs) it
// was made from, or -1. The caller may have filtered and reordered the
// listing; sockets that look alike (UDP sockets sharing a port, say) are
// paired in order.
func pairRows(rows []pcbRow, socks []Socket) []int {
	type key struct {
		endpointKey
		state State
		uid   int64
	}
	queue := make(map[key][]int, len(rows))
	for i, r := range rows {
		k := key{endpointKey{r.Protocol, r.Local, r.Remote}, r.State, r.UID}
		queue[k] = append(queue[k], i)
	}
	paired := make([]int, len(socks))
	for i, s := range socks {
		k := key{endpointKey{s.Protocol, s.Local, s.Remote}, s.State, s.UID}
		paired[i] = -1
		if q := queue[k]; len(q) > 0 {
			paired[i], queue[k] = q[0], q[1:]
		}
	}
	return paired
}

// procArgs is what kern.procargs2 tells of a process.
type procArgs struct {
	exe  string
	argv []string
	// service is the launchd job label from XPC_SERVICE_NAME, which
	// launchd sets for the jobs it starts and their children inherit.
	service string
}

// parseProcArgs decodes a kern.procargs2 buffer (bsd/kern/kern_sysctl.c,
// sysctl_procargsx): argc as a 32-bit int, the executable path, NUL padding,
// argc NUL-terminated arguments, then the environment and the kernel's own
// "apple" strings. Of the environment only XPC_SERVICE_NAME is kept; an
// argument list cut short by the buffer's end is returned as far as it goes.
//
// The path and its padding fill a multiple of the pointer size, 8 bytes
// (exec_extract_strings pads ip_strspace to new_ptr_size): argv[0] starts
// there, even when it is empty, where skipping every NUL, as ps does,
// would eat it and shift the arguments.
func parseProcArgs(b []byte) (procArgs, error) {
	var pa procArgs
	if len(b) < 4 {
		return pa, fmt.Errorf("%w: procargs2 of %d bytes", ErrParse, len(b))
	}
	argc := int64(xle.Uint32(b))
	rest := b[4:]
	next := func() []byte {
		s, after, _ := bytes.Cut(rest, []byte{0})
		rest = after
		return s
	}
	pa.exe = string(next())
	for pad := (8 - (len(pa.exe)+1)%8) % 8; pad > 0 && len(rest) > 0 && rest[0] == 0; pad-- {
		rest = rest[1:]
	}
	for ; argc > 0 && len(rest) > 0; argc-- {
		pa.argv = append(pa.argv, string(next()))
	}
	const xpc = "XPC_SERVICE_NAME="
	for len(rest) > 0 {
		v, ok := bytes.CutPrefix(next(), []byte(xpc))
		// launchd sets it for a service; a terminal app's shell and what
		// it starts inherit the app's "application.com.apple.Terminal…",
		// which names no service; "0" is launchd's none.
		if ok && len(v) > 0 && string(v) != "0" && !bytes.HasPrefix(v, []byte("application.")) {
			pa.service = string(v)
			break
		}
	}
	return pa, nil
}

// lsofTCPStates are the state names lsof prints in its TCP information
// (the kernel's tcpstates, bsd/netinet/tcp_fsm.h).
var lsofTCPStates = map[string]State{
	"CLOSED":      Close,
	"LISTEN":      Listen,
	"SYN_SENT":    SynSent,
	"SYN_RCVD":    SynRecv,
	"ESTABLISHED": Established,
	"CLOSE_WAIT":  CloseWait,
	"FIN_WAIT_1":  FinWait1,
	"CLOSING":     Closing,
	"LAST_ACK":    LastAck,
	"FIN_WAIT_2":  FinWait2,
	"TIME_WAIT":   TimeWait,
}

// lsofArgs makes lsof list every TCP and UDP socket it can read, one field
// a line (lsof(8), OUTPUT FOR OTHER PROGRAMS): p (PID) starts a process, f
// (descriptor) a file, t its type (IPv4, IPv6), P its protocol, n its
// addresses and T its TCP state ("ST=LISTEN"). Nothing is resolved.
var lsofArgs = []string{"-nP", "-w", "-iTCP", "-iUDP", "-Ts", "-FpftPnT"}

// parseLsof reads lsof's output as lsofArgs asks for it and calls fn for
// every TCP or UDP socket with the PID of the process holding it. Files it
// cannot read (a name lsof could not print) are skipped. fn's socket is
// only valid during the call.
func parseLsof(b []byte, fn func(pid int, s *Socket)) error {
	var (
		pid              int
		typ, proto, name []byte
		state            []byte
		inFile, havePID  bool
	)
	flush := func() {
		if inFile && havePID {
			if s, ok := lsofSocket(typ, proto, name, state); ok {
				fn(pid, &s)
			}
		}
		inFile, typ, proto, name, state = false, nil, nil, nil, nil
	}
	for lineNo, line := range bytes.Split(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		val := line[1:]
		switch line[0] {
		case 'p':
			flush()
			n, err := strconv.ParseUint(string(val), 10, 31)
			if err != nil {
				return fmt.Errorf("%w: lsof line %d: process %q", ErrParse, lineNo+1, val)
			}
			pid, havePID = int(n), true
		case 'f':
			flush()
			inFile = true
		case 't':
			typ = val
		case 'P':
			proto = val
		case 'n':
			name = val
		case 'T':
			if st, ok := bytes.CutPrefix(val, []byte("ST=")); ok {
				state = st
			}
		}
	}
	flush()
	return nil
}

// lsofSocket makes a socket of one lsof file's fields.
func lsofSocket(typ, proto, name, state []byte) (Socket, bool) {
	s := Socket{UID: -1, RecvQ: -1, SendQ: -1}
	switch string(proto) {
	case "TCP":
		s.Protocol = TCP
	case "UDP":
		s.Protocol = UDP
	default:
		return s, false
	}
	switch string(typ) {
	case "IPv4":
		s.Family = IPv4
	case "IPv6":
		s.Family = IPv6
	default:
		return s, false
	}
	l, r, connected := bytes.Cut(name, []byte("->"))
	var ok bool
	if s.Local, ok = lsofEndpoint(l, s.Family); !ok {
		return s, false
	}
	s.Remote = netip.AddrPortFrom(unspecified(s.Family), 0)
	if connected {
		if s.Remote, ok = lsofEndpoint(r, s.Family); !ok {
			return s, false
		}
	}
	if s.Local.Addr().Is4() != s.Remote.Addr().Is4() {
		return s, false
	}
	// The addresses decide: an IPv6 socket talking IPv4 is an IPv4 pcb.
	s.Family = IPv6
	if s.Local.Addr().Is4() {
		s.Family = IPv4
	}
	if s.Protocol == TCP {
		s.State = lsofTCPStates[string(state)]
	} else {
		s.State = Unconnected
		if connected {
			s.State = Established
		}
	}
	return s, true
}

// lsofEndpoint parses "127.0.0.1:3372", "[::1]:3372", "*:3372" or "*:*".
func lsofEndpoint(b []byte, fam Family) (netip.AddrPort, bool) {
	i := bytes.LastIndexByte(b, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	host, port := b[:i], b[i+1:]
	var portNum uint64
	if string(port) != "*" {
		var err error
		if portNum, err = strconv.ParseUint(string(port), 10, 16); err != nil {
			return netip.AddrPort{}, false
		}
	}
	if string(host) == "*" {
		return netip.AddrPortFrom(unspecified(fam), uint16(portNum)), true
	}
	if h, ok := bytes.CutPrefix(host, []byte("[")); ok {
		if host, ok = bytes.CutSuffix(h, []byte("]")); !ok {
			return netip.AddrPort{}, false
		}
	}
	a, err := netip.ParseAddr(string(host))
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(portNum)), true
}

func unspecified(f Family) netip.Addr {
	if f == IPv6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}
