package platform

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"
	"unicode/utf16"
)

// spiEntry is one process to write as SYSTEM_PROCESS_INFORMATION.
type spiEntry struct {
	pid     uint64
	name    string
	created int64
	threads int // SYSTEM_THREAD_INFORMATION entries after it, 80 bytes each on 64-bit
	// nameAt, when not 0, is where ImageName.Buffer points instead of the
	// name written after the entry.
	nameAt uint64
}

// spiBuffer writes entries as Windows lays them out at address base, field
// by field in the order winternl.h declares them, independently of the
// offsets in systemProcessLayout: each entry, its threads, its name.
func spiBuffer(base uint64, ptrSize int, entries ...spiEntry) []byte {
	le := binary.LittleEndian
	var b []byte
	appendPtr := func(b []byte, v uint64) []byte {
		if ptrSize == 8 {
			return le.AppendUint64(b, v)
		}
		return le.AppendUint32(b, uint32(v))
	}
	for i, e := range entries {
		start := len(b)
		name := utf16.Encode([]rune(e.name))
		b = le.AppendUint32(b, 0)                 // NextEntryOffset, set below
		b = le.AppendUint32(b, uint32(e.threads)) // NumberOfThreads
		b = le.AppendUint64(b, 0)                 // WorkingSetPrivateSize
		b = le.AppendUint32(b, 0)                 // HardFaultCount
		b = le.AppendUint32(b, 0)                 // NumberOfThreadsHighWatermark
		b = le.AppendUint64(b, 0)                 // CycleTime
		b = le.AppendUint64(b, uint64(e.created)) // CreateTime
		b = le.AppendUint64(b, 0)                 // UserTime
		b = le.AppendUint64(b, 0)                 // KernelTime
		b = le.AppendUint16(b, uint16(2*len(name)))
		b = le.AppendUint16(b, uint16(2*len(name)+2))
		if ptrSize == 8 {
			b = le.AppendUint32(b, 0) // UNICODE_STRING's padding before Buffer
		}
		bufferAt := len(b)
		b = appendPtr(b, 0)       // Buffer, set below
		b = le.AppendUint32(b, 8) // BasePriority
		if ptrSize == 8 {
			b = le.AppendUint32(b, 0)
		}
		b = appendPtr(b, e.pid) // UniqueProcessId
		b = appendPtr(b, 1)     // InheritedFromUniqueProcessId
		b = append(b, make([]byte, 64)...)
		b = append(b, make([]byte, 80*e.threads)...)
		nameAt := base + uint64(len(b))
		for _, u := range name {
			b = le.AppendUint16(b, u)
		}
		b = append(b, 0, 0)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		if e.nameAt != 0 {
			nameAt = e.nameAt
		}
		if len(name) > 0 {
			if ptrSize == 8 {
				le.PutUint64(b[bufferAt:], nameAt)
			} else {
				le.PutUint32(b[bufferAt:], uint32(nameAt))
			}
		}
		if i < len(entries)-1 {
			le.PutUint32(b[start:], uint32(len(b)-start))
		}
	}
	return b
}

func parseAllProcesses(b []byte, base uint64, l *systemProcessLayout) ([]systemProcess, error) {
	var got []systemProcess
	err := parseSystemProcesses(b, base, l, func(p systemProcess) { got = append(got, p) })
	return got, err
}

