package platform

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// parseProcNet reads a /proc/net/{tcp,tcp6,udp,udp6} table and calls fn for
// every socket in it. The kernel prints each 32-bit word of an address as a
// number in its own byte order, so order must be the byte order of the
// machine that wrote the table (binary.NativeEndian when reading /proc).
// fn's Socket is only valid during the call.
func parseProcNet(r io.Reader, p Protocol, order binary.ByteOrder, fn func(*Socket)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var s Socket
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return fmt.Errorf("%w: /proc/net line %d is longer than %d bytes", ErrParse, lineNo, br.Size())
		}
		if len(line) > 0 && lineNo > 1 {
			if perr := parseProcNetLine(line, p, order, &s); perr != nil {
				return fmt.Errorf("line %d: %w", lineNo, perr)
			}
			fn(&s)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseProcNetLine decodes one data line of a /proc/net table into s.
func parseProcNetLine(line []byte, p Protocol, order binary.ByteOrder, s *Socket) error {
	// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
	var fields [10][]byte
	rest := line
	for i := range fields {
		rest = bytes.TrimLeft(rest, " \t")
		end := bytes.IndexAny(rest, " \t\n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return fmt.Errorf("%w: /proc/net line has %d fields, want at least %d", ErrParse, i, len(fields))
		}
		fields[i], rest = rest[:end], rest[end:]
	}
	local, fam, err := parseProcNetAddr(fields[1], order)
	if err != nil {
		return err
	}
	remote, _, err := parseProcNetAddr(fields[2], order)
	if err != nil {
		return err
	}
	st, err := strconv.ParseUint(string(fields[3]), 16, 8)
	if err != nil {
		return fmt.Errorf("%w: state %q", ErrParse, fields[3])
	}
	uid, err := strconv.ParseUint(string(fields[7]), 10, 32)
	if err != nil {
		return fmt.Errorf("%w: uid %q", ErrParse, fields[7])
	}
	inode, err := strconv.ParseUint(string(fields[9]), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: inode %q", ErrParse, fields[9])
	}
	tx, rx, ok := bytes.Cut(fields[4], []byte{':'})
	sendQ, err1 := strconv.ParseUint(string(tx), 16, 32)
	recvQ, err2 := strconv.ParseUint(string(rx), 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%w: queues %q", ErrParse, fields[4])
	}
	*s = Socket{
		Protocol: p,
		Family:   fam,
		Local:    local,
		Remote:   remote,
		State:    stateFromKernel(p, uint8(st)),
		Inode:    inode,
		UID:      int64(uid),
		RecvQ:    int64(recvQ),
		SendQ:    int64(sendQ),
	}
	if s.State == Listen {
		// The table has a listener's accept queue but not its backlog:
		// its tx_queue is always 0 (get_tcp4_sock).
		s.SendQ = -1
	}
	return nil
}

// parseProcNetAddr decodes "0100007F:0CD2" (IPv4) or a 32-digit IPv6
// address and port.
func parseProcNetAddr(b []byte, order binary.ByteOrder) (netip.AddrPort, Family, error) {
	colon := bytes.IndexByte(b, ':')
	if colon < 0 || len(b)-colon-1 != 4 {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: address %q", ErrParse, b)
	}
	var port [2]byte
	if _, err := hex.Decode(port[:], b[colon+1:]); err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: port in %q", ErrParse, b)
	}
	var raw [16]byte
	n := colon / 2
	if colon%2 != 0 || (n != 4 && n != 16) {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: address %q", ErrParse, b)
	}
	if _, err := hex.Decode(raw[:n], b[:colon]); err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: address %q", ErrParse, b)
	}
	// Each word was printed as a big-endian number of the writer's order.
	for i := 0; i < n; i += 4 {
		order.PutUint32(raw[i:i+4], binary.BigEndian.Uint32(raw[i:i+4]))
	}
	portNum := binary.BigEndian.Uint16(port[:])
	if n == 4 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[:4])), portNum), IPv4, nil
	}
	return netip.AddrPortFrom(netip.AddrFrom16(raw), portNum), IPv6, nil
}

// sockstatEstimate is how many sockets a dump of the connections f
// selects may return, from the counts of the namespace's sockstat files
// in dir, with a margin for sockets opened meanwhile; 0 where f narrows
// the dump to ports or to listeners, which the counts do not tell apart,
// or where the files cannot be read.
func sockstatEstimate(f *Filter, dir string) int {
	if len(f.Ports) > 0 || !f.States.Has(Established) {
		return 0
	}
	counts := make(map[string]int)
	for _, name := range []string{"sockstat", "sockstat6"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0
		}
		parseSockstat(b, counts)
	}
	n := 0
	if f.TCP && f.IPv4 {
		n += counts["TCP inuse"]
	}
	if f.TCP && f.IPv6 {
		n += counts["TCP6 inuse"]
	}
	if f.TCP && f.States.Has(TimeWait) {
		n += counts["TCP tw"] // both families'
	}
	if f.UDP && f.IPv4 {
		n += counts["UDP inuse"]
	}
	if f.UDP && f.IPv6 {
		n += counts["UDP6 inuse"]
	}
	return n + n/8 + 64
}

// parseSockstat adds the counts of a /proc/net/sockstat or sockstat6
// file, lines of "PROTO: key value key value...", to counts as
// "PROTO key"; what does not parse is left out.
func parseSockstat(b []byte, counts map[string]int) {
	for line := range strings.Lines(string(b)) {
		proto, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		for i := 0; i+1 < len(fields); i += 2 {
			if v, err := strconv.Atoi(fields[i+1]); err == nil && v >= 0 {
				counts[proto+" "+fields[i]] = v
			}
		}
	}
}
