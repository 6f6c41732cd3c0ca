package platform

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file decodes the socket tables Windows's IP Helper API returns
// (GetExtendedTcpTable, GetExtendedUdpTable). It has no build tag so that
// its tests and fuzz targets run everywhere; only the Windows adapter
// calls it.
//
// Every table is a DWORD dwNumEntries followed by that many fixed-size
// rows, little-endian as every Windows architecture is. Ports are DWORDs
// whose low 16 bits hold the port in network byte order (the upper 16 bits
// "may contain uninitialized data"); IPv4 addresses are DWORDs in network
// byte order, that is the address's four bytes as they are written; IPv6
// addresses are 16 bytes followed by a scope ID DWORD. The layouts below
// follow Microsoft's documentation of each row:
//
//	https://learn.microsoft.com/windows/win32/api/tcpmib/ns-tcpmib-mib_tcptable_owner_pid
//	https://learn.microsoft.com/windows/win32/api/tcpmib/ns-tcpmib-mib_tcprow_owner_pid
//	https://learn.microsoft.com/windows/win32/api/tcpmib/ns-tcpmib-mib_tcp6row_owner_pid
//	https://learn.microsoft.com/windows/win32/api/udpmib/ns-udpmib-mib_udprow_owner_pid
//	https://learn.microsoft.com/windows/win32/api/udpmib/ns-udpmib-mib_udp6row_owner_pid
//	https://learn.microsoft.com/windows/win32/api/tcpmib/ns-tcpmib-mib_tcprow_owner_module
//	https://learn.microsoft.com/windows/win32/api/tcpmib/ns-tcpmib-mib_tcp6row_owner_module
//	https://learn.microsoft.com/windows/win32/api/udpmib/ns-udpmib-mib_udprow_owner_module
//	https://learn.microsoft.com/windows/win32/api/udpmib/ns-udpmib-mib_udp6row_owner_module
//
// and were checked against the sizes and offsets mingw-w64's headers give
// (the owner-module rows hold a LARGE_INTEGER, so their tables pad
// dwNumEntries to 8 bytes).

// mibTable describes the layout of one kind of table: where its rows start,
// how long they are, and where each field is in a row (-1: absent).
type mibTable struct {
	name                            string
	proto                           Protocol
	family                          Family
	first, rowSize                  int
	state                           int
	local, localScope, localPort    int
	remote, remoteScope, remotePort int
	pid                             int
	// created is liCreateTimestamp's, in owner-module rows.
	created int
}

