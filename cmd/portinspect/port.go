package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

type portOptions struct {
	Specs   []string
	filters filterFlags
	out     outputFlags
	// full prints each port's whole known-ports entry, not its summary.
	full bool

	query inspect.Query
}

func addPortFlags(cmd *cobra.Command, opts *portOptions) {
	opts.filters.add(cmd)
	opts.out.add(cmd)
	cmd.Flags().BoolVarP(&opts.full, "full", "v", false, "the whole known-ports entry of each port, as portinspect lookup prints it")
}

// parse checks the flags and PORTSPECs and builds the query.
func (o *portOptions) parse(f *Factory) error {
	q, err := socketQuery(f, &o.out, &o.filters, o.Specs)
	if err != nil {
		return err
	}
	q.Clients = true
	q.KnownPorts = inspect.KnownPortsAsked
	// Even the table describes each process in full under the sockets.
	q.Detail = platform.DetailFull
	q.Reachability = true
	o.query = q
	return nil
}

func newCmdPort(f *Factory, runF func(*portOptions) error) *cobra.Command {
	opts := &portOptions{}
	cmd := &cobra.Command{
		Use:   "port PORTSPEC...",
		Short: "Show the sockets on local ports, their owners and what the ports are",
		Long: `Show every TCP and UDP socket whose local port matches, listeners first, then
this machine's clients of the port, with the processes that hold them, how
exposed they are, and what the port is known for. The answer fits a screen
and is the same piped as on a terminal; --full prints the port's whole entry.

` + portspecHelp + `

` + exposureHelp + `

Exit status: 0 something is on the port (or NAT rules publish it), 1
nothing is, 2 bad input, 3 the machine's sockets could not be read.`,
		Example: `  portinspect port 3372
  portinspect port 127.0.0.1:8080
  portinspect port 22,80,443/tcp -o json
  portinspect port msdtc --full`,
		Args: needPortSpec("port"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Specs = args
			if err := opts.parse(f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return portRun(f, opts)
		},
	}
	addPortFlags(cmd, opts)
	return cmd
}

func portRun(f *Factory, opts *portOptions) error {
	rep, err := inspectMachine(f, opts.query, opts.out.format)
	if err != nil {
		return err
	}
	if err := renderPort(f.IO, rep, opts); err != nil {
		return err
	}
	// Clients alone (TIME_WAIT after the server went) are nothing on the
	// port.
	// A port that NAT rules publish answers, though no socket holds it.
	if len(rep.Published) == 0 && !slices.ContainsFunc(rep.Sockets, func(s inspect.Socket) bool { return s.Role != inspect.RoleClient }) {
		return &errSilentExit{code: exitNotFound}
	}
	return nil
}

// inspectMachine runs q against the machine.
func inspectMachine(f *Factory, q inspect.Query, format outputFormat) (*inspect.Report, error) {
	var rep *inspect.Report
	err := withMachine(f, format, func(src inspect.Source) (err error) {
		rep, err = inspect.Run(context.Background(), src, f.KnownPorts(), q)
		return err
	})
	if err != nil {
		return nil, err
	}
	warn(f.IO, rep.Warnings, format)
	return rep, nil
}

// withMachine runs fn with the machine's socket source. Bad input in the
// query is returned as it is; when the machine's sockets cannot be read at
// all, a JSON document saying so is still printed, and the error is an
// *inspectError.
func withMachine(f *Factory, format outputFormat, fn func(inspect.Source) error) error {
	src, err := f.Inspector()
	if err == nil {
		err = fn(src)
	}
	if ue := (*inspect.UsageError)(nil); err == nil || errors.As(err, &ue) {
		return err
	}
	if format == formatJSON {
		if werr := writeJSONReport(f.IO.Out, failedReport(err), nil); werr != nil {
			return werr
		}
	}
	return &inspectError{err: err}
}

// warn prints a report's warnings on stderr; JSON carries them inside.
func warn(ios *IOStreams, warnings []string, format outputFormat) {
	if format == formatJSON {
		return
	}
	// Warnings quote file names and errors that others may have chosen.
	for _, w := range warnings {
		fmt.Fprintf(ios.ErrOut, "portinspect: warning: %s\n", escapeText(w))
	}
}

// describeSpecs names what a port query asked for, for the sentence that
// says nothing is there.
func describeSpecs(specs []string) string {
	return escapeText(strings.Join(specs, ", "))
}
