package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
)

type auditOptions struct {
	filters      filterFlags
	out          outputFlags
	ports        []string
	failOn       string
	allowPartial bool
	baseline     string
	quiet        bool

	query inspect.Query
	// failAt is the severity at which findings fail the run; nil never.
	failAt *knownports.Risk
}

func newCmdAudit(f *Factory, runF func(*auditOptions) error) *cobra.Command {
	opts := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Every listener, how exposed it is, how risky, and what to do",
		Long: `Audit every listening socket (TCP LISTEN and bound UDP): its exposure, its
owner, what its port is known for, and findings ranked by severity, with the
known-ports database's advice. Rules:

  exposed-risky-service  a service with a curated note reachable beyond loopback
                         (severity from the note: 3372 on all interfaces is medium)
  unknown-listener       beyond loopback, with no note and no IANA name (info)
  suspicious-executable  a listener whose executable was deleted, or lives in a
                         world-writable or temporary directory (high; low when
                         an upgrade replaced it and a restart is pending)
  ownerless-listener     no process holds it, while privileged (medium; kernel
                         services such as nfsd are info and named)
  partial-coverage       run without privilege: some owners are hidden (info)

` + exposureHelp + `

Exit status: 0, or 1 with --fail-on when a finding is at or above that
severity, or when the audit could not see every listener's owner (run
without privilege): a gate must not pass blind. --allow-partial lets such a
run pass on what it saw. 2 bad input; 3 the machine's sockets could not be
read.`,
		Example: `  portinspect audit
  portinspect audit --fail-on high
  portinspect audit -o markdown > audit.md
  portinspect audit -o prometheus > /var/lib/node_exporter/textfile_collector/portinspect.prom`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(f, cmd.Flags().Changed("fail-on")); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return auditRun(f, opts)
		},
	}
	opts.filters.addScope(cmd)
	opts.out.add(cmd, formatTable, formatJSON, formatMarkdown, formatPrometheus)
	fs := cmd.Flags()
	fs.StringArrayVar(&opts.ports, "port", nil, "listeners on these local ports only (a PORTSPEC; repeats)")
	fs.StringVar(&opts.failOn, "fail-on", "", "exit 1 when a finding is at or above this severity: "+severityNames)
	fs.BoolVar(&opts.allowPartial, "allow-partial", false, "let --fail-on pass an audit that could not see every owner")
	fs.StringVar(&opts.baseline, "baseline", "", "add the drift from this baseline (portinspect baseline save) as findings: new-listener, gone-listener, changed-owner")
	fs.BoolVarP(&opts.quiet, "quiet", "q", false, "print nothing: the exit status says it all")
	return cmd
}

// severityNames are the values --fail-on takes.
const severityNames = "info, low, medium, high or critical"

func (o *auditOptions) parse(f *Factory, failOnSet bool) error {
	q, err := socketQuery(f, &o.out, &o.filters, o.ports)
	if err != nil {
		return err
	}
	q.EveryNetnsUnlessAsked()
	if failOnSet {
		r, err := knownports.ParseRisk(o.failOn)
		if err != nil {
			return &inspect.UsageError{Msg: fmt.Sprintf("invalid --fail-on %q: want %s", o.failOn, severityNames)}
		}
		o.failAt = &r
	}
	if o.allowPartial && o.failAt == nil {
		return &inspect.UsageError{Msg: "--allow-partial goes with --fail-on SEVERITY: without it the audit never fails"}
	}
	o.query = q
	return nil
}

