package knownports

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseIANA feeds arbitrary CSV to the IANA parser: it must never
// panic, must fail with ErrParse, and when it succeeds every row it kept
// must be found again by port and, for tcp and udp, by name.
func FuzzParseIANA(f *testing.F) {
	f.Add(ianaCSV[:4096])
	f.Fuzz(func(t *testing.T, in string) {
		db, err := Parse(strings.NewReader(in), nil)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error %v does not wrap ErrParse", err)
			}
			if len(db.Port(0).IANA) != 0 {
				t.Fatal("rows after a failed parse")
			}
			return
		}
		it := &db.tables().iana
		for i := range it.rows {
			r := it.registration(int32(i))
			if r.Low > r.High || (r.Range != "") != (r.Low != r.High) {
				t.Fatalf("row %+v", r)
			}
			for _, port := range []uint16{r.Low, r.High} {
				if !slices.Contains(db.Port(port).IANA, r) {
					t.Fatalf("Port(%d) misses %+v", port, r)
				}
			}
			if r.Service != "" && (r.Protocol == "tcp" || r.Protocol == "udp") {
				want := PortProto{r.Low, r.High, r.Protocol}
				if !slices.Contains(db.Resolve(r.Service), want) {
					t.Fatalf("Resolve(%q) misses %v", r.Service, want)
				}
			}
			db.ServiceName(r.Low, r.Protocol)
			if _, err := json.Marshal(db.Port(r.Low)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzParseNotes feeds arbitrary YAML to the notes parser: it must never
// panic, must fail with ErrParse, and every note it accepts must be found
// by its ports and aliases and marshal to JSON.
func FuzzParseNotes(f *testing.F) {
	f.Add(validNote)
	f.Fuzz(func(t *testing.T, in string) {
		db, err := Parse(nil, strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error %v does not wrap ErrParse", err)
			}
			return
		}
		for _, n := range db.tables().notes {
			for _, pr := range n.Ports {
				if !slices.Contains(db.Port(pr.High).Notes, n) {
					t.Fatalf("Port(%d) misses note %q", pr.High, n.Title)
				}
			}
			for _, a := range n.Aliases {
				if len(db.Resolve(a)) == 0 {
					t.Fatalf("alias %q resolves to nothing", a)
				}
			}
			if _, err := json.Marshal(n); err != nil {
				t.Fatal(err)
			}
		}
	})
}
