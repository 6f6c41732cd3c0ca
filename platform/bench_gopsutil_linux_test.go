package platform

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/shirou/gopsutil/v4/process"
)

// The process details of every process on the machine, read as the owner
// lookup reads its holders' (two goroutines on this 2-core machine), by
// this package's /proc reader and by gopsutil: the reason Linux keeps its
// own (docs/PERFORMANCE.md). Run them on the loaded host's 2,000 processes.

func allPIDs(b *testing.B) []int {
	b.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Skip(err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func eachPID(pids []int, read func(pid int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(pids); i += workers {
				read(pids[i])
			}
		})
	}
	wg.Wait()
}

func BenchmarkProcessDetailsDirect(b *testing.B) {
	pids := allPIDs(b)
	in, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ReportMetric(float64(len(pids)), "processes")
	for b.Loop() {
		eachPID(pids, func(pid int) { in.Process(pid, DetailFull) })
	}
}

func BenchmarkProcessDetailsGopsutil(b *testing.B) {
	pids := allPIDs(b)
	b.ReportAllocs()
	b.ReportMetric(float64(len(pids)), "processes")
	for b.Loop() {
		eachPID(pids, func(pid int) {
			p := &process.Process{Pid: int32(pid)}
			p.Name()
			p.Exe()
			p.CmdlineSlice()
			p.Username()
			p.CreateTime()
		})
	}
}
