package knownports

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The values a note's platforms, commonly_seen and advice items may name;
// "any" is for what runs everywhere.
const platformList = "windows, linux, macos, any"

func isPlatform(s string) bool {
	switch s {
	case "windows", "linux", "macos", "any":
		return true
	}
	return false
}

func isNoteProtocol(s string) bool { return s == "tcp" || s == "udp" }

// noteYAML is a note as written in notes.yaml. It is decoded strictly and
// then checked and converted, rather than decoded straight into Note, so
// that a missing field is an error instead of a zero value (a risk left
// out would otherwise read as "info").
type noteYAML struct {
	Ports        []string     `yaml:"ports"`
	Protocols    []string     `yaml:"protocols"`
	Title        string       `yaml:"title"`
	Aliases      []string     `yaml:"aliases"`
	Platforms    []string     `yaml:"platforms"`
	Risk         string       `yaml:"risk"`
	RiskLoopback string       `yaml:"risk_loopback"`
	Summary      string       `yaml:"summary"`
	CommonlySeen []seenYAML   `yaml:"commonly_seen"`
	Advice       []adviceYAML `yaml:"advice"`
	References   []string     `yaml:"references"`
}

type seenYAML struct {
	Platform string `yaml:"platform"`
	Program  string `yaml:"program"`
	Service  string `yaml:"service"`
	Default  string `yaml:"default"`
	Note     string `yaml:"note"`
}

type adviceYAML struct {
	Platform   string   `yaml:"platform"`
	Text       string   `yaml:"text"`
	Commands   []string `yaml:"commands"`
	References []string `yaml:"references"`
}

// parseNotes reads notes.yaml: a YAML list of notes, decoded strictly so
// that a misspelt field is an error rather than silently ignored.
func parseNotes(r io.Reader) ([]*Note, spanIndex, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var raw []noteYAML
	if err := dec.Decode(&raw); err != nil && err != io.EOF {
		return nil, spanIndex{}, fmt.Errorf("%w: notes: %w", ErrParse, err)
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, spanIndex{}, fmt.Errorf("%w: notes: want one YAML document, found more", ErrParse)
	}
	notes := make([]*Note, 0, len(raw))
	for i, y := range raw {
		n, err := y.note()
		if err == nil {
			err = checkAgainst(n, notes)
		}
		if err != nil {
			return nil, spanIndex{}, fmt.Errorf("%w: notes: note %d (%q): %w", ErrParse, i+1, y.Title, err)
		}
		notes = append(notes, n)
	}
	return notes, indexNotes(notes), nil
}

// indexNotes indexes notes by the port ranges they cover.
func indexNotes(notes []*Note) spanIndex {
	var spans []span
	for i, n := range notes {
		for _, pr := range n.Ports {
			spans = append(spans, span{low: pr.Low, high: pr.High, pos: int32(i)})
		}
	}
	return newSpanIndex(spans)
}

// note checks y and converts it. The rules are the ones other packages
// rely on; editorial rules (a URL in every reference, …) are TestNotes'.
func (y *noteYAML) note() (*Note, error) {
	n := &Note{
		Title:        strings.TrimSpace(y.Title),
		Summary:      strings.TrimSpace(y.Summary),
		Aliases:      []string{},
		CommonlySeen: []Seen{},
		Advice:       []Advice{},
	}
	if n.Title == "" {
		return nil, errors.New("title: missing")
	}
	if n.Summary == "" {
		return nil, errors.New("summary: missing")
	}

	if len(y.Ports) == 0 {
		return nil, errors.New("ports: missing")
	}
	for _, s := range y.Ports {
		pr, err := parsePortRange(s)
		if err != nil {
			return nil, fmt.Errorf("ports: %w", err)
		}
		for _, prev := range n.Ports {
			if pr.Low <= prev.High && prev.Low <= pr.High {
				return nil, fmt.Errorf("ports: %s overlaps %s", pr, prev)
			}
		}
		n.Ports = append(n.Ports, pr)
	}

	var err error
	if n.Protocols, err = checkSet("protocols", y.Protocols, isNoteProtocol, "tcp, udp"); err != nil {
		return nil, err
	}
	if n.Platforms, err = checkSet("platforms", y.Platforms, isPlatform, platformList); err != nil {
		return nil, err
	}

	if n.Risk, err = parseRiskField("risk", y.Risk); err != nil {
		return nil, err
	}
	if n.RiskLoopback, err = parseRiskField("risk_loopback", y.RiskLoopback); err != nil {
		return nil, err
	}
	if n.RiskLoopback > n.Risk {
		return nil, fmt.Errorf("risk_loopback %s is above risk %s: loopback only can't be riskier", n.RiskLoopback, n.Risk)
	}

	for _, a := range y.Aliases {
		if err := checkAlias(a); err != nil {
			return nil, err
		}
		if slices.Contains(n.Aliases, a) {
			return nil, fmt.Errorf("aliases: %q twice", a)
		}
		n.Aliases = append(n.Aliases, a)
	}

	for i, s := range y.CommonlySeen {
		if !isPlatform(s.Platform) {
			return nil, fmt.Errorf("commonly_seen[%d]: platform %q: want one of %s", i, s.Platform, platformList)
		}
		if strings.TrimSpace(s.Program) == "" && strings.TrimSpace(s.Service) == "" {
			return nil, fmt.Errorf("commonly_seen[%d]: want a program or a service", i)
		}
		if s.Default != "" && s.Default != "on" && s.Default != "off" {
			return nil, fmt.Errorf(`commonly_seen[%d]: default %q: want "on", "off" or nothing`, i, s.Default)
		}
		n.CommonlySeen = append(n.CommonlySeen, Seen{
			Platform: s.Platform,
			Program:  strings.TrimSpace(s.Program),
			Service:  strings.TrimSpace(s.Service),
			Default:  s.Default,
			Note:     strings.TrimSpace(s.Note),
		})
	}

	if n.References, err = checkReferences("references", y.References); err != nil {
		return nil, err
	}
	if len(n.References) == 0 {
		return nil, errors.New("references: missing: every note needs a source")
	}
	if len(y.Advice) == 0 {
		return nil, errors.New("advice: missing")
	}
	for i, a := range y.Advice {
		where := fmt.Sprintf("advice[%d]", i)
		if !isPlatform(a.Platform) {
			return nil, fmt.Errorf("%s: platform %q: want one of %s", where, a.Platform, platformList)
		}
		text := strings.TrimSpace(a.Text)
		if text == "" {
			return nil, fmt.Errorf("%s: text: missing", where)
		}
		cmds := make([]string, 0, len(a.Commands))
		for j, c := range a.Commands {
			if c = strings.TrimSpace(c); c == "" {
				return nil, fmt.Errorf("%s: commands[%d]: empty", where, j)
			}
			cmds = append(cmds, c)
		}
		refs, err := checkReferences(where+": references", a.References)
		if err != nil {
			return nil, err
		}
		// The note's list holds every source, so a reader of the JSON who
		// looks only there still finds the ones behind each command.
		for _, ref := range refs {
			if !slices.Contains(n.References, ref) {
				n.References = append(n.References, ref)
			}
		}
		n.Advice = append(n.Advice, Advice{Platform: a.Platform, Text: text, Commands: cmds, References: refs})
	}
	return n, nil
}

