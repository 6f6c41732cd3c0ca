package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
)

// outputFormat is how a command prints its answer.
type outputFormat string

const (
	formatTable      outputFormat = "table"
	formatWide       outputFormat = "wide"
	formatJSON       outputFormat = "json"
	formatCSV        outputFormat = "csv"
	formatMarkdown   outputFormat = "markdown"
	formatPrometheus outputFormat = "prometheus"
)

// socketFormats are the formats of the commands that list sockets or
// ports.
var socketFormats = []outputFormat{formatTable, formatWide, formatJSON, formatCSV}

// outputFlags are -o/--output and --json.
type outputFlags struct {
	output  string
	json    bool
	format  outputFormat
	allowed []outputFormat
}

func (o *outputFlags) add(cmd *cobra.Command, allowed ...outputFormat) {
	if len(allowed) == 0 {
		allowed = socketFormats
	}
	o.allowed = allowed
	cmd.Flags().StringVarP(&o.output, "output", "o", string(formatTable), "output format: "+o.list())
	cmd.Flags().BoolVar(&o.json, "json", false, "same as -o json")
	names := make([]string, len(allowed))
	for i, f := range allowed {
		names[i] = string(f)
	}
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(names, cobra.ShellCompDirectiveNoFileComp))
}

// list spells the allowed formats: "table, wide, json or csv".
func (o *outputFlags) list() string {
	names := make([]string, len(o.allowed))
	for i, f := range o.allowed {
		names[i] = string(f)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (o *outputFlags) parse() error {
	if o.json {
		if o.output != string(formatTable) && o.output != string(formatJSON) {
			return &inspect.UsageError{Msg: fmt.Sprintf("--json conflicts with -o %s", o.output)}
		}
		o.output = string(formatJSON)
	}
	for _, f := range o.allowed {
		if strings.EqualFold(o.output, string(f)) {
			o.format = f
			return nil
		}
	}
	return &inspect.UsageError{Msg: fmt.Sprintf("invalid output format %q: want %s", o.output, o.list())}
}

// filterFlags are the socket filters shared by list, port and audit.
// Flags that name things repeat, and their values add up: --port 22
// --port 80 is --port 22,80. --port and --pid take comma lists too.
type filterFlags struct {
	tcp, udp, ipv4, ipv6 bool
	listening            bool
	states               []string
	pids                 []string
	processes            []string
	users                []string
	addresses            []string
	noProcesses          bool
	allNetns             bool
	netns                string
	// ssHabits are ss's -a, -n and -p, which change nothing here: every
	// state is shown, names are never resolved, owners are shown.
	ssHabits [3]bool
}

func (fl *filterFlags) add(cmd *cobra.Command) {
	fl.addScope(cmd)
	fs := cmd.Flags()
	fs.BoolVarP(&fl.listening, "listening", "l", false, "TCP listeners and bound, unconnected UDP sockets only")
	fs.StringSliceVar(&fl.states, "state", nil, "sockets in these states only (LISTEN, ESTABLISHED, TIME_WAIT, UNCONN, connected, …)")
	fs.BoolVar(&fl.noProcesses, "no-processes", false, "skip the owner lookup (fastest)")
	for i, f := range []struct{ name, short string }{{"all", "a"}, {"numeric", "n"}, {"processes", "p"}} {
		fs.BoolVarP(&fl.ssHabits[i], f.name, f.short, false, "as ss -"+f.short+": accepted, changes nothing")
		fs.MarkHidden(f.name)
	}
}

// addScope adds the filters that make sense for audit too, which always
// looks at listeners and their owners.
func (fl *filterFlags) addScope(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVarP(&fl.tcp, "tcp", "t", false, "TCP sockets only")
	fs.BoolVarP(&fl.udp, "udp", "u", false, "UDP sockets only")
	fs.BoolVarP(&fl.ipv4, "ipv4", "4", false, "IPv4 sockets only")
	fs.BoolVarP(&fl.ipv6, "ipv6", "6", false, "IPv6 sockets only")
	fs.StringArrayVar(&fl.pids, "pid", nil, "sockets held by these process IDs only (repeat or comma-separate)")
	fs.StringArrayVar(&fl.processes, "process", nil, "sockets held by processes of this name or executable only (repeats)")
	fs.StringArrayVar(&fl.users, "user", nil, "sockets held by this user name or UID only (repeats)")
	fs.StringArrayVar(&fl.addresses, "address", nil, "sockets at this local address only: 127.0.0.1, ::1, localhost (repeats); a wildcard listener counts for every address it takes")
	fs.BoolVarP(&fl.allNetns, "all-namespaces", "A", false, "sockets of every network namespace (containers', ip netns's), not only this one's (Linux; entering them needs root)")
	fs.StringVar(&fl.netns, "netns", "", "sockets of one network namespace: an ip netns name, a Docker sandbox ID, a path to a namespace file, or a PID in it (Linux; needs root)")
}

// query turns the flags into a query.
func (fl *filterFlags) query(names inspect.Names) (inspect.Query, error) {
	q := inspect.Query{
		TCP: fl.tcp, UDP: fl.udp, IPv4: fl.ipv4, IPv6: fl.ipv6,
		Listening:   fl.listening,
		Processes:   fl.processes,
		Users:       fl.users,
		NoProcesses: fl.noProcesses,
		AllNetns:    fl.allNetns,
		Netns:       fl.netns,
	}
	switch {
	case fl.netns != "" && fl.allNetns:
		return q, &inspect.UsageError{Msg: "-A and --netns: want one, every network namespace or the one named"}
	case (fl.netns != "" || fl.allNetns) && runtime.GOOS != "linux":
		return q, &inspect.UsageError{Msg: fmt.Sprintf("-A and --netns are for Linux's network namespaces; %s has one network stack", runtime.GOOS)}
	}
	for _, arg := range fl.pids {
		for item := range strings.SplitSeq(arg, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(item))
			if err != nil || pid <= 0 {
				return q, &inspect.UsageError{Msg: fmt.Sprintf("invalid --pid %q: want a process ID above 0", item)}
			}
			q.PIDs = append(q.PIDs, pid)
		}
	}
	for _, arg := range fl.addresses {
		addrs, err := inspect.ParseAddress(arg, names)
		if err != nil {
			return q, err
		}
		q.Addresses = append(q.Addresses, addrs...)
	}
	if len(fl.states) > 0 {
		states, err := inspect.ParseStates(strings.Join(fl.states, ","))
		if err != nil {
			return q, err
		}
		q.States = states
	}
	return q, nil
}

// socketQuery checks the output flags and builds the query of the
// filters and PORTSPECs, as port, list, audit and free take them.
func socketQuery(f *Factory, out *outputFlags, filters *filterFlags, specs []string) (inspect.Query, error) {
	if err := out.parse(); err != nil {
		return inspect.Query{}, err
	}
	names := f.names()
	q, err := filters.query(names)
	if err != nil {
		return q, err
	}
	q.Ports, err = parsePortSpecs(specs, names)
	return q, err
}

// needPortSpec is the argument check of the commands that need a
// PORTSPEC.
func needPortSpec(command string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return &inspect.UsageError{Msg: command + " needs a PORTSPEC: a port 1-65535, a range, or a service name"}
		}
		return nil
	}
}

// parsePortSpecs parses PORTSPECs given as arguments or repeated --port
// flags into one set.
func parsePortSpecs(specs []string, names inspect.Names) (inspect.PortSet, error) {
	var set inspect.PortSet
	for _, spec := range specs {
		ports, err := inspect.ParsePortSpec(spec, names)
		if err != nil {
			return nil, err
		}
		set = append(set, ports...)
	}
	return set, nil
}
