package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/portinspect/portinspect/inspect"
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
	var pending []inspect.WatchEvent
	refreshes := 0
	m := newWatchModel([]inspect.Socket{ssh}, time.Millisecond, func(time.Time) ([]inspect.WatchEvent, error) {
		refreshes++
		ev := pending
		pending = nil
		return ev, nil
	}, func(s *inspect.Socket) string { return "the answer for port " + s.LocalName() })
	step := func(msg tea.Msg) {
		t.Helper()
		_, cmd := m.Update(msg)
		// A tick's command is the refresh: run it and feed its message.
		if _, ok := msg.(tickMsg); ok && cmd != nil {
			m.Update(cmd())
		}
	}
	line := func(port string) string {
		for _, l := range strings.Split(m.View(), "\n") {
			if strings.Contains(l, port) {
				return l
			}
		}
		return ""
	}
	key := func(k string) tea.KeyMsg {
		switch k {
		case "enter":
			return tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			return tea.KeyMsg{Type: tea.KeyEsc}
		case "down":
			return tea.KeyMsg{Type: tea.KeyDown}
		}
		return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
	}

	pending = []inspect.WatchEvent{{Event: inspect.WatchAdded, Socket: web}}
	step(tickMsg(time.Now()))
	if l := line(":80 "); !strings.Contains(l, "+ tcp") || !strings.Contains(l, "nginx (pid 200)") {
		t.Errorf("a new listener is not marked +: %q\n%s", l, m.View())
	}
	for range markRefreshes {
		step(tickMsg(time.Now()))
	}
	if l := line(":80 "); strings.HasPrefix(strings.TrimLeft(l, "\x1b[0123456789;m"), "+") {
		t.Errorf("still marked after %d refreshes: %q", markRefreshes, l)
	}
	pending = []inspect.WatchEvent{{Event: inspect.WatchRemoved, Socket: web}}
	step(tickMsg(time.Now()))
	if l := line(":80 "); !strings.Contains(l, "- tcp") {
		t.Errorf("a gone listener is not shown as -: %q", l)
	}
	for range markRefreshes {
		step(tickMsg(time.Now()))
	}
	if line(":80 ") != "" {
		t.Errorf("a gone listener stays after %d refreshes", markRefreshes)
	}

	// p pauses: ticks refresh nothing.
	step(key("p"))
	before := refreshes
	step(tickMsg(time.Now()))
	if refreshes != before || !strings.Contains(m.View(), "paused") {
		t.Errorf("paused, yet refreshed (%d to %d)", before, refreshes)
	}
	step(key("p"))

	// f filters by a process name or a port.
	pending = []inspect.WatchEvent{{Event: inspect.WatchAdded, Socket: web}}
	step(tickMsg(time.Now()))
	step(key("f"))
	for _, r := range "ngi" {
		step(key(string(r)))
	}
	step(key("enter"))
	if line(":22 ") != "" || line(":80 ") == "" || !strings.Contains(m.View(), "[ngi]") {
		t.Errorf("filtered by ngi:\n%s", m.View())
	}
	step(key("f"))
	for range 3 {
		step(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	step(key("2"))
	step(key("2"))
	step(key("enter"))
	if line(":22 ") == "" || line(":80 ") != "" {
		t.Errorf("filtered by port 22:\n%s", m.View())
	}
	step(key("f"))
	step(tea.KeyMsg{Type: tea.KeyBackspace})
	step(tea.KeyMsg{Type: tea.KeyBackspace})
	step(key("enter"))

	// s sorts by process: nginx before sshd; Enter shows the selected
	// socket's answer, Esc goes back.
	step(key("s"))
	if v := m.View(); strings.Index(v, "nginx") > strings.Index(v, "sshd") {
		t.Errorf("sorted by process:\n%s", v)
	}
	step(key("enter"))
	if !strings.Contains(m.View(), "the answer for port 0.0.0.0:80") {
		t.Errorf("Enter: %s", m.View())
	}
	step(key("esc"))
	step(key("down"))
	step(key("enter"))
	if !strings.Contains(m.View(), "the answer for port 0.0.0.0:22") {
		t.Errorf("down, Enter: %s", m.View())
	}
	step(key("q"))

	// A refresh that fails says so and keeps the view.
	m.Update(refreshMsg{err: errors.New("netlink: boom")})
	if !strings.Contains(m.View(), "error: netlink: boom") {
		t.Errorf("error not shown")
	}

	lines := strings.Split(m.View(), "\n")
	if len(lines) != 24 {
		t.Errorf("%d lines, want 24", len(lines))
	}
	for _, l := range lines {
		if w := displayWidth(stripANSI(l)); w > 80 {
			t.Errorf("a line of %d columns: %q", w, l)
		}
	}
	if _, cmd := m.Update(key("q")); cmd == nil || cmd() != tea.Quit() {
		t.Errorf("q does not quit")
	}
}

// stripANSI removes SGR sequences, which take no columns.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
