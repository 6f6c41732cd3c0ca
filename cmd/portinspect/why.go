package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

type whyOptions struct {
	Spec      string
	address   string
	user      string
	udp       bool
	tcp       bool
	reusePort bool
	program   string
	out       outputFlags

	request inspect.BindRequest
}

func newCmdWhy(f *Factory, runF func(*whyOptions) error) *cobra.Command {
	opts := &whyOptions{}
	cmd := &cobra.Command{
		Use:   "why PORTSPEC",
		Short: "Say whether a bind of the port would succeed, and if not, why and what to do",
		Long: `Say whether a server could bind the port, and if not, every reason found, with
what shows it and what to do: a listener that holds the address (the
conflict rules of wildcards, IPv6 dual-stack and SO_REUSEPORT applied),
connections or TIME_WAIT that only SO_REUSEADDR gets past, a privileged
port, an address that is not this host's, and the risks beside them: a
port in the ephemeral range, a port that NAT rules forward elsewhere, a
listener in another network namespace (no conflict). For the caller, a
bind is then tried and closed at once, and a failure nothing here explains
is reported with its error. It never keeps the port.

PORTSPEC is one port, or a service name, perhaps with an address
(127.0.0.1:8080); --address names it otherwise. The default address is the
wildcard, 0.0.0.0 and [::]; the default protocol TCP.

Exit status: 0 the bind would succeed, 1 it would not (or failed for a
reason not found), 2 bad input, 3 the machine's sockets could not be read.`,
		Example: `  portinspect why 8080
  portinspect why 127.0.0.1:5432
  portinspect why 80 --user www-data
  portinspect why 53 -u -o json
  portinspect why 8080 --reuseport
  portinspect why 443 --user caddy --program /usr/bin/caddy`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &inspect.UsageError{Msg: "why needs one PORTSPEC: a port 1-65535 or a service name, perhaps with an address"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Spec = args[0]
			if err := opts.parse(f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return whyRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.address, "address", "", "the address to bind (default the wildcard, 0.0.0.0 and [::])")
	fl.StringVar(&opts.user, "user", "", "who binds: a user name or UID (default the caller)")
	fl.BoolVarP(&opts.tcp, "tcp", "t", false, "a TCP bind (the default)")
	fl.BoolVarP(&opts.udp, "udp", "u", false, "a UDP bind")
	fl.StringVar(&opts.program, "program", "", "the program that will bind: its file capabilities count (Linux)")
	fl.BoolVar(&opts.reusePort, "reuseport", false, "a bind that sets SO_REUSEPORT, to join the listeners there (same user only)")
	opts.out.add(cmd, formatTable, formatJSON)
	return cmd
}

func (o *whyOptions) parse(f *Factory) error {
	if err := o.out.parse(); err != nil {
		return err
	}
	if o.tcp && o.udp {
		return &inspect.UsageError{Msg: "why takes one protocol: -t or -u, not both"}
	}
	names := f.names()
	set, err := inspect.ParsePortSpec(o.Spec, names)
	if err != nil {
		return err
	}
	port, addrs := uint16(0), []netip.Addr(nil)
	for _, r := range set {
		if r.Low != r.High || port != 0 && r.Low != port {
			return &inspect.UsageError{Msg: fmt.Sprintf("invalid PORTSPEC %q for why: want one port, not a range or list", o.Spec)}
		}
		port, addrs = r.Low, append(addrs, r.Addrs...)
	}
	if port == 0 {
		return &inspect.UsageError{Msg: fmt.Sprintf("invalid PORTSPEC %q for why: want a port 1-65535", o.Spec)}
	}
	if o.address != "" {
		if len(addrs) > 0 {
			return &inspect.UsageError{Msg: fmt.Sprintf("PORTSPEC %q names an address, and so does --address %q: give one", o.Spec, o.address)}
		}
		if addrs, err = inspect.ParseAddress(o.address, names); err != nil {
			return err
		}
	}
	o.request = inspect.BindRequest{Protocol: platform.TCP, Addrs: dedupeAddrs(addrs), Port: port, UID: -1, ReusePort: o.reusePort}
	if o.udp {
		o.request.Protocol = platform.UDP
	}
	if o.program != "" {
		path, err := exec.LookPath(o.program)
		if err != nil {
			return &inspect.UsageError{Msg: fmt.Sprintf("invalid --program %q: no such program file", o.program)}
		}
		if path, err = filepath.Abs(path); err != nil {
			return &inspect.UsageError{Msg: fmt.Sprintf("invalid --program %q: %v", o.program, err)}
		}
		o.request.Program = path
		if caps, err := platform.ProgramCaps(path); err == nil {
			o.request.ProgramCaps = &caps
		}
	}
	return nil
}

// dedupeAddrs keeps each address once: "localhost" may name one twice.
func dedupeAddrs(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func whyRun(f *Factory, opts *whyOptions) error {
	var ans *inspect.BindAnswer
	err := withMachine(f, opts.out.format, func(src inspect.Source) error {
		req := opts.request
		if opts.user != "" {
			uid, ok := src.LookupUser(opts.user)
			if !ok {
				return &inspect.UsageError{Msg: fmt.Sprintf("invalid --user %q: no such user here", opts.user)}
			}
			if uid != int64(os.Geteuid()) {
				req.User, req.UID = opts.user, uid
			}
		}
		var err error
		ans, err = inspect.Why(context.Background(), src, req)
		return err
	})
	if err != nil {
		return err
	}
	if opts.out.format == formatJSON {
		if err := writeJSONDoc(f.IO.Out, newJSONWhy(ans)); err != nil {
			return err
		}
	} else {
		warn(f.IO, ans.Warnings, opts.out.format)
		if err := writeWhy(f.IO.Out, ans, textWidth(f.IO)); err != nil {
			return err
		}
	}
	if ans.Verdict != inspect.BindFree {
		return &errSilentExit{code: exitNotFound}
	}
	return nil
}

// describeBind names the bind asked about: "0.0.0.0:8080 and [::]:8080
// (tcp) as this user".
func describeBind(req inspect.BindRequest) string {
	var parts []string
	for _, a := range req.BindAddrs() {
		parts = append(parts, netip.AddrPortFrom(a, req.Port).String())
	}
	who := "this user"
	if req.User != "" {
		who = "user " + escapeText(req.User)
	}
	return fmt.Sprintf("%s (%s) as %s", strings.Join(parts, " and "), req.Protocol, who)
}

// writeWhy prints the verdict, then each reason with its evidence, fix and
// commands, then the binds tried.
func writeWhy(out io.Writer, ans *inspect.BindAnswer, width int) error {
	w := bufio.NewWriter(out)
	verdict := map[string]string{
		inspect.BindFree:    "would succeed",
		inspect.BindBlocked: "would fail",
		inspect.BindUnknown: "fails, for a reason not found here",
	}[ans.Verdict]
	fmt.Fprintf(w, "%s: a bind of %s %s.\n", strings.ToUpper(ans.Verdict[:1])+ans.Verdict[1:], describeBind(ans.Request), verdict)
	for _, r := range ans.Reasons {
		fmt.Fprintln(w)
		label := r.Code
		if r.Blocks {
			label += ", blocks"
		}
		writeWrapped(w, "", fmt.Sprintf("%s (%s)", escapeText(r.Summary), label), width)
		for _, e := range r.Evidence {
			writeWrapped(w, "  seen: ", escapeText(e), width)
		}
		if r.Fix != "" {
			writeWrapped(w, "  fix:  ", r.Fix, width)
		}
		for _, c := range r.Commands {
			fmt.Fprintf(w, "        %s\n", escapeText(c))
		}
	}
	if len(ans.Tried) > 0 {
		fmt.Fprintln(w)
		for _, t := range ans.Tried {
			result := "ok"
			if t.Err != nil {
				result = t.Err.Error()
			}
			var opts []string
			if t.Reuse {
				opts = append(opts, "SO_REUSEADDR")
			}
			if t.ReusePort {
				opts = append(opts, "SO_REUSEPORT")
			}
			opt := ""
			if len(opts) > 0 {
				opt = " with " + strings.Join(opts, " and ")
			}
			fmt.Fprintf(w, "Tried: bind(%s)%s: %s\n", t.Addr, opt, result)
		}
	}
	return w.Flush()
}

// jsonWhy is why's document.
type jsonWhy struct {
	Schema   string          `json:"schema"`
	Host     jsonHost        `json:"host"`
	Verdict  string          `json:"verdict"`
	Request  jsonBindRequest `json:"request"`
	Reasons  []jsonReason    `json:"reasons"`
	Tried    []jsonBindTry   `json:"tried"`
	Warnings []string        `json:"warnings"`
}

type jsonBindRequest struct {
	Protocol  string   `json:"protocol"`
	Addresses []string `json:"addresses"`
	Port      uint16   `json:"port"`
	// User is "" for the caller.
	User      string `json:"user"`
	ReusePort bool   `json:"reuseport"`
}

type jsonReason struct {
	Code     string              `json:"code"`
	Blocks   bool                `json:"blocks"`
	Summary  string              `json:"summary"`
	Evidence []string            `json:"evidence"`
	Fix      string              `json:"fix"`
	Commands []string            `json:"commands"`
	Sockets  []jsonFindingSocket `json:"sockets"`
}

type jsonBindTry struct {
	Address   string `json:"address"`
	Port      uint16 `json:"port"`
	ReuseAddr bool   `json:"reuseaddr"`
	ReusePort bool   `json:"reuseport"`
	// Error is the system's, "" for a bind that succeeded.
	Error string `json:"error"`
}

func newJSONWhy(ans *inspect.BindAnswer) *jsonWhy {
	doc := &jsonWhy{
		Schema:   jsonSchema,
		Host:     jsonHost{Hostname: ans.Host.Hostname, OS: ans.Host.OS, Privileged: ans.Host.Privileged},
		Verdict:  ans.Verdict,
		Request:  jsonBindRequest{Protocol: ans.Request.Protocol.String(), Addresses: []string{}, Port: ans.Request.Port, User: ans.Request.User, ReusePort: ans.Request.ReusePort},
		Reasons:  []jsonReason{},
		Tried:    []jsonBindTry{},
		Warnings: ans.Warnings,
	}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	for _, a := range ans.Request.Addrs {
		doc.Request.Addresses = append(doc.Request.Addresses, a.String())
	}
	for _, r := range ans.Reasons {
		jr := jsonReason{Code: r.Code, Blocks: r.Blocks, Summary: r.Summary, Evidence: r.Evidence, Fix: r.Fix, Commands: r.Commands, Sockets: []jsonFindingSocket{}}
		if jr.Evidence == nil {
			jr.Evidence = []string{}
		}
		if jr.Commands == nil {
			jr.Commands = []string{}
		}
		for i := range r.Sockets {
			jr.Sockets = append(jr.Sockets, newJSONFindingSocket(&r.Sockets[i]))
		}
		doc.Reasons = append(doc.Reasons, jr)
	}
	for _, t := range ans.Tried {
		jt := jsonBindTry{Address: t.Addr.Addr().String(), Port: t.Addr.Port(), ReuseAddr: t.Reuse, ReusePort: t.ReusePort}
		if t.Err != nil {
			jt.Error = t.Err.Error()
		}
		doc.Tried = append(doc.Tried, jt)
	}
	return doc
}
