package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

// markRefreshes is how many refreshes a socket that appeared stays
// marked new, and one that went stays shown as gone.
const markRefreshes = 3

// Sort orders of the live view, in the order s cycles through them.
var watchSorts = []string{"port", "process", "pid"}

// watchRow is a socket of the view, with how long it stays marked.
type watchRow struct {
	sock inspect.Socket
	// added and removed count down the refreshes it stays marked.
	added, removed int
}

// lineKind says how a line of the view is drawn.
type lineKind uint8

const (
	lineNormal lineKind = iota
	lineNew
	lineGone
	lineSelected
	lineStatus
)

type viewLine struct {
	text string
	kind lineKind
}

// watchKey is a key the view reacts to: a name (Enter, Esc, Up, Down,
// Backspace, Ctrl-C) or a rune.
type watchKey struct {
	name string
	r    rune
}

// watchModel is the live view's state. Its refresh, key and lines
// methods are pure of any terminal, so that they are tested without one;
// runWatchTUI draws it with tcell.
type watchModel struct {
	details  func(s *inspect.Socket) string
	interval time.Duration
	// remote shows the REMOTE column: connections are watched too.
	remote bool

	rows     map[string]*watchRow
	order    []string
	selected int
	paused   bool
	sortBy   int
	filter   string
	typing   bool // typing a filter
	input    string
	detail   string // the answer shown for the selected socket, "" for the list
	last     time.Time
	err      error
	added    int
	removed  int
}

func newWatchModel(sockets []inspect.Socket, interval time.Duration, details func(*inspect.Socket) string) *watchModel {
	m := &watchModel{details: details, interval: interval, rows: map[string]*watchRow{}}
	for _, s := range sockets {
		m.rows[rowKey(&s)] = &watchRow{sock: s}
	}
	m.reorder()
	return m
}

func rowKey(s *inspect.Socket) string {
	ns := uint64(0)
	if s.Netns != nil {
		ns = s.Netns.Inode
	}
	return fmt.Sprintf("%d|%s|%s|%s|%d", ns, s.Protocol, s.Local, s.Remote, s.Inode)
}

// refreshed ages the marks, then marks what the refresh found.
func (m *watchModel) refreshed(events []inspect.WatchEvent, err error, at time.Time) {
	m.err, m.last = err, at
	if err != nil {
		return
	}
	for k, row := range m.rows {
		if row.added > 0 {
			row.added--
		}
		if row.removed > 0 {
			if row.removed--; row.removed == 0 {
				delete(m.rows, k)
			}
		}
	}
	for _, e := range events {
		k := rowKey(&e.Socket)
		switch e.Event {
		case inspect.WatchAdded:
			m.rows[k] = &watchRow{sock: e.Socket, added: markRefreshes}
			m.added++
		case inspect.WatchRemoved:
			if row := m.rows[k]; row != nil {
				row.removed, row.added = markRefreshes, 0
			}
			m.removed++
		}
	}
	m.reorder()
}

// key handles a key and reports whether the view ends.
func (m *watchModel) key(k watchKey) (quit bool) {
	if k.name == "Ctrl-C" {
		return true
	}
	if m.typing {
		switch k.name {
		case "Enter":
			m.filter, m.typing = strings.TrimSpace(m.input), false
			m.reorder()
		case "Esc":
			m.typing = false
		case "Backspace":
			if r := []rune(m.input); len(r) > 0 {
				m.input = string(r[:len(r)-1])
			}
		case "":
			m.input += string(k.r)
		}
		return false
	}
	if m.detail != "" {
		if k.name == "Esc" || k.name == "Enter" || k.r == 'q' {
			m.detail = ""
		}
		return false
	}
	switch {
	case k.r == 'q':
		return true
	case k.r == 'p':
		m.paused = !m.paused
	case k.r == 'f':
		m.typing, m.input = true, m.filter
	case k.r == 's':
		m.sortBy = (m.sortBy + 1) % len(watchSorts)
		m.reorder()
	case k.name == "Up" || k.r == 'k':
		m.selected = max(m.selected-1, 0)
	case k.name == "Down" || k.r == 'j':
		m.selected = min(m.selected+1, max(len(m.order)-1, 0))
	case k.name == "Enter":
		if m.selected < len(m.order) && m.details != nil {
			s := m.rows[m.order[m.selected]].sock
			m.detail = m.details(&s)
		}
	}
	return false
}