var (
	// MIB_TCPTABLE_OWNER_PID of MIB_TCPROW_OWNER_PID: dwState,
	// dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid.
	mibTCP4OwnerPID = mibTable{name: "MIB_TCPTABLE_OWNER_PID", proto: TCP, family: IPv4, first: 4, rowSize: 24,
		state: 0, local: 4, localScope: -1, localPort: 8, remote: 12, remoteScope: -1, remotePort: 16, pid: 20, created: -1}
	// MIB_TCP6TABLE_OWNER_PID of MIB_TCP6ROW_OWNER_PID: ucLocalAddr[16],
	// dwLocalScopeId, dwLocalPort, ucRemoteAddr[16], dwRemoteScopeId,
	// dwRemotePort, dwState, dwOwningPid.
	mibTCP6OwnerPID = mibTable{name: "MIB_TCP6TABLE_OWNER_PID", proto: TCP, family: IPv6, first: 4, rowSize: 56,
		state: 48, local: 0, localScope: 16, localPort: 20, remote: 24, remoteScope: 40, remotePort: 44, pid: 52, created: -1}
	// MIB_UDPTABLE_OWNER_PID of MIB_UDPROW_OWNER_PID: dwLocalAddr,
	// dwLocalPort, dwOwningPid.
	mibUDP4OwnerPID = mibTable{name: "MIB_UDPTABLE_OWNER_PID", proto: UDP, family: IPv4, first: 4, rowSize: 12,
		state: -1, local: 0, localScope: -1, localPort: 4, remote: -1, remoteScope: -1, remotePort: -1, pid: 8, created: -1}
	// MIB_UDP6TABLE_OWNER_PID of MIB_UDP6ROW_OWNER_PID: ucLocalAddr[16],
	// dwLocalScopeId, dwLocalPort, dwOwningPid.
	mibUDP6OwnerPID = mibTable{name: "MIB_UDP6TABLE_OWNER_PID", proto: UDP, family: IPv6, first: 4, rowSize: 28,
		state: -1, local: 0, localScope: 16, localPort: 20, remote: -1, remoteScope: -1, remotePort: -1, pid: 24, created: -1}

	// The owner-module rows begin as the owner-PID rows do, then hold
	// liCreateTimestamp, aligned to 8 bytes, and OwningModuleInfo[16]
	// (the UDP ones a dwFlags between them), which the adapter hands back
	// to GetOwnerModuleFrom*Entry rather than reading.
	mibTCP4OwnerModule = ownerModuleLayout(mibTCP4OwnerPID, "MIB_TCPTABLE_OWNER_MODULE", 160, 24)
	mibTCP6OwnerModule = ownerModuleLayout(mibTCP6OwnerPID, "MIB_TCP6TABLE_OWNER_MODULE", 192, 56)
	mibUDP4OwnerModule = ownerModuleLayout(mibUDP4OwnerPID, "MIB_UDPTABLE_OWNER_MODULE", 160, 16)
	mibUDP6OwnerModule = ownerModuleLayout(mibUDP6OwnerPID, "MIB_UDP6TABLE_OWNER_MODULE", 176, 32)
)

// ownerModuleLayout is the owner-module table whose rows begin as those of
// ownerPID: only the name, the row size, where the rows start (after
// dwNumEntries and the padding that aligns the rows' 64-bit timestamp)
// and the timestamp differ.
func ownerModuleLayout(ownerPID mibTable, name string, rowSize, created int) mibTable {
	t := ownerPID
	t.name, t.first, t.rowSize, t.created = name, 8, rowSize, created
	return t
}

// mibTCPStates maps MIB_TCP_STATE (tcpmib.h: MIB_TCP_STATE_CLOSED = 1 …
// MIB_TCP_STATE_DELETE_TCB = 12) to States.
var mibTCPStates = [...]State{
	1:  Close,       // MIB_TCP_STATE_CLOSED
	2:  Listen,      // MIB_TCP_STATE_LISTEN
	3:  SynSent,     // MIB_TCP_STATE_SYN_SENT
	4:  SynRecv,     // MIB_TCP_STATE_SYN_RCVD
	5:  Established, // MIB_TCP_STATE_ESTAB
	6:  FinWait1,    // MIB_TCP_STATE_FIN_WAIT1
	7:  FinWait2,    // MIB_TCP_STATE_FIN_WAIT2
	8:  CloseWait,   // MIB_TCP_STATE_CLOSE_WAIT
	9:  Closing,     // MIB_TCP_STATE_CLOSING
	10: LastAck,     // MIB_TCP_STATE_LAST_ACK
	11: TimeWait,    // MIB_TCP_STATE_TIME_WAIT
	// MIB_TCP_STATE_DELETE_TCB: the connection's control block is being
	// freed; like CLOSED, nothing is left of the connection.
	12: Close,
}

// stateFromMIB maps a dwState to a State.
func stateFromMIB(st uint32) State {
	if st < uint32(len(mibTCPStates)) {
		return mibTCPStates[st]
	}
	return StateUnknown
}

