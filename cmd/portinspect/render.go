package main

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

// columns says which optional columns a socket table has.
type columns struct {
	// owners: PID, PROCESS, USER (and UNIT, EXE, CMDLINE when wide).
	owners bool
	// service: SERVICE, what the socket is for (list; port has the note).
	service bool
}

// renderSockets prints rep's sockets in format (table, wide, csv or json).
func renderSockets(ios *IOStreams, rep *inspect.Report, format outputFormat, cols columns) error {
	switch format {
	case formatJSON:
		return writeJSONReport(ios.Out, newJSONReport(rep), rep.Sockets)
	case formatCSV:
		return writeSocketCSV(ios.Out, rep.Sockets)
	}
	if !ios.OutTTY {
		return streamSocketRows(ios.Out, rep.Sockets, cols, format == formatWide)
	}
	header, rows := socketRows(rep.Sockets, cols, format == formatWide, ios.OutTTY)
	return writeTable(ios, header, rows)
}

// streamSocketRows writes the piped table's rows as they are made, one
// row's cells reused for the next: a busy host's 24,000 rows need no
// table in memory when nothing is aligned.
func streamSocketRows(out io.Writer, socks []inspect.Socket, cols columns, wide bool) error {
	w := bufio.NewWriterSize(out, 64<<10)
	header := socketHeader(socks, cols, wide)
	netns := header[0] == "NETNS"
	row := make([]string, 0, len(header))
	for i := range socks {
		row = socketRow(row[:0], &socks[i], cols, netns, wide, false)
		for j, cell := range row {
			if j > 0 {
				w.WriteByte('\t')
			}
			w.WriteString(cell)
		}
		w.WriteByte('\n')
	}
	return w.Flush()
}

// formatQueue prints a RECV-Q or SEND-Q, or unknown where the system does
// not report it.
func formatQueue(q int64, unknown string) string {
	if q < 0 {
		return unknown
	}
	return strconv.FormatInt(q, 10)
}

// socketRows lays sockets out one row each; a socket held by several
// processes lists them comma-separated in one cell. On a terminal a
// prefork server's dozens of workers are cut to the first few and a count.
func socketRows(socks []inspect.Socket, cols columns, wide, tty bool) (header []string, rows [][]string) {
	header = socketHeader(socks, cols, wide)
	netns := header[0] == "NETNS"
	rows = make([][]string, 0, len(socks))
	for i := range socks {
		rows = append(rows, socketRow(make([]string, 0, len(header)), &socks[i], cols, netns, wide, tty))
	}
	return header, rows
}

// socketHeader is the header of socketRows' table.
func socketHeader(socks []inspect.Socket, cols columns, wide bool) (header []string) {
	if slices.ContainsFunc(socks, func(s inspect.Socket) bool { return s.Netns != nil }) {
		header = append(header, "NETNS")
	}
	header = append(header, "PROTO", "LOCAL", "REMOTE")
	if cols.service {
		header = append(header, "SERVICE")
	}
	header = append(header, "STATE")
	if wide {
		header = append(header, "RECV-Q", "SEND-Q")
	}
	header = append(header, "EXPOSURE")
	if wide {
		header = append(header, "REACHABLE")
	}
	if cols.owners {
		header = append(header, "PID", "PROCESS", "USER")
		if wide {
			header = append(header, "UNIT", "EXE", "CMDLINE")
		}
	}
	return header
}

// socketRow appends a socket's cells to row.
func socketRow(row []string, s *inspect.Socket, cols columns, netns, wide, tty bool) []string {
	if netns {
		row = append(row, netnsCell(s))
	}
	// Zones are interface names, which root may fill with anything.
	row = append(row, s.Protocol.String(), escapeText(s.LocalName()), escapeText(formatRemote(s.Remote)))
	if cols.service {
		row = append(row, s.Service)
	}
	row = append(row, s.State.String())
	if wide {
		row = append(row, formatQueue(s.RecvQ, "-"), formatQueue(s.SendQ, "-"))
	}
	row = append(row, s.Exposure.String())
	if wide {
		row = append(row, reachableCell(s))
	}
	if cols.owners {
		row = append(row, ownerCells(s, wide, tty)...)
	}
	return row
}

