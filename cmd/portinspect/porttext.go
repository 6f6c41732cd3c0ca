package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/firewall"
)

// maxProcessDetails bounds the Processes section; -o wide and -o json
// show every holder.
const maxProcessDetails = 20

// maxCommandLines is how many lines of a command line the answer shows: a
// Java classpath runs to tens of kilobytes.
const maxCommandLines = 3

// maxSummaryLines is how much of a note's summary, and of its first step,
// the answer shows; `lookup` and --full show it all.
const maxSummaryLines = 3

// renderPort prints the answer of `portinspect port`. As a table it is the
// same piped as on a terminal, one screen for one port: the port's
// sockets, this machine's clients of it, their processes, and a short
// known-port block per port that ends with where the full entry is. JSON
// and CSV are whole.
func renderPort(ios *IOStreams, rep *inspect.Report, opts *portOptions) error {
	format := opts.out.format
	switch format {
	case formatJSON, formatCSV:
		return renderSockets(ios, rep, format, columns{})
	}
	w := bufio.NewWriterSize(ios.Out, 64<<10)
	var own, clients []inspect.Socket
	for _, s := range rep.Sockets {
		if s.Role == inspect.RoleClient {
			clients = append(clients, s)
		} else {
			own = append(own, s)
		}
	}
	cols := columns{owners: !opts.query.NoProcesses}
	wide := format == formatWide
	header, ownRows := socketRows(own, cols, wide, true)
	_, clientRows := socketRows(clients, cols, wide, true)
	const clientsCaption = "Clients on this host"
	switch {
	case len(own) > 0:
		sections := []tableSection{{rows: ownRows}}
		if len(clients) > 0 {
			sections = append(sections, tableSection{caption: clientsCaption, rows: clientRows})
		}
		writeSections(w, header, sections)
	case len(clients) > 0:
		// Clients left behind (TIME_WAIT) by a server that is gone.
		fmt.Fprintf(w, "%s\n\n%s\n", nothingThere(opts), clientsCaption)
		writeSections(w, header, []tableSection{{rows: clientRows}})
	case len(rep.Published) > 0:
		fmt.Fprintf(w, "Nothing is listening on %s, but NAT rules forward it.\n", describeSpecs(opts.Specs))
	default:
		fmt.Fprintln(w, nothingThere(opts))
	}
	writePublished(w, rep)
	writeFirewall(w, own, textWidth(ios))
	if len(rep.Sockets) > 0 {
		writeProcessDetails(w, rep.Sockets, rep.Host.Privileged, textWidth(ios))
	}
	for _, e := range rep.KnownPorts {
		fmt.Fprintln(w)
		if opts.full {
			writeKnownPort(w, e, rep.Host.OS, textWidth(ios))
		} else {
			writeKnownPortBrief(w, e, own, rep.Host.OS, textWidth(ios))
		}
	}
	return w.Flush()
}

// listenersOn returns the processes that hold the listeners on port.
func listenersOn(socks []inspect.Socket, port uint16) []*inspect.Process {
	var procs []*inspect.Process
	for i := range socks {
		if s := &socks[i]; s.Listening() && s.Local.Port() == port {
			for _, p := range s.Processes {
				if !slices.Contains(procs, p) {
					procs = append(procs, p)
				}
			}
		}
	}
	return procs
}

// nothingThere is the sentence for a port query that found nothing.
func nothingThere(opts *portOptions) string {
	if opts.query.Filtered() {
		return fmt.Sprintf("No socket on %s matches the filters.", describeSpecs(opts.Specs))
	}
	return fmt.Sprintf("Nothing is listening on or connected to %s.", describeSpecs(opts.Specs))
}

// writeProcessDetails describes each process holding a socket once. A
// command line is cut to a few lines: -o wide's table has it whole.
func writeProcessDetails(w io.Writer, socks []inspect.Socket, privileged bool, width int) {
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
	const detail = "      command:  "
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
		if p.Container != nil {
			fmt.Fprintf(w, "      in:       %s\n", describeContainer(p.Container))
		}
		if p.Exe != "" {
			fmt.Fprintf(w, "      exe:      %s\n", escapeText(p.Exe))
		}
		if len(p.Cmdline) > 0 {
			writeCut(w, detail, strings.Join(p.Cmdline, " "), width, maxCommandLines)
		}
		switch {
		case p.Hidden && privileged:
			fmt.Fprintln(w, "      (some details could not be read, even with privilege)")
		case p.Hidden:
			fmt.Fprintln(w, "      (some details are hidden: run with more privilege to see them)")
		}
	}
	switch {
	case hidden == 1:
		fmt.Fprintln(w, "  1 socket has a hidden owner (see the warning)")
	case hidden > 1:
		fmt.Fprintf(w, "  %d sockets have hidden owners (see the warning)\n", hidden)
	}
}

