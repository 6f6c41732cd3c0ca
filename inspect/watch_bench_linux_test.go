package inspect

import (
	"context"
	"testing"
	"time"

	"github.com/portinspect/portinspect/platform"
)

// The cost of a watch refresh against a full listing of the listeners
// with their owners, on the machine the benchmark runs on: run them in
// the loaded host's namespace (bench/loaded-host run -- go test -run '^$'
// -bench 'Watch|ListListeners' ./inspect) for the figures of
// docs/PERFORMANCE.md.

func BenchmarkWatchRefresh(b *testing.B) {
	src, err := platform.New(platform.Options{})
	if err != nil {
		b.Fatal(err)
	}
	w := NewWatcher(src, Query{Listening: true, Detail: platform.DetailFull})
	if _, err := w.Refresh(context.Background(), time.Now()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Refresh(context.Background(), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(w.Sockets())), "listeners")
}

func BenchmarkListListeners(b *testing.B) {
	src, err := platform.New(platform.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), src, nil, Query{Listening: true, Detail: platform.DetailBasic}); err != nil {
			b.Fatal(err)
		}
	}
}
