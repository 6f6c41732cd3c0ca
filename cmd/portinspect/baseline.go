package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

type baselineOptions struct {
	File    string
	filters filterFlags
	ports   []string
	accept  bool
	out     outputFlags

	query inspect.Query
}

func newCmdBaseline(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline save|diff FILE",
		Short: "Save the listeners as a baseline, and compare the machine with it",
		Long: `A baseline is the machine's listeners as identities, not PIDs: protocol,
address, port, network namespace or container, and the owner's executable and
service. "baseline save FILE" writes one (schema portinspect-baseline/v1,
atomically: a temporary file synced and renamed); "baseline diff FILE"
compares the machine with it: listeners added, removed, and changed (the
same listener, another program).

Noise rules: unconnected UDP sockets on ports of the ephemeral range are left
out (resolvers and mDNS clients open them at random); a wildcard listener is
one listener whether it binds [::] alone or 0.0.0.0 and [::]; owners are
compared only where both sides saw them, so a baseline saved as root and
compared without root is not drift (the output says how many were not
compared).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &inspect.UsageError{Msg: "baseline needs a command: save FILE or diff FILE"}
			}
			return &inspect.UsageError{Msg: fmt.Sprintf("invalid baseline command %q: want save or diff", args[0])}
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	cmd.AddCommand(newCmdBaselineSave(f), newCmdBaselineDiff(f))
	return cmd
}

func newCmdBaselineSave(f *Factory) *cobra.Command {
	opts := &baselineOptions{}
	cmd := &cobra.Command{
		Use:     "save FILE",
		Short:   "Write the machine's listeners to FILE as a baseline",
		Example: "  sudo portinspect baseline save /etc/portinspect/baseline.json",
		Args:    needFile("baseline save"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if err := opts.parse(f); err != nil {
				return err
			}
			b, err := takeBaseline(f, opts)
			if err != nil {
				return err
			}
			if err := inspect.WriteBaselineFile(opts.File, b); err != nil {
				return fmt.Errorf("writing the baseline %s: %w", opts.File, err)
			}
			fmt.Fprintf(f.IO.ErrOut, "Saved %s to %s.\n", platform.Plural(len(b.Listeners), "listener"), escapeText(opts.File))
			return nil
		},
	}
	opts.addFlags(cmd)
	return cmd
}

func newCmdBaselineDiff(f *Factory) *cobra.Command {
	opts := &baselineOptions{}
	cmd := &cobra.Command{
		Use:   "diff FILE",
		Short: "Compare the machine's listeners with the baseline in FILE",
		Long: `Compare the machine's listeners with a baseline: added, removed and changed
listeners, as a table, JSON, Markdown or Prometheus metrics
(portinspect_baseline_drift{change="added"|"removed"|"changed"}). --accept
then rewrites the baseline with what is there now.

Exit status: 0 no drift, 1 drift, 2 bad input (a damaged or foreign baseline
file too), 3 the machine's sockets could not be read.`,
		Example: `  portinspect baseline diff /etc/portinspect/baseline.json
  portinspect baseline diff baseline.json -o markdown
  portinspect baseline diff baseline.json --accept`,
		Args: needFile("baseline diff"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if err := opts.parse(f); err != nil {
				return err
			}
			return baselineDiffRun(f, opts)
		},
	}
	opts.addFlags(cmd)
	cmd.Flags().BoolVar(&opts.accept, "accept", false, "rewrite the baseline with the machine's listeners now")
	opts.out.add(cmd, formatTable, formatJSON, formatMarkdown, formatPrometheus)
	return cmd
}

func needFile(command string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return &inspect.UsageError{Msg: command + " needs one FILE"}
		}
		return nil
	}
}

func (o *baselineOptions) addFlags(cmd *cobra.Command) {
	o.filters.addScope(cmd)
	cmd.Flags().StringArrayVar(&o.ports, "port", nil, "listeners on these local ports only (a PORTSPEC; repeats)")
}

func (o *baselineOptions) parse(f *Factory) error {
	if o.out.allowed == nil {
		o.out.allowed = []outputFormat{formatTable}
		o.out.output = string(formatTable)
	}
	q, err := socketQuery(f, &o.out, &o.filters, o.ports)
	if err != nil {
		return err
	}
	q.Listening = true
	q.Detail = platform.DetailFull
	q.KnownPorts = inspect.KnownPortsNone
	o.query = q
	return nil
}

// takeBaseline reads the machine's listeners as a baseline.
func takeBaseline(f *Factory, opts *baselineOptions) (*inspect.Baseline, error) {
	var b *inspect.Baseline
	err := withMachine(f, formatTable, func(src inspect.Source) error {
		rep, err := inspect.Run(context.Background(), src, nil, opts.query)
		if err != nil {
			return err
		}
		warn(f.IO, rep.Warnings, formatTable)
		b = inspect.NewBaseline(rep, ephemeralUDP(src), time.Now())
		return nil
	})
	return b, err
}

// ephemeralUDP is the range a UDP client's port comes from, where the
// system says; IANA's dynamic range where it does not.
func ephemeralUDP(src inspect.Source) platform.PortRange {
	if b, ok := src.(platform.Binder); ok {
		if r, err := b.EphemeralRange(platform.UDP); err == nil && r.High != 0 {
			return r
		}
	}
	return platform.PortRange{Low: 49152, High: 65535, TCP: true, UDP: true}
}

