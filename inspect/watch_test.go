package inspect

import (
	"context"
	"testing"
	"time"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/platformtest"
)

// TestWatcher drives a watch with a fake clock over a fake machine whose
// listeners come and go: the first refresh is the starting point, later
// ones say what was added (with its owner, looked up then and only then)
// and removed, and the process cache follows the sockets.
func TestWatcher(t *testing.T) {
	T := platform.TCP
	fake := &platformtest.Fake{
		SocketList: []platform.Socket{platformtest.Sock(T, "0.0.0.0:22", "0.0.0.0:0", platform.Listen, 1)},
		Holders:    map[uint64][]int{1: {100}, 2: {200}},
		Processes: map[int]platform.Process{
			100: {PID: 100, Name: "sshd"},
			200: {PID: 200, Name: "nginx"},
		},
		Machine: platform.Host{OS: "linux", Privileged: true},
	}
	w := NewWatcher(fake, Query{Listening: true})
	clock := time.Unix(1700000000, 0)
	tick := func() []WatchEvent {
		t.Helper()
		clock = clock.Add(time.Second)
		events, err := w.Refresh(context.Background(), clock)
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
	if ev := tick(); len(ev) != 0 || len(w.Sockets()) != 1 || w.Sockets()[0].Processes[0].Name != "sshd" {
		t.Fatalf("first refresh: %+v, sockets %+v", ev, w.Sockets())
	}
	fake.OwnersCalled = false
	if ev := tick(); len(ev) != 0 || fake.OwnersCalled {
		t.Errorf("nothing changed: %+v, owners looked up again: %v", ev, fake.OwnersCalled)
	}

	fake.SocketList = append(fake.SocketList, platformtest.Sock(T, "0.0.0.0:80", "0.0.0.0:0", platform.Listen, 2))
	ev := tick()
	if len(ev) != 1 || ev[0].Event != WatchAdded || ev[0].Socket.Local.Port() != 80 || !ev[0].Time.Equal(clock) ||
		len(ev[0].Socket.Processes) != 1 || ev[0].Socket.Processes[0].Name != "nginx" {
		t.Errorf("a listener appeared: %+v", ev)
	}
	if w.CachedProcesses() != 2 {
		t.Errorf("%d processes cached, want 2", w.CachedProcesses())
	}

	fake.SocketList = fake.SocketList[:1]
	ev = tick()
	if len(ev) != 1 || ev[0].Event != WatchRemoved || ev[0].Socket.Local.Port() != 80 || ev[0].Socket.Processes[0].Name != "nginx" {
		t.Errorf("a listener went: %+v", ev)
	}
	if w.CachedProcesses() != 1 {
		t.Errorf("the cache kept nginx after its socket went: %d processes", w.CachedProcesses())
	}
}
