package knownports

import (
	"path"
	"slices"
	"strings"
)

// Holder is what is known of a program that holds a port, to match it
// against the programs a note expects there.
type Holder struct {
	// Platform is windows, linux or macos.
	Platform string
	// Name is the process name (Linux truncates it to 15 bytes), Exe its
	// executable's path, Service its systemd unit, Windows service or
	// launchd label, "" where unknown.
	Name, Exe, Service string
}

// Match says whether a holder is a program a note expects.
type Match string

const (
	// MatchExpected: the holder is one of the note's programs.
	MatchExpected Match = "expected"
	// MatchUnexpected: the note names programs for the platform, and the
	// holder is none of them.
	MatchUnexpected Match = "unexpected"
	// MatchUnknown: the holder is unknown, or the note names no program
	// for the platform.
	MatchUnknown Match = "unknown"
)

// comm is the longest process name Linux keeps (TASK_COMM_LEN less its
// NUL).
const comm = 15

// normalize compares program and service names as Windows does: case
// folded, ".exe" dropped.
func normalize(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".exe")
}

// Expected returns the note's programs on platform: its own, then the
// ones for any platform.
func (n *Note) Expected(platform string) []Seen {
	var out []Seen
	for _, s := range n.CommonlySeen {
		if s.Platform == platform {
			out = append(out, s)
		}
	}
	for _, s := range n.CommonlySeen {
		if s.Platform == "any" {
			out = append(out, s)
		}
	}
	return out
}

// ExpectedText spells the programs the note expects on platform, as a
// sentence names them: "msdtc.exe (service MSDTC)", several joined by
// "or".
func (n *Note) ExpectedText(platform string) string {
	var out []string
	for _, s := range n.Expected(platform) {
		var one string
		switch {
		case s.Program != "" && s.Service != "":
			one = s.Program + " (service " + s.Service + ")"
		case s.Program != "":
			one = s.Program
		default:
			one = "service " + s.Service
		}
		if !slices.Contains(out, one) {
			out = append(out, one)
		}
	}
	return strings.Join(out, " or ")
}

// Match tells whether h is a program the note expects on h's platform.
func (n *Note) Match(h Holder) Match {
	expected := n.Expected(h.Platform)
	if len(expected) == 0 || h.Name == "" && h.Exe == "" && h.Service == "" {
		return MatchUnknown
	}
	for _, s := range expected {
		if s.matches(h) {
			return MatchExpected
		}
	}
	return MatchUnexpected
}

// matches reports whether h is the program s describes: by process name
// (a truncated Linux name is enough), executable file name, or service.
func (s Seen) matches(h Holder) bool {
	if p := normalize(s.Program); p != "" {
		name := normalize(h.Name)
		if name == p || normalize(path.Base(strings.ReplaceAll(h.Exe, `\`, "/"))) == p ||
			len(h.Name) == comm && strings.HasPrefix(p, name) {
			return true
		}
	}
	if svc := normalize(s.Service); svc != "" && h.Service != "" {
		for have := range strings.SplitSeq(h.Service, ",") {
			have = normalize(have)
			if have == svc || strings.TrimSuffix(have, ".service") == strings.TrimSuffix(svc, ".service") {
				return true
			}
		}
	}
	return false
}

// ID names the note in JSON and the SERVICE column: its first alias, else
// its title.
func (n *Note) ID() string {
	if len(n.Aliases) > 0 {
		return n.Aliases[0]
	}
	return n.Title
}

// NoteFor returns the note on port over protocol that h matches, and how:
// the first expected one, else the first note that names programs on h's
// platform (unexpected), else the first note (unknown). Wide notes (the
// ephemeral range) count only when no other note does. nil when no note
// covers the port.
func (db *DB) NoteFor(port uint16, protocol string, h Holder) (*Note, Match) {
	// The note index alone: Port would build the IANA rows too, for
	// every listener of a busy host.
	t := db.tables()
	var buf [8]int32
	var candidates, wide []*Note
	for _, i := range t.noteIdx.lookup(buf[:0], port) {
		n := t.notes[i]
		switch {
		case !n.covers(port, protocol):
		case n.Wide():
			wide = append(wide, n)
		default:
			candidates = append(candidates, n)
		}
	}
	if len(candidates) == 0 {
		// A class of ports (the ephemeral range) expects no program.
		if len(wide) > 0 {
			return wide[0], MatchUnknown
		}
		return nil, MatchUnknown
	}
	var first *Note
	firstMatch := MatchUnknown
	for _, n := range candidates {
		m := n.Match(h)
		if m == MatchExpected {
			return n, m
		}
		if first == nil || firstMatch == MatchUnknown && m == MatchUnexpected {
			first, firstMatch = n, m
		}
	}
	return first, firstMatch
}

// ProgramPorts returns the notes that expect a program of this name (or
// executable, or service) on some platform, for `lookup --program`.
func (db *DB) ProgramPorts(program string) []*Note {
	var out []*Note
	for _, n := range db.tables().notes {
		for _, s := range n.CommonlySeen {
			if s.matches(Holder{Name: program, Exe: program, Service: program}) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}