func auditRun(f *Factory, opts *auditOptions) error {
	var base *inspect.Baseline
	if opts.baseline != "" {
		var err error
		if base, err = readBaselineFile(opts.baseline); err != nil {
			return err
		}
	}
	var a *inspect.Audit
	err := withMachine(f, opts.out.format, func(src inspect.Source) (err error) {
		if a, err = inspect.RunAudit(context.Background(), src, f.KnownPorts(), opts.query); err == nil && base != nil {
			a.AddDrift(base, ephemeralUDP(src), time.Now())
		}
		return err
	})
	if err != nil {
		return err
	}
	if !opts.quiet {
		warn(f.IO, a.Warnings, opts.out.format)
		if err := renderAudit(f.IO, a, opts.out.format, time.Now()); err != nil {
			return err
		}
	}
	if opts.failAt == nil {
		return nil
	}
	// Say why the gate failed: a bare exit 1 in a CI log helps nobody.
	why := ""
	if worst, ok := a.Worst(); ok && worst >= *opts.failAt {
		why = fmt.Sprintf("%s at or above %s", platform.Plural(a.CountAtLeast(*opts.failAt), "finding"), opts.failAt)
	} else if blind := a.Blind(); blind != "" && !opts.allowPartial {
		remedy := a.UnseenRemedy() + ", or pass --allow-partial"
		if a.UnseenRemedy() == "" {
			remedy = "a process refused even this privileged run; pass --allow-partial to accept what it saw"
		}
		why = fmt.Sprintf("this audit could not see every owner (%s), so it cannot vouch that none is at or above %s: %s",
			blind, opts.failAt, remedy)
	}
	if why == "" {
		return nil
	}
	if !opts.quiet {
		fmt.Fprintf(f.IO.ErrOut, "portinspect: --fail-on %s: %s\n", opts.failAt, why)
	}
	return &errSilentExit{code: exitNotFound}
}

func renderAudit(ios *IOStreams, a *inspect.Audit, format outputFormat, now time.Time) error {
	w := bufio.NewWriterSize(ios.Out, 64<<10)
	switch format {
	case formatJSON:
		return writeAuditJSON(ios.Out, a)
	case formatMarkdown:
		writeAuditMarkdown(w, a, now)
	case formatPrometheus:
		writeAuditPrometheus(w, a, now)
	default:
		if !ios.OutTTY {
			// Piped: the findings as rows, for awk; JSON has the rest.
			for _, f := range a.Findings {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", f.Severity, f.Rule, findingPort(f), escapeText(f.Message))
			}
			break
		}
		if err := writeAuditText(w, ios, a); err != nil {
			return err
		}
	}
	return w.Flush()
}

// severitiesDown are the severities, worst first.
var severitiesDown = []knownports.Risk{knownports.RiskCritical, knownports.RiskHigh, knownports.RiskMedium, knownports.RiskLow, knownports.RiskInfo}

