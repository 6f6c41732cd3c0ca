package main

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

// Exit codes, the same for every command (DESIGN.md).
const (
	exitOK       = 0
	exitNotFound = 1 // nothing on the port, an assertion failed, no entry
	exitUsage    = 2 // bad flags, PORTSPEC or policy file
	exitInspect  = 3 // no socket source at all
)

// errSilentExit carries an exit code for an outcome the command has
// already told the user about (nothing on the port).
type errSilentExit struct{ code int }

func (e *errSilentExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// inspectError is a failure to read the machine's sockets at all.
type inspectError struct{ err error }

func (e *inspectError) Error() string { return e.err.Error() }
func (e *inspectError) Unwrap() error { return e.err }

// Main runs portinspect with args and returns the exit code.
func Main(args []string, f *Factory) int {
	if len(args) > 0 && args[0] == platform.TryBindArg {
		return platform.TryBindChild(args[1:]) // why --user's child
	}
	root := newCmdRoot(f)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var silent *errSilentExit
	if errors.As(err, &silent) {
		return silent.code
	}
	// Errors quote what the user typed, which a paste can fill with
	// escape sequences.
	fmt.Fprintf(f.IO.ErrOut, "portinspect: %s\n", escapeText(oneLine(err.Error())))
	var ie *inspectError
	if errors.As(err, &ie) {
		return exitInspect
	}
	return exitUsage
}

// oneLine keeps an error to the single line the user reads.
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func newCmdRoot(f *Factory) *cobra.Command {
	opts := &portOptions{}
	root := &cobra.Command{
		Use:   "portinspect [PORTSPEC...]",
		Short: "What is on a port on this machine, and should it be?",
		Long: `portinspect lists TCP and UDP sockets with the processes that hold them, how
exposed they are, and what their ports are known for.

  portinspect 3372          what is on port 3372 (same as: portinspect port 3372)
  portinspect list -l       every listening socket
  portinspect audit         every listener: how exposed, how risky, what to do

` + portspecHelp + `

` + exposureHelp,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && cmd.Flags().NFlag() > 0 {
				return &inspect.UsageError{Msg: "missing PORTSPEC: a port 1-65535, a range, or a service name (or a command: portinspect list)"}
			}
			if len(args) == 0 {
				return cmd.Help()
			}
			opts.Specs = args
			if err := opts.parse(f); err != nil {
				return withSuggestion(cmd, args[0], err)
			}
			return portRun(f, opts)
		},
	}
	root.SuggestionsMinimumDistance = 2
	addPortFlags(root, opts)
	root.SetFlagErrorFunc(flagError)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.AddCommand(newCmdPort(f, nil), newCmdList(f, nil), newCmdAudit(f, nil), newCmdCheck(f, nil), newCmdWhy(f, nil), newCmdFree(f, nil), newCmdBaseline(f), newCmdWatch(f), newCmdLookup(f, nil), newCmdVersion(f))
	root.InitDefaultCompletionCmd()
	if completion, _, err := root.Find([]string{"completion"}); err == nil {
		// Without this, "completion tcsh" prints help and exits 0.
		completion.Args = cobra.ArbitraryArgs
		completion.RunE = func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &inspect.UsageError{Msg: "completion needs a shell: bash, zsh, fish or powershell (portinspect completion bash)"}
			}
			return &inspect.UsageError{Msg: fmt.Sprintf("invalid shell %q: want bash, zsh, fish or powershell", args[0])}
		}
	}
	return root
}

// flagError makes a flag error a usage error. "-1" is read as a flag
// before anyone can read it as a port; say what it is.
func flagError(_ *cobra.Command, err error) error {
	msg := err.Error()
	if _, arg, ok := strings.Cut(msg, "unknown shorthand flag: "); ok {
		if _, arg, ok = strings.Cut(arg, " in "); ok && len(arg) > 1 && arg[1] >= '0' && arg[1] <= '9' {
			return &inspect.UsageError{Msg: fmt.Sprintf("invalid port %q: ports are 1-65535", arg)}
		}
	}
	return &inspect.UsageError{Msg: msg}
}

// withSuggestion adds "did you mean list?" when a mistyped command was read
// as a PORTSPEC.
func withSuggestion(cmd *cobra.Command, arg string, err error) error {
	var ue *inspect.UsageError
	if !errors.As(err, &ue) {
		return err
	}
	if s := cmd.SuggestionsFor(arg); len(s) > 0 {
		return &inspect.UsageError{Msg: fmt.Sprintf("%s (did you mean %q?)", ue.Msg, s[0])}
	}
	// "portinspect diff FILE": a command of a command, as baseline's are.
	for _, parent := range cmd.Commands() {
		for _, sub := range parent.Commands() {
			if sub.Name() == arg {
				return &inspect.UsageError{Msg: fmt.Sprintf("%s is a command of %s: portinspect %s %s", arg, parent.Name(), parent.Name(), sub.Use)}
			}
		}
	}
	return err
}

func newCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(f.IO.Out, "portinspect %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// version is the module version `go install` recorded, or the VCS revision
// of a local build.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
