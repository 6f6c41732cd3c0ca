package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

type listOptions struct {
	filters filterFlags
	out     outputFlags
	// ports are the PORTSPECs of --port and of the arguments.
	ports []string

	query inspect.Query
}

func (o *listOptions) parse(f *Factory) error {
	q, err := socketQuery(f, &o.out, &o.filters, o.ports)
	if err != nil {
		return err
	}
	if o.out.format == formatJSON {
		q.KnownPorts = inspect.KnownPortsListening
	}
	if o.out.format != formatTable {
		q.Detail = platform.DetailFull
	}
	// The firewall's verdicts cost a read of its rules: the wide table
	// and JSON show them.
	q.Reachability = o.out.format == formatWide || o.out.format == formatJSON
	o.query = q
	return nil
}

func newCmdList(f *Factory, runF func(*listOptions) error) *cobra.Command {
	opts := &listOptions{}
	cmd := &cobra.Command{
		Use:     "list [PORTSPEC...]",
		Aliases: []string{"ls"},
		Short:   "List every TCP and UDP socket with its owners",
		Long: `List every TCP and UDP socket, IPv4 and IPv6, with the processes that hold it,
like ss -tuap. Filters narrow the list; --no-processes skips the owner lookup.
PORTSPEC arguments are the same as --port. ss's habits work: -tulpn, -a, -n
and -p are accepted (names are never resolved, owners and every state are
shown anyway).

` + exposureHelp,
		Example: `  portinspect list -l
  portinspect list 22 --address 127.0.0.1
  portinspect ls -t --state established --process sshd
  portinspect list --port 3000-3100 --port 8080 -o json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ports = append(opts.ports, args...)
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
	cmd.Flags().StringArrayVar(&opts.ports, "port", nil, "sockets on these local ports only (a PORTSPEC; repeats)")
	return cmd
}

func listRun(f *Factory, opts *listOptions) error {
	rep, err := inspectMachine(f, opts.query, opts.out.format)
	if err != nil {
		return err
	}
	if len(rep.Sockets) == 0 && (opts.out.format == formatTable || opts.out.format == formatWide) {
		// A bare header says nothing; piped, rows for awk stay empty.
		out := f.IO.ErrOut
		if f.IO.OutTTY {
			out = f.IO.Out
		}
		fmt.Fprintln(out, "No socket matches.")
		return nil
	}
	return renderSockets(f.IO, rep, opts.out.format, columns{owners: !opts.query.NoProcesses, service: true})
}

// portspecHelp explains PORTSPEC in the help of the commands that take
// one as an argument.
const portspecHelp = `PORTSPEC is a port (3372), a range (3000-3100), either with /tcp or /udp, a
comma list (22,80,443/tcp), a service name (ssh, msdtc), or an address as ss,
logs and browsers print it (:3372, 127.0.0.1:3372, [::1]:3372,
localhost:3372, http://localhost:3000/), which also selects by local
address: a listener on 0.0.0.0 or :: counts for every address it takes.
Host names come from the hosts file, never from DNS.`

// exposureHelp explains the EXPOSURE column in the help of the commands
// that show it.
const exposureHelp = `EXPOSURE is who can reach a socket by its local address: loopback (127.0.0.0/8,
::1: this machine only), all (0.0.0.0 or ::: every interface; *:80 is an IPv6
socket that takes IPv4 too), address (one specific non-loopback address) or
interface (a wildcard bound to one network interface, shown 0.0.0.0%virbr0:53:
reached through that interface alone; bound to lo it is loopback).`