// auditSummary is one line: "4 listeners on 3 ports, 3 findings: 1 high,
// 1 medium, 1 info".
func auditSummary(a *inspect.Audit) string {
	groups := listenerRows(a)
	s := fmt.Sprintf("%s on %s, %s", platform.Plural(countListeners(a), "listener"), platform.Plural(len(groups), "port"),
		platform.Plural(len(a.Findings), "finding"))
	var counts []string
	for _, sev := range severitiesDown {
		if n := a.Count(sev); n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(counts) > 0 {
		s += ": " + strings.Join(counts, ", ")
	}
	return s
}

func countListeners(a *inspect.Audit) int {
	n := 0
	for i := range a.Sockets {
		if a.Sockets[i].Listening() {
			n++
		}
	}
	return n
}

func findingPort(f inspect.Finding) string {
	if f.Port == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%s", f.Port, f.Protocol)
}

func describeHost(h platform.Host) string {
	priv := "not privileged"
	if h.Privileged {
		priv = "privileged"
	}
	return fmt.Sprintf("%s (%s, %s)", escapeText(h.Hostname), h.OS, priv)
}

// allNetnsNote says, under the summary, that the audit covered every
// network namespace, or all but those it could not look into, and how to
// narrow it.
func allNetnsNote(a *inspect.Audit) string {
	var left []string
	if a.NetnsSkipped > 0 {
		left = append(left, platform.Plural(a.NetnsSkipped, "namespace")+" that could not be entered or read")
	}
	if a.NetnsUnreadable > 0 {
		left = append(left, "those of "+platform.Plural(a.NetnsUnreadable, "process")+" that could not be read")
	}
	if len(left) == 0 {
		return "Every network namespace of the machine, containers' too (--netns self: this one only)."
	}
	return "Every network namespace of the machine, containers' too, but " + strings.Join(left, " and ") +
		" (see the warnings; --netns self: this one only)."
}

// writeAuditText is the report for a terminal: summary, findings with
// what to do about each, then the listeners.
func writeAuditText(w io.Writer, ios *IOStreams, a *inspect.Audit) error {
	width := textWidth(ios)
	fmt.Fprintf(w, "Audit of %s: %s\n", describeHost(a.Host), auditSummary(a))
	if a.AllNetns {
		fmt.Fprintln(w, allNetnsNote(a))
	}
	if len(a.Findings) > 0 {
		fmt.Fprintln(w)
		rows := make([][]string, len(a.Findings))
		for i, f := range a.Findings {
			rows[i] = []string{f.Severity.String(), f.Rule, findingPort(f), escapeText(f.Message)}
		}
		if err := writeProseTable(w, []string{"SEVERITY", "RULE", "PORT", "FINDING"}, rows, width, 3); err != nil {
			return err
		}
	}
	for _, f := range a.Findings {
		for _, g := range adviceHere(f.Advice, a.Host.OS) {
			fmt.Fprintf(w, "\nWhat to do about %s (%s, %s) on %s:\n", findingPort(f), f.Rule, f.Severity, platformName(g.Platform))
			writeSteps(w, "  ", g.Steps, width)
		}
	}
	fmt.Fprintln(w, "\nListeners")
	header := []string{"PORT", "PROTO", "SERVICE", "EXPOSURE", "REACHABLE", "ADDRESSES", "PID", "PROCESS", "USER", "UNIT"}
	writeAligned(w, header, listenerRows(a))
	return nil
}

// adviceHere keeps the steps for the platform the audit ran on, here (and
// for any platform): the auditor is at this machine; -o json has the
// rest. Advice written only for other platforms is kept rather than lost.
func adviceHere(advice []knownports.Advice, here string) []inspect.AdviceGroup {
	groups := inspect.GroupAdvice(advice, here)
	if len(groups) > 0 && groups[0].Platform == here {
		return groups[:1]
	}
	return groups
}

// listenerRows is the inventory: one row per port and protocol.
func listenerRows(a *inspect.Audit) [][]string {
	type key struct {
		port  uint16
		proto platform.Protocol
	}
	var order []key
	groups := make(map[key][]*inspect.Socket)
	for i := range a.Sockets {
		s := &a.Sockets[i]
		if !s.Listening() {
			continue
		}
		k := key{s.Local.Port(), s.Protocol}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	slices.SortFunc(order, func(x, y key) int {
		if x.port != y.port {
			return int(x.port) - int(y.port)
		}
		return int(x.proto) - int(y.proto)
	})
	rows := make([][]string, 0, len(order))
	for _, k := range order {
		socks := groups[k]
		var addrs, exposures, reach, pids, names, users, units []string
		hidden := false
		for _, s := range socks {
			addrs = appendNew(addrs, escapeText(s.LocalHost()))
			exposures = appendNew(exposures, s.Exposure.String())
			reach = appendNew(reach, reachableCell(s))
			hidden = hidden || s.Owners == platform.OwnersHidden
			for _, p := range s.Processes {
				pids = appendNew(pids, strconv.Itoa(p.PID))
				names = appendNew(names, escapeText(p.Name))
				users = appendNew(users, escapeText(p.User))
				units = appendNew(units, escapeText(p.Service))
			}
		}
		if len(pids) == 0 {
			pids = []string{"-"}
			if hidden {
				names = []string{"(hidden)"}
			}
		}
		rows = append(rows, []string{
			strconv.Itoa(int(k.port)), k.proto.String(), socks[0].Service, strings.Join(exposures, ","), strings.Join(reach, ","),
			strings.Join(addrs, ","), strings.Join(pids, ","), strings.Join(names, ","), strings.Join(users, ","), strings.Join(units, ","),
		})
	}
	return rows
}

// writeAligned writes an aligned table to w, as writeTable does on a
// terminal.
func writeAligned(w io.Writer, header []string, rows [][]string) {
	writeTable(&IOStreams{Out: w, OutTTY: true}, header, rows)
}

// writeAuditMarkdown is a report a person can paste into a ticket.
func writeAuditMarkdown(w io.Writer, a *inspect.Audit, now time.Time) {
	fmt.Fprintf(w, "# portinspect audit of %s\n\n", mdText(a.Host.Hostname))
	fmt.Fprintf(w, "%s, %s, %s.\n\n", now.UTC().Format("2006-01-02 15:04 MST"), a.Host.OS, map[bool]string{true: "privileged", false: "not privileged: some owners are hidden"}[a.Host.Privileged])
	if a.AllNetns {
		fmt.Fprintf(w, "%s\n\n", allNetnsNote(a))
	}
	fmt.Fprintf(w, "## Summary\n\n%s.\n\n| severity | findings |\n|---|---|\n", auditSummary(a))
	for _, sev := range severitiesDown {
		fmt.Fprintf(w, "| %s | %d |\n", sev, a.Count(sev))
	}
	fmt.Fprintln(w, "\n## Findings")
	if len(a.Findings) == 0 {
		fmt.Fprintln(w, "\nNone.")
	}
	for _, f := range a.Findings {
		fmt.Fprintf(w, "\n### %s: %s, %s\n\n%s\n", f.Severity, f.Rule, findingPort(f), mdText(f.Message))
		for _, g := range adviceHere(f.Advice, a.Host.OS) {
			fmt.Fprintf(w, "\nWhat to do on %s:\n\n", platformName(g.Platform))
			for i, step := range g.Steps {
				fmt.Fprintf(w, "%d. %s\n", i+1, mdText(step.Text))
				if len(step.Commands) > 0 {
					fmt.Fprint(w, "\n   ```\n")
					for _, c := range step.Commands {
						fmt.Fprintf(w, "   %s\n", escapeText(c))
					}
					fmt.Fprint(w, "   ```\n")
				}
			}
		}
	}
	fmt.Fprintln(w, "\n## Listeners\n\n| port | protocol | service | exposure | reachable | addresses | pid | process | user | unit |\n|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range listenerRows(a) {
		for i := range r {
			r[i] = mdCell(r[i])
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

// mdText escapes untrusted text for Markdown prose: control characters as
// everywhere, and the characters that would make it markup.
func mdText(s string) string {
	s = escapeText(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|#~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mdCell(s string) string {
	if s == "" {
		return "-"
	}
	return mdText(s)
}

// writeAuditPrometheus writes the text exposition format for
// node_exporter's textfile collector. Series with equal labels are summed:
// SO_REUSEPORT twins are one series of value 2, as the format wants each
// series once.
func writeAuditPrometheus(w io.Writer, a *inspect.Audit, now time.Time) {
	type series struct {
		labels string
		value  int
	}
	gauge := func(name, help string, rows []series) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, r := range rows {
			fmt.Fprintf(w, "%s%s %d\n", name, r.labels, r.value)
		}
	}
	sum := func(keys []string) []series {
		var out []series
		index := make(map[string]int)
		for _, k := range keys {
			if i, ok := index[k]; ok {
				out[i].value++
				continue
			}
			index[k] = len(out)
			out = append(out, series{k, 1})
		}
		return out
	}

	var listeners []string
	for i := range a.Sockets {
		s := &a.Sockets[i]
		if !s.Listening() {
			continue
		}
		var names []string
		for _, p := range s.Processes {
			names = appendNew(names, p.Name)
		}
		process := strings.Join(names, ",")
		if s.Owners == platform.OwnersHidden {
			process = "(hidden)"
		}
		labels := []string{"port", strconv.Itoa(int(s.Local.Port())), "protocol", s.Protocol.String(),
			"address", s.Local.Addr().String(), "exposure", s.Exposure.String(),
			"process", process, "service", s.Service}
		// Only other namespaces' listeners have one: the series of the
		// namespace portinspect runs in keep the identity they had. A
		// namespace with neither container nor name is known by its inode,
		// which lasts as long as it does, not by whichever process was
		// found in it first.
		if s.Netns != nil && !s.Netns.Own {
			netns := s.Netns.ID()
			if c := s.Container(); c != nil {
				netns = c.Label()
			}
			labels = append(labels, "netns", netns)
		}
		listeners = append(listeners, promLabels(labels...))
	}
	gauge("portinspect_listener", "Listening sockets by port, protocol, address, exposure, process, service and network namespace (empty: the host's); sockets with the same labels (SO_REUSEPORT) add up.", sum(listeners))

	var counts []series
	for _, sev := range severitiesDown {
		counts = append(counts, series{promLabels("severity", sev.String()), a.Count(sev)})
	}
	gauge("portinspect_findings", "Audit findings by severity.", counts)

	var findings []string
	for _, f := range a.Findings {
		port, proto := "", ""
		if f.Port != 0 {
			port, proto = strconv.Itoa(int(f.Port)), f.Protocol.String()
		}
		findings = append(findings, promLabels("rule", f.Rule, "severity", f.Severity.String(), "port", port, "protocol", proto))
	}
	gauge("portinspect_finding", "Audit findings by rule, severity, port and protocol.", sum(findings))

	gauge("portinspect_audit_timestamp_seconds", "When the audit ran, in seconds since the Unix epoch.",
		[]series{{"", int(now.Unix())}})
	privileged := 0
	if a.Host.Privileged {
		privileged = 1
	}
	gauge("portinspect_audit_privileged", "1 when the audit ran with the privilege to read every process (root or Administrator), else 0. Even then a listener's owner can be hidden: process=\"(hidden)\" in portinspect_listener.",
		[]series{{"", privileged}})
}

// promLabels writes {k="v",…}, the values made safe: control characters
// shown as escapes, then backslashes, quotes and newlines escaped as the
// exposition format requires.
func promLabels(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(escapeText(kv[i+1]))
		fmt.Fprintf(&b, `%s="%s"`, kv[i], v)
	}
	b.WriteByte('}')
	return b.String()
}

// writeAuditJSON writes the report document with the findings after host.
func writeAuditJSON(out io.Writer, a *inspect.Audit) error {
	doc := newJSONReport(a.Report)
	doc.Findings = make([]jsonFinding, len(a.Findings))
	for i, f := range a.Findings {
		jf := jsonFinding{
			Rule: f.Rule, Severity: f.Severity.String(), Message: f.Message,
			Sockets: []jsonFindingSocket{}, Processes: []jsonFindingProcess{}, Advice: f.Advice,
		}
		if f.Port != 0 {
			port, proto := f.Port, f.Protocol.String()
			jf.Port, jf.Protocol = &port, &proto
		}
		for _, s := range f.Sockets {
			jf.Sockets = append(jf.Sockets, newJSONFindingSocket(s))
		}
		for _, p := range f.Processes {
			jf.Processes = append(jf.Processes, jsonFindingProcess{p.PID, p.Name, p.Exe})
		}
		if jf.Advice == nil {
			jf.Advice = []knownports.Advice{}
		}
		doc.Findings[i] = jf
	}
	return writeJSONReport(out, doc, a.Sockets)
}
