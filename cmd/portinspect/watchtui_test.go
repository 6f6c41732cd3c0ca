package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/platformtest"
)

func watchSock(local string, pid int, name string) inspect.Socket {
	s := inspect.Socket{Socket: platformtest.Sock(platform.TCP, local, "0.0.0.0:0", platform.Listen, uint64(pid))}
	s.Owners = platform.OwnersKnown
	s.Processes = []*inspect.Process{{PID: pid, Name: name}}
	return s
}

// TestWatchModel drives the live view's model without a terminal:
// refreshes mark new sockets for three refreshes and keep gone ones shown
// as long; the keys pause, filter, sort, select and show details; every
// line fits 80 columns and the view 24 lines.
func TestWatchModel(t *testing.T) {
	ssh, web := watchSock("0.0.0.0:22", 100, "sshd"), watchSock("0.0.0.0:80", 200, "nginx")
	m := newWatchModel([]inspect.Socket{ssh}, time.Second, func(s *inspect.Socket) string { return "the answer for port " + s.LocalName() })
	refresh := func(ev ...inspect.WatchEvent) { m.refreshed(ev, nil, time.Now()) }
	line := func(port string) string {
		for _, l := range strings.Split(m.View(80, 24), "\n") {
			if strings.Contains(l, port) {
				return l
			}
		}
		return ""
	}
	runes := func(s string) {
		for _, r := range s {
			m.key(watchKey{r: r})
		}
	}

	refresh(inspect.WatchEvent{Event: inspect.WatchAdded, Socket: web})
	if l := line("0.0.0.0:80 "); !strings.HasPrefix(l, "+ tcp") || !strings.Contains(l, "nginx (pid 200)") {
		t.Errorf("a new listener is not marked +: %q\n%s", l, m.View(80, 24))
	}
	for range markRefreshes {
		refresh()
	}
	if strings.HasPrefix(line("0.0.0.0:80 "), "+") {
		t.Errorf("still marked after %d refreshes", markRefreshes)
	}
	refresh(inspect.WatchEvent{Event: inspect.WatchRemoved, Socket: web})
	if l := line("0.0.0.0:80 "); !strings.HasPrefix(l, "- tcp") {
		t.Errorf("a gone listener is not shown as -: %q", l)
	}
	for range markRefreshes {
		refresh()
	}
	if line("0.0.0.0:80 ") != "" {
		t.Errorf("a gone listener stays after %d refreshes", markRefreshes)
	}

	runes("p")
	if !m.paused || !strings.Contains(m.View(80, 24), "paused") {
		t.Errorf("p does not pause")
	}
	runes("p")

	refresh(inspect.WatchEvent{Event: inspect.WatchAdded, Socket: web})
	runes("fngi")
	m.key(watchKey{name: "Enter"})
	if line("0.0.0.0:22 ") != "" || line("0.0.0.0:80 ") == "" || !strings.Contains(m.View(80, 24), "[ngi]") {
		t.Errorf("filtered by ngi:\n%s", m.View(80, 24))
	}
	runes("f")
	for range 3 {
		m.key(watchKey{name: "Backspace"})
	}
	runes("22")
	m.key(watchKey{name: "Enter"})
	if line("0.0.0.0:22 ") == "" || line("0.0.0.0:80 ") != "" {
		t.Errorf("filtered by port 22:\n%s", m.View(80, 24))
	}
	runes("f")
	m.key(watchKey{name: "Backspace"})
	m.key(watchKey{name: "Backspace"})
	m.key(watchKey{name: "Enter"})

	runes("s")
	if v := m.View(80, 24); strings.Index(v, "nginx") > strings.Index(v, "sshd") {
		t.Errorf("sorted by process:\n%s", v)
	}
	m.key(watchKey{name: "Enter"})
	if !strings.Contains(m.View(80, 24), "the answer for port 0.0.0.0:80") {
		t.Errorf("Enter: %s", m.View(80, 24))
	}
	m.key(watchKey{name: "Esc"})
	m.key(watchKey{name: "Down"})
	m.key(watchKey{name: "Enter"})
	if !strings.Contains(m.View(80, 24), "the answer for port 0.0.0.0:22") {
		t.Errorf("down, Enter: %s", m.View(80, 24))
	}
	runes("q") // back to the list, not out

	m.refreshed(nil, errors.New("netlink: boom"), time.Now())
	if !strings.Contains(m.View(80, 24), "error: netlink: boom") {
		t.Errorf("error not shown")
	}
	lines := strings.Split(m.View(80, 24), "\n")
	if len(lines) != 24 {
		t.Errorf("%d lines, want 24", len(lines))
	}
	for _, l := range lines {
		if w := displayWidth(l); w != 80 {
			t.Errorf("a line of %d columns, want 80: %q", w, l)
		}
	}
	if !m.key(watchKey{r: 'q'}) || !m.key(watchKey{name: "Ctrl-C"}) {
		t.Errorf("q or Ctrl-C does not end the view")
	}
}