// parseMIBTable decodes a table of kind t and calls fn for every row, with
// the row's socket, its owner PID (0: the system named none) and the row's
// bytes. The socket has UID -1 and no inode, which Windows does not have;
// UDP sockets are Unconnected: the owner-PID and owner-module UDP tables
// do not record a remote end, so a connected UDP socket cannot be told
// from a bound one. fn's Socket is only valid during the call.
//
// The buffer may be longer than the rows, as GetExtended*Table leaves the
// rest of a buffer it was given alone; it must not be shorter.
func parseMIBTable(b []byte, t *mibTable, fn func(s *Socket, pid uint32, row []byte)) error {
	if len(b) < 4 {
		return fmt.Errorf("%w: %s of %d bytes, too short for dwNumEntries", ErrParse, t.name, len(b))
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n == 0 {
		return nil
	}
	if need := uint64(t.first) + n*uint64(t.rowSize); need > uint64(len(b)) {
		return fmt.Errorf("%w: %s says %d rows (%d bytes) in %d bytes", ErrParse, t.name, n, need, len(b))
	}
	var s Socket
	for i := range int(n) {
		row := b[t.first+i*t.rowSize : t.first+(i+1)*t.rowSize]
		s = Socket{Protocol: t.proto, Family: t.family, UID: -1, RecvQ: -1, SendQ: -1, State: Unconnected}
		s.Local = mibAddrPort(row, t.family, t.local, t.localScope, t.localPort)
		if t.state >= 0 {
			s.State = stateFromMIB(binary.LittleEndian.Uint32(row[t.state:]))
		}
		// UDP rows have no remote end; a listener's remote fields mean
		// nothing (MIB_TCPROW_OWNER_PID): Windows may leave anything there.
		s.Remote = netip.AddrPortFrom(unspecified(t.family), 0)
		if t.remote >= 0 && s.State != Listen {
			s.Remote = mibAddrPort(row, t.family, t.remote, t.remoteScope, t.remotePort)
		}
		if t.created >= 0 {
			s.created = int64(binary.LittleEndian.Uint64(row[t.created:]))
		}
		fn(&s, binary.LittleEndian.Uint32(row[t.pid:]), row)
	}
	return nil
}

// mibAddrPort decodes the address at addr (with its scope ID at scope, for
// IPv6) and the port at port of a row.
func mibAddrPort(row []byte, fam Family, addr, scope, port int) netip.AddrPort {
	// The port's DWORD holds it in network byte order in its low 16 bits,
	// which little-endian puts in the DWORD's first two bytes.
	p := binary.BigEndian.Uint16(row[port:])
	if fam == IPv4 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(row[addr:addr+4])), p)
	}
	a := netip.AddrFrom16([16]byte(row[addr : addr+16]))
	if id := mibScopeID(binary.LittleEndian.Uint32(row[scope:])); id != 0 && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		// Windows writes zones as interface numbers (fe80::1%12), as
		// ipconfig and netstat print them.
		a = a.WithZone(strconv.FormatUint(uint64(id), 10))
	}
	return netip.AddrPortFrom(a, p)
}

// mibScopeID reads a scope ID DWORD. Microsoft documents it as in network
// byte order, but Wine copies sin6_scope_id, which is in host order, and
// tools that print Windows's own tables (netstat, System Informer) show it
// unswapped. Scope IDs are interface (or site) numbers, which are small:
// a value that only fits in 16 bits swapped was written in network order.
func mibScopeID(v uint32) uint32 {
	if v > 0xffff {
		if s := bits.ReverseBytes32(v); s <= 0xffff {
			return s
		}
	}
	return v
}

// narrowServices names the services behind a process's sockets. hosted
// are the services the process runs, as the Service Control Manager lists
// them; tags holds, for each of the process's sockets, the service its
// owner-module data named, or "" where none could be read. Only when every
// socket names a hosted service are those services the answer: a socket
// without one may belong to any of them, and then all are listed.
// Windows compares service names without regard to case; the Service
// Control Manager's spelling is kept.
func narrowServices(hosted, tags []string) []string {
	if len(tags) == 0 {
		return hosted
	}
	var out []string
	for _, tag := range tags {
		i := slices.IndexFunc(hosted, func(h string) bool { return strings.EqualFold(h, tag) })
		if tag == "" || i < 0 {
			return hosted
		}
		if !slices.Contains(out, hosted[i]) {
			out = append(out, hosted[i])
		}
	}
	slices.Sort(out)
	return out
}
