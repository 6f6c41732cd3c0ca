package main

import (
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

// bigReport is a busy host: n connected sockets held by n/10 processes.
func bigReport(n int) *inspect.Report {
	rep := &inspect.Report{Host: platform.Host{Hostname: "busy", OS: "linux"}}
	procs := make([]*inspect.Process, n/10+1)
	for i := range procs {
		procs[i] = &inspect.Process{PID: 1000 + i, Name: fmt.Sprintf("worker-%d", i), User: "www-data", UID: 33,
			Exe: "/usr/sbin/worker", Cmdline: []string{"/usr/sbin/worker", "-c", "/etc/worker.conf"}}
	}
	for i := range n {
		s := inspect.Socket{Socket: platform.Socket{
			Protocol: platform.TCP, Family: platform.IPv4, State: platform.Established,
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(10000+i%50000)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 3372),
			Inode:  uint64(100000 + i), UID: 33, Owners: platform.OwnersKnown,
		}, Exposure: inspect.ExposureLoopback, Processes: []*inspect.Process{procs[i/10]}}
		rep.Sockets = append(rep.Sockets, s)
	}
	return rep
}

func benchmarkRender(b *testing.B, format outputFormat, tty bool) {
	rep := bigReport(24000)
	ios := &IOStreams{Out: io.Discard, ErrOut: io.Discard, OutTTY: tty}
	b.ReportAllocs()
	for b.Loop() {
		if err := renderSockets(ios, rep, format, columns{owners: true, service: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderTableTTY(b *testing.B)   { benchmarkRender(b, formatTable, true) }
func BenchmarkRenderTablePiped(b *testing.B) { benchmarkRender(b, formatTable, false) }
func BenchmarkRenderJSON(b *testing.B)       { benchmarkRender(b, formatJSON, false) }
func BenchmarkRenderCSV(b *testing.B)        { benchmarkRender(b, formatCSV, false) }

// BenchmarkRenderTableWideNames is the terminal table when process names
// are not ASCII, so every cell's width is measured by go-runewidth.
func BenchmarkRenderTableWideNames(b *testing.B) {
	rep := bigReport(24000)
	renamed := make(map[*inspect.Process]bool) // processes hold several sockets
	for i := range rep.Sockets {
		for _, p := range rep.Sockets[i].Processes {
			if !renamed[p] {
				p.Name = "ワーカー-" + p.Name
				renamed[p] = true
			}
		}
	}
	ios := &IOStreams{Out: io.Discard, ErrOut: io.Discard, OutTTY: true}
	b.ReportAllocs()
	for b.Loop() {
		if err := renderSockets(ios, rep, formatTable, columns{owners: true, service: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTableTablewriter lays the same 24,000 rows out with
// tablewriter, as writeProseTable configures it: the reason the socket
// tables keep writeTable.
func BenchmarkRenderTableTablewriter(b *testing.B) {
	rep := bigReport(24000)
	header, rows := socketRows(rep.Sockets, columns{owners: true, service: true}, false, true)
	b.ReportAllocs()
	for b.Loop() {
		if err := writeProseTable(io.Discard, header, rows, 1000); err != nil {
			b.Fatal(err)
		}
	}
}