// matches says whether a row passes the filter: a port, or a part of a
// process name.
func (m *watchModel) matches(row *watchRow) bool {
	if m.filter == "" {
		return true
	}
	if p, err := strconv.Atoi(m.filter); err == nil {
		return int(row.sock.Local.Port()) == p || int(row.sock.Remote.Port()) == p
	}
	for _, p := range row.sock.Processes {
		if strings.Contains(strings.ToLower(p.Name), strings.ToLower(m.filter)) {
			return true
		}
	}
	return false
}

func (m *watchModel) reorder() {
	m.order = m.order[:0]
	for k, row := range m.rows {
		if m.matches(row) {
			m.order = append(m.order, k)
		}
	}
	slices.SortFunc(m.order, func(a, b string) int {
		x, y := &m.rows[a].sock, &m.rows[b].sock
		switch watchSorts[m.sortBy] {
		case "process":
			if c := cmp.Compare(firstName(x), firstName(y)); c != 0 {
				return c
			}
		case "pid":
			if c := cmp.Compare(firstPID(x), firstPID(y)); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(x.Local.Port(), y.Local.Port()), cmp.Compare(x.Protocol, y.Protocol), strings.Compare(a, b))
	})
	m.selected = min(m.selected, max(len(m.order)-1, 0))
}

func firstName(s *inspect.Socket) string {
	if len(s.Processes) == 0 {
		return "~"
	}
	return s.Processes[0].Name
}

func firstPID(s *inspect.Socket) int {
	if len(s.Processes) == 0 {
		return 1 << 30
	}
	return s.Processes[0].PID
}

// lines lays the view out in width × height: a header, the rows, the
// status line last. A new socket is marked "+", a gone one "-", besides
// their styles, which a screen capture or a monochrome terminal loses.
func (m *watchModel) lines(width, height int) []viewLine {
	var out []viewLine
	if m.detail != "" {
		text := strings.Split(strings.TrimRight(m.detail, "\n"), "\n")
		for _, l := range text[:min(len(text), height-1)] {
			out = append(out, viewLine{text: fit(l, width)})
		}
		for len(out) < height-1 {
			out = append(out, viewLine{text: fit("", width)})
		}
		return append(out, viewLine{fit("q or Esc: back to the list", width), lineStatus})
	}
	header := fmt.Sprintf("  %-5s %-22s %-11s %s", "PROTO", "LOCAL", "STATE", "PROCESS")
	if m.remote {
		header = fmt.Sprintf("  %-5s %-22s %-22s %-11s %s", "PROTO", "LOCAL", "REMOTE", "STATE", "PROCESS")
	}
	out = append(out, viewLine{text: fit(header, width)})
	rows := height - 2
	first := 0
	if m.selected >= rows {
		first = m.selected - rows + 1
	}
	for i := first; i < len(m.order) && i < first+rows; i++ {
		row := m.rows[m.order[i]]
		s := &row.sock
		mark, kind := " ", lineNormal
		switch {
		case row.removed > 0:
			mark, kind = "-", lineGone
		case row.added > 0:
			mark, kind = "+", lineNew
		}
		if i == m.selected {
			kind = lineSelected
		}
		text := fmt.Sprintf("%s %-5s %-22s %-11s %s", mark, s.Protocol, escapeText(s.LocalName()), s.State, escapeText(describeOwners(s)))
		if m.remote {
			text = fmt.Sprintf("%s %-5s %-22s %-22s %-11s %s", mark, s.Protocol, escapeText(s.LocalName()), formatRemote(s.Remote), s.State, escapeText(describeOwners(s)))
		}
		out = append(out, viewLine{fit(text, width), kind})
	}
	for len(out) < height-1 {
		out = append(out, viewLine{text: fit("", width)})
	}
	return append(out, viewLine{fit(m.status(), width), lineStatus})
}

// View is the view's text, one line per row of the terminal, for tests.
func (m *watchModel) View(width, height int) string {
	var b strings.Builder
	for i, l := range m.lines(width, height) {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.text)
	}
	return b.String()
}

func (m *watchModel) status() string {
	if m.typing {
		return "filter (port or process): " + m.input + "_   Enter apply, Esc cancel"
	}
	state := m.last.Format("15:04:05")
	if m.paused {
		state = "paused"
	}
	if m.err != nil {
		state = "error: " + m.err.Error()
	}
	s := fmt.Sprintf("%d sockets +%d -%d %s · q quit p pause f filter s sort(%s) ↵ details · every %s, shorter-lived ones missed",
		len(m.order), m.added, m.removed, state, watchSorts[m.sortBy], m.interval)
	if m.filter != "" {
		s = "[" + m.filter + "] " + s
	}
	return s
}