// writePublished says where the report's published ports lead: the
// container (or address) each forwards to, by what, and what listens
// there.
func writePublished(w io.Writer, rep *inspect.Report) {
	pubs := rep.Publications()
	if len(pubs) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Published")
	for _, p := range pubs {
		target := "an address no container portinspect knows has"
		switch {
		case p.Container != nil:
			target = describeContainer(p.Container)
		case len(p.Listeners) > 0 && p.Listeners[0].Netns != nil && p.Listeners[0].Netns.Own:
			target = "this host"
		case len(p.Listeners) > 0 && p.Listeners[0].Netns != nil:
			target = "network namespace " + escapeText(p.Listeners[0].Netns.Label())
		}
		to := net.JoinHostPort(p.ContainerAddr.String(), strconv.Itoa(int(p.ContainerPort)))
		if !p.ContainerAddr.IsValid() {
			to, target = "port "+strconv.Itoa(int(p.ContainerPort)), "this host"
		}
		fmt.Fprintf(w, "  %s/%s to %s at %s, %s\n", p.HostName(), p.Protocol, target, to, describeVia(p.Via))
		switch {
		case p.ListenersUnknown != "":
			fmt.Fprintf(w, "    what listens there is unknown: %s\n", escapeText(p.ListenersUnknown))
		case len(p.Listeners) == 0 && p.ContainerAddr.IsValid():
			fmt.Fprintln(w, "    nothing found listening there")
		}
		for _, l := range p.Listeners {
			fmt.Fprintf(w, "    listening there: %s on %s\n", describeOwners(&l), escapeText(l.LocalName()))
		}
	}
}

// maxFirewallLines is how many listeners the answer judges against the
// firewall, to stay one screen; -o json judges them all.
const maxFirewallLines = 4

// writeFirewall says, for each listener beyond loopback, whether the host
// firewall lets the network's packets reach it, and what decided.
func writeFirewall(w io.Writer, socks []inspect.Socket, width int) {
	var judged []*inspect.Socket
	for i := range socks {
		if socks[i].Reach != nil {
			judged = append(judged, &socks[i])
		}
	}
	if len(judged) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Firewall")
	for i, s := range judged {
		if i == maxFirewallLines {
			fmt.Fprintf(w, "  … and %d more listeners (-o json judges them all)\n", len(judged)-i)
			break
		}
		j := s.Reach
		verdict := string(j.Verdict)
		if len(j.Conditions) > 0 {
			verdict += " (" + strings.Join(j.Conditions, "; ") + ")"
		}
		why := j.Reason
		if j.Rule != nil && j.Verdict != firewall.Unknown {
			why = j.Rule.String()
			if j.Forwarded.IsValid() {
				why = "forwarded to " + j.Forwarded.String() + ", " + why
			}
		}
		writeCut(w, "  ", s.LocalName()+"/"+s.Protocol.String()+" "+verdict+": "+why, width, 2)
		if j.Bypassed {
			writeCut(w, "    ", "the input chains would stop these packets, but destination NAT sends them through the forward chains: "+
				"publish on 127.0.0.1, or filter in DOCKER-USER", width, 2)
		}
	}
}

// describeNoOwner says why a listener behind a published port is shown
// without its process.
func describeNoOwner(o platform.OwnerStatus) string {
	switch o {
	case platform.OwnersHidden:
		return "a process hidden from this run (see the warnings)"
	case platform.OwnersNone:
		return "no process (a kernel socket)"
	}
	return "a socket (--no-processes)"
}

// describeVia says what forwards a published port.
func describeVia(via string) string {
	switch via {
	case container.ViaNAT:
		return "by NAT rules alone"
	case container.ViaConmon:
		return "by NAT rules, the port held by conmon"
	case container.ViaDockerd:
		return "by NAT rules, the port held by dockerd"
	}
	return "by " + via
}

// describeContainer names a container as `docker ps` would, with its
// runtime, short ID, image and pod: "container web1 (docker 294b6b6a7996,
// image busybox)". Every part is the runtimes' text, so escaped.
func describeContainer(c *container.Container) string {
	facts := []string{strings.TrimSpace(c.Runtime + " " + c.ShortID())}
	if c.Image != "" {
		facts = append(facts, "image "+c.Image)
	}
	if c.Pod != "" {
		facts = append(facts, "pod "+strings.TrimPrefix(c.PodNamespace+"/"+c.Pod, "/"))
	}
	return escapeText("container " + c.Label() + " (" + strings.Join(facts, ", ") + ")")
}