func TestParseSystemProcesses(t *testing.T) {
	const base = 0x7ff6_1234_0000
	entries := []spiEntry{
		{pid: 0}, // the System Idle Process has no name
		{pid: 4, name: "System", created: 133_800_000_000_000_000, threads: 3},
		{pid: 4242, name: "msdtc.exe", created: 133_900_000_000_000_000, threads: 1},
		{pid: 0xfffffff8, name: "naïve ☃.exe", created: 134_000_000_000_000_000},
	}
	want := []systemProcess{
		{pid: 0},
		{pid: 4, name: "System", created: 133_800_000_000_000_000},
		{pid: 4242, name: "msdtc.exe", created: 133_900_000_000_000_000},
		{pid: 0xfffffff8, name: "naïve ☃.exe", created: 134_000_000_000_000_000},
	}
	for _, tt := range []struct {
		name string
		l    *systemProcessLayout
		base uint64
	}{
		{"64-bit", &systemProcessLayout64, base},
		{"32-bit", &systemProcessLayout32, base & 0xffff_ffff},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAllProcesses(spiBuffer(tt.base, tt.l.ptrSize, entries...), tt.base, tt.l)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseSystemProcessesNameOutside(t *testing.T) {
	const base = 0x10000
	for _, at := range []uint64{base - 2, base + 1<<20, ^uint64(0) - 1} {
		b := spiBuffer(base, 8, spiEntry{pid: 8, name: "x.exe", nameAt: at})
		got, err := parseAllProcesses(b, base, &systemProcessLayout64)
		if err != nil || len(got) != 1 || got[0].pid != 8 || got[0].name != "" {
			t.Errorf("name at %#x: %+v, %v", at, got, err)
		}
	}
}

func TestParseSystemProcessesMalformed(t *testing.T) {
	const base = 0x10000
	good := spiBuffer(base, 8, spiEntry{pid: 8, name: "a.exe"}, spiEntry{pid: 12, name: "b.exe"})
	pastEnd := slices.Clone(good)
	binary.LittleEndian.PutUint32(pastEnd, uint32(len(good)))
	backwards := slices.Clone(good)
	binary.LittleEndian.PutUint32(backwards, 0xffffffff)
	overlapping := slices.Clone(good)
	binary.LittleEndian.PutUint32(overlapping, 8)
	for name, b := range map[string][]byte{
		"empty":               nil,
		"short":               good[:40],
		"second entry cut":    good[:binary.LittleEndian.Uint32(good)+20],
		"next past the end":   pastEnd,
		"next of -1 (32-bit)": backwards,
		"entries overlap":     overlapping,
	} {
		if got, err := parseAllProcesses(b, base, &systemProcessLayout64); !errors.Is(err, ErrParse) {
			t.Errorf("%s: %+v, %v; want ErrParse", name, got, err)
		}
	}
}

func TestMayHaveCreated(t *testing.T) {
	const sock = 133_900_000_000_000_000
	for _, tt := range []struct {
		proc, sock int64
		want       bool
	}{
		{sock - 1e9, sock, true},               // started 100 s before the socket
		{sock + 5e6, sock, true},               // half a second after: clocks' coarseness
		{sock + 6e8, sock, false},              // a minute after: the PID was reused
		{0, sock, true}, {sock + 6e8, 0, true}, // unknown proves nothing
	} {
		if got := mayHaveCreated(tt.proc, tt.sock); got != tt.want {
			t.Errorf("mayHaveCreated(%d, %d) = %v", tt.proc, tt.sock, got)
		}
	}
}

func FuzzParseSystemProcesses(f *testing.F) {
	f.Add(spiBuffer(0x10000, 8, spiEntry{pid: 4, name: "System"}, spiEntry{pid: 8, name: "a.exe", threads: 2}), true)
	f.Add(spiBuffer(0x10000, 4, spiEntry{pid: 4, name: "System"}, spiEntry{pid: 8, name: "a.exe"}), false)
	f.Fuzz(func(t *testing.T, b []byte, is64 bool) {
		l := &systemProcessLayout32
		if is64 {
			l = &systemProcessLayout64
		}
		n := 0
		_ = parseSystemProcesses(b, 0x10000, l, func(systemProcess) { n++ })
		if n > len(b)/l.need+1 {
			t.Errorf("%d processes from %d bytes", n, len(b))
		}
	})
}

func TestFiletimeToTime(t *testing.T) {
	if got := filetimeToTime(133_000_000_000_000_000); !got.Equal(time.Date(2022, 6, 18, 4, 26, 40, 0, time.UTC)) {
		t.Errorf("got %v", got)
	}
	if got := filetimeToTime(0); !got.IsZero() {
		t.Errorf("0 gave %v", got)
	}
}