func baselineDiffRun(f *Factory, opts *baselineOptions) error {
	base, err := readBaselineFile(opts.File)
	if err != nil {
		return err
	}
	now, err := takeBaseline(f, opts)
	if err != nil {
		return err
	}
	d := inspect.Diff(base, now)
	if d.OwnersUncompared > 0 && opts.out.format != formatJSON && opts.out.format != formatPrometheus {
		fmt.Fprintf(f.IO.ErrOut, "portinspect: warning: the owners of %s were not compared: the baseline was taken with privilege=%v, this run has privilege=%v; owners seen on one side only are not drift\n",
			platform.Plural(d.OwnersUncompared, "listener"), base.Privileged, now.Privileged)
	}
	if err := writeDrift(f.IO.Out, d, opts.out.format, opts.File); err != nil {
		return err
	}
	if opts.accept {
		if err := inspect.WriteBaselineFile(opts.File, now); err != nil {
			return fmt.Errorf("rewriting the baseline %s: %w", opts.File, err)
		}
		fmt.Fprintf(f.IO.ErrOut, "Accepted: %s now holds %s.\n", escapeText(opts.File), platform.Plural(len(now.Listeners), "listener"))
	}
	if len(d.Changes) > 0 {
		return &errSilentExit{code: exitNotFound}
	}
	return nil
}

// readBaselineFile reads a baseline; a missing, damaged or foreign file
// is bad input naming the file.
func readBaselineFile(file string) (*inspect.Baseline, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, &inspect.UsageError{Msg: fmt.Sprintf("invalid baseline %s: %v", file, unwrapPath(err))}
	}
	defer fh.Close()
	b, err := inspect.ReadBaseline(fh)
	if errors.Is(err, inspect.ErrBadBaseline) {
		return nil, &inspect.UsageError{Msg: fmt.Sprintf("invalid baseline %s: %v", file, err)}
	}
	return b, err
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writeDrift prints the comparison in format.
func writeDrift(out io.Writer, d *inspect.DriftReport, format outputFormat, file string) error {
	w := bufio.NewWriter(out)
	switch format {
	case formatJSON:
		type jsonDrift struct {
			Change   string                    `json:"change"`
			Listener inspect.BaselineListener  `json:"listener"`
			Was      *inspect.BaselineListener `json:"was"`
		}
		doc := struct {
			Schema           string      `json:"schema"`
			Baseline         string      `json:"baseline"`
			BaselineCreated  time.Time   `json:"baseline_created"`
			Drift            bool        `json:"drift"`
			Changes          []jsonDrift `json:"changes"`
			OwnersUncompared int         `json:"owners_uncompared"`
		}{jsonSchema, file, d.Baseline.Created, len(d.Changes) > 0, []jsonDrift{}, d.OwnersUncompared}
		for _, c := range d.Changes {
			doc.Changes = append(doc.Changes, jsonDrift{c.Change, c.Listener, c.Was})
		}
		if err := writeJSONDoc(w, doc); err != nil {
			return err
		}
	case formatPrometheus:
		counts := map[string]int{}
		for _, c := range d.Changes {
			counts[c.Change]++
		}
		fmt.Fprintln(w, "# HELP portinspect_baseline_drift Listeners that differ from the baseline, by change.")
		fmt.Fprintln(w, "# TYPE portinspect_baseline_drift gauge")
		for _, change := range []string{inspect.DriftAdded, inspect.DriftRemoved, inspect.DriftChanged} {
			fmt.Fprintf(w, "portinspect_baseline_drift{change=%q} %d\n", change, counts[change])
		}
	case formatMarkdown:
		fmt.Fprintf(w, "## Listener drift on %s\n\n", d.Now.Hostname)
		if len(d.Changes) == 0 {
			fmt.Fprintf(w, "No drift from the baseline of %s.\n", d.Baseline.Created.Format(time.RFC3339))
			break
		}
		fmt.Fprintln(w, "| change | listener | program | was |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, c := range d.Changes {
			was := ""
			if c.Was != nil {
				was = c.Was.Owner()
			}
			fmt.Fprintf(w, "| %s | `%s` | %s | %s |\n", c.Change, markdownCell(c.Listener.Name()), markdownCell(c.Listener.Owner()), markdownCell(was))
		}
	default:
		if len(d.Changes) == 0 {
			fmt.Fprintf(w, "No drift: %s, as in the baseline of %s.\n", platform.Plural(len(d.Now.Listeners), "listener"), d.Baseline.Created.Format(time.RFC3339))
			break
		}
		for _, c := range d.Changes {
			line := fmt.Sprintf("%-8s %s  %s", c.Change, c.Listener.Name(), c.Listener.Owner())
			if c.Was != nil {
				line += ", was " + c.Was.Owner()
			}
			fmt.Fprintln(w, escapeText(line))
		}
	}
	return w.Flush()
}

// markdownCell keeps a table cell one cell: no pipe, no line break.
func markdownCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(escapeText(s))
}