// fit cuts or pads a line to width display columns.
func fit(s string, width int) string {
	if w := displayWidth(s); w <= width {
		return s + strings.Repeat(" ", width-w)
	}
	r := []rune(s)
	for len(r) > 0 && displayWidth(string(r)) > width-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// watchStyles are how each kind of line is drawn.
var watchStyles = map[lineKind]tcell.Style{
	lineNormal:   tcell.StyleDefault,
	lineNew:      tcell.StyleDefault.Bold(true).Foreground(tcell.ColorGreen),
	lineGone:     tcell.StyleDefault.Dim(true).StrikeThrough(true),
	lineSelected: tcell.StyleDefault.Reverse(true),
	lineStatus:   tcell.StyleDefault.Reverse(true),
}

// draw puts the view on the screen.
func draw(screen tcell.Screen, m *watchModel) {
	screen.Clear()
	width, height := screen.Size()
	for y, l := range m.lines(width, height) {
		x := 0
		for _, r := range l.text {
			screen.SetContent(x, y, r, nil, watchStyles[l.kind])
			x += max(displayWidth(string(r)), 1)
		}
	}
	screen.Show()
}

// keyOf turns tcell's key event into the view's.
func keyOf(ev *tcell.EventKey) watchKey {
	switch ev.Key() {
	case tcell.KeyEnter:
		return watchKey{name: "Enter"}
	case tcell.KeyEscape:
		return watchKey{name: "Esc"}
	case tcell.KeyUp:
		return watchKey{name: "Up"}
	case tcell.KeyDown:
		return watchKey{name: "Down"}
	case tcell.KeyBackspace, tcell.KeyBackspace2:
		return watchKey{name: "Backspace"}
	case tcell.KeyCtrlC:
		return watchKey{name: "Ctrl-C"}
	case tcell.KeyRune:
		return watchKey{r: ev.Rune()}
	}
	return watchKey{name: "other"}
}

// runWatchTUI runs the live view on screen until q, Ctrl-C, or the
// context ends, and restores the terminal on every way out, a panic
// included. tcell, not bubbletea: bubbletea v1 queries the terminal's
// background colour when the package initializes, which put escape
// sequences before every answer portinspect printed on a terminal and
// could stall it for seconds.
func runWatchTUI(ctx context.Context, f *Factory, src inspect.Source, w *inspect.Watcher, opts *watchOptions, screen tcell.Screen) (err error) {
	if err := screen.Init(); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			screen.Fini()
			panic(r)
		}
		screen.Fini()
	}()
	details := func(s *inspect.Socket) string {
		q := inspect.Query{Ports: inspect.PortSet{{PortRange: platform.PortRange{Low: s.Local.Port(), High: s.Local.Port(), TCP: true, UDP: true}}},
			Clients: true, KnownPorts: inspect.KnownPortsAsked, Detail: platform.DetailFull, AllNetns: opts.query.AllNetns, Netns: opts.query.Netns}
		rep, err := inspect.Run(ctx, src, f.KnownPorts(), q)
		if err != nil {
			return err.Error()
		}
		var buf bytes.Buffer
		width, _ := screen.Size()
		ios := &IOStreams{Out: &buf, ErrOut: &buf, OutTTY: true, Width: width}
		renderPort(ios, rep, &portOptions{Specs: []string{strconv.Itoa(int(s.Local.Port()))}, query: q})
		return buf.String()
	}
	m := newWatchModel(w.Sockets(), opts.interval, details)
	m.remote = opts.all
	m.last = time.Now()
	events := make(chan tcell.Event)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			ev := screen.PollEvent()
			if ev == nil {
				return
			}
			select {
			case events <- ev:
			case <-quit:
				return
			}
		}
	}()
	ticker := time.NewTicker(opts.interval)
	defer ticker.Stop()
	draw(screen, m)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			switch ev := ev.(type) {
			case *tcell.EventKey:
				if m.key(keyOf(ev)) {
					return nil
				}
			case *tcell.EventResize:
				screen.Sync()
			}
		case now := <-ticker.C:
			if !m.paused {
				ev, err := w.Refresh(ctx, now)
				if ctx.Err() != nil {
					return nil
				}
				m.refreshed(ev, err, now)
			}
		}
		draw(screen, m)
	}
}
