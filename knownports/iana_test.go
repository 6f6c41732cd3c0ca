package knownports

import (
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The embedded file's provenance, as doc.go records it.
const (
	wantIANARecords = 14447
	wantIANADate    = "2024-04-30"
)

func TestEmbeddedIANAParses(t *testing.T) {
	db := Default()
	if err := db.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	src := db.IANASource()
	if src.Rows != wantIANARecords || src.Date != wantIANADate {
		t.Errorf("IANASource() rows %d, date %q; want %d, %q (update doc.go and these constants with the file)",
			src.Rows, src.Date, wantIANARecords, wantIANADate)
	}
	if src.URL != ianaURL || src.Name == "" {
		t.Errorf("IANASource() = %+v", src)
	}

	// Cross-check against a plain read of the whole file.
	all, err := csv.NewReader(strings.NewReader(ianaCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(all) - 1; got != src.Rows {
		t.Errorf("csv.ReadAll: %d records after the header, IANASource().Rows = %d", got, src.Rows)
	}
	withPort := 0
	for _, rec := range all[1:] {
		if rec[1] != "" {
			withPort++
		}
	}
	if got := len(db.tables().iana.rows); got != withPort {
		t.Errorf("kept %d rows, the file has %d with a port number", got, withPort)
	}
}

func TestPort3372(t *testing.T) {
	e := Default().Port(3372)
	want := []Registration{
		{Service: "tip2", Protocol: "tcp", Description: "TIP 2", Low: 3372, High: 3372},
		{Service: "tip2", Protocol: "udp", Description: "TIP 2", Low: 3372, High: 3372},
	}
	if !slices.Equal(e.IANA, want) {
		t.Errorf("Port(3372).IANA = %+v, want %+v", e.IANA, want)
	}
	if !slices.Equal(e.Protocols, []string{"tcp", "udp"}) {
		t.Errorf("Port(3372).Protocols = %q", e.Protocols)
	}
	if len(e.Notes) != 1 {
		t.Fatalf("Port(3372) has %d notes, want 1", len(e.Notes))
	}
	n := e.Notes[0]
	if n.Title != "MSDTC TIP listener" || n.Risk != RiskMedium || n.RiskLoopback != RiskLow || len(n.References) == 0 {
		t.Errorf("3372 note: title %q, risk %v, risk_loopback %v, %d references",
			n.Title, n.Risk, n.RiskLoopback, len(n.References))
	}
	if !Default().Known(3372) {
		t.Error("Known(3372) = false")
	}
}

func TestPortRanges(t *testing.T) {
	db := Default()
	for _, port := range []uint16{6000, 6010, 6063} {
		e := db.Port(port)
		var x11 []string
		for _, r := range e.IANA {
			if r.Service == "x11" {
				if r.Range != "6000-6063" || r.Low != 6000 || r.High != 6063 {
					t.Errorf("Port(%d): x11 row %+v", port, r)
				}
				x11 = append(x11, r.Protocol)
			}
		}
		if !slices.Equal(x11, []string{"tcp", "udp"}) {
			t.Errorf("Port(%d): x11 rows for %q, want tcp and udp", port, x11)
		}
	}
	for _, r := range db.Port(6064).IANA {
		if r.Service == "x11" {
			t.Errorf("Port(6064) has x11 row %+v", r)
		}
	}
	// An unassigned range: 288-307 has no service, so it is not "known".
	e := db.Port(300)
	if len(e.IANA) == 0 || e.IANA[0].Description != "Unassigned" || e.IANA[0].Range != "288-307" {
		t.Errorf("Port(300).IANA = %+v, want the unassigned 288-307 row", e.IANA)
	}
	if db.Known(300) {
		t.Error("Known(300) = true for an unassigned port")
	}
}

func TestIANAQuirks(t *testing.T) {
	db := Default()

	// A quoted description spanning lines, with IANA's indentation folded.
	e := db.Port(6629)
	const nexgen = "Secondary, (non ANDI) multi-protocol multi-function interface to the Allied ANDI-based family of forecourt controllers"
	if len(e.IANA) != 2 || e.IANA[0].Service != "nexgen-aux" || e.IANA[0].Description != nexgen || e.IANA[1].Description != nexgen {
		t.Errorf("Port(6629).IANA = %+v", e.IANA)
	}
	if got := db.Port(38800).IANA; len(got) == 0 || !strings.HasPrefix(got[0].Description, "Sruth is a service for the distribution of routinely- generated but arbitrary files") {
		t.Errorf("Port(38800).IANA = %+v", got)
	}

	// Reserved rows have no service name.
	e = db.Port(0)
	want := []Registration{
		{Service: "", Protocol: "tcp", Description: "Reserved"},
		{Service: "", Protocol: "udp", Description: "Reserved"},
	}
	if !slices.Equal(e.IANA, want) {
		t.Errorf("Port(0).IANA = %+v, want %+v", e.IANA, want)
	}
	if len(e.Protocols) != 0 || db.Known(0) {
		t.Errorf("Port(0): protocols %q, Known %v; want none, false", e.Protocols, db.Known(0))
	}

	// Rows with a port but no protocol, and SCTP rows, are kept as IANA has them.
	if got := db.Port(6400).IANA; len(got) != 1 || got[0].Service != "boe-cms" || got[0].Protocol != "" {
		t.Errorf("Port(6400).IANA = %+v", got)
	}
	if !slices.ContainsFunc(db.Port(22).IANA, func(r Registration) bool { return r.Protocol == "sctp" }) {
		t.Error("Port(22) has no sctp row")
	}
	if got := db.Port(22).Protocols; !slices.Equal(got, []string{"tcp", "udp", "sctp"}) {
		t.Errorf("Port(22).Protocols = %q", got)
	}

	// Several names for one port, in the registry's order.
	var names []string
	for _, r := range db.Port(80).IANA {
		if r.Protocol == "tcp" {
			names = append(names, r.Service)
		}
	}
	if !slices.Equal(names, []string{"http", "www", "www-http"}) {
		t.Errorf("Port(80) tcp names %q", names)
	}

	// The dynamic range has no rows at all; only the ephemeral-ports note
	// covers it.
	if e := ianaOnly(t).Port(50000); len(e.IANA) != 0 || len(e.Notes) != 0 || ianaOnly(t).Known(50000) {
		t.Errorf("Port(50000) = %+v", e)
	}
}

func TestResolve(t *testing.T) {
	db := Default()
	tests := []struct {
		name string
		want []PortProto
	}{
		{"SSH", []PortProto{{22, 22, "tcp"}, {22, 22, "udp"}}}, // and no 22/sctp
		{"ssh", []PortProto{{22, 22, "tcp"}, {22, 22, "udp"}}},
		{"msdtc", []PortProto{{3372, 3372, "tcp"}}},
		{"MSDTC", []PortProto{{3372, 3372, "tcp"}}},
		{"tip", []PortProto{{3372, 3372, "tcp"}}},
		{"tip2", []PortProto{{3372, 3372, "tcp"}, {3372, 3372, "udp"}}},
		{"x11", []PortProto{{6000, 6063, "tcp"}, {6000, 6063, "udp"}}},
		{"http", []PortProto{{80, 80, "tcp"}, {80, 80, "udp"}}},
		{"no-such-service", nil},
		{"", nil},
		{"3372", nil},
		{"asap-sctp", nil},  // SCTP only
		{"dccp-ping", nil},  // DCCP only
		{"7ksonar", nil},    // registered without a port
		{"active-net", nil}, // 3322-3325 with no protocol
	}
	for _, tt := range tests {
		if got := db.Resolve(tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("Resolve(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestServiceName(t *testing.T) {
	db := Default()
	tests := []struct {
		port  uint16
		proto string
		want  string
	}{
		{3372, "tcp", "msdtc"}, // the note's first alias
		{3372, "udp", "tip2"},  // the note is about tcp only
		{22, "tcp", "ssh"},
		{22, "sctp", "ssh"},
		{1, "tcp", "tcpmux"},
		{80, "tcp", "http"},
		{6010, "tcp", "x11"},
		{0, "tcp", ""},
		{50000, "tcp", "db2"}, // a note in the dynamic range
		{50001, "tcp", ""},
		{6379, "udp", ""}, // reserved for udp
	}
	for _, tt := range tests {
		if got := db.ServiceName(tt.port, tt.proto); got != tt.want {
			t.Errorf("ServiceName(%d, %q) = %q, want %q", tt.port, tt.proto, got, tt.want)
		}
	}
}

func TestParseIANAErrors(t *testing.T) {
	const header = "Service Name,Port Number,Transport Protocol,Description\n"
	tests := []struct{ name, csv, want string }{
		{"bad port", header + "x,70000,tcp,X\n", "line 2"},
		{"backward range", header + "x,10-5,tcp,X\n", "ends before it starts"},
		{"not a number", header + "x,ab,tcp,X\n", `"ab" is not a port`},
		{"missing column", "Service Name,Port,Transport Protocol,Description\n", `no "Port Number" column`},
		{"field count", header + "x,1,tcp\n", "wrong number of fields"},
		{"bare quote", header + "x,1,tcp,a \"b\" c\n", "bare \""},
	}
	for _, tt := range tests {
		db, err := Parse(strings.NewReader(tt.csv), nil)
		if err == nil || !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse error %v, want ErrParse mentioning %q", tt.name, err, tt.want)
		}
		if db.Err() != err {
			t.Errorf("%s: Err() = %v, Parse returned %v", tt.name, db.Err(), err)
		}
		if e := db.Port(1); len(e.IANA) != 0 {
			t.Errorf("%s: Port(1) after a failed parse = %+v", tt.name, e)
		}
	}
}

func TestParseIANAMinimal(t *testing.T) {
	// Columns found by name in any order, a BOM, an unsorted file and a
	// range overlapping single ports.
	const in = "\ufeffPort Number,Description,Transport Protocol,Service Name,Modification Date\n" +
		"20,Later,tcp,later,2020-01-02\n" +
		"10-30,Wide,udp,wide,\n" +
		"10,First,tcp,first,2019-05-05\n" +
		",No port,tcp,noport,2021-01-01\n"
	db, err := Parse(strings.NewReader(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if src := db.IANASource(); src.Rows != 4 || src.Date != "2021-01-01" {
		t.Errorf("IANASource() = %+v", src)
	}
	var got []string
	for _, r := range db.Port(20).IANA {
		got = append(got, r.Service)
	}
	if want := []string{"later", "wide"}; !slices.Equal(got, want) {
		t.Errorf("Port(20) services %q, want %q (file order)", got, want)
	}
	if got := db.ServiceName(20, "tcp"); got != "later" {
		t.Errorf("ServiceName(20, tcp) = %q", got)
	}
	if got := db.ServiceName(15, "udp"); got != "wide" {
		t.Errorf("ServiceName(15, udp) = %q", got)
	}
	if got := db.Resolve("NOPORT"); got != nil {
		t.Errorf("Resolve(NOPORT) = %v", got)
	}
}

func TestEmptyAndZeroDB(t *testing.T) {
	var zero DB
	for _, db := range []*DB{nil, &zero, mustParse(t, "", "")} {
		if db.Err() != nil || db.Known(1) || db.Resolve("ssh") != nil || db.ServiceName(1, "tcp") != "" {
			t.Errorf("empty database answered something")
		}
		e := db.Port(1)
		if e.IANA == nil || e.Notes == nil || e.Protocols == nil {
			t.Errorf("Port on an empty database has nil slices: %+v", e)
		}
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	db := &DB{load: sync.OnceValue(func() *tables {
		return build(func() (*ianaTable, error) { return parseIANA(strings.NewReader(ianaCSV), 0) }, strings.NewReader(notesYAML))
	})}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if db.ServiceName(3372, "tcp") != "msdtc" || len(db.Port(6010).IANA) != 2 || db.Resolve("ssh") == nil {
				t.Error("wrong answer under concurrent first use")
			}
		})
	}
	wg.Wait()
}

func sameTable(a, b *ianaTable) bool {
	if len(a.rows) != len(b.rows) || a.records != b.records || a.newest != b.newest || len(a.index.spans) != len(b.index.spans) {
		return false
	}
	for i := range a.rows {
		if a.registration(int32(i)) != b.registration(int32(i)) {
			return false
		}
	}
	return slices.Equal(a.index.spans, b.index.spans) && slices.Equal(a.index.reach, b.index.reach)
}

func mustParse(t testing.TB, iana, notes string) *DB {
	t.Helper()
	db, err := Parse(strings.NewReader(iana), strings.NewReader(notes))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// BenchmarkParseIANA is what parsing the CSV would cost a lookup, were
// the database not generated Go.
func BenchmarkParseIANA(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(ianaCSV)))
	for b.Loop() {
		if _, err := parseIANA(strings.NewReader(ianaCSV), len(ianaCSV)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseNotes(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseNotes(strings.NewReader(notesYAML)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPort(b *testing.B) {
	db := Default()
	db.Port(0) // parse outside the timing
	b.ReportAllocs()
	for b.Loop() {
		db.Port(3372)
		db.Port(6010)
	}
}

func BenchmarkServiceName(b *testing.B) {
	db := Default()
	db.Port(0)
	b.ReportAllocs()
	for b.Loop() {
		db.ServiceName(3372, "tcp")
		db.ServiceName(443, "tcp")
	}
}

func BenchmarkResolve(b *testing.B) {
	db := Default()
	db.Port(0)
	b.ReportAllocs()
	for b.Loop() {
		db.Resolve("ssh")
	}
}

// ianaOnly is the embedded IANA registry without notes.
func ianaOnly(t *testing.T) *DB {
	t.Helper()
	db, err := Parse(strings.NewReader(ianaCSV), nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
