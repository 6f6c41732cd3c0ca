package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/platformtest"
)

func TestAuditTable(t *testing.T) {
	out, errOut, code := runCLI(t, platformtest.Risky(), true, "audit")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	assertContains(t, "output", out,
		"Audit of ws1 (linux, privileged): 7 listeners on 7 ports, 8 findings: 3 high, 2 medium, 3 info\n",
		"SEVERITY  RULE                   PORT       FINDING\n",
		"high      exposed-risky-service  2049/udp   NFS server is reachable beyond loopback on 0.0.0.0:2049\n",
		// The finding's text wraps within its column.
		"medium    exposed-risky-service  3372/tcp   MSDTC TIP listener is reachable beyond loopback on\n"+
			"                                            0.0.0.0:3372, held by tipd (pid 10)\n",
		"What to do about 3372/tcp (exposed-risky-service, medium) on Linux:\n  1. ",
		"What to do about 4747/tcp (suspicious-executable, high) on Linux:\n  1. ",
		"       ps -o pid,ppid,user,lstart,args -p 40\n",
		"\nListeners\nPORT   PROTO  SERVICE",
		"3372   tcp    msdtc",
	)
	if strings.Contains(out, "on Windows:") {
		t.Errorf("the text report gives other platforms' advice:\n%s", out)
	}
	// Every finding says what to do, and every line fits the terminal.
	if n := strings.Count(out, "\nWhat to do about "); n != 8 {
		t.Errorf("%d findings say what to do, want 8", n)
	}
	for _, line := range strings.Split(out, "\n") {
		if displayWidth(line) > 100 && !strings.HasPrefix(line, "       ") {
			t.Errorf("line wider than the terminal: %q", line)
		}
	}
	// Piped: one row per finding.
	out, _, _ = runCLI(t, platformtest.Risky(), false, "audit")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 8 || lines[0] != "high\texposed-risky-service\t2049/udp\tNFS server is reachable beyond loopback on 0.0.0.0:2049" {
		t.Errorf("piped:\n%s", out)
	}
}

// TestAuditAdviceQuotesPaths checks that a command built on an untrusted
// executable path can be pasted safely and cannot reach the terminal raw.
func TestAuditAdviceQuotesPaths(t *testing.T) {
	m := platformtest.Risky()
	p := m.Processes[40]
	p.Exe = "/tmp/pq'\x1b[7mx/x"
	m.Processes[40] = p
	for _, format := range []string{"table", "markdown"} {
		out, _, _ := runCLI(t, m, true, "audit", "-o", format)
		if strings.ContainsRune(out, '\x1b') || !strings.Contains(out, `ls -la '/tmp/pq'\''\x1b[7mx'`) {
			t.Errorf("-o %s:\n%s", format, out)
		}
	}
}

func TestAuditSummaryPlurals(t *testing.T) {
	m := &platformtest.Fake{
		SocketList: []platform.Socket{platformtest.Sock(platform.TCP, "0.0.0.0:3372", "0.0.0.0:0", platform.Listen, 1)},
		Holders:    map[uint64][]int{1: {10}},
		Processes:  map[int]platform.Process{10: {PID: 10, Name: "tipd", Exe: "/usr/sbin/tipd"}},
		Machine:    platform.Host{Hostname: "ws1", OS: "linux", Privileged: true},
	}
	out, _, _ := runCLI(t, m, true, "audit")
	if want := "Audit of ws1 (linux, privileged): 1 listener on 1 port, 1 finding: 1 medium\n"; !strings.HasPrefix(out, want) {
		t.Errorf("got %q, want %q", strings.SplitN(out, "\n", 2)[0], want)
	}
}

