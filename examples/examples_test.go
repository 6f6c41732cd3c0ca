package examples

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/internal/testtools"
	"github.com/portinspect/portinspect/knownports"
)

func parsePolicy(t *testing.T, path string) *inspect.Policy {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pol, err := inspect.ParsePolicy(path, f, inspect.Names{Services: inspect.ResolverFrom(knownports.Default())})
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// TestPolicies parses every example policy as `check --policy` would.
func TestPolicies(t *testing.T) {
	paths, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 2 {
		t.Fatalf("example policies: %v, want at least two", paths)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			pol := parsePolicy(t, path)
			if len(pol.Require)+len(pol.Allow)+len(pol.Deny) == 0 {
				t.Error("no rules")
			}
			for _, rules := range [][]inspect.PolicyRule{pol.Require, pol.Deny} {
				for _, r := range rules {
					if r.Reason == "" {
						t.Errorf("line %d: rule %s has no reason", r.Line, r.Spec)
					}
				}
			}
		})
	}
}

// TestPolicyContents checks what the issue asks of each example.
func TestPolicyContents(t *testing.T) {
	denied := func(pol *inspect.Policy, port uint16, exposure inspect.ExposureSelector) bool {
		return slices.ContainsFunc(pol.Deny, func(r inspect.PolicyRule) bool {
			return r.Exposure == exposure && slices.ContainsFunc(r.Ports, func(pr inspect.PortRange) bool {
				return pr.Low <= port && port <= pr.High && pr.TCP
			})
		})
	}

	win := parsePolicy(t, "windows-workstation.yaml")
	if win.Default != inspect.DefaultAllow {
		t.Error("windows-workstation: default is not allow")
	}
	for _, port := range []uint16{3372, 445, 3389, 139} {
		if !denied(win, port, inspect.AnyExposure) {
			t.Errorf("windows-workstation: %d/tcp is not denied everywhere", port)
		}
	}
	for _, port := range []uint16{5985, 5986, 5357} {
		if !denied(win, port, inspect.BeyondLoopback) {
			t.Errorf("windows-workstation: %d/tcp is not denied beyond loopback", port)
		}
	}

	web := parsePolicy(t, "linux-web-server.yaml")
	if web.Default != inspect.DefaultDeny {
		t.Error("linux-web-server: default is not deny")
	}
	var required []string
	for _, r := range web.Require {
		required = append(required, r.Spec+" "+r.Owner)
	}
	if want := []string{"443/tcp nginx", "80/tcp nginx", "22/tcp "}; !slices.Equal(required, want) {
		t.Errorf("linux-web-server requires %q, want %q", required, want)
	}
	for _, port := range []uint16{6379, 11211, 3306, 5432} {
		if !denied(web, port, inspect.BeyondLoopback) {
			t.Errorf("linux-web-server: %d/tcp is not denied beyond loopback", port)
		}
	}
	if !denied(web, 2375, inspect.AnyExposure) {
		t.Error("linux-web-server: 2375/tcp is not denied")
	}
}

// The metrics `portinspect audit -o prometheus` writes, with their labels.
var metrics = map[string][]string{
	"portinspect_listener":                {"port", "protocol", "address", "exposure", "process", "service", "netns"},
	"portinspect_findings":                {"severity"},
	"portinspect_finding":                 {"rule", "severity", "port", "protocol"},
	"portinspect_audit_timestamp_seconds": nil,
	"portinspect_audit_privileged":        nil,
}

// scrapeLabels are the labels Prometheus adds to every scraped series.
var scrapeLabels = []string{"instance", "job"}

// TestAlertRules checks the alerting rules as Prometheus loads them
// (promtool check rules does the same), and that their expressions use
// only the metrics and labels portinspect writes.
func TestAlertRules(t *testing.T) {
	const path = "fleet/portinspect-alerts.yml"
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		return
	}
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			checkMetrics(t, r.Alert, expr)
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want a summary and a description", r.Alert)
			}
		}
	}
	want := []string{"PortinspectHighFinding", "PortinspectCriticalFinding", "PortinspectNewListener", "PortinspectBaselineDrift", "PortinspectAuditStale"}
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %q, want %q", alerts, want)
	}
}

