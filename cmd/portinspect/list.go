package main

import (
	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

type listOptions struct {
	filters filterFlags
	out     outputFlags
	port    string

	query inspect.Query
}

func (o *listOptions) parse(f *Factory) error {
	if err := o.out.parse(); err != nil {
		return err
	}
	q, err := o.filters.query()
	if err != nil {
		return err
	}
	if o.port != "" {
		if q.Ports, err = inspect.ParsePortSpec(o.port, inspect.ResolverFrom(f.KnownPorts())); err != nil {
			return err
		}
	}
	if o.out.format == formatJSON {
		q.KnownPorts = inspect.KnownPortsListening
	}
	if o.out.format != formatTable {
		q.Detail = platform.DetailFull
	}
	o.query = q
	return nil
}

func newCmdList(f *Factory, runF func(*listOptions) error) *cobra.Command {
	opts := &listOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List every TCP and UDP socket with its owners",
		Long: `List every TCP and UDP socket, IPv4 and IPv6, with the processes that hold it,
like ss -tuap. Filters narrow the list; --no-processes skips the owner lookup.`,
		Example: `  portinspect list -l
  portinspect ls -t --state established --process sshd
  portinspect list --port 3000-3100 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(f, opts)
		},
	}
	opts.filters.add(cmd)
	opts.out.add(cmd)
	cmd.Flags().StringVar(&opts.port, "port", "", "sockets on these local ports only (a PORTSPEC)")
	return cmd
}

func listRun(f *Factory, opts *listOptions) error {
	rep, err := inspectMachine(f, opts.query, opts.out.format)
	if err != nil {
		return err
	}
	return renderSockets(f.IO, rep, opts.out.format, columns{owners: !opts.query.NoProcesses, service: true})
}