// TestWatchScreen runs the view's event loop on tcell's simulated screen
// over a fake machine: a listener that appears shows marked new and bold,
// and q ends the loop, which finalizes the screen.
func TestWatchScreen(t *testing.T) {
	fake := &platformtest.Fake{
		SocketList: []platform.Socket{platformtest.Sock(platform.TCP, "0.0.0.0:22", "0.0.0.0:0", platform.Listen, 1)},
		Holders:    map[uint64][]int{1: {100}, 2: {200}},
		Processes:  map[int]platform.Process{100: {PID: 100, Name: "sshd"}, 200: {PID: 200, Name: "nginx"}},
		Machine:    platform.Host{OS: "linux"},
	}
	src := &lockedFake{Fake: fake}
	w := inspect.NewWatcher(src, inspect.Query{Listening: true})
	if _, err := w.Refresh(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	screen := &snapshotScreen{SimulationScreen: tcell.NewSimulationScreen("UTF-8")}
	f := &Factory{IO: &IOStreams{}, KnownPorts: knownports.Default}
	done := make(chan error)
	go func() {
		done <- runWatchTUI(context.Background(), f, src, w, &watchOptions{interval: 20 * time.Millisecond}, screen)
	}()
	text := func() (string, tcell.Style) {
		cells, width := screen.snapshot()
		var b strings.Builder
		var style tcell.Style
		for i, c := range cells {
			if i > 0 && i%width == 0 {
				b.WriteByte('\n')
			}
			if len(c.Runes) > 0 {
				b.WriteRune(c.Runes[0])
				if c.Runes[0] == '+' && i%width == 0 {
					style = c.Style
				}
			}
		}
		return b.String(), style
	}
	time.Sleep(50 * time.Millisecond)
	src.mu.Lock()
	fake.SocketList = append(fake.SocketList, platformtest.Sock(platform.TCP, "0.0.0.0:80", "0.0.0.0:0", platform.Listen, 2))
	src.mu.Unlock()
	var shown string
	var style tcell.Style
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if shown, style = text(); strings.Contains(shown, "+ tcp   0.0.0.0:80") {
			break
		}
	}
	if !strings.Contains(shown, "+ tcp   0.0.0.0:80") || !strings.Contains(shown, "nginx (pid 200)") {
		t.Fatalf("the new listener is not shown:\n%s", shown)
	}
	// The first row is selected (reversed); the new one is bold.
	if _, _, attrs := style.Decompose(); attrs&tcell.AttrBold == 0 {
		t.Errorf("the new listener's line is not bold")
	}
	screen.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("q does not end the view")
	}
}

// lockedFake lets a test change the fake machine while the view's loop
// lists it.
type lockedFake struct {
	mu sync.Mutex
	*platformtest.Fake
}

func (l *lockedFake) Sockets(ctx context.Context, f platform.Filter) ([]platform.Socket, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Fake.Sockets(ctx, f)
}

func (l *lockedFake) Owners(ctx context.Context, socks []platform.Socket) (platform.OwnerReport, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Fake.Owners(ctx, socks)
}

// snapshotScreen copies the simulated screen's cells as each frame is
// shown, in the view's goroutine: tcell's GetContents hands out the
// screen's own cells, which the next frame overwrites.
type snapshotScreen struct {
	tcell.SimulationScreen
	mu    sync.Mutex
	cells []tcell.SimCell
	width int
}

func (s *snapshotScreen) Show() {
	s.SimulationScreen.Show()
	cells, width, _ := s.SimulationScreen.GetContents()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cells, s.width = make([]tcell.SimCell, len(cells)), width
	for i, c := range cells {
		s.cells[i] = tcell.SimCell{Runes: append([]rune(nil), c.Runes...), Style: c.Style}
	}
}

func (s *snapshotScreen) snapshot() ([]tcell.SimCell, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cells, s.width
}
