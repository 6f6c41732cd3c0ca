package knownports

import (
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
)

// ErrParse is wrapped by the errors of [Parse] and [DB.Err] when a data file
// is malformed.
var ErrParse = errors.New("knownports: malformed data")

// Registration is one row of IANA's registry.
type Registration struct {
	Service     string `json:"service"`         // "" for reserved and unassigned rows
	Protocol    string `json:"protocol"`        // tcp, udp, sctp, dccp; "" where IANA gives none
	Description string `json:"description"`     // runs of whitespace folded to one space
	Range       string `json:"range,omitempty"` // "6000-6063" for rows covering a range
	Low, High   uint16 `json:"-"`               // the port, or the range, the row covers
}

// Seen is one program commonly found listening on a note's ports.
type Seen struct {
	Platform string `json:"platform"`
	Program  string `json:"program,omitempty"`
	Service  string `json:"service,omitempty"`
	Default  string `json:"default,omitempty"` // "on", "off", or "" when unknown or not applicable
	Note     string `json:"note,omitempty"`
}

// Advice is what to do about a note's port on one platform: an explanation
// and the exact commands that check, turn off or restrict the listener.
type Advice struct {
	Platform   string   `json:"platform"`
	Text       string   `json:"text"`
	Commands   []string `json:"commands"`
	References []string `json:"references"` // sources for this item; also listed in the note's References
}

// Note is a curated entry of the known-ports database: what really listens
// on some ports, how risky that is, and what to do about it. Notes are
// shared between lookups and must not be modified.
type Note struct {
	Ports        []PortRange `json:"ports"`
	Protocols    []string    `json:"protocols"`
	Title        string      `json:"title"`
	Aliases      []string    `json:"aliases"` // names a user may type instead of the port number
	Platforms    []string    `json:"platforms"`
	Risk         Risk        `json:"risk"`          // when reachable beyond loopback
	RiskLoopback Risk        `json:"risk_loopback"` // when bound to loopback only
	Summary      string      `json:"summary"`
	CommonlySeen []Seen      `json:"commonly_seen"`
	Advice       []Advice    `json:"advice"`
	References   []string    `json:"references"` // every source of the note, its advice's included
}

// covers reports whether the note is about port over protocol.
func (n *Note) covers(port uint16, protocol string) bool {
	return slices.ContainsFunc(n.Ports, func(r PortRange) bool { return r.Contains(port) }) &&
		slices.ContainsFunc(n.Protocols, func(p string) bool { return strings.EqualFold(p, protocol) })
}

// Wide reports whether the note is about a whole class of ports, such as
// the ephemeral range, rather than about a service that listens there.
func (n *Note) Wide() bool {
	return slices.ContainsFunc(n.Ports, func(r PortRange) bool { return int(r.High)-int(r.Low) >= maxNamedRange })
}

// Entry is what the database knows of one port: the JSON shape of the
// known_ports items of portinspect's output.
type Entry struct {
	Port uint16 `json:"port"`
	// Protocols is the union of the protocols of the port's IANA rows that
	// name a service and of its notes, in the order tcp, udp, sctp, dccp.
	Protocols []string       `json:"protocols"`
	IANA      []Registration `json:"iana"`
	Notes     []*Note        `json:"notes"`
}

// PortProto is a port range for one transport protocol, as a service name
// resolves to.
type PortProto struct {
	Low, High uint16
	Protocol  string
}

// Source describes where the IANA data came from.
type Source struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Date string `json:"date"` // the newest registration or modification date in the file
	Rows int    `json:"rows"` // records in the file, header excluded
}

const (
	ianaName = "IANA Service Name and Transport Protocol Port Number Registry"
	ianaURL  = "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.csv"
)

// DB is a known-ports database. Its methods are safe for concurrent use.
type DB struct {
	load func() *tables
}

// tables is a parsed database.
type tables struct {
	iana    ianaTable
	notes   []*Note
	noteIdx spanIndex // over notes, one span per note port range
	source  Source
	err     error
}

//go:generate go test -run ^TestGenerated$ -update .