// reachableCell is the firewall's verdict on a listener: "-" for a
// socket not judged (loopback, a connection).
func reachableCell(s *inspect.Socket) string {
	if s.Reach == nil {
		return "-"
	}
	return string(s.Reach.Verdict)
}

// netnsCell names a socket's network namespace for a table: "-" for the
// one portinspect runs in.
func netnsCell(s *inspect.Socket) string {
	return cmp.Or(escapeText(netnsName(s)), "-")
}

// netnsName names a socket's network namespace: "" for the one
// portinspect runs in, else its container, or the namespace's own label
// (an ip netns name, Docker's sandbox, a process in it).
func netnsName(s *inspect.Socket) string {
	switch {
	case s.Netns == nil || s.Netns.Own:
		return ""
	case s.Container() != nil:
		return s.Container().Label()
	}
	return s.Netns.Label()
}

// ownerCells are the PID, PROCESS and USER cells (and UNIT, EXE and
// CMDLINE when wide) of one socket.
func ownerCells(s *inspect.Socket, wide, tty bool) []string {
	n := 3
	if wide {
		n = 6
	}
	cells := make([]string, n)
	switch {
	case s.Owners == platform.OwnersHidden:
		cells[0], cells[1] = "-", "(hidden)"
		return cells
	case s.Owners == platform.OwnersUnknown:
		cells[0], cells[1] = "-", "(unknown)"
		return cells
	case len(s.Processes) == 0:
		cells[0] = "-"
		return cells
	}
	var pids, names, users, units, exes, cmds []string
	for _, p := range s.Processes {
		pids = append(pids, strconv.Itoa(p.PID))
		names = appendNew(names, escapeText(p.Name))
		users = appendNew(users, escapeText(p.User))
		if wide {
			units = appendNew(units, escapeText(p.Service))
			exes = appendNew(exes, escapeText(p.Exe))
			cmds = appendNew(cmds, escapeText(strings.Join(p.Cmdline, " ")))
		}
	}
	if tty && len(pids) > maxPIDsOnTerminal {
		pids = append(pids[:maxPIDsOnTerminal], fmt.Sprintf("+%d", len(pids)-maxPIDsOnTerminal))
	}
	cells[0], cells[1], cells[2] = strings.Join(pids, ","), strings.Join(names, ","), strings.Join(users, ",")
	if wide {
		cells[3], cells[4], cells[5] = strings.Join(units, ","), strings.Join(exes, ","), strings.Join(cmds, " | ")
	}
	return cells
}

// maxPIDsOnTerminal is how many holders of one socket a terminal table
// lists before a count of the rest.
const maxPIDsOnTerminal = 3