// checkAgainst checks n against the notes before it: an alias names one
// note only, and no two notes share a title on the same port and protocol.
func checkAgainst(n *Note, prev []*Note) error {
	for _, p := range prev {
		for _, a := range n.Aliases {
			if slices.Contains(p.Aliases, a) {
				return fmt.Errorf("aliases: %q is already an alias of %q", a, p.Title)
			}
		}
		if !strings.EqualFold(p.Title, n.Title) || !slices.ContainsFunc(n.Protocols, func(s string) bool { return slices.Contains(p.Protocols, s) }) {
			continue
		}
		for _, a := range n.Ports {
			for _, b := range p.Ports {
				if a.Low <= b.High && b.Low <= a.High {
					return fmt.Errorf("a note with this title already covers port %s", b)
				}
			}
		}
	}
	return nil
}

// checkSet checks that vals is a non-empty list of distinct values that
// member accepts; list names them for the error.
func checkSet(field string, vals []string, member func(string) bool, list string) ([]string, error) {
	if len(vals) == 0 {
		return nil, fmt.Errorf("%s: missing", field)
	}
	for i, v := range vals {
		if !member(v) {
			return nil, fmt.Errorf("%s: %q: want one of %s", field, v, list)
		}
		if slices.Contains(vals[:i], v) {
			return nil, fmt.Errorf("%s: %q twice", field, v)
		}
	}
	return slices.Clone(vals), nil
}

func parseRiskField(field, s string) (Risk, error) {
	if s == "" {
		return 0, fmt.Errorf("%s: missing", field)
	}
	r, err := ParseRisk(s)
	if err == nil && s != r.String() {
		err = fmt.Errorf("write %q in lower case", s)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return r, nil
}

// checkAlias keeps aliases usable in a PORTSPEC: lower case, so that the
// SERVICE column shows them as users type them; at least one letter, so
// that none reads as a port number or range; and none of the characters
// that separate a PORTSPEC's parts.
func checkAlias(a string) error {
	switch {
	case a == "":
		return errors.New("aliases: empty")
	case a != strings.ToLower(a):
		return fmt.Errorf("aliases: %q: write it in lower case", a)
	case strings.ContainsAny(a, ",/ \t\r\n"):
		return fmt.Errorf("aliases: %q: no commas, slashes or spaces", a)
	case !strings.ContainsFunc(a, func(r rune) bool { return r >= 'a' && r <= 'z' }):
		return fmt.Errorf("aliases: %q: needs a letter, or it reads as a port", a)
	}
	return nil
}

func checkReferences(field string, refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	for i, r := range refs {
		if r = strings.TrimSpace(r); r == "" {
			return nil, fmt.Errorf("%s[%d]: empty", field, i)
		}
		if slices.Contains(out, r) {
			return nil, fmt.Errorf("%s: %q twice", field, r)
		}
		out = append(out, r)
	}
	return out, nil
}
