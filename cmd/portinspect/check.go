package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
)

// checkPollInterval is how often --wait looks again.
const checkPollInterval = 250 * time.Millisecond

type checkOptions struct {
	listening, closed, owner, onlyLoopback []string
	reachable, filtered                    []string
	policyFiles                            []string
	wait                                   time.Duration
	quiet                                  bool
	allNetns                               bool
	out                                    outputFlags

	assertions []inspect.Assertion
}

func newCmdCheck(f *Factory, runF func(*checkOptions) error) *cobra.Command {
	opts := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Assert what must and must not listen, for provisioning scripts",
		Long: `Check assertions about this machine's listeners and exit 0 when every one
holds, 1 when one fails, 2 on bad input, 3 when the machine's sockets could
not be read. Each flag may repeat; SPEC is a PORTSPEC (22, 22/tcp, 8000-8100,
ssh), and @loopback, @all, @address, @interface or @beyond-loopback (any
but loopback) pins the exposure.

  --listening SPEC[@EXPOSURE]      something listens (a v4 or a v6 bind counts)
  --closed SPEC[@EXPOSURE]         nothing listens
  --owner SPEC=PROCESS             something listens, held by PROCESS only
                                   (a process name or executable path)
  --only-loopback SPEC             whatever listens is on loopback only
  --reachable SPEC[@EXPOSURE]      something listens that the host firewall lets
                                   the network reach (open, or from some sources)
  --filtered SPEC[@EXPOSURE]       whatever listens is out of the network's reach:
                                   on loopback, or stopped by the host firewall
  --policy FILE                    a policy file's require, allow, deny, reachable,
                                   filtered and default
                                   (repeats: every file's rules must hold)

--wait looks again until everything holds or the time runs out, for a
script that has just started a service.`,
		Example: `  portinspect check --listening 22/tcp --closed 3372 --only-loopback 6379
  portinspect check --listening 443/tcp@all --owner 443/tcp=nginx --wait 30s
  portinspect check --policy examples/linux-web-server.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return checkRun(f, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&opts.listening, "listening", nil, "SPEC[@EXPOSURE]: something must listen")
	fs.StringArrayVar(&opts.closed, "closed", nil, "SPEC[@EXPOSURE]: nothing may listen")
	fs.StringArrayVar(&opts.owner, "owner", nil, "SPEC=PROCESS or SPEC=container:NAME: what listens must be held by PROCESS, or serve container NAME")
	fs.StringArrayVar(&opts.onlyLoopback, "only-loopback", nil, "SPEC: what listens must be on loopback only")
	fs.StringArrayVar(&opts.reachable, "reachable", nil, "SPEC[@EXPOSURE]: something must listen that the host firewall lets the network reach")
	fs.StringArrayVar(&opts.filtered, "filtered", nil, "SPEC[@EXPOSURE]: whatever listens must be out of the network's reach (loopback, or stopped by the host firewall)")
	fs.StringArrayVar(&opts.policyFiles, "policy", nil, "a policy file (YAML) of required, allowed and denied listeners (repeats)")
	fs.DurationVar(&opts.wait, "wait", 0, "look again until everything holds or this time runs out (30s, 2m)")
	fs.BoolVarP(&opts.quiet, "quiet", "q", false, "print nothing: the exit status says it all")
	fs.BoolVarP(&opts.allNetns, "all-namespaces", "A", false, "hold the listeners of every network namespace to the assertions, not only this one's (Linux; needs root)")
	opts.out.add(cmd, formatTable, formatJSON)
	return cmd
}

func (o *checkOptions) parse(f *Factory) error {
	if err := o.out.parse(); err != nil {
		return err
	}
	if o.wait < 0 {
		return &inspect.UsageError{Msg: fmt.Sprintf("invalid --wait %s: want a duration of 0 or more", o.wait)}
	}
	names := f.names()
	for _, group := range []struct {
		kind inspect.AssertionKind
		args []string
	}{
		{inspect.AssertListening, o.listening},
		{inspect.AssertClosed, o.closed},
		{inspect.AssertOwner, o.owner},
		{inspect.AssertOnlyLoopback, o.onlyLoopback},
		{inspect.AssertReachable, o.reachable},
		{inspect.AssertFiltered, o.filtered},
	} {
		for _, arg := range group.args {
			a, err := inspect.ParseAssertion(group.kind, arg, names)
			if err != nil {
				return err
			}
			o.assertions = append(o.assertions, a)
		}
	}
	for _, path := range o.policyFiles {
		policy, err := readPolicy(path, names)
		if err != nil {
			return err
		}
		o.assertions = append(o.assertions, inspect.PolicyAssertions(policy)...)
	}
	if len(o.assertions) == 0 {
		return &inspect.UsageError{Msg: "check needs something to check: --listening, --closed, --owner, --only-loopback, --reachable, --filtered or --policy"}
	}
	return nil
}

// readPolicy reads and parses a policy file.
func readPolicy(path string, names inspect.Names) (*inspect.Policy, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, &inspect.UsageError{Msg: fmt.Sprintf("invalid --policy: %v", err)}
	}
	defer file.Close()
	return inspect.ParsePolicy(path, file, names)
}

func checkRun(f *Factory, opts *checkOptions) error {
	deadline := time.Now().Add(opts.wait)
	var results []inspect.Result
	var rep *inspect.Report
	for {
		err := withMachine(f, opts.out.format, func(src inspect.Source) (err error) {
			q := inspect.CheckQuery(opts.assertions)
			q.AllNetns = opts.allNetns
			rep, err = inspect.Run(context.Background(), src, nil, q)
			return err
		})
		if err != nil {
			return err
		}
		results = inspect.Evaluate(rep, opts.assertions)
		left := time.Until(deadline)
		if allHold(results) || left <= 0 {
			break
		}
		// The last look is at the deadline, not a poll before it.
		time.Sleep(min(checkPollInterval, left))
	}
	if !opts.quiet {
		warn(f.IO, rep.Warnings, opts.out.format)
		if err := renderCheck(f.IO.Out, rep, results, opts.out.format); err != nil {
			return err
		}
	}
	if !allHold(results) {
		return &errSilentExit{code: exitNotFound}
	}
	return nil
}

func allHold(results []inspect.Result) bool {
	for _, r := range results {
		if !r.OK {
			return false
		}
	}
	return true
}

// checkLine is one result for people and logs:
// "FAIL 3372/tcp closed: listening on 0.0.0.0:3372/tcp by tipd (pid 412)".
func checkLine(r inspect.Result) string {
	status := "ok  "
	if !r.OK {
		status = "FAIL"
	}
	what := r.Kind.String()
	if r.Spec != "" {
		what = r.Spec + " " + what
	}
	if r.Exposure != inspect.AnyExposure {
		what += "@" + r.Exposure.String()
	}
	switch {
	case r.Kind == inspect.AssertOwner:
		what += " " + r.Owner
	case r.Owner != "":
		what += " owner " + r.Owner
	}
	if r.Source != "" && r.Source[0] != '-' {
		what += " (" + r.Source + ")"
	}
	line := fmt.Sprintf("%s %s: %s", status, what, r.Found)
	if !r.OK && r.Reason != "" {
		line += " — " + r.Reason
	}
	return escapeText(line)
}

// jsonCheck is check's JSON document.
type jsonCheck struct {
	Schema   string            `json:"schema"`
	Host     jsonHost          `json:"host"`
	OK       bool              `json:"ok"`
	Results  []jsonCheckResult `json:"results"`
	Warnings []string          `json:"warnings"`
}

type jsonCheckResult struct {
	OK       bool                `json:"ok"`
	Kind     string              `json:"kind"`
	Spec     string              `json:"spec"`
	Exposure string              `json:"exposure"`
	Owner    string              `json:"owner"`
	Source   string              `json:"source"`
	Reason   string              `json:"reason"`
	Found    string              `json:"found"`
	Sockets  []jsonFindingSocket `json:"sockets"`
}

func renderCheck(out io.Writer, rep *inspect.Report, results []inspect.Result, format outputFormat) error {
	w := bufio.NewWriter(out)
	if format == formatJSON {
		doc := jsonCheck{
			Schema:   jsonSchema,
			Host:     jsonHost{Hostname: rep.Host.Hostname, OS: rep.Host.OS, Privileged: rep.Host.Privileged},
			OK:       allHold(results),
			Results:  make([]jsonCheckResult, len(results)),
			Warnings: rep.Warnings,
		}
		if doc.Warnings == nil {
			doc.Warnings = []string{}
		}
		for i, r := range results {
			jr := jsonCheckResult{
				OK: r.OK, Kind: r.Kind.String(), Spec: r.Spec, Exposure: r.Exposure.String(), Owner: r.Owner,
				Source: r.Source, Reason: r.Reason, Found: r.Found, Sockets: []jsonFindingSocket{},
			}
			for _, s := range r.Sockets {
				jr.Sockets = append(jr.Sockets, newJSONFindingSocket(s))
			}
			doc.Results[i] = jr
		}
		return writeJSONDoc(out, doc)
	}
	for _, r := range results {
		fmt.Fprintln(w, checkLine(r))
	}
	return w.Flush()
}
