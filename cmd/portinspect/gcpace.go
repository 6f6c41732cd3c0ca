package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
)

// oneShotHeap is how much memory a one-shot command may take before it
// collects garbage for the first time. Listing the loaded host
// (bench/loaded-host, 24,000 sockets) allocates 22 MB without owners and
// 40-55 MB with them, nearly all of it live until the output is written:
// the collector's default pacing, starting from a 4 MB heap, ran four to
// ten cycles that found little to free, and cost a third of `list
// --no-processes`'s time (docs/PERFORMANCE.md).
const oneShotHeap = 64 << 20

// deferCollection holds the collector back until the heap reaches
// oneShotHeap, then hands pacing back to the defaults, so a host larger
// than any measured costs memory in proportion to its sockets rather than
// a collector running at a limit. GOGC or GOMEMLIMIT in the environment
// wins: whoever set them meant them.
func deferCollection() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(oneShotHeap)
	// A finalizer runs after the cycle that found its object unreachable:
	// the first one, which the limit started.
	sentinel := new([16]byte)
	runtime.SetFinalizer(sentinel, func(*[16]byte) { resumeCollection() })
}

// resumeCollection restores the collector's default pacing: watch runs
// for hours and must hold a steady, small heap.
func resumeCollection() {
	debug.SetMemoryLimit(math.MaxInt64)
	debug.SetGCPercent(100)
}