// checkMetrics reports selectors, matchings and groupings in expr that
// name a metric or label portinspect does not write, and matchings "on"
// labels that not every series has.
func checkMetrics(t *testing.T, alert string, expr parser.Expr) {
	t.Helper()
	known := func(metric, label string) bool {
		return slices.Contains(scrapeLabels, label) || slices.Contains(metrics[metric], label)
	}
	knownAnywhere := func(label string) bool {
		for metric := range metrics {
			if known(metric, label) {
				return true
			}
		}
		return false
	}
	var names []string
	parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			if _, ok := metrics[n.Name]; !ok {
				t.Errorf("%s: unknown metric %q", alert, n.Name)
			}
			names = append(names, n.Name)
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && !known(n.Name, m.Name) {
					t.Errorf("%s: %s has no label %q", alert, n.Name, m.Name)
				}
			}
		case *parser.BinaryExpr:
			if n.VectorMatching == nil {
				break
			}
			for _, l := range n.VectorMatching.MatchingLabels {
				switch {
				case n.VectorMatching.On && !slices.Contains(scrapeLabels, l):
					t.Errorf("%s: matching on %q, which not every operand has", alert, l)
				case !knownAnywhere(l):
					t.Errorf("%s: ignoring %q, which no portinspect metric has", alert, l)
				}
			}
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				if !knownAnywhere(l) {
					t.Errorf("%s: aggregating by or without %q, which no portinspect metric has", alert, l)
				}
			}
		}
		return nil
	})
	if len(names) == 0 {
		t.Errorf("%s: no portinspect metric in the expression", alert)
	}
}

