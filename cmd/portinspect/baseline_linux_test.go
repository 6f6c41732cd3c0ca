package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBaselineRoundTrip saves the listeners of a namespace the test made,
// then drifts: a listener added, one held by another program, one gone;
// diff says each, in every format, and --accept makes them the baseline.
func TestBaselineRoundTrip(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	file := filepath.Join(t.TempDir(), "baseline.json")
	web, _ := startListener(t, inNS, "-comm", "nginx", "tcp4:0.0.0.0:18080")
	startListener(t, inNS, "-comm", "postgres", "tcp4:127.0.0.1:15432")
	if _, errOut, code := portinspect(t, inNS, "baseline", "save", file, "--netns", "self"); code != 0 || !strings.Contains(errOut, "Saved 2 listeners") {
		t.Fatalf("save: exit %d, %s", code, errOut)
	}
	var saved struct {
		Schema    string
		Listeners []struct {
			Protocol, Address, Program string
			Port                       int
		}
	}
	raw, _ := os.ReadFile(file)
	if err := json.Unmarshal(raw, &saved); err != nil || saved.Schema != "portinspect-baseline/v1" || len(saved.Listeners) != 2 ||
		saved.Listeners[0].Port != 15432 || saved.Listeners[1].Address != "*" {
		t.Fatalf("the file: %v\n%s", err, raw)
	}
	if out, _, code := portinspect(t, inNS, "baseline", "diff", file, "--netns", "self"); code != 0 || !strings.HasPrefix(out, "No drift: 2 listeners") {
		t.Errorf("diff, nothing changed: exit %d, %q", code, out)
	}

	// Drift: a new listener; nginx's port taken by another program.
	startListener(t, inNS, "-comm", "redis-server", "tcp4:127.0.0.1:16379")
	syscall.Kill(web, syscall.SIGKILL)
	waitPortClosed(t, inNS, 18080)
	// Another executable: the same helper copied elsewhere.
	startListenerAt(t, inNS, filepath.Join(ownBinDir(t), "pi-listen"), "tcp4:0.0.0.0:18080")
	out, _, code := portinspect(t, inNS, "baseline", "diff", file, "--netns", "self")
	if code != 1 || !strings.Contains(out, "added    tcp 127.0.0.1:16379") || !strings.Contains(out, "changed  tcp *:18080") {
		t.Errorf("diff after drift: exit %d:\n%s", code, out)
	}
	out, _, _ = portinspect(t, inNS, "baseline", "diff", file, "--netns", "self", "-o", "prometheus")
	if !strings.Contains(out, `portinspect_baseline_drift{change="added"} 1`) || !strings.Contains(out, `portinspect_baseline_drift{change="changed"} 1`) {
		t.Errorf("prometheus:\n%s", out)
	}
	out, _, _ = portinspect(t, inNS, "baseline", "diff", file, "--netns", "self", "-o", "markdown")
	if !strings.Contains(out, "| added | `tcp 127.0.0.1:16379` |") {
		t.Errorf("markdown:\n%s", out)
	}
	out, _, _ = portinspect(t, inNS, "audit", "--netns", "self", "--baseline", file, "-o", "json")
	var audit struct{ Findings []auditJSONFinding }
	json.Unmarshal([]byte(out), &audit)
	rules := map[string]string{}
	for _, f := range audit.Findings {
		rules[f.Rule] = f.Severity
	}
	if rules["new-listener"] != "low" || rules["changed-owner"] != "medium" {
		t.Errorf("audit --baseline: %+v", audit.Findings)
	}

	// --accept: the drift becomes the baseline.
	if _, _, code := portinspect(t, inNS, "baseline", "diff", file, "--netns", "self", "--accept"); code != 1 {
		t.Errorf("diff --accept reports the drift it accepts: exit %d", code)
	}
	if out, _, code := portinspect(t, inNS, "baseline", "diff", file, "--netns", "self", "-o", "json"); code != 0 || !strings.Contains(out, `"drift": false`) {
		t.Errorf("diff after --accept: exit %d:\n%s", code, out)
	}

	// Gone.
	listeners, _, _ := portinspect(t, inNS, "list", "-l", "--port", "16379", "-o", "json")
	var doc struct {
		Sockets []struct{ Processes []struct{ PID int } }
	}
	json.Unmarshal([]byte(listeners), &doc)
	syscall.Kill(doc.Sockets[0].Processes[0].PID, syscall.SIGKILL)
	waitPortClosed(t, inNS, 16379)
	if out, _, code := portinspect(t, inNS, "baseline", "diff", file, "--netns", "self"); code != 1 || !strings.Contains(out, "removed  tcp 127.0.0.1:16379") {
		t.Errorf("diff after a listener went: exit %d:\n%s", code, out)
	}

	for _, bad := range []string{`{"schema": "portinspect/v1"}`, "not json"} {
		os.WriteFile(file, []byte(bad), 0o644)
		if _, errOut, code := portinspect(t, inNS, "baseline", "diff", file); code != 2 || !strings.Contains(errOut, "invalid baseline "+file) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("a damaged baseline %q: exit %d, %q", bad, code, errOut)
		}
	}
}

// waitPortClosed waits until nothing listens on port in the namespace.
func waitPortClosed(t *testing.T, prefix []string, port int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, _, code := portinspect(t, prefix, "port", strconv.Itoa(port), "-l"); code == 1 {
			return
		}
	}
	t.Fatalf("port %d still listens", port)
}