// writeCut writes untrusted text escaped, broken into lines of width
// columns (the first after prefix, the rest indented as deep), and at most
// maxLines of them, then how much more there was. It reads only what it
// shows: a command line may be megabytes long.
func writeCut(w io.Writer, prefix, text string, width, maxLines int) {
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	avail := max(width-len(indent), 20)
	line, lines := prefix, 0
	cols := 0
	for i := 0; i < len(text); {
		_, size := utf8.DecodeRuneInString(text[i:])
		shown := escapeText(text[i : i+size])
		n := displayWidth(shown)
		if cols+n > avail {
			lines++
			if lines == maxLines {
				fmt.Fprintf(w, "%s\n%s… (%d more bytes; -o json shows all)\n", line, indent, len(text)-i)
				return
			}
			fmt.Fprintln(w, line)
			line, cols = indent, 0
		}
		line += shown
		cols += n
		i += size
	}
	fmt.Fprintln(w, line)
}

// textWidth is the width prose is wrapped to: the terminal's, up to 100
// columns, which read better than wider lines; piped, 100.
func textWidth(ios *IOStreams) int {
	if ios.Width <= 0 || ios.Width > 100 {
		return 100
	}
	return ios.Width
}

// hostPlatform is the notes' name for the running system, for what is
// printed without a machine's report (lookup); a report's Host.OS says it
// for the machine inspected.
func hostPlatform() string {
	if runtime.GOOS == "darwin" {
		return "macos"
	}
	return runtime.GOOS
}

// platformName spells a notes platform as people write it.
func platformName(p string) string {
	switch p {
	case "linux":
		return "Linux"
	case "windows":
		return "Windows"
	case "macos":
		return "macOS"
	case "freebsd":
		return "FreeBSD"
	}
	return p
}

// writeKnownPortBrief is the known-port block of an answer: what IANA
// registers the port for, the note that matches with its risk, its summary
// and this platform's first step cut short (with the PID filled in when
// one process holds the port), any other notes by title, and where to read
// the whole entry.
func writeKnownPortBrief(w io.Writer, e knownports.Entry, socks []inspect.Socket, here string, width int) {
	writeRegistrations(w, e)
	holders := listenersOn(socks, e.Port)
	judged := judgedListener(socks, e.Port)
	var matched *knownports.Note
	if judged != nil {
		matched = judged.Note
	}
	notes := briefNotes(e.Notes, here, matched)
	if len(notes) == 0 {
		return
	}
	n := notes[0]
	writeNoteTitle(w, n)
	if judged != nil && judged.Match == knownports.MatchUnexpected && judged.Note == n {
		writeWrapped(w, "  ", fmt.Sprintf("Not the program expected here: expected %s; held by %s.",
			n.ExpectedText(here), describeProcesses(judged.Processes)), width)
	}
	writeWrappedCut(w, "    ", n.Summary, width, maxSummaryLines)
	// Only this platform's step: another's would not help here, and the
	// full entry has them all.
	if groups := inspect.GroupAdvice(inspect.FillPID(n.Advice, holders), here); len(groups) > 0 && groups[0].Platform == here {
		g := groups[0]
		step := fmt.Sprintf("  What to do on %s (step 1 of %d):", platformName(g.Platform), len(g.Steps))
		if len(g.Steps) == 1 {
			step = fmt.Sprintf("  What to do on %s:", platformName(g.Platform))
		}
		fmt.Fprintln(w, step)
		writeWrappedCut(w, "    ", g.Steps[0].Text, width, maxSummaryLines)
		for _, c := range g.Steps[0].Commands {
			fmt.Fprintf(w, "      %s\n", escapeText(c))
		}
	}
	for _, other := range notes[1:] {
		fmt.Fprintf(w, "  Also known here: %s — risk %s beyond loopback, %s on loopback only\n", other.Title, other.Risk, other.RiskLoopback)
	}
	fmt.Fprintf(w, "  Full entry: portinspect lookup %d\n", e.Port)
}

// judgedListener is the first listener on port that a note judges, the
// program it expected or not; nil for none.
func judgedListener(socks []inspect.Socket, port uint16) *inspect.Socket {
	for i := range socks {
		if s := &socks[i]; s.Local.Port() == port && s.Note != nil && s.Match != knownports.MatchUnknown {
			return s
		}
	}
	return nil
}

// describeProcesses names processes for a sentence: "python3 (pid 8290)".
func describeProcesses(procs []*inspect.Process) string {
	var names []string
	for _, p := range procs {
		names = append(names, fmt.Sprintf("%s (pid %d)", escapeText(p.Name), p.PID))
	}
	return strings.Join(names, ", ")
}

