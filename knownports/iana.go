package knownports

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// ianaTable is IANA's registry as parsed from its CSV. Rows are packed
// without pointers, their strings being spans of one shared text, so that
// 13,000 rows are a few allocations the garbage collector never scans; the
// columns portinspect does not use (assignee, contact, notes) are not kept.
type ianaTable struct {
	text    string
	rows    []row     // rows with a port number, in file order
	index   spanIndex // over rows
	records int       // records in the file, rows without a port included
	newest  string    // the newest registration or modification date
}

// row is one Registration, its strings given as spans of ianaTable.text.
type row struct {
	service, protocol, description textSpan
	low, high                      uint16
}

type textSpan struct{ off, len uint32 }

func (t *ianaTable) str(s textSpan) string { return t.text[s.off : s.off+s.len] }

func (t *ianaTable) service(i int32) string  { return t.str(t.rows[i].service) }
func (t *ianaTable) protocol(i int32) string { return t.str(t.rows[i].protocol) }

// registration unpacks row i.
func (t *ianaTable) registration(i int32) Registration {
	r := &t.rows[i]
	reg := Registration{
		Service:     t.str(r.service),
		Protocol:    t.str(r.protocol),
		Description: t.str(r.description),
		Low:         r.low,
		High:        r.high,
	}
	if r.low != r.high {
		reg.Range = PortRange{r.low, r.high}.String()
	}
	return reg
}

// The CSV columns the database reads, found by header name so that a
// reordered download still parses.
const (
	colService = iota
	colPort
	colProtocol
	colDescription
	colRegistered
	colModified
	numColumns
)

var columnNames = [numColumns]string{
	colService:     "Service Name",
	colPort:        "Port Number",
	colProtocol:    "Transport Protocol",
	colDescription: "Description",
	colRegistered:  "Registration Date",
	colModified:    "Modification Date",
}

// parseIANA reads IANA's service-names-port-numbers.csv. sizeHint, the
// input's length in bytes when known, sizes the allocations up front.
func parseIANA(r io.Reader, sizeHint int) (*ianaTable, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	p, err := readHeader(cr)
	if p == nil || err != nil {
		return &ianaTable{}, err
	}
	t, err := p.records(cr, sizeHint, 0)
	if err != nil {
		return nil, err
	}
	t.buildIndex()
	return t, nil
}

// ianaParser knows where the columns it reads are in a CSV's records.
type ianaParser struct {
	col    [numColumns]int // -1 for an optional column the file lacks
	fields int
}

// readHeader reads the header record; it returns a nil parser for an empty
// file.
func readHeader(cr *csv.Reader) (*ianaParser, error) {
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: IANA CSV: %w", ErrParse, err)
	}
	p := &ianaParser{fields: len(header)}
	for c, name := range columnNames {
		p.col[c] = -1
		for i, h := range header {
			if strings.TrimPrefix(strings.TrimSpace(h), "\ufeff") == name {
				p.col[c] = i
				break
			}
		}
		if p.col[c] < 0 && c != colRegistered && c != colModified {
			return nil, fmt.Errorf("%w: IANA CSV: no %q column in the header", ErrParse, name)
		}
	}
	return p, nil
}

func (p *ianaParser) field(rec []string, c int) string {
	if p.col[c] < 0 {
		return ""
	}
	return rec[p.col[c]]
}

// records reads the records that follow the header. sizeHint is the
// input's length in bytes when known; lineBase is the number of lines
// before the reader's input, for error messages.
func (p *ianaParser) records(cr *csv.Reader, sizeHint, lineBase int) (*ianaTable, error) {
	// IANA's file averages ~80 bytes a record, and the kept columns with
	// repeats shared come to about a third of it.
	t := &ianaTable{rows: make([]row, 0, sizeHint/80)}
	var tb textBuilder
	tb.Grow(sizeHint / 3)
	for _, proto := range knownProtocols {
		tb.add(proto)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
				pe.StartLine += lineBase
				pe.Line += lineBase
			}
			return nil, fmt.Errorf("%w: IANA CSV: %w", ErrParse, err)
		}
		t.records++
		for _, c := range [...]int{colRegistered, colModified} {
			if d := p.field(rec, c); d > t.newest && isDate(d) {
				t.newest = d
			}
		}
		port := p.field(rec, colPort)
		if port == "" {
			continue
		}
		pr, err := parsePortRange(port)
		if err != nil {
			line, _ := cr.FieldPos(p.col[colPort])
			return nil, fmt.Errorf("%w: IANA CSV: line %d: %w", ErrParse, lineBase+line, err)
		}
		if len(t.rows) == math.MaxInt32 || tb.Len() > math.MaxUint32/4 {
			return nil, fmt.Errorf("%w: IANA CSV: too large", ErrParse)
		}
		t.rows = append(t.rows, row{
			service:     tb.service(strings.TrimSpace(p.field(rec, colService))),
			protocol:    tb.protocol(strings.TrimSpace(p.field(rec, colProtocol))),
			description: tb.description(p.field(rec, colDescription)),
			low:         pr.Low,
			high:        pr.High,
		})
	}
	t.text = tb.String()
	return t, nil
}

// isDate reports whether s looks like IANA's dates, 2024-04-30, which
// compare correctly as strings.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i := range len(s) {
		if i != 4 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func (t *ianaTable) buildIndex() {
	spans := make([]span, len(t.rows))
	for i, r := range t.rows {
		spans[i] = span{low: r.low, high: r.high, pos: int32(i)}
	}
	t.index = newSpanIndex(spans)
}

var knownProtocols = [...]string{"tcp", "udp", "sctp", "dccp"}

// textBuilder collects the kept strings of all rows into one text. The tcp
// and udp rows of a service usually repeat its name and description, so a
// string equal to the previous one of its kind is shared, not added again.
type textBuilder struct {
	strings.Builder
	lastService, lastDescr textSpan
}

func (b *textBuilder) add(s string) textSpan {
	sp := textSpan{uint32(b.Len()), uint32(len(s))}
	b.WriteString(s)
	return sp
}

// get returns the text of a span added before. The Builder only appends,
// so its String is a valid view of everything added so far.
func (b *textBuilder) get(sp textSpan) string { return b.String()[sp.off : sp.off+sp.len] }

func (b *textBuilder) service(s string) textSpan {
	if s != b.get(b.lastService) {
		b.lastService = b.add(s)
	}
	return b.lastService
}

// description folds the line breaks and indentation of IANA's multi-line
// descriptions into single spaces.
func (b *textBuilder) description(s string) textSpan {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\t') >= 0 {
		s = strings.Join(strings.Fields(s), " ")
	}
	if s != b.get(b.lastDescr) {
		b.lastDescr = b.add(s)
	}
	return b.lastDescr
}

// protocol returns the span of the protocols the text starts with, so the
// common ones are stored once for the whole table.
func (b *textBuilder) protocol(s string) textSpan {
	var off uint32
	for _, p := range knownProtocols {
		if s == p {
			return textSpan{off, uint32(len(p))}
		}
		off += uint32(len(p))
	}
	if s == "" {
		return textSpan{}
	}
	return b.add(s)
}
