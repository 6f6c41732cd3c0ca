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

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

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

// refreshMsg is a refresh's result; tickMsg asks for one.
type (
	refreshMsg struct {
		events []inspect.WatchEvent
		err    error
		at     time.Time
	}
	tickMsg time.Time
)

// watchModel is the live view: bubbletea's model, whose Update and View
// are pure functions of it, so that they are tested without a terminal.
type watchModel struct {
	refresh  func(time.Time) ([]inspect.WatchEvent, error)
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
	width    int
	height   int
	added    int
	removed  int
}

func newWatchModel(sockets []inspect.Socket, interval time.Duration, refresh func(time.Time) ([]inspect.WatchEvent, error), details func(*inspect.Socket) string) *watchModel {
	m := &watchModel{refresh: refresh, details: details, interval: interval, rows: map[string]*watchRow{}, width: 80, height: 24}
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

func (m *watchModel) Init() tea.Cmd { return m.tick() }

func (m *watchModel) tick() tea.Cmd {
	return tea.Tick(m.interval, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *watchModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tickMsg:
		if m.paused {
			return m, m.tick()
		}
		at := time.Time(msg)
		return m, func() tea.Msg {
			events, err := m.refresh(at)
			return refreshMsg{events: events, err: err, at: at}
		}
	case refreshMsg:
		m.apply(msg)
		return m, m.tick()
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

// apply ages the marks, then marks what the refresh found.
func (m *watchModel) apply(r refreshMsg) {
	m.err, m.last = r.err, r.at
	if r.err != nil {
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
	for _, e := range r.events {
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

func (m *watchModel) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if m.typing {
		switch k.Type {
		case tea.KeyEnter:
			m.filter, m.typing = strings.TrimSpace(m.input), false
			m.reorder()
		case tea.KeyEsc:
			m.typing = false
		case tea.KeyBackspace:
			if m.input != "" {
				m.input = m.input[:len(m.input)-1]
			}
		case tea.KeyRunes, tea.KeySpace:
			m.input += string(k.Runes)
		case tea.KeyCtrlC:
			return m, tea.Quit
		}
		return m, nil
	}
	if m.detail != "" {
		switch k.String() {
		case "q", "esc", "enter":
			m.detail = ""
		case "ctrl+c":
			return m, tea.Quit
		}
		return m, nil
	}
	switch k.String() {
	case "q", "ctrl+c":
		return m, tea.Quit
	case "p":
		m.paused = !m.paused
	case "f":
		m.typing, m.input = true, m.filter
	case "s":
		m.sortBy = (m.sortBy + 1) % len(watchSorts)
		m.reorder()
	case "up", "k":
		m.selected = max(m.selected-1, 0)
	case "down", "j":
		m.selected = min(m.selected+1, max(len(m.order)-1, 0))
	case "enter":
		if m.selected < len(m.order) && m.details != nil {
			s := m.rows[m.order[m.selected]].sock
			m.detail = m.details(&s)
		}
	}
	return m, nil
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

var (
	styleNew      = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("10"))
	styleGone     = lipgloss.NewStyle().Faint(true).Strikethrough(true)
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleStatus   = lipgloss.NewStyle().Reverse(true)
)

// View draws the table and the status line in the terminal's size. A
// new socket is marked "+", a gone one "-" (as well as by colour, which a
// screen capture or a monochrome terminal does not show).
func (m *watchModel) View() string {
	if m.detail != "" {
		lines := strings.Split(strings.TrimRight(m.detail, "\n"), "\n")
		if len(lines) > m.height-1 {
			lines = lines[:m.height-1]
		}
		return strings.Join(lines, "\n") + "\n" + styleStatus.Render(fit("q or Esc: back to the list", m.width))
	}
	var b strings.Builder
	header := fmt.Sprintf("  %-5s %-22s %-11s %s", "PROTO", "LOCAL", "STATE", "PROCESS")
	if m.remote {
		header = fmt.Sprintf("  %-5s %-22s %-22s %-11s %s", "PROTO", "LOCAL", "REMOTE", "STATE", "PROCESS")
	}
	b.WriteString(fit(header, m.width) + "\n")
	rows := m.height - 2
	first := 0
	if m.selected >= rows {
		first = m.selected - rows + 1
	}
	for i := first; i < len(m.order) && i < first+rows; i++ {
		row := m.rows[m.order[i]]
		s := &row.sock
		mark := " "
		switch {
		case row.removed > 0:
			mark = "-"
		case row.added > 0:
			mark = "+"
		}
		line := fmt.Sprintf("%s %-5s %-22s %-11s %s", mark, s.Protocol, escapeText(s.LocalName()), s.State, escapeText(describeOwners(s)))
		if m.remote {
			line = fmt.Sprintf("%s %-5s %-22s %-22s %-11s %s", mark, s.Protocol, escapeText(s.LocalName()), formatRemote(s.Remote), s.State, escapeText(describeOwners(s)))
		}
		line = fit(line, m.width)
		switch {
		case i == m.selected:
			line = styleSelected.Render(line)
		case row.removed > 0:
			line = styleGone.Render(line)
		case row.added > 0:
			line = styleNew.Render(line)
		}
		b.WriteString(line + "\n")
	}
	for i := len(m.order) - first; i < rows; i++ {
		b.WriteString("\n")
	}
	b.WriteString(styleStatus.Render(fit(m.status(), m.width)))
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
	if displayWidth(s) <= width {
		return s + strings.Repeat(" ", width-displayWidth(s))
	}
	r := []rune(s)
	for len(r) > 0 && displayWidth(string(r)) > width-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// runWatchTUI runs the live view until q, Ctrl-C, or the context ends.
// bubbletea restores the terminal on every way out, a panic included.
func runWatchTUI(ctx context.Context, f *Factory, src inspect.Source, w *inspect.Watcher, opts *watchOptions) error {
	refresh := func(at time.Time) ([]inspect.WatchEvent, error) { return w.Refresh(ctx, at) }
	details := func(s *inspect.Socket) string {
		q := inspect.Query{Ports: inspect.PortSet{{PortRange: platform.PortRange{Low: s.Local.Port(), High: s.Local.Port(), TCP: true, UDP: true}}},
			Clients: true, KnownPorts: inspect.KnownPortsAsked, Detail: platform.DetailFull, AllNetns: opts.query.AllNetns, Netns: opts.query.Netns}
		rep, err := inspect.Run(ctx, src, f.KnownPorts(), q)
		if err != nil {
			return err.Error()
		}
		var buf bytes.Buffer
		ios := &IOStreams{Out: &buf, ErrOut: &buf, OutTTY: true, Width: f.IO.Width}
		renderPort(ios, rep, &portOptions{Specs: []string{strconv.Itoa(int(s.Local.Port()))}, query: q})
		return buf.String()
	}
	m := newWatchModel(w.Sockets(), opts.interval, refresh, details)
	m.remote = opts.all
	_, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx)).Run()
	if err == tea.ErrProgramKilled && ctx.Err() != nil {
		return nil
	}
	return err
}
