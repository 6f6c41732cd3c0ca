package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

type freeOptions struct {
	Specs        []string
	filters      filterFlags
	signal       string
	timeout      time.Duration
	yes          bool
	dryRun       bool
	stopServices bool
	out          outputFlags

	query inspect.Query
	opts  inspect.FreeOptions
}

func newCmdFree(f *Factory, runF func(*freeOptions) error) *cobra.Command {
	opts := &freeOptions{}
	cmd := &cobra.Command{
		Use:   "free PORTSPEC...",
		Short: "Free a port: signal what holds it, or say how to stop the service that does, and prove it free",
		Long: `Free the port and prove it: show every holder and what will be done to it, ask
(on a terminal; --yes for scripts), send the signal (TERM unless --signal),
wait up to --timeout for the holders to go and the port to be free, and
say which went and whether the port is free.

A holder that its manager would start again is not signalled: a systemd
service, a Windows service, a launchd job or a container. free prints the
command that stops it (systemctl stop, Stop-Service, launchctl bootout,
docker stop) and runs it only with --stop-services. PID 1, the kernel,
a holder hidden for lack of privilege and portinspect itself are refused.
A process is signalled only while it is still the one found holding the
port: on Linux through a pidfd checked against its start time and its
socket, elsewhere after the start time is checked again.

On Windows TERM (and INT, HUP, QUIT) closes the holder's windows, as
their close button does; a program without a window can only be ended,
with --signal KILL (TerminateProcess).

` + portspecHelp + `

Exit status: 0 the port is free, 1 it is still held (or --dry-run found it
held), 2 bad input (or asked to act without --yes and no terminal to ask
on), 3 the machine's sockets could not be read.`,
		Example: `  portinspect free 3000
  portinspect free 8080 --yes --timeout 10s
  portinspect free 127.0.0.1:5432 --dry-run
  portinspect free 80 --stop-services --yes`,
		Args: needPortSpec("free"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Specs = args
			if err := opts.parse(f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return freeRun(f, opts)
		},
	}
	opts.filters.addScope(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.signal, "signal", "TERM", "the signal to send: TERM, INT, HUP, QUIT or KILL")
	fl.DurationVar(&opts.timeout, "timeout", 5*time.Second, "how long to wait for the port to be free")
	fl.BoolVarP(&opts.yes, "yes", "y", false, "act without asking")
	fl.BoolVar(&opts.dryRun, "dry-run", false, "show the holders and what would be done, and do nothing")
	fl.BoolVar(&opts.stopServices, "stop-services", false, "stop services and containers through their manager (systemctl, Stop-Service, launchctl, docker)")
	opts.out.add(cmd, formatTable, formatJSON)
	return cmd
}

func (o *freeOptions) parse(f *Factory) error {
	q, err := socketQuery(f, &o.out, &o.filters, o.Specs)
	if err != nil {
		return err
	}
	sig, err := platform.ParseSignal(o.signal)
	if err != nil {
		return &inspect.UsageError{Msg: err.Error()}
	}
	if o.timeout < 0 {
		return &inspect.UsageError{Msg: fmt.Sprintf("invalid --timeout %s: want a duration of 0 or more, as 5s or 1m", o.timeout)}
	}
	o.query = q
	o.opts = inspect.FreeOptions{Signal: sig, Timeout: o.timeout, StopServices: o.stopServices, RunCommand: runStopCommand(f.IO.ErrOut)}
	return nil
}

// runStopCommand runs a manager's stop command, its output shown as
// portinspect's diagnostics.
func runStopCommand(errOut io.Writer) func(context.Context, []string) error {
	return func(ctx context.Context, argv []string) error {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = errOut, errOut
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
		return nil
	}
}

func freeRun(f *Factory, opts *freeOptions) error {
	var plan *inspect.FreePlan
	var res *inspect.FreeResult
	// The plan shown before asking is not shown again on the same
	// terminal; piped, the output keeps it.
	planShown := false
	err := withMachine(f, opts.out.format, func(src inspect.Source) error {
		var err error
		if plan, err = inspect.PlanFree(context.Background(), src, opts.query); err != nil {
			return err
		}
		warn(f.IO, plan.Warnings, opts.out.format)
		if len(plan.Holders) == 0 || opts.dryRun || !plan.Acts(opts.opts) {
			return nil
		}
		if !opts.yes {
			if !f.IO.InTTY {
				return &inspect.UsageError{Msg: "free acts only when asked: give --yes, or run it on a terminal to be asked (--dry-run shows what it would do)"}
			}
			writeFreePlan(f.IO.ErrOut, plan, opts, textWidth(f.IO))
			planShown = f.IO.OutTTY
			if !confirm(f.IO, freeQuestion(plan, opts)) {
				fmt.Fprintln(f.IO.ErrOut, "Nothing done.")
				return &errSilentExit{code: exitNotFound}
			}
		}
		res, err = inspect.Free(context.Background(), src, plan, opts.opts)
		return err
	})
	if err != nil {
		return err
	}
	if opts.out.format == formatJSON {
		if err := writeJSONDoc(f.IO.Out, newJSONFree(plan, res, opts)); err != nil {
			return err
		}
	} else {
		if res != nil {
			warn(f.IO, res.Warnings, opts.out.format)
		}
		if err := writeFree(f.IO.Out, plan, res, opts, planShown, textWidth(f.IO)); err != nil {
			return err
		}
	}
	if res != nil && !res.Free || res == nil && (len(plan.Holders) > 0 || plan.OthersHold) {
		return &errSilentExit{code: exitNotFound}
	}
	return nil
}

// portsLabel names the ports asked about at the start of a sentence:
// "Port 3000", "Ports 3000, 3001".
func portsLabel(specs []string) string {
	if len(specs) == 1 {
		return "Port " + describeSpecs(specs)
	}
	return "Ports " + describeSpecs(specs)
}

// freeQuestion asks leave to do what the plan does.
func freeQuestion(plan *inspect.FreePlan, opts *freeOptions) string {
	var signal, stop []string
	for _, h := range plan.Holders {
		switch {
		case h.Action == inspect.FreeSignal:
			signal = append(signal, holderName(h))
		case h.Action == inspect.FreeStop && opts.stopServices:
			stop = append(stop, h.Manager)
		}
	}
	var parts []string
	if len(signal) > 0 {
		parts = append(parts, "send "+platform.SignalName(opts.opts.Signal)+" to "+strings.Join(signal, ", "))
	}
	if len(stop) > 0 {
		parts = append(parts, "stop "+escapeText(strings.Join(stop, ", ")))
	}
	q := strings.Join(parts, " and ")
	return strings.ToUpper(q[:1]) + q[1:] + "? [y/N] "
}

// confirm asks a yes-or-no question on the terminal; anything but y or
// yes is no.
func confirm(ios *IOStreams, question string) bool {
	fmt.Fprint(ios.ErrOut, question)
	line, _ := bufio.NewReader(ios.In).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

func holderName(h *inspect.FreeHolder) string {
	if h.Process == nil {
		return "no process known"
	}
	return describeProcesses([]*inspect.Process{h.Process})
}

// writeFreePlan prints each holder, its sockets and what will be done.
func writeFreePlan(out io.Writer, plan *inspect.FreePlan, opts *freeOptions, width int) {
	fmt.Fprintf(out, "%s is held by:\n", portsLabel(opts.Specs))
	for _, h := range plan.Holders {
		name := holderName(h)
		if h.Process != nil && h.Process.User != "" {
			name = fmt.Sprintf("%s (pid %d, user %s)", escapeText(h.Process.Name), h.Process.PID, escapeText(h.Process.User))
		}
		if h.Manager != "" {
			name += ", " + escapeText(h.Manager)
		}
		fmt.Fprintf(out, "  %s\n", name)
		for _, s := range h.Sockets {
			fmt.Fprintf(out, "    %s %s %s\n", s.Protocol, escapeText(s.LocalName()), s.State)
		}
		switch h.Action {
		case inspect.FreeSignal:
			fmt.Fprintf(out, "    → send %s\n", platform.SignalName(opts.opts.Signal))
		case inspect.FreeStop:
			verb := "→ left alone: "
			if opts.stopServices {
				verb = "→ stop it, as "
			}
			writeWrapped(out, "    ", verb+escapeText(h.Reason)+".", width)
			run := "--stop-services runs it"
			if opts.stopServices {
				run = "run now"
			}
			fmt.Fprintf(out, "      %s    (%s)\n", escapeText(strings.Join(h.Command, " ")), run)
		case inspect.FreeRefuse:
			writeWrapped(out, "    ", "→ refused: "+escapeText(h.Reason)+".", width)
		}
	}
}

// writeFree prints the plan, unless it was shown before asking, then
// what became of each holder and of the port.
func writeFree(out io.Writer, plan *inspect.FreePlan, res *inspect.FreeResult, opts *freeOptions, planShown bool, width int) error {
	w := bufio.NewWriter(out)
	spec := portsLabel(opts.Specs)
	lower := strings.ToLower(spec[:1]) + spec[1:]
	switch {
	case len(plan.Holders) == 0 && plan.OthersHold:
		fmt.Fprintf(w, "Nothing the filters select holds %s, but other processes do (portinspect %s shows them).\n", lower, describeSpecs(opts.Specs))
		return w.Flush()
	case len(plan.Holders) == 0:
		fmt.Fprintf(w, "Nothing holds %s: it is free.\n", lower)
		return w.Flush()
	case !planShown:
		writeFreePlan(w, plan, opts, width)
	}
	if res == nil {
		switch {
		case opts.dryRun:
			fmt.Fprintln(w, "\nDry run: nothing done.")
		default:
			fmt.Fprintln(w, "\nNothing to do: no holder may be signalled.")
		}
		return w.Flush()
	}
	fmt.Fprintln(w)
	for _, h := range plan.Holders {
		switch h.Result {
		case inspect.HolderGone:
			fmt.Fprintf(w, "%s: gone.\n", holderName(h))
		case inspect.HolderRunning:
			fmt.Fprintf(w, "%s: still running after %s.\n", holderName(h), opts.timeout)
		case inspect.HolderUntouched:
			if h.Err != nil {
				writeWrapped(w, "", fmt.Sprintf("%s: %s.", holderName(h), escapeText(h.Err.Error())), width)
			}
		case inspect.HolderFailed:
			writeWrapped(w, "", fmt.Sprintf("%s: %s.", holderName(h), escapeText(describeFreeError(h.Err))), width)
		}
	}
	switch {
	case res.Free && res.Lingering+res.Connections > 0:
		fmt.Fprintf(w, "%s is free; %s still use it, which a server binds past with SO_REUSEADDR when their socket set it too (most servers do).\n",
			spec, platform.Plural(res.Lingering+res.Connections, "connection"))
	case res.Free:
		fmt.Fprintf(w, "%s is free.\n", spec)
	default:
		var who []string
		for i := range res.Remaining {
			who = appendNew(who, describeOwners(&res.Remaining[i]))
		}
		writeWrapped(w, "", fmt.Sprintf("%s is still held, by %s.", spec, strings.Join(who, ", ")), width)
		if opts.opts.Signal != syscall.SIGKILL {
			for _, h := range plan.Holders {
				if h.Result == inspect.HolderRunning && h.Action == inspect.FreeSignal {
					fmt.Fprintln(w, "--signal KILL ends a process that ignores "+platform.SignalName(opts.opts.Signal)+".")
					break
				}
			}
		}
	}
	return w.Flush()
}

// describeFreeError says why a holder could not be signalled or stopped,
// and what would do it.
func describeFreeError(err error) string {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) {
		return err.Error() + ": signalling another user's process needs root"
	}
	return err.Error()
}

// jsonFree is free's document.
type jsonFree struct {
	Schema  string           `json:"schema"`
	Host    jsonHost         `json:"host"`
	Ports   []string         `json:"ports"`
	Signal  string           `json:"signal"`
	DryRun  bool             `json:"dry_run"`
	Holders []jsonFreeHolder `json:"holders"`
	// Free is null when nothing was done (a dry run, or nothing allowed).
	Free        *bool               `json:"free"`
	Remaining   []jsonFindingSocket `json:"remaining"`
	Lingering   int                 `json:"time_wait"`
	Connections int                 `json:"connections"`
	Warnings    []string            `json:"warnings"`
}

type jsonFreeHolder struct {
	// Process is null for sockets no process is known to hold.
	Process *jsonProcess        `json:"process"`
	Sockets []jsonFindingSocket `json:"sockets"`
	Action  string              `json:"action"`
	Manager string              `json:"manager"`
	Command []string            `json:"command"`
	Reason  string              `json:"reason"`
	Result  string              `json:"result"`
	Error   string              `json:"error"`
}

func newJSONFree(plan *inspect.FreePlan, res *inspect.FreeResult, opts *freeOptions) *jsonFree {
	doc := &jsonFree{
		Schema:    jsonSchema,
		Host:      jsonHost{Hostname: plan.Host.Hostname, OS: plan.Host.OS, Privileged: plan.Host.Privileged},
		Ports:     opts.Specs,
		Signal:    platform.SignalName(opts.opts.Signal),
		DryRun:    opts.dryRun,
		Holders:   []jsonFreeHolder{},
		Remaining: []jsonFindingSocket{},
		Warnings:  append([]string{}, plan.Warnings...),
	}
	for _, h := range plan.Holders {
		jh := jsonFreeHolder{Sockets: jsonFindingSockets(h.Sockets), Action: h.Action, Manager: h.Manager, Command: h.Command, Reason: h.Reason, Result: h.Result}
		if h.Process != nil {
			jh.Process = newJSONProcess(h.Process)
		}
		if jh.Command == nil {
			jh.Command = []string{}
		}
		if h.Err != nil {
			jh.Error = h.Err.Error()
		}
		doc.Holders = append(doc.Holders, jh)
	}
	if res != nil {
		doc.Free = &res.Free
		doc.Remaining = jsonFindingSockets(res.Remaining)
		doc.Lingering, doc.Connections = res.Lingering, res.Connections
		doc.Warnings = append(doc.Warnings, res.Warnings...)
	} else if len(plan.Holders) == 0 {
		free := true
		doc.Free = &free
	}
	return doc
}

func jsonFindingSockets(socks []inspect.Socket) []jsonFindingSocket {
	out := []jsonFindingSocket{}
	for i := range socks {
		out = append(out, newJSONFindingSocket(&socks[i]))
	}
	return out
}
