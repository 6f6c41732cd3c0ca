package platform

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf16"
)

// This file decodes what NtQuerySystemInformation(SystemProcessInformation)
// writes: one SYSTEM_PROCESS_INFORMATION per process, each followed by its
// threads, chained by NextEntryOffset. It has no build tag so that its
// tests and fuzz targets run everywhere; only the Windows adapter calls it.

// systemProcess is what portinspect reads of one process: enough to name
// a process it cannot open, and to tell the creator of a socket from a
// younger process that reuses its PID.
type systemProcess struct {
	pid  uint32
	name string
	// created is the process's CreateTime: a FILETIME, 100 ns ticks since
	// 1601.
	created int64
}

// systemProcessLayout is where SYSTEM_PROCESS_INFORMATION's fields are,
// which depends on the size of a pointer (winternl.h; x/sys/windows's
// SYSTEM_PROCESS_INFORMATION has the same fields).
type systemProcessLayout struct {
	created, nameLength, nameBuffer, pid int
	// need is how many bytes of an entry the fields read take, fewer
	// than the whole structure.
	need    int
	ptrSize int
}

var (
	systemProcessLayout64 = systemProcessLayout{created: 32, nameLength: 56, nameBuffer: 64, pid: 80, need: 88, ptrSize: 8}
	systemProcessLayout32 = systemProcessLayout{created: 32, nameLength: 56, nameBuffer: 60, pid: 68, need: 72, ptrSize: 4}
)

// parseSystemProcesses calls fn for every process in b, which Windows wrote
// at address base: ImageName.Buffer points into b, and a name that points
// elsewhere is left empty rather than read.
func parseSystemProcesses(b []byte, base uint64, l *systemProcessLayout, fn func(systemProcess)) error {
	le := binary.LittleEndian
	for off := 0; ; {
		if len(b)-off < l.need {
			return fmt.Errorf("%w: SYSTEM_PROCESS_INFORMATION at %d of %d bytes", ErrParse, off, len(b))
		}
		e := b[off:]
		p := systemProcess{created: int64(le.Uint64(e[l.created:]))}
		if l.ptrSize == 8 {
			p.pid = uint32(le.Uint64(e[l.pid:]))
		} else {
			p.pid = le.Uint32(e[l.pid:])
		}
		p.name = imageName(b, base, e, l)
		fn(p)
		next := le.Uint32(e)
		if next == 0 {
			return nil
		}
		if uint64(next) >= uint64(len(e)) || int(next) < l.need {
			return fmt.Errorf("%w: SYSTEM_PROCESS_INFORMATION at %d says the next is %d bytes on, in %d", ErrParse, off, next, len(b))
		}
		off += int(next)
	}
}

// imageName reads an entry's ImageName, a UNICODE_STRING whose Buffer
// points into the whole of what Windows wrote, all.
func imageName(all []byte, base uint64, e []byte, l *systemProcessLayout) string {
	le := binary.LittleEndian
	n := uint64(le.Uint16(e[l.nameLength:])) &^ 1
	var ptr uint64
	if l.ptrSize == 8 {
		ptr = le.Uint64(e[l.nameBuffer:])
	} else {
		ptr = uint64(le.Uint32(e[l.nameBuffer:]))
	}
	if ptr < base || n == 0 {
		return ""
	}
	start := ptr - base
	if start > uint64(len(all)) || n > uint64(len(all))-start {
		return ""
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = le.Uint16(all[start+uint64(2*i):])
	}
	return string(utf16.Decode(u))
}

// filetimeSlack is how much earlier than its creator process a socket's
// creation may seem: the two timestamps come from clocks that tick
// coarsely (15.6 ms by default), read at different moments.
const filetimeSlack = 10_000_000 // 1 s in 100 ns ticks

// mayHaveCreated reports whether a process created at procCreated can be
// the creator of a socket created at sockCreated: a process younger than
// the socket has only reused its creator's PID. A zero time is unknown
// and proves nothing.
func mayHaveCreated(procCreated, sockCreated int64) bool {
	return procCreated == 0 || sockCreated == 0 || procCreated <= sockCreated+filetimeSlack
}

// filetimeToTime converts a FILETIME, 100 ns ticks since 1601, to a time,
// the zero time for none.
func filetimeToTime(ft int64) time.Time {
	const unixEpoch = 116_444_736_000_000_000 // 1970-01-01 as a FILETIME
	if ft <= 0 {
		return time.Time{}
	}
	return time.Unix(0, (ft-unixEpoch)*100).UTC()
}