// embedded is the database built into the binary. Its data is Go code,
// data_gen.go, that go generate makes from iana-service-names-port-numbers.csv
// and notes.yaml (TestGenerated fails when it lags behind them): a lookup
// then starts with nothing to parse, where parsing the CSV and the notes
// took 40 ms of a cold `portinspect lookup`.
var embedded = &DB{load: sync.OnceValue(func() *tables {
	t := &tables{
		iana: ianaTable{
			text:    ianaText,
			rows:    unpackRows(ianaRowData),
			records: ianaRecords,
			newest:  ianaNewest,
		},
		notes:   curatedNotes,
		noteIdx: indexNotes(curatedNotes),
		source:  Source{Name: ianaName, URL: ianaURL, Date: ianaNewest, Rows: ianaRecords},
	}
	t.iana.buildIndex()
	return t
})}

// rowFields is how many numbers data_gen.go spends on one IANA row: the
// offsets and lengths of its service, protocol and description in
// ianaText, and its ports, low in the high half.
const rowFields = 7

// packRows and unpackRows convert IANA rows to and from data_gen.go's
// form: plain numbers compile to static data, where 14,000 struct literals
// would slow every build.
func packRows(rows []row) []uint32 {
	out := make([]uint32, 0, len(rows)*rowFields)
	for _, r := range rows {
		out = append(out, r.service.off, r.service.len, r.protocol.off, r.protocol.len,
			r.description.off, r.description.len, uint32(r.low)<<16|uint32(r.high))
	}
	return out
}

func unpackRows(data []uint32) []row {
	rows := make([]row, len(data)/rowFields)
	for i := range rows {
		d := data[i*rowFields:]
		rows[i] = row{
			service:     textSpan{d[0], d[1]},
			protocol:    textSpan{d[2], d[3]},
			description: textSpan{d[4], d[5]},
			low:         uint16(d[6] >> 16),
			high:        uint16(d[6]),
		}
	}
	return rows
}

// Default returns the database built into the binary. It is indexed on the
// first lookup, once.
func Default() *DB { return embedded }

// Parse reads a database from IANA's CSV and a notes YAML file; a nil reader
// stands for an empty file. The database is usable even when the error is
// not nil: a source that failed to parse is left empty, and [DB.Err] returns
// the same error.
func Parse(iana, notes io.Reader) (*DB, error) {
	var parseI func() (*ianaTable, error)
	if iana != nil {
		var sizeHint int
		if l, ok := iana.(interface{ Len() int }); ok { // strings.Reader, bytes.Reader, bytes.Buffer
			sizeHint = l.Len()
		}
		parseI = func() (*ianaTable, error) { return parseIANA(iana, sizeHint) }
	}
	t := build(parseI, notes)
	return &DB{load: func() *tables { return t }}, t.err
}

// build parses the IANA table with parseI, if not nil, and the notes
// alongside it.
func build(parseI func() (*ianaTable, error), notes io.Reader) *tables {
	t := &tables{source: Source{Name: ianaName, URL: ianaURL}}
	var notesErr error
	var wg sync.WaitGroup
	if notes != nil {
		wg.Go(func() { t.notes, t.noteIdx, notesErr = parseNotes(notes) })
	}
	var ianaErr error
	if parseI != nil {
		var it *ianaTable
		if it, ianaErr = parseI(); ianaErr == nil {
			t.iana = *it
			t.source.Date, t.source.Rows = it.newest, it.records
		}
	}
	wg.Wait()
	t.err = errors.Join(ianaErr, notesErr)
	return t
}

func (db *DB) tables() *tables {
	if db == nil || db.load == nil {
		return &tables{}
	}
	return db.load()
}

// Err reports whether the database's data failed to parse.
func (db *DB) Err() error { return db.tables().err }

// IANASource describes the IANA data in the database.
func (db *DB) IANASource() Source { return db.tables().source }

// Port returns everything the database knows about port: the IANA rows that
// cover it (ranges included) in the registry's order, and the notes about it.
// Its slices are never nil, so an unknown port marshals as empty lists.
func (db *DB) Port(port uint16) Entry {
	t := db.tables()
	var buf [8]int32
	e := Entry{Port: port}
	rows := t.iana.index.lookup(buf[:0], port)
	e.IANA = make([]Registration, len(rows))
	for i, r := range rows {
		e.IANA[i] = t.iana.registration(r)
	}
	notes := t.noteIdx.lookup(buf[:0], port)
	e.Notes = make([]*Note, len(notes))
	for i, n := range notes {
		e.Notes[i] = t.notes[n]
	}
	e.Protocols = e.protocols()
	return e
}