// TestFleetYAML checks that the YAML files under fleet/ are valid YAML and
// that the playbook has the shape Ansible wants: plays with hosts and
// tasks, each task naming one fully qualified ansible.builtin module.
func TestFleetYAML(t *testing.T) {
	paths, err := filepath.Glob("fleet/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}

	b, err := os.ReadFile("fleet/portinspect.yml")
	if err != nil {
		t.Fatal(err)
	}
	var plays []struct {
		Name  string           `yaml:"name"`
		Hosts string           `yaml:"hosts"`
		Tasks []map[string]any `yaml:"tasks"`
	}
	if err := yaml.Unmarshal(b, &plays); err != nil {
		t.Fatal(err)
	}
	if len(plays) == 0 {
		t.Fatal("playbook: no plays")
	}
	taskKeys := []string{"name", "register", "when", "changed_when", "failed_when", "check_mode", "delegate_to", "become", "run_once", "loop", "loop_control"}
	var commands []string
	for _, play := range plays {
		if play.Name == "" || play.Hosts == "" || len(play.Tasks) == 0 {
			t.Errorf("play %q: want a name, hosts and tasks", play.Name)
		}
		for _, task := range play.Tasks {
			var modules []string
			for k := range task {
				if !slices.Contains(taskKeys, k) {
					modules = append(modules, k)
				}
			}
			if len(modules) != 1 || !strings.HasPrefix(modules[0], "ansible.builtin.") {
				t.Errorf("task %q: modules %q, want one ansible.builtin module", task["name"], modules)
				continue
			}
			if modules[0] == "ansible.builtin.command" {
				// argv is a list, or an expression that makes one.
				args, _ := task[modules[0]].(map[string]any)
				if expr, ok := args["argv"].(string); ok {
					commands = append(commands, expr)
					continue
				}
				argv, _ := args["argv"].([]any)
				var words []string
				for _, a := range argv {
					words = append(words, a.(string))
				}
				commands = append(commands, strings.Join(words, " "))
			}
		}
	}
	want := []string{
		"{{ [pi_path, 'audit', '--output', 'json', '--fail-on', pi_fail_on] + pi_audit_args }}",
		"{{ pi_path }} check --policy {{ pi_policy }} --output json",
		"{{ [pi_path, 'baseline', 'diff', pi_baseline, '--output', 'json'] + pi_audit_args }}",
	}
	if !slices.Equal(commands, want) {
		t.Errorf("commands\n %q\nwant\n %q", commands, want)
	}
}

// TestTextfileService runs the timer's service commands with a stand-in
// for portinspect, as systemd would run them, and checks that they create
// the textfile directory, leave the metrics in portinspect.prom and no
// temporary file, and leave the old file alone when portinspect fails.
func TestTextfileService(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("systemd units run on Linux")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	unit, err := os.ReadFile("fleet/portinspect-textfile.service")
	if err != nil {
		t.Fatal(err)
	}
	var execStartPre, execStart, env []string
	for line := range strings.Lines(string(unit)) {
		key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		switch {
		case !ok:
		case key == "ExecStartPre":
			// "+" only lifts the sandbox, which this test has not.
			execStartPre = append(execStartPre, strings.TrimPrefix(value, "+"))
		case key == "ExecStart":
			execStart = append(execStart, value)
		case key == "Environment":
			env = append(env, value)
		}
	}
	if len(execStartPre) != 1 || len(execStart) != 1 || len(env) != 1 {
		t.Fatalf("ExecStartPre %q, ExecStart %q, Environment %q: want one of each", execStartPre, execStart, env)
	}
	const textfileDir = "/var/lib/node_exporter/textfile_collector"
	if !strings.Contains(string(unit), "\nReadWritePaths=-"+textfileDir+"\n") || env[0] != "TEXTFILE_DIR="+textfileDir {
		t.Errorf("the textfile directory is not %s throughout, or ReadWritePaths= fails the unit when it is missing", textfileDir)
	}
	// The unit's commands for a textfile directory of the test's own.
	// systemd passes the single-quoted script as one argument, as sh does.
	dir := t.TempDir()
	textfiles := filepath.Join(dir, "var", "textfile_collector")
	var cmdlines []string
	for _, c := range append(execStartPre, execStart...) {
		cmdline, err := systemdExpand(c, []string{"TEXTFILE_DIR=" + textfiles})
		if err != nil {
			t.Fatal(err)
		}
		cmdlines = append(cmdlines, cmdline)
	}
	const binary = "/usr/local/bin/portinspect"
	if !strings.Contains(cmdlines[1], binary+" audit -o prometheus") {
		t.Fatalf("ExecStart %q does not run %s audit -o prometheus", cmdlines[1], binary)
	}

	fake := filepath.Join(dir, "portinspect")
	run := func(script string) error {
		t.Helper()
		if err := os.WriteFile(fake, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, cmdline := range cmdlines {
			cmd := exec.Command(sh, "-c", strings.ReplaceAll(cmdline, binary, fake))
			cmd.Env = append(os.Environ(), "TEXTFILE_DIR="+textfiles)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if stderr.Len() > 0 {
				t.Logf("stderr: %s", stderr.String())
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	const metrics = "portinspect_audit_privileged 1\n"
	if err := run(`[ "$*" = "audit -o prometheus" ] || exit 2; printf '` + metrics + `'`); err != nil {
		t.Fatal(err)
	}
	checkTextfiles(t, textfiles, metrics)
	if err := run("echo partial; exit 3"); err == nil {
		t.Error("the service succeeds when portinspect fails")
	}
	checkTextfiles(t, textfiles, metrics)
}

// systemdExpand expands a command line about as systemd does before
// running it: "$$" is "$", "%%" is "%", and $NAME and ${NAME} are the
// unit's Environment= values, or nothing. It is stricter than systemd,
// which leaves a $NAME inside a word alone, so that a "$" left unescaped
// shows. It refuses other % specifiers.
func systemdExpand(s string, env []string) (string, error) {
	vars := make(map[string]string)
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars[k] = v
	}
	isName := func(c byte) bool {
		return c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+1 < len(s) && s[i+1] == '%':
			b.WriteByte('%')
			i++
		case c == '%':
			return "", fmt.Errorf("ExecStart %q: specifier at %d: the test knows none", s, i)
		case c == '$' && i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i++
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("ExecStart %q: unclosed ${", s)
			}
			b.WriteString(vars[s[i+2:i+end]])
			i += end
		case c == '$':
			j := i + 1
			for j < len(s) && isName(s[j]) {
				j++
			}
			b.WriteString(vars[s[i+1:j]])
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func checkTextfiles(t *testing.T, dir, want string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"portinspect.prom"}) {
		t.Fatalf("textfile directory holds %q, want only portinspect.prom", names)
	}
	b, err := os.ReadFile(filepath.Join(dir, "portinspect.prom"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("portinspect.prom = %q, want %q", b, want)
	}
}

// TestTimer checks that the timer starts the service every 5 minutes.
func TestTimer(t *testing.T) {
	b, err := os.ReadFile("fleet/portinspect-textfile.timer")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nOnUnitActiveSec=5min\n", "\nWantedBy=timers.target\n"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the timer lacks %q", strings.TrimSpace(want))
		}
	}
}

// TestPromtool checks the alerting rules with Prometheus's promtool, and
// runs their unit tests (fleet/*_test.yml), which assert the labels and
// annotations of each alert as Prometheus sends it to Alertmanager.
func TestPromtool(t *testing.T) {
	testtools.Need(t, "promtool")
	tests, err := filepath.Glob("fleet/*_test.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no unit tests in fleet/ (%v)", err)
	}
	runTool(t, "promtool", "check", "rules", "fleet/portinspect-alerts.yml")
	runTool(t, "promtool", append([]string{"test", "rules"}, tests...)...)
}

// TestAmtool checks the Alertmanager settings as Alertmanager loads them.
func TestAmtool(t *testing.T) {
	testtools.Need(t, "amtool")
	runTool(t, "amtool", "check-config", "fleet/portinspect-alertmanager.yml")
}

// TestSystemdVerify checks the units with systemd-analyze verify, which
// exits 0 even for an unknown key: any message fails the test.
func TestSystemdVerify(t *testing.T) {
	testtools.Need(t, "systemd-analyze")
	if out := runTool(t, "systemd-analyze", "verify", "fleet/portinspect-textfile.service", "fleet/portinspect-textfile.timer"); out != "" {
		t.Errorf("systemd-analyze verify:\n%s", out)
	}
}

// runTool runs a program and returns what it printed, failing t when it
// exits with an error.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
