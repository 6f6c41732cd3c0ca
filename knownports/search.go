package knownports

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
)

// Search finds the ports whose names, descriptions or notes mention every
// word of query ("remote desktop", "Kerberos"), best match first: a word
// that is a note's alias or an IANA service name counts most, then a
// note's title, then programs commonly seen there and IANA descriptions,
// then note summaries; the words found together as a phrase count double,
// a port with a note gets a little more, and the lower port comes first
// among equals.
func (db *DB) Search(query string) []Entry {
	words := searchWords(query)
	if len(words) == 0 {
		return nil
	}
	phrase := strings.Join(words, " ")
	t := db.tables()
	type hit struct {
		port  uint16
		score int
	}
	hits := make(map[uint16]*hit)
	// matched[port][i] records that word i matched somewhere for port.
	matched := make(map[uint16][]bool)
	noted := make(map[uint16]bool)
	const noteBonus = 5
	record := func(port uint16, word, score int, note bool) {
		h := hits[port]
		if h == nil {
			h = &hit{port: port}
			hits[port] = h
			matched[port] = make([]bool, len(words))
		}
		if note && !noted[port] {
			noted[port] = true
			h.score += noteBonus
		}
		matched[port][word] = true
		h.score += score
	}
	score := func(port uint16, text string, exact, partial int, note bool) {
		lower := strings.ToLower(text)
		for i, w := range words {
			switch {
			case exact > 0 && lower == w:
				record(port, i, exact, note)
			case hasWordPrefix(lower, w):
				record(port, i, partial, note)
			}
		}
		if len(words) > 1 && hasWordPrefix(lower, phrase) {
			record(port, 0, 2*partial, note)
		}
	}
	for _, n := range t.notes {
		port := n.Ports[0].Low
		for _, a := range n.Aliases {
			score(port, a, 12, 6, true)
		}
		score(port, n.Title, 0, 8, true)
		for _, s := range n.CommonlySeen {
			score(port, s.Program, 6, 4, true)
			score(port, s.Service, 6, 4, true)
		}
		score(port, n.Summary, 0, 1, true)
	}
	for i := range t.iana.rows {
		r := &t.iana.rows[i]
		svc := t.iana.str(r.service)
		if svc == "" {
			continue // reserved and unassigned rows describe nothing
		}
		score(r.low, svc, 10, 5, false)
		score(r.low, t.iana.str(r.description), 0, 3, false)
	}

	var found []*hit
	for port, h := range hits {
		if !slices.Contains(matched[port], false) {
			found = append(found, h)
		}
	}
	slices.SortFunc(found, func(a, b *hit) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.port, b.port))
	})
	entries := make([]Entry, len(found))
	for i, h := range found {
		entries[i] = db.Port(h.port)
	}
	return entries
}

// hasWordPrefix reports whether a word of text starts with w: "window"
// finds "Windows", "ssh" does not find "sshd"'s middle in "openssh".
func hasWordPrefix(text, w string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 || !isWordByte(text[at-1]) {
			return true
		}
		i = at + 1
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}

// searchWords splits a query into lower-case words at spaces and
// punctuation other than the - and _ that IANA's names contain.
func searchWords(query string) []string {
	return strings.FieldsFunc(strings.ToLower(query), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_'
	})
}

// Only returns the entry narrowed to one protocol: its IANA rows for it
// and the notes that cover it.
func (e Entry) Only(protocol string) Entry {
	out := Entry{Port: e.Port, IANA: []Registration{}, Notes: []*Note{}}
	for _, r := range e.IANA {
		if strings.EqualFold(r.Protocol, protocol) {
			out.IANA = append(out.IANA, r)
		}
	}
	for _, n := range e.Notes {
		if slices.Contains(n.Protocols, protocol) {
			out.Notes = append(out.Notes, n)
		}
	}
	out.Protocols = out.protocols()
	return out
}
