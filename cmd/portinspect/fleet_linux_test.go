package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/portinspect/portinspect/internal/testtools"
)

// The fleet route of docs/fleet.md, run with the real tools: Debian's
// ansible-core, node_exporter, Prometheus and Alertmanager, which .ci/run
// installs. Each test makes its own network namespace, so that what
// listens there is only what the test started; the daemons listen on
// loopback ports of this machine's namespace (only a textfile crosses
// over).

const fleetDir = "../../examples/fleet"

// TestFleetPlaybook runs the playbook against localhost over a local
// connection, from a directory laid out as docs/fleet.md tells a user
// (dist/ with the binary, the policy beside it, group_vars/, a baseline
// saved on the host), and checks that it passes on a host that meets its
// policy and its baseline, and fails, naming what failed, when a denied
// listener appears (drift too) and when the policy and the baseline are
// broken.
func TestFleetPlaybook(t *testing.T) {
	requireRoot(t, "ip")
	testtools.Need(t, "ansible-playbook", "sudo")
	t.Parallel()
	inNS := newNetns(t)
	// Outside /tmp, or the audit flags the helpers' executable.
	helper := filepath.Join(ownBinDir(t), "pi-listen")
	startListenerAt(t, inNS, helper, "tcp4:127.0.0.1:8080")

	work := t.TempDir()
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("portinspect") // this test binary, portinspect by its name
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	// The binary and the policy install into the test's directory, not
	// over this machine's /usr/local/bin and /etc.
	writeFile(t, filepath.Join(work, "dist", "portinspect-linux-amd64"), string(b), 0o755)
	files := map[string]string{
		"inventory.ini": "localhost ansible_connection=local\n",
		"ansible.cfg":   "[defaults]\n",
		"group_vars/all.yml": "portinspect_binary: dist/portinspect-linux-amd64\n" +
			"portinspect_policy_source: policy.yaml\n" +
			"portinspect_path: " + work + "/bin/portinspect\n" +
			"portinspect_policy: " + work + "/etc/policy.yaml\n" +
			// The audit of the namespace the test made, not of every one.
			"portinspect_audit_args: [--netns, self]\n" +
			"portinspect_baseline: " + work + "/etc/baseline.json\n",
		"policy.yaml": "default: deny\nrequire:\n  - port: 8080/tcp\n    exposure: loopback\n" +
			"deny:\n  - port: 2375\n    reason: the Docker API must not listen\n",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(work, name), content, 0o644)
	}
	if err := os.Symlink(examples, filepath.Join(work, "examples")); err != nil {
		t.Fatal(err)
	}
	play := func(extra ...string) (string, int) {
		t.Helper()
		argv := append(append(slices.Clone(inNS), "ansible-playbook", "-i", "inventory.ini", "examples/fleet/portinspect.yml"), extra...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = work
		// Ansible wants a UTF-8 locale; its settings are its defaults, not
		// this machine's /etc/ansible. A stale PWD, as a parent that changed
		// directory leaves it: the playbook must not believe it.
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "ANSIBLE_NOCOLOR=1", "ANSIBLE_CONFIG="+filepath.Join(work, "ansible.cfg"),
			"ANSIBLE_STDOUT_CALLBACK=default", "PWD=/")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	expect := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("the play's output lacks %q:\n%s", w, out)
			}
		}
	}

	out, code := play("-e", "portinspect_binary=dist/nothing")
	if code != 2 {
		t.Errorf("with a binary that is not there: exit %d, want 2\n%s", code, out)
	}
	expect(out, "portinspect_binary dist/nothing: no such file at "+work+"/dist/nothing or "+work+"/examples/fleet/dist/nothing")

	// As docs/fleet.md says: saved once the host is as it should be.
	if err := os.MkdirAll(filepath.Join(work, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := portinspect(t, inNS, "baseline", "save", filepath.Join(work, "etc", "baseline.json"), "--netns", "self"); code != 0 {
		t.Fatalf("baseline save: exit %d, %s", code, errOut)
	}
	out, code = play()
	if code != 0 {
		t.Fatalf("on a host that meets its policy: exit %d\n%s", code, out)
	}
	expect(out, "localhost: 0 finding(s) at or above high, policy holds, 0 listener(s) drifted from the baseline")
	var drift struct{ Drift bool }
	if err := json.Unmarshal(readFile(t, filepath.Join(work, "reports", "localhost-baseline.json")), &drift); err != nil || drift.Drift {
		t.Errorf("reports/localhost-baseline.json: %v, drift %v", err, drift.Drift)
	}
	var check struct{ OK bool }
	if err := json.Unmarshal(readFile(t, filepath.Join(work, "reports", "localhost-check.json")), &check); err != nil || !check.OK {
		t.Errorf("reports/localhost-check.json: %v, ok %v", err, check.OK)
	}
	var audit struct {
		Sockets []struct {
			LocalPort int `json:"local_port"`
		}
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(work, "reports", "localhost-audit.json")), &audit); err != nil ||
		len(audit.Sockets) != 1 || audit.Sockets[0].LocalPort != 8080 {
		t.Errorf("reports/localhost-audit.json: %v, sockets %+v", err, audit.Sockets)
	}
	// A dry run still audits and checks: both only read.
	if out, code := play("--check"); code != 0 || !strings.Contains(out, "localhost: 0 finding(s) at or above high, policy holds") {
		t.Errorf("--check: exit %d\n%s", code, out)
	}

	// The Docker API on every interface: a critical finding, and a listener
	// the policy denies. ansible-playbook exits 2 when a host fails.
	startListenerAt(t, inNS, helper, "-comm", "dockerd", "tcp4:0.0.0.0:2375") // the program the note expects
	out, code = play()
	if code != 2 {
		t.Errorf("with a denied listener: exit %d, want 2\n%s", code, out)
	}
	expect(out, "localhost: 1 finding(s) at or above high, policy FAILS, 1 listener(s) drifted from the baseline",
		"audit: 1 finding(s) at or above high: critical exposed-risky-service 2375/tcp: ",
		"/etc/policy.yaml:6 deny 2375: listening on 0.0.0.0:2375/tcp by dockerd",
		"(the Docker API must not listen)",
		"baseline: 1 listener(s) drifted from "+work+"/etc/baseline.json:",
		"added *:2375/tcp by "+helper+";")

	writeFile(t, filepath.Join(work, "policy.yaml"), "require:\n  - port: 70000\n", 0o644)
	writeFile(t, filepath.Join(work, "etc", "baseline.json"), `{"schema": "something-else/v9"}`, 0o644)
	out, code = play()
	if code != 2 {
		t.Errorf("with a broken policy and baseline: exit %d, want 2\n%s", code, out)
	}
	// The host still gets its summary and its audit report, and fails at
	// the end with portinspect's messages.
	expect(out, "localhost: 1 finding(s) at or above high, check exited 2 (portinspect: "+work+"/etc/policy.yaml:2: ",
		", baseline diff exited 2 (portinspect: invalid baseline "+work+"/etc/baseline.json: ",
		`check: exit 2: portinspect: `+work+`/etc/policy.yaml:2: require[0].port: invalid port \"70000\": ports are 1-65535;`,
		"baseline: exit 2: portinspect: invalid baseline "+work+"/etc/baseline.json: ")
}

