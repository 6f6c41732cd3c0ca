package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcSettings reads the collector's percent and limit without changing them.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

func TestDeferCollection(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	percent, limit := gcSettings()
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})

	deferCollection()
	if p, l := gcSettings(); p != -1 || l != oneShotHeap {
		t.Fatalf("after deferCollection: GOGC %d, limit %d; want off and %d", p, l, oneShotHeap)
	}
	// Garbage past the limit must start a cycle, and that cycle must hand
	// pacing back: a watch or a huge host would otherwise run at the limit.
	before := gcCount()
	var keep [][]byte
	for gcCount() == before {
		keep = append(keep, make([]byte, 1<<20))
		if len(keep) > 2*oneShotHeap>>20 {
			t.Fatalf("%d MB allocated and no collection", len(keep))
		}
		if len(keep) > 8 {
			keep = keep[1:]
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, l := gcSettings()
		if p == 100 && l == math.MaxInt64 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first collection: GOGC %d, limit %d; want 100 and none", p, l)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDeferCollectionLeavesTheUsersSetting(t *testing.T) {
	t.Setenv("GOGC", "200")
	percent, limit := gcSettings()
	deferCollection()
	if p, l := gcSettings(); p != percent || l != limit {
		t.Errorf("with GOGC=200 set: GOGC %d, limit %d; want them untouched (%d, %d)", p, l, percent, limit)
	}
}

func gcCount() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}