// TestAuditFailOnBlind checks that a gate that could not see every owner
// fails unless told it may, and says why on stderr.
func TestAuditFailOnBlind(t *testing.T) {
	blind := func() *platformtest.Fake {
		m := platformtest.Workstation() // not privileged; 8080's owner hidden
		return m
	}
	_, errOut, code := runCLI(t, blind(), false, "audit", "--fail-on", "high")
	if code != exitNotFound || !strings.Contains(errOut, "portinspect: --fail-on high: this audit could not see every owner (the owners of 1 listener are hidden)") ||
		!strings.Contains(errOut, "run as root, or pass --allow-partial") {
		t.Errorf("blind gate: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, blind(), false, "audit", "--fail-on", "high", "--allow-partial"); code != 0 || strings.Contains(errOut, "--fail-on") {
		t.Errorf("--allow-partial: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCLI(t, platformtest.Risky(), false, "audit", "--fail-on", "high")
	if code != exitNotFound || !strings.Contains(errOut, "portinspect: --fail-on high: 3 findings at or above high\n") {
		t.Errorf("failing gate: exit %d, stderr %q", code, errOut)
	}
	out, errOut, code := runCLI(t, platformtest.Risky(), false, "audit", "--fail-on", "high", "-q")
	if code != exitNotFound || out != "" || errOut != "" {
		t.Errorf("-q: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, _, code := runCLI(t, platformtest.Risky(), false, "audit", "-q"); code != 0 || out != "" {
		t.Errorf("-q without --fail-on: exit %d, stdout %q", code, out)
	}
	for _, args := range [][]string{{"--fail-on", ""}, {"--fail-on="}, {"--allow-partial"}} {
		_, errOut, code := runCLI(t, platformtest.Risky(), false, append([]string{"audit"}, args...)...)
		if code != exitUsage || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestAuditFailOn(t *testing.T) {
	for _, tt := range []struct {
		failOn string
		code   int
	}{{"", 0}, {"info", 1}, {"high", 1}, {"critical", 0}} {
		args := []string{"audit", "-o", "json"}
		if tt.failOn != "" {
			args = append(args, "--fail-on", tt.failOn)
		}
		if _, _, code := runCLI(t, platformtest.Risky(), false, args...); code != tt.code {
			t.Errorf("--fail-on %q: exit %d, want %d", tt.failOn, code, tt.code)
		}
	}
	_, errOut, code := runCLI(t, platformtest.Risky(), false, "audit", "--fail-on", "severe")
	if code != exitUsage || !strings.Contains(errOut, `invalid --fail-on "severe": want info, low, medium, high or critical`) {
		t.Errorf("bad --fail-on: exit %d, %q", code, errOut)
	}
}

func TestAuditJSON(t *testing.T) {
	out, _, code := runCLI(t, platformtest.Risky(), false, "audit", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for field, kind := range map[string]string{"schema": "string", "host": "object", "findings": "array", "sockets": "array", "known_ports": "array", "warnings": "array"} {
		if got := jsonKind(doc[field]); got != kind {
			t.Errorf("%s is %s, want %s", field, got, kind)
		}
	}
	findings := doc["findings"].([]any)
	if len(findings) != 8 {
		t.Fatalf("%d findings", len(findings))
	}
	f := findings[3].(map[string]any) // medium exposed-risky-service 3372/tcp
	for field, kind := range map[string]string{
		"rule": "string", "severity": "string", "message": "string", "port": "number", "protocol": "string",
		"sockets": "array", "processes": "array", "advice": "array",
	} {
		if got := jsonKind(f[field]); got != kind {
			t.Errorf("finding %s is %s, want %s", field, got, kind)
		}
	}
	if f["rule"] != "exposed-risky-service" || f["port"] != 3372.0 || f["severity"] != "medium" {
		t.Errorf("finding %v", f)
	}
	p := f["processes"].([]any)[0].(map[string]any)
	if p["pid"] != 10.0 || p["name"] != "tipd" {
		t.Errorf("process %v", p)
	}
	s := f["sockets"].([]any)[0].(map[string]any)
	if s["local_address"] != "0.0.0.0" || s["local_port"] != 3372.0 || s["exposure"] != "all" {
		t.Errorf("socket %v", s)
	}
	for _, s := range doc["sockets"].([]any) {
		if st := s.(map[string]any)["state"]; st != "LISTEN" && st != "UNCONN" {
			t.Errorf("audit lists a %v socket", st)
		}
	}
}

func TestAuditMarkdownEscapes(t *testing.T) {
	m := platformtest.Risky()
	p := m.Processes[30]
	p.Name = "evil|*`\x1b[2J"
	m.Processes[30] = p
	out, _, code := runCLI(t, m, false, "audit", "-o", "markdown")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertContains(t, "markdown", out,
		"# portinspect audit of ws1\n",
		"| severity | findings |\n|---|---|\n| critical | 0 |\n| high | 3 |\n",
		"### high: exposed-risky-service, 2049/udp\n",
		"\nWhat to do on Linux:\n\n1. See whether",
		"\n   ```\n   sudo ss -ltnup 'sport = :2049'\n",
		"| 47002 | tcp |",
		`evil\|\*\`+"`"+`\\x1b\[2J`,
	)
	if strings.ContainsRune(out, '\x1b') {
		t.Error("markdown has a raw ESC")
	}
}

func TestAuditPrometheusDuplicatesSummed(t *testing.T) {
	m := platformtest.Risky()
	// Two SO_REUSEPORT twins: one series of value 2.
	m.SocketList = append(m.SocketList, platformtest.Sock(platform.TCP, "0.0.0.0:3372", "0.0.0.0:0", platform.Listen, 9))
	m.Holders[9] = []int{10}
	out, _, _ := runCLI(t, m, false, "audit", "-o", "prometheus")
	if !strings.Contains(out, `portinspect_listener{port="3372",protocol="tcp",address="0.0.0.0",exposure="all",process="tipd",service="msdtc"} 2`+"\n") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Count(out, `portinspect_findings{severity=`) != 5 || !strings.Contains(out, `portinspect_findings{severity="high"} 3`) {
		t.Errorf("findings by severity:\n%s", out)
	}
	if !strings.Contains(out, `portinspect_audit_privileged 1`) || !strings.Contains(out, "# TYPE portinspect_audit_timestamp_seconds gauge\n") {
		t.Errorf("output:\n%s", out)
	}
}

// TestAuditPrometheusNetns labels other namespaces' listeners with names
// that last: the container's, the namespace's, or its inode, never the
// PID a namespace was found by.
func TestAuditPrometheusNetns(t *testing.T) {
	m := platformtest.Risky()
	for i, ns := range []*platform.Netns{
		{Inode: 4026532240, PID: 4242},
		{Inode: 4026532241, PID: 4343, Name: "pidemo"},
		{Inode: 4026532242, PID: 4444, Container: &container.Container{Runtime: container.Docker, ID: strings.Repeat("ab", 32), Name: "web1"}},
		{Inode: 4026532243, Own: true},
	} {
		s := platformtest.Sock(platform.TCP, "0.0.0.0:"+strconv.Itoa(18000+i), "0.0.0.0:0", platform.Listen, uint64(90+i))
		s.Netns = ns
		m.SocketList = append(m.SocketList, s)
	}
	out, _, _ := runCLI(t, m, false, "audit", "-o", "prometheus")
	for i, want := range []string{`,netns="net:[4026532240]"} 1`, `,netns="pidemo"} 1`, `,netns="web1"} 1`, `service=""} 1`} {
		line := regexp.MustCompile(`(?m)^portinspect_listener\{port="` + strconv.Itoa(18000+i) + `".*$`).FindString(out)
		if !strings.HasSuffix(line, want) {
			t.Errorf("port %d: %q, want it to end %q", 18000+i, line, want)
		}
	}
}

// TestAuditPrometheusParses reads audit's exposition back with Prometheus's
// own parser, hostile names included.
func TestAuditPrometheusParses(t *testing.T) {
	m := platformtest.Risky()
	p := m.Processes[10]
	p.Name = "ti\"p\\d\n\x1b"
	m.Processes[10] = p
	out, _, code := runCLI(t, m, false, "audit", "-o", "prometheus")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	for _, name := range []string{"portinspect_listener", "portinspect_findings", "portinspect_finding", "portinspect_audit_timestamp_seconds", "portinspect_audit_privileged"} {
		f := families[name]
		if f == nil || f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s: %v", name, f)
		}
	}
	if n := len(families["portinspect_listener"].GetMetric()); n != 7 {
		t.Errorf("%d listener series, want 7", n)
	}
	found := false
	for _, m := range families["portinspect_listener"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["port"] == "3372" {
			found = true
			if labels["process"] != `ti"p\d\x0a\x1b` || labels["exposure"] != "all" || labels["service"] != "msdtc" || m.GetGauge().GetValue() != 1 {
				t.Errorf("3372 series %v = %v", labels, m.GetGauge().GetValue())
			}
		}
	}
	if !found {
		t.Error("no series for 3372")
	}
	var high float64
	for _, m := range families["portinspect_findings"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "high" {
			high = m.GetGauge().GetValue()
		}
	}
	if high != 3 {
		t.Errorf("high findings %v, want 3", high)
	}
}