// briefNotes orders an entry's notes for the answer: the note the holder
// matches first, then notes about a service before notes about a class of
// ports (the ephemeral range), and among them those for this platform
// first.
func briefNotes(notes []*knownports.Note, here string, matched *knownports.Note) []*knownports.Note {
	rank := func(n *knownports.Note) int {
		if n == matched {
			return -1
		}
		r := 0
		if n.Wide() {
			r += 2
		}
		if !slices.Contains(n.Platforms, here) && !slices.Contains(n.Platforms, "any") {
			r++
		}
		return r
	}
	sorted := slices.Clone(notes)
	slices.SortStableFunc(sorted, func(a, b *knownports.Note) int { return rank(a) - rank(b) })
	return sorted
}

func writeRegistrations(w io.Writer, e knownports.Entry) {
	fmt.Fprintf(w, "Port %d%s\n", e.Port, inParens(e.Protocols))
	regs := registrationsByService(e.IANA)
	if len(regs) == 0 {
		fmt.Fprintln(w, "  Registered (IANA): nothing")
	}
	for _, r := range regs {
		fmt.Fprintf(w, "  Registered (IANA): %s\n", r)
	}
}

func writeNoteTitle(w io.Writer, n *knownports.Note) {
	fmt.Fprintf(w, "  %s — risk %s beyond loopback, %s on loopback only\n", n.Title, n.Risk, n.RiskLoopback)
}

// writeKnownPort describes what the database knows of one port: what it
// is registered for at IANA, and what the notes say is commonly seen there,
// how risky it is, what to do (numbered steps per platform, this
// platform's first) and the sources.
func writeKnownPort(w io.Writer, e knownports.Entry, here string, width int) {
	writeRegistrations(w, e)
	for _, n := range e.Notes {
		writeNoteTitle(w, n)
		writeWrapped(w, "    ", n.Summary, width)
		if len(n.CommonlySeen) > 0 {
			fmt.Fprintln(w, "    Commonly seen:")
			for _, s := range n.CommonlySeen {
				writeWrapped(w, "      ", describeSeen(s), width)
			}
		}
		writeAdviceGroups(w, "    ", inspect.GroupAdvice(n.Advice, here), width)
		fmt.Fprintln(w, "    References:")
		for _, r := range n.References {
			writeWrapped(w, "      - ", r, width)
		}
	}
}

// writeAdviceGroups writes advice as "What to do on Linux:" and numbered
// steps with their commands under each.
func writeAdviceGroups(w io.Writer, indent string, groups []inspect.AdviceGroup, width int) {
	for _, g := range groups {
		fmt.Fprintf(w, "%sWhat to do on %s:\n", indent, platformName(g.Platform))
		writeSteps(w, indent+"  ", g.Steps, width)
	}
}

// writeSteps writes advice as numbered steps, each with its commands.
func writeSteps(w io.Writer, indent string, steps []knownports.Advice, width int) {
	for i, step := range steps {
		writeWrapped(w, fmt.Sprintf("%s%d. ", indent, i+1), step.Text, width)
		for _, c := range step.Commands {
			// Commands may hold an executable's path: untrusted.
			fmt.Fprintf(w, "%s     %s\n", indent, escapeText(c))
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
		line := k.service + inParens(protos[k])
		if k.description != "" {
			line += ": " + k.description
		}
		lines = append(lines, line)
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

// wrapLines breaks text into words wrapped to width, the first line after
// indent and the rest indented as deep.
func wrapLines(indent, text string, width int) []string {
	var lines []string
	line := indent
	cont := strings.Repeat(" ", displayWidth(indent))
	empty := true
	for word := range strings.FieldsSeq(text) {
		if !empty && displayWidth(line)+1+displayWidth(word) > width {
			lines = append(lines, line)
			line, empty = cont, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	if !empty {
		lines = append(lines, line)
	}
	return lines
}

// writeWrapped writes text word-wrapped to width, every line indented.
func writeWrapped(w io.Writer, indent, text string, width int) {
	writeLines(w, wrapLines(indent, text, width))
}

// writeWrappedCut writes text as writeWrapped does, but in at most
// maxLines lines: whole sentences while they fit, else words, then "…".
func writeWrappedCut(w io.Writer, indent, text string, width, maxLines int) {
	lines := wrapLines(indent, text, width)
	if len(lines) > maxLines {
		lines = wrapLines(indent, cutText(text, indent, width, maxLines), width)
	}
	writeLines(w, lines)
}

// cutText shortens text to what fits maxLines wrapped lines with " …"
// after it: up to the end of a sentence if one ends there, else a word.
func cutText(text, indent string, width, maxLines int) string {
	words := strings.Fields(text)
	fits := func(n int) bool {
		return len(wrapLines(indent, strings.Join(words[:n], " ")+" …", width)) <= maxLines
	}
	n := 0
	for n < len(words) && fits(n+1) {
		n++
	}
	for i := n; i > 0; i-- {
		if strings.HasSuffix(words[i-1], ".") {
			n = i
			break
		}
	}
	return strings.Join(words[:n], " ") + " …"
}

func writeLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