// TestFleetPrometheus writes the audit of a namespace with a high and a
// critical finding, held by processes with hostile names, into a textfile
// directory that a real node_exporter serves, and has a real Prometheus
// scrape it with the alerting rules loaded: node_exporter must serve every
// series as portinspect wrote it; PortinspectHighFinding (counting both
// findings) and PortinspectCriticalFinding must fire for the host, with no
// rule failing to evaluate; and a real Alertmanager with the shipped
// inhibit rule must tell only the critical one.
func TestFleetPrometheus(t *testing.T) {
	requireRoot(t, "ip")
	testtools.Need(t, "prometheus-node-exporter", "prometheus", "promtool", "prometheus-alertmanager")
	t.Parallel()
	inNS := newNetns(t)
	helper := filepath.Join(ownBinDir(t), "pi-listen")
	startListenerAt(t, inNS, helper, "-comm", "q\"b\\s\nn{l=\"x\"}", "tcp4:0.0.0.0:23")  // telnet: high
	startListenerAt(t, inNS, helper, "-comm", "\x1b[2J\xff\x07esc", "tcp4:0.0.0.0:2375") // Docker API: critical

	// As portinspect-textfile.service does it.
	textfiles := t.TempDir()
	metrics, errOut, code := portinspect(t, inNS, "audit", "--netns", "self", "-o", "prometheus")
	if code != 0 {
		t.Fatalf("audit -o prometheus: exit %d, %s", code, errOut)
	}
	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = strings.NewReader(metrics)
	if out, err := lint.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	writeFile(t, filepath.Join(textfiles, "portinspect.prom.tmp"), metrics, 0o644)
	if err := os.Rename(filepath.Join(textfiles, "portinspect.prom.tmp"), filepath.Join(textfiles, "portinspect.prom")); err != nil {
		t.Fatal(err)
	}

	exporter := startDaemon(t, "prometheus-node-exporter", "/metrics", "--collector.disable-defaults",
		"--collector.textfile", "--collector.textfile.directory="+textfiles)
	served := parseExposition(t, string(httpGet(t, "http://"+exporter+"/metrics")))
	if e := served["node_textfile_scrape_error"]; e == nil || len(e.Metric) != 1 || e.Metric[0].GetGauge().GetValue() != 0 {
		t.Errorf("node_textfile_scrape_error: %v, want 0", e)
	}
	wrote := parseExposition(t, metrics)
	for _, name := range []string{"portinspect_listener", "portinspect_findings", "portinspect_finding", "portinspect_audit_timestamp_seconds", "portinspect_audit_privileged"} {
		if wrote[name] == nil {
			t.Errorf("audit -o prometheus lacks %s", name)
		}
	}
	for name, want := range wrote {
		if got := served[name]; got == nil || !slices.Equal(seriesOf(got), seriesOf(want)) {
			t.Errorf("node_exporter serves %s as\n %q\nportinspect wrote\n %q", name, seriesOf(got), seriesOf(want))
		}
	}
	if listeners := strings.Join(seriesOf(served["portinspect_listener"]), "\n"); !strings.Contains(listeners, `process=q"b\s\x0an{l="x"}`) ||
		!strings.Contains(listeners, `process=\x1b[2J\xff\x07esc`) {
		t.Errorf("the hostile names are not served as portinspect escapes them:\n%s", listeners)
	}

	// Alertmanager with the shipped inhibit rule, its receiver a webhook of
	// this test's, and no cluster port (it would listen on every address).
	notified := make(chan string, 100)
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct{ Labels map[string]string }
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err == nil {
			for _, a := range msg.Alerts {
				notified <- a.Labels["alertname"]
			}
		}
	}))
	defer webhook.Close()
	dir := t.TempDir()
	var amConfig map[string]any
	if err := yaml.Unmarshal(readFile(t, filepath.Join(fleetDir, "portinspect-alertmanager.yml")), &amConfig); err != nil {
		t.Fatal(err)
	}
	amConfig["receivers"] = []any{map[string]any{"name": "default", "webhook_configs": []any{map[string]any{"url": webhook.URL, "send_resolved": false}}}}
	route := amConfig["route"].(map[string]any)
	route["group_wait"], route["group_interval"] = "1s", "1s"
	amYAML, err := yaml.Marshal(amConfig)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "alertmanager.yml"), string(amYAML), 0o644)
	alertmanager := startDaemon(t, "prometheus-alertmanager", "/-/ready", "--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "am"), "--cluster.listen-address=")

	// A test copy of the rules that fires after 2 seconds, not 10 minutes.
	rules := strings.ReplaceAll(string(readFile(t, filepath.Join(fleetDir, "portinspect-alerts.yml"))), "for: 10m", "for: 2s")
	writeFile(t, filepath.Join(dir, "rules.yml"), rules, 0o644)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["%s"]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["%s"]
`, exporter, alertmanager), 0o644)
	prometheus := startDaemon(t, "prometheus", "/-/ready", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"))

	type alert struct {
		Labels map[string]string
		State  string
		Value  string
	}
	var alerts []alert
	deadline := time.Now().Add(30 * time.Second)
	for {
		var resp struct{ Data struct{ Alerts []alert } }
		getJSON(t, "http://"+prometheus+"/api/v1/alerts", &resp)
		alerts = resp.Data.Alerts
		firing := 0
		for _, a := range alerts {
			if a.State == "firing" {
				firing++
			}
		}
		if firing >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var got []string
	for _, a := range alerts {
		got = append(got, fmt.Sprintf("%s %s %s severity=%s instance=%s", a.State, a.Labels["alertname"], a.Value, a.Labels["severity"], a.Labels["instance"]))
	}
	slices.Sort(got)
	want := []string{
		// Each listener's exposed-risky-service and, since neither holder
		// is the program its note expects, unexpected-program.
		"firing PortinspectCriticalFinding 2e+00 severity=critical instance=" + exporter,
		"firing PortinspectHighFinding 4e+00 severity=high instance=" + exporter,
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts\n %q\nwant\n %q", got, want)
	}

	// Alertmanager tells the critical alert, and the inhibit rule keeps the
	// high one of the same host quiet.
	var told []string
	timeout := time.After(30 * time.Second)
wait:
	for {
		select {
		case name := <-notified:
			told = append(told, name)
			if name == "PortinspectCriticalFinding" {
				timeout = time.After(3 * time.Second) // time for the high one to be told, wrongly
			}
		case <-timeout:
			break wait
		}
	}
	if !slices.Equal(told, []string{"PortinspectCriticalFinding"}) {
		t.Errorf("Alertmanager told %q, want only PortinspectCriticalFinding", told)
	}

	var rulesResp struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name, Health, LastError string }
			}
		}
	}
	getJSON(t, "http://"+prometheus+"/api/v1/rules", &rulesResp)
	n := 0
	for _, g := range rulesResp.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("rule %s: health %s, %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	if n != 5 {
		t.Errorf("Prometheus loaded %d rules, want 5", n)
	}
}

// startDaemon runs a daemon in this machine's network namespace with
// --web.listen-address on a free loopback port, waits until ready (a path
// only it serves) answers 200, stops it by its PID when the test ends, and
// returns its address. A port taken between freePort and the daemon's bind
// makes it exit at once: it is tried again on another.
func startDaemon(t *testing.T, name, ready string, args ...string) string {
	t.Helper()
	for range 3 {
		if addr, ok := tryDaemon(t, name, ready, args...); ok {
			return addr
		}
	}
	t.Fatalf("%s exited at start three times", name)
	return ""
}

func tryDaemon(t *testing.T, name, ready string, args ...string) (addr string, ok bool) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(name, append(args, "--web.listen-address="+addr)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Logf("%s exited: %v\n%s", name, err, logs.String())
			return "", false
		default:
		}
		if resp, err := http.Get("http://" + addr + ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(func() {
					stop()
					if t.Failed() {
						t.Logf("%s:\n%s", name, logs.String())
					}
				})
				return addr, true
			}
		}
	}
	stop()
	t.Fatalf("%s is not ready on %s:\n%s", name, addr, logs.String())
	return "", false
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v: %s", url, resp.Status, err, b)
	}
	return b
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal(httpGet(t, url), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// parseExposition reads the text exposition format as Prometheus does.
func parseExposition(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, text)
	}
	return families
}

// seriesOf lists a family's series as "name=value,… value", the labels
// and the series sorted.
func seriesOf(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(labels)
		out = append(out, fmt.Sprintf("%s %g", strings.Join(labels, ","), m.GetGauge().GetValue()))
	}
	slices.Sort(out)
	return out
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