// appendNew appends s unless it is empty or already there.
func appendNew(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// formatRemote prints a peer as ss does; an unconnected socket's is
// 0.0.0.0:* or [::]:*.
func formatRemote(ap netip.AddrPort) string {
	switch {
	case ap.Port() != 0:
		return ap.String()
	case ap.Addr().Is6():
		return "[" + ap.Addr().String() + "]:*"
	}
	return ap.Addr().String() + ":*"
}

// writeTable prints rows for people on a terminal (a header, columns
// aligned two spaces apart) and as plain tab-separated rows elsewhere, so
// that awk and cut work.
//
// It lays the table out itself: tablewriter v1.1.5 took 1.2 s and 228 MB
// for the 24,000 rows of a busy host (BenchmarkRenderTableTTY), ss takes
// no time at all, and a borderless left-aligned table needs only column
// widths.
func writeTable(ios *IOStreams, header []string, rows [][]string) error {
	w := bufio.NewWriterSize(ios.Out, 64<<10)
	if !ios.OutTTY {
		for _, row := range rows {
			for i, cell := range row {
				if i > 0 {
					w.WriteByte('\t')
				}
				w.WriteString(cell)
			}
			w.WriteByte('\n')
		}
		return w.Flush()
	}
	writeSections(w, header, []tableSection{{rows: rows}})
	return w.Flush()
}

// tableSection is rows of a table under a caption line ("" for none).
type tableSection struct {
	caption string
	rows    [][]string
}

// writeSections writes an aligned table whose rows come in sections, the
// columns aligned across all of them.
func writeSections(w *bufio.Writer, header []string, sections []tableSection) {
	widths := make([]int, len(header))
	for i, cell := range header {
		widths[i] = displayWidth(cell)
	}
	for _, sec := range sections {
		for _, row := range sec.rows {
			for i, cell := range row {
				widths[i] = max(widths[i], displayWidth(cell))
			}
		}
	}
	writeAlignedRow(w, header, widths)
	for _, sec := range sections {
		if sec.caption != "" {
			w.WriteString("\n" + sec.caption + "\n")
		}
		for _, row := range sec.rows {
			writeAlignedRow(w, row, widths)
		}
	}
}

func writeAlignedRow(w *bufio.Writer, row []string, widths []int) {
	// Empty cells at the end would only pad the line with spaces.
	last := len(row) - 1
	for last > 0 && row[last] == "" {
		last--
	}
	pad := 0
	for i, cell := range row[:last+1] {
		if i > 0 {
			writeSpaces(w, pad+2)
		}
		w.WriteString(cell)
		pad = widths[i] - displayWidth(cell)
	}
	w.WriteByte('\n')
}

const spaces = "                                                                "

func writeSpaces(w *bufio.Writer, n int) {
	for ; n > len(spaces); n -= len(spaces) {
		w.WriteString(spaces)
	}
	w.WriteString(spaces[:n])
}

// displayWidth is how many terminal columns s takes: wide characters take
// two.
func displayWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return runewidth.StringWidth(s)
		}
	}
	return len(s)
}

// csvHeader are the columns of -o csv: one row per socket and holding
// process, so that a socket held by three processes is three rows and one
// held by none is one row with empty process columns.
var csvHeader = []string{
	"protocol", "family", "local_address", "local_port", "remote_address", "remote_port", "port_service",
	"state", "exposure", "owner_status", "pid", "process", "user", "uid", "exe", "cmdline", "service", "started",
	"recv_q", "send_q", "dual_stack", "role", "device",
}

func writeSocketCSV(out io.Writer, socks []inspect.Socket) error {
	bw := bufio.NewWriterSize(out, 64<<10)
	w := csv.NewWriter(bw)
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	row := make([]string, len(csvHeader))
	for i := range socks {
		s := &socks[i]
		row = append(row[:0],
			s.Protocol.String(), s.Family.String(),
			escapeText(s.Local.Addr().String()), strconv.Itoa(int(s.Local.Port())),
			escapeText(s.Remote.Addr().String()), strconv.Itoa(int(s.Remote.Port())), s.Service,
			s.State.String(), s.Exposure.String(), s.Owners.String())
		tail := [5]string{formatQueue(s.RecvQ, ""), formatQueue(s.SendQ, ""), csvDualStack(s.DualStack), csvRole(s.Role), escapeText(s.Device)}
		if len(s.Processes) == 0 {
			row = append(row, "", "", "", "", "", "", "", "")
			row = append(row, tail[:]...)
			if err := w.Write(row); err != nil {
				return err
			}
			continue
		}
		base := len(row)
		for _, p := range s.Processes {
			row = append(row[:base],
				strconv.Itoa(p.PID), escapeText(p.Name), escapeText(p.User), formatUID(p.UID),
				escapeText(p.Exe), escapeText(strings.Join(p.Cmdline, " ")), escapeText(p.Service), formatTime(p.Started))
			row = append(row, tail[:]...)
			if err := w.Write(row); err != nil {
				return err
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// csvDualStack and csvRole leave a cell empty where JSON leaves the field
// out.
func csvDualStack(d platform.DualStack) string {
	switch d {
	case platform.DualStackYes:
		return "true"
	case platform.DualStackNo:
		return "false"
	}
	return ""
}

func csvRole(r inspect.Role) string {
	if r == inspect.RoleClient {
		return r.String()
	}
	return ""
}

func formatUID(uid int64) string {
	if uid < 0 {
		return ""
	}
	return strconv.FormatInt(uid, 10)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
