package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
)

// maxLookupRows bounds a word search's table on a terminal; piped, JSON
// and CSV output list every match.
const maxLookupRows = 30

type lookupOptions struct {
	Args    []string
	program string
	out     outputFlags
}

func newCmdLookup(f *Factory, runF func(*lookupOptions) error) *cobra.Command {
	opts := &lookupOptions{}
	cmd := &cobra.Command{
		Use:   "lookup PORT|NAME|WORDS...",
		Short: "Look a port, service name or words up in the known-ports database",
		Long: `Look ports up in the embedded database, offline: IANA's registry (what a port
is registered for) and curated notes (what is commonly seen there, how risky
it is, what to do about it, with sources).

Arguments that are all PORTSPECs (3372, 3372/udp, 5000-5010, 22,80,443) or
service names (msdtc, ssh) look those ports up (lookup 22 80, lookup ssh
http); anything else is a search over names, descriptions and notes, best
match first.
--program NAME lists the ports a program is known to open: an executable
(redis-server, msdtc.exe), a systemd unit, a Windows service or a launchd
label, as the notes' "commonly seen" name them.

Exit status: 0 found, 1 nothing found, 2 bad input.`,
		Example: `  portinspect lookup 3372
  portinspect lookup 5000-5010
  portinspect lookup msdtc
  portinspect lookup ssh http
  portinspect lookup remote desktop
  portinspect lookup --program ollama`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.program != "" {
				if len(args) > 0 {
					return &inspect.UsageError{Msg: "lookup takes --program or ports and words, not both"}
				}
				return nil
			}
			if len(args) == 0 {
				return &inspect.UsageError{Msg: "lookup needs a port 0-65535, a range, a service name or words to search for"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if err := opts.out.parse(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return lookupRun(f, opts)
		},
	}
	opts.out.add(cmd)
	cmd.Flags().StringVar(&opts.program, "program", "", "the ports a program (executable, unit, service or launchd label) is known to open")
	return cmd
}

func lookupRun(f *Factory, opts *lookupOptions) error {
	db := f.KnownPorts()
	entries, single, err := lookupEntries(db, f.names(), opts.Args)
	query := strings.Join(opts.Args, " ")
	if opts.program != "" {
		entries, single, err = programEntries(db, opts.program), false, nil
		if len(entries) == 0 && opts.out.format != formatJSON && opts.out.format != formatCSV {
			fmt.Fprintf(f.IO.Out, "No note names the program %q.\n", escapeText(opts.program))
			return &errSilentExit{code: exitNotFound}
		}
	}
	if err != nil {
		return err
	}
	if err := renderLookup(f.IO, db, entries, single, query, opts.out.format); err != nil {
		return err
	}
	if len(entries) == 0 {
		return &errSilentExit{code: exitNotFound}
	}
	return nil
}

// lookupEntries answers a lookup. single says the question named ports
// rather than words to search for: every argument is a port, a range or a
// service name ("lookup 22 80", "lookup ssh http"); otherwise the
// arguments are words to search for, names ranking first.
func lookupEntries(db *knownports.DB, names inspect.Names, args []string) (entries []knownports.Entry, single bool, err error) {
	var set inspect.PortSet
	for _, arg := range args {
		ports, err := inspect.ParseLookupSpec(arg, names)
		if err != nil {
			if looksNumeric(arg) {
				return nil, false, err // "70000", "10-5", "80/xyz": a bad port, not words
			}
			return db.Search(strings.Join(args, " ")), false, nil
		}
		set = append(set, ports...)
	}
	return entriesFor(db, set), true, nil
}

// programEntries are the ports whose notes expect program, in port
// order; a wide range counts by its first port.
func programEntries(db *knownports.DB, program string) []knownports.Entry {
	var set inspect.PortSet
	for _, n := range db.ProgramPorts(program) {
		for _, r := range n.Ports {
			high := r.High
			if int(r.High)-int(r.Low) >= 16 {
				high = r.Low
			}
			tcp, udp := slices.Contains(n.Protocols, "tcp"), slices.Contains(n.Protocols, "udp")
			set = append(set, inspect.PortRange{PortRange: platform.PortRange{Low: r.Low, High: high, TCP: tcp, UDP: udp}})
		}
	}
	return entriesFor(db, set)
}

// looksNumeric reports whether a lookup argument is meant as port numbers,
// however mistyped ("3372:tcp", "22,", "tcp3372"): once the protocol
// names are taken out, it is digits and separators. A bad one is then a
// usage error with its suggestion, not words to search for.
func looksNumeric(arg string) bool {
	digits := func(s string) bool {
		return strings.ContainsAny(s, "0123456789") && strings.Trim(s, "0123456789+-,:. ") == ""
	}
	rest := strings.NewReplacer("tcp", "", "udp", "").Replace(strings.ToLower(arg))
	before, after, _ := strings.Cut(rest, "/")
	return digits(before) || digits(after) && before == ""
}

// entriesFor returns what the database knows of the ports set names, in
// port order, each narrowed to the protocols asked for. Among many ports,
// those with no service name and no note are left out; one port asked
// for alone is shown even when IANA has it only as reserved or
// unassigned, which is an answer too.
func entriesFor(db *knownports.DB, set inspect.PortSet) []knownports.Entry {
	protos := make(map[uint16][2]bool) // port -> asked over TCP, over UDP
	for _, r := range set {
		for p := int(r.Low); p <= int(r.High); p++ {
			pp := protos[uint16(p)]
			pp[0], pp[1] = pp[0] || r.TCP, pp[1] || r.UDP
			protos[uint16(p)] = pp
		}
	}
	ports := slices.Sorted(maps.Keys(protos))
	entries := []knownports.Entry{}
	for _, p := range ports {
		if len(ports) > 1 && !db.Known(p) {
			continue
		}
		e := db.Port(p)
		switch pp := protos[p]; {
		case pp[0] && !pp[1]:
			e = e.Only("tcp")
		case pp[1] && !pp[0]:
			e = e.Only("udp")
		}
		if len(e.IANA) > 0 || len(e.Notes) > 0 {
			entries = append(entries, e)
		}
	}
	return entries
}

// renderLookup prints a lookup's answer: one port's whole description, or a
// table of many (its bare rows when piped), or JSON or CSV.
func renderLookup(ios *IOStreams, db *knownports.DB, entries []knownports.Entry, single bool, query string, format outputFormat) error {
	switch format {
	case formatJSON:
		return writeLookupJSON(ios, db, entries)
	case formatCSV:
		return writeLookupCSV(ios, entries)
	}
	if len(entries) == 0 {
		msg := fmt.Sprintf("Nothing in the database matches %q.", query)
		if single {
			msg = fmt.Sprintf("No registration or note for %s.", query)
		}
		out := ios.ErrOut
		if ios.OutTTY || single {
			out = ios.Out
		}
		fmt.Fprintln(out, msg)
		return nil
	}
	// One entry is an answer, the same piped as on a terminal; many are a
	// table, whose rows are for awk when piped.
	if len(entries) == 1 || format == formatWide && len(entries) <= maxLookupRows {
		w := bufio.NewWriter(ios.Out)
		for i, e := range entries {
			if i > 0 {
				fmt.Fprintln(w)
			}
			writeKnownPort(w, e, hostPlatform(), textWidth(ios))
		}
		return w.Flush()
	}
	shown := entries
	if ios.OutTTY && len(shown) > maxLookupRows {
		shown = shown[:maxLookupRows]
	}
	header := []string{"PORT", "PROTO", "REGISTERED (IANA)", "COMMONLY SEEN", "RISK"}
	rows := make([][]string, 0, len(shown))
	for _, e := range shown {
		rows = append(rows, []string{
			strconv.Itoa(int(e.Port)), strings.Join(entryProtocols(e), ","), registeredCell(e), seenCell(e), riskCell(e),
		})
	}
	if !ios.OutTTY {
		return writeTable(ios, header, rows)
	}
	if err := writeProseTable(ios.Out, header, rows, textWidth(ios), 2, 3); err != nil {
		return err
	}
	if more := len(entries) - len(shown); more > 0 {
		fmt.Fprintf(ios.Out, "… and %d more (-o json lists them all)\n", more)
	}
	fmt.Fprintln(ios.Out, "portinspect lookup PORT describes one port in full.")
	return nil
}

// entryProtocols are the protocols of an entry, or, for a port IANA only
// reserves or leaves unassigned, those of its rows.
func entryProtocols(e knownports.Entry) []string {
	if len(e.Protocols) > 0 {
		return e.Protocols
	}
	var ps []string
	for _, r := range e.IANA {
		ps = appendNew(ps, r.Protocol)
	}
	return ps
}

// registeredCell names the IANA services of an entry: "tip2 (TIP 2)", or
// IANA's word for an unnamed port ("Reserved").
func registeredCell(e knownports.Entry) string {
	var names, unnamed []string
	desc := ""
	for _, r := range e.IANA {
		switch {
		case r.Service == "":
			unnamed = appendNew(unnamed, r.Description)
		case !slices.Contains(names, r.Service):
			names = append(names, r.Service)
			desc = r.Description
		}
	}
	switch len(names) {
	case 0:
		if len(unnamed) > 0 {
			return strings.Join(unnamed, ", ")
		}
		return "-"
	case 1:
		if desc != "" && !strings.EqualFold(desc, names[0]) {
			return names[0] + " (" + desc + ")"
		}
		return names[0]
	}
	return strings.Join(names, ", ")
}

// seenCell names what the notes say commonly listens on an entry's port.
func seenCell(e knownports.Entry) string {
	var titles []string
	for _, n := range e.Notes {
		titles = append(titles, n.Title)
	}
	if len(titles) == 0 {
		return "-"
	}
	return strings.Join(titles, "; ")
}

// riskCell is the highest risk the notes give a listener beyond loopback.
func riskCell(e knownports.Entry) string {
	if len(e.Notes) == 0 {
		return "-"
	}
	risk := e.Notes[0].Risk
	for _, n := range e.Notes[1:] {
		risk = max(risk, n.Risk)
	}
	return risk.String()
}

// lookupReport is lookup's JSON document: the known_ports shape of
// portinspect/v1, with where IANA's data came from.
type lookupReport struct {
	Schema     string             `json:"schema"`
	Source     knownports.Source  `json:"source"`
	KnownPorts []knownports.Entry `json:"known_ports"`
	Warnings   []string           `json:"warnings"`
}

func writeLookupJSON(ios *IOStreams, db *knownports.DB, entries []knownports.Entry) error {
	doc := lookupReport{Schema: jsonSchema, Source: db.IANASource(), KnownPorts: entries, Warnings: []string{}}
	if doc.KnownPorts == nil {
		doc.KnownPorts = []knownports.Entry{}
	}
	return writeJSONDoc(ios.Out, doc)
}

func writeLookupCSV(ios *IOStreams, entries []knownports.Entry) error {
	w := csv.NewWriter(ios.Out)
	w.Write([]string{"port", "protocols", "registered", "commonly_seen", "risk", "risk_loopback"})
	for _, e := range entries {
		loopback := ""
		if len(e.Notes) > 0 {
			r := e.Notes[0].RiskLoopback
			for _, n := range e.Notes[1:] {
				r = max(r, n.RiskLoopback)
			}
			loopback = r.String()
		}
		risk := riskCell(e)
		if risk == "-" {
			risk = ""
		}
		seen := seenCell(e)
		if seen == "-" {
			seen = ""
		}
		w.Write([]string{strconv.Itoa(int(e.Port)), strings.Join(entryProtocols(e), " "), registeredCell(e), seen, risk, loopback})
	}
	w.Flush()
	return w.Error()
}
