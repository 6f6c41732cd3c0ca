package main

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
)

// maxProcessDetails bounds the Processes section; -o wide and -o json
// show every holder.
const maxProcessDetails = 20

// renderPort prints the answer of `portinspect port`: the sockets, then
// for people on a terminal the details of their processes and what the
// ports are. Piped, a table is its rows and nothing else, for awk and cut;
// the sentence saying nothing is there goes to stderr.
func renderPort(ios *IOStreams, rep *inspect.Report, opts *portOptions) error {
	format := opts.out.format
	cols := columns{owners: !opts.query.NoProcesses}
	if format == formatJSON || format == formatCSV || !ios.OutTTY {
		if len(rep.Sockets) == 0 && format != formatJSON {
			fmt.Fprintln(ios.ErrOut, nothingThere(opts))
		}
		return renderSockets(ios, rep, format, cols)
	}
	if len(rep.Sockets) > 0 {
		if err := renderSockets(ios, rep, format, cols); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(ios.Out)
	if len(rep.Sockets) == 0 {
		fmt.Fprintln(w, nothingThere(opts))
	} else {
		writeProcessDetails(w, rep.Sockets)
	}
	for _, e := range rep.KnownPorts {
		fmt.Fprintln(w)
		writeKnownPort(w, e, textWidth(ios))
	}
	return w.Flush()
}

// nothingThere is the sentence for a port query that found nothing.
func nothingThere(opts *portOptions) string {
	if opts.query.Filtered() {
		return fmt.Sprintf("No socket on %s matches the filters.", describeSpecs(opts.Specs))
	}
	return fmt.Sprintf("Nothing is listening on or connected to %s.", describeSpecs(opts.Specs))
}

// writeProcessDetails describes each process holding a socket once.
func writeProcessDetails(w io.Writer, socks []inspect.Socket) {
	var procs []*inspect.Process
	hidden := 0
	for i := range socks {
		if socks[i].Owners == platform.OwnersHidden {
			hidden++
		}
		for _, p := range socks[i].Processes {
			if !slices.Contains(procs, p) {
				procs = append(procs, p)
			}
		}
	}
	if len(procs) == 0 && hidden == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Processes")
	for i, p := range procs {
		if i == maxProcessDetails {
			fmt.Fprintf(w, "  … and %d more (-o wide or -o json lists them all)\n", len(procs)-i)
			break
		}
		var facts []string
		if p.User != "" {
			facts = append(facts, "user "+escapeText(p.User))
		}
		if !p.Started.IsZero() {
			facts = append(facts, "started "+p.Started.Local().Format("2006-01-02 15:04:05 MST"))
		}
		fmt.Fprintf(w, "  %d  %s", p.PID, escapeText(p.Name))
		if len(facts) > 0 {
			fmt.Fprintf(w, "  (%s)", strings.Join(facts, ", "))
		}
		fmt.Fprintln(w)
		if p.Service != "" {
			fmt.Fprintf(w, "      unit:     %s\n", escapeText(p.Service))
		}
		if p.Exe != "" {
			fmt.Fprintf(w, "      exe:      %s\n", escapeText(p.Exe))
		}
		if len(p.Cmdline) > 0 {
			fmt.Fprintf(w, "      command:  %s\n", escapeText(strings.Join(p.Cmdline, " ")))
		}
		if p.Hidden {
			fmt.Fprintln(w, "      (some details are hidden: run with more privilege to see them)")
		}
	}
	if hidden > 0 {
		if hidden == 1 {
			fmt.Fprintln(w, "  1 socket has a hidden owner (see the warning)")
		} else {
			fmt.Fprintf(w, "  %d sockets have hidden owners (see the warning)\n", hidden)
		}
	}
}

// textWidth is the width prose is wrapped to: the terminal's, up to 100
// columns, which read better than wider lines.
func textWidth(ios *IOStreams) int {
	if ios.Width <= 0 || ios.Width > 100 {
		return 100
	}
	return ios.Width
}

// hostPlatform is the notes' name for the running system.
func hostPlatform() string {
	if runtime.GOOS == "darwin" {
		return "macos"
	}
	return runtime.GOOS
}

// writeKnownPort describes what the database knows of one port: what it
// is registered for at IANA, and what the notes say is commonly seen there,
// how risky it is, what to do (this platform's advice first) and the
// sources.
func writeKnownPort(w io.Writer, e knownports.Entry, width int) {
	here := hostPlatform()
	fmt.Fprintf(w, "Port %d%s\n", e.Port, inParens(e.Protocols))
	regs := registrationsByService(e.IANA)
	if len(regs) == 0 {
		fmt.Fprintln(w, "  Registered (IANA): nothing")
	}
	for _, r := range regs {
		fmt.Fprintf(w, "  Registered (IANA): %s\n", r)
	}
	for _, n := range e.Notes {
		fmt.Fprintf(w, "  %s — risk %s beyond loopback, %s on loopback only\n", n.Title, n.Risk, n.RiskLoopback)
		writeWrapped(w, "    ", n.Summary, width)
		if len(n.CommonlySeen) > 0 {
			fmt.Fprintln(w, "    Commonly seen:")
			for _, s := range n.CommonlySeen {
				writeWrapped(w, "      ", describeSeen(s), width)
			}
		}
		for _, a := range inspect.AdvicePlatformFirst(n.Advice, here) {
			fmt.Fprintf(w, "    On %s:\n", a.Platform)
			writeWrapped(w, "      ", a.Text, width)
			for _, c := range a.Commands {
				fmt.Fprintf(w, "        %s\n", c)
			}
		}
		fmt.Fprintln(w, "    References:")
		for _, r := range n.References {
			writeWrapped(w, "      - ", r, width)
		}
	}
}

// registrationsByService folds IANA rows that differ only in protocol:
// "tip2 (tcp, udp): TIP 2".
func registrationsByService(regs []knownports.Registration) []string {
	type key struct{ service, description string }
	var order []key
	protos := make(map[key][]string)
	for _, r := range regs {
		k := key{r.Service, r.Description}
		if _, ok := protos[k]; !ok {
			order = append(order, k)
		}
		protos[k] = append(protos[k], r.Protocol)
	}
	lines := make([]string, 0, len(order))
	for _, k := range order {
		if k.service == "" { // IANA's "Reserved" and "Unassigned" rows
			lines = append(lines, k.description+inParens(protos[k]))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s%s: %s", k.service, inParens(protos[k]), k.description))
	}
	return lines
}

// inParens lists protocols as " (tcp, udp)", or nothing for none.
func inParens(protocols []string) string {
	protocols = slices.DeleteFunc(slices.Clone(protocols), func(p string) bool { return p == "" })
	if len(protocols) == 0 {
		return ""
	}
	return " (" + strings.Join(protocols, ", ") + ")"
}

func describeSeen(s knownports.Seen) string {
	parts := []string{s.Platform + ":"}
	if s.Program != "" {
		parts = append(parts, s.Program)
	}
	if s.Service != "" {
		parts = append(parts, "(service "+s.Service+")")
	}
	switch s.Default {
	case "on":
		parts = append(parts, "— on by default")
	case "off":
		parts = append(parts, "— off by default")
	}
	line := strings.Join(parts, " ")
	if s.Note != "" {
		line += ". " + s.Note
	}
	return line
}

// writeWrapped writes text word-wrapped to width, every line indented.
func writeWrapped(w io.Writer, indent, text string, width int) {
	line := indent
	cont := strings.Repeat(" ", len([]rune(indent)))
	empty := true
	for word := range strings.FieldsSeq(text) {
		if !empty && len([]rune(line))+1+len([]rune(word)) > width {
			fmt.Fprintln(w, line)
			line, empty = cont, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	if !empty {
		fmt.Fprintln(w, line)
	}
}