func (e *Entry) protocols() []string {
	ps := []string{}
	add := func(p string) {
		if p != "" && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	for _, r := range e.IANA {
		if r.Service != "" {
			add(r.Protocol)
		}
	}
	for _, n := range e.Notes {
		for _, p := range n.Protocols {
			add(p)
		}
	}
	slices.SortFunc(ps, compareProtocols)
	return ps
}

// Known reports whether Port(port) would return an IANA row that names a
// service, or a note.
func (db *DB) Known(port uint16) bool {
	t := db.tables()
	var buf [8]int32
	if len(t.noteIdx.lookup(buf[:0], port)) > 0 {
		return true
	}
	for _, r := range t.iana.index.lookup(buf[:0], port) {
		if t.iana.service(r) != "" {
			return true
		}
	}
	return false
}

// maxNamedRange is the widest port range whose note names each port in
// it: X11's 64 ports are all x11, but the 32,768 ports of the ephemeral
// range are not each "ephemeral", and IANA's names there say more.
const maxNamedRange = 1024

// ServiceName returns a short name for what runs on port over protocol, for
// a SERVICE column: the first alias of the first note about it (unless the
// note is about a whole class of ports), else the service name of the
// first IANA row for that protocol (a row for the port itself before one
// for a range), else "".
func (db *DB) ServiceName(port uint16, protocol string) string {
	t := db.tables()
	var buf [8]int32
	for _, n := range t.noteIdx.lookup(buf[:0], port) {
		note := t.notes[n]
		if len(note.Aliases) == 0 || !note.covers(port, protocol) {
			continue
		}
		if !note.Wide() {
			return note.Aliases[0]
		}
	}
	var fromRange string
	for _, i := range t.iana.index.lookup(buf[:0], port) {
		svc := t.iana.service(i)
		if svc == "" || !strings.EqualFold(t.iana.protocol(i), protocol) {
			continue
		}
		if r := &t.iana.rows[i]; r.low == r.high {
			return svc
		}
		if fromRange == "" {
			fromRange = svc
		}
	}
	return fromRange
}

// Resolve returns the TCP and UDP ports a service name stands for, as a
// PORTSPEC may name them: the notes' aliases and IANA's service names,
// compared without regard to case. The result is sorted by port, then
// protocol, without duplicates; it is nil when the name is unknown or names
// only SCTP or DCCP services.
func (db *DB) Resolve(name string) []PortProto {
	if name == "" {
		return nil
	}
	t := db.tables()
	var out []PortProto
	for _, n := range t.notes {
		if !slices.ContainsFunc(n.Aliases, func(a string) bool { return strings.EqualFold(a, name) }) {
			continue
		}
		for _, r := range n.Ports {
			for _, p := range n.Protocols {
				out = append(out, PortProto{Low: r.Low, High: r.High, Protocol: p})
			}
		}
	}
	// A linear scan: Resolve runs once per name a user typed, and ~13,000
	// case-folded comparisons cost less than building a name index would
	// add to every start-up.
	for i := range t.iana.rows {
		if !strings.EqualFold(t.iana.service(int32(i)), name) {
			continue
		}
		if p := t.iana.protocol(int32(i)); p == "tcp" || p == "udp" {
			r := &t.iana.rows[i]
			out = append(out, PortProto{Low: r.low, High: r.high, Protocol: p})
		}
	}
	slices.SortFunc(out, func(a, b PortProto) int {
		if a.Low != b.Low {
			return int(a.Low) - int(b.Low)
		}
		if a.High != b.High {
			return int(a.High) - int(b.High)
		}
		return compareProtocols(a.Protocol, b.Protocol)
	})
	return slices.Compact(out)
}

// compareProtocols orders transport protocols as people list them: tcp,
// udp, sctp, dccp, then any other alphabetically.
func compareProtocols(a, b string) int {
	if ra, rb := protocolRank(a), protocolRank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

func protocolRank(p string) int {
	switch p {
	case "tcp":
		return 0
	case "udp":
		return 1
	case "sctp":
		return 2
	case "dccp":
		return 3
	}
	return 4
}
