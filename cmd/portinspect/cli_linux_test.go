package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/portinspect/portinspect/internal/testtools"
)

// jsonDoc is the part of the JSON contract these tests read.
type jsonDoc struct {
	Host struct {
		Privileged bool
		OS         string
	}
	Sockets []struct {
		Protocol     string
		LocalAddress string `json:"local_address"`
		LocalPort    int    `json:"local_port"`
		State        string
		Exposure     string
		OwnerStatus  string `json:"owner_status"`
		Role         string
		Device       string
		Processes    []struct {
			PID     int
			Name    string
			Cmdline []string
		}
	}
	KnownPorts []struct {
		Port  int
		Notes []struct{ Title string }
	} `json:"known_ports"`
	Warnings []string
}

// portinspect runs the portinspect command (this test binary) through
// prefix and returns its output and exit code.
func portinspect(t *testing.T, prefix []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin, err := exec.LookPath("portinspect")
	if err != nil {
		t.Fatal(err)
	}
	return runCommand(t, append(append(prefix, bin), args...))
}

func runCommand(t *testing.T, argv []string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%q: %v", argv, err)
	}
	return out.String(), errOut.String(), code
}

func decode(t *testing.T, out string) jsonDoc {
	t.Helper()
	var doc jsonDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	return doc
}

func requireRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	testtools.Need(t, tools...)
}

// TestNetnsListener starts listeners on port 3372 in a fresh network
// namespace, as the loaded-host bench does, and asks from inside it.
func TestNetnsListener(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	pid, _ := startListener(t, inNS, "tcp4:127.0.0.1:3372", "tcp6:[::]:3372", "udp4:0.0.0.0:3372")

	out, errOut, code := portinspect(t, inNS, "3372", "-o", "json")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	doc := decode(t, out)
	want := []string{"tcp 127.0.0.1 LISTEN loopback", "tcp :: LISTEN all", "udp 0.0.0.0 UNCONN all"}
	if len(doc.Sockets) != len(want) {
		t.Fatalf("sockets %+v, want %q", doc.Sockets, want)
	}
	for i, s := range doc.Sockets {
		got := strings.Join([]string{s.Protocol, s.LocalAddress, s.State, s.Exposure}, " ")
		if got != want[i] || s.LocalPort != 3372 || s.OwnerStatus != "known" || len(s.Processes) != 1 || s.Processes[0].PID != pid {
			t.Errorf("socket %d: %s %+v, want %s held by pi-listen %d", i, got, s, want[i], pid)
		}
	}
	if !doc.Host.Privileged || len(doc.KnownPorts) != 1 || doc.KnownPorts[0].Port != 3372 || len(doc.KnownPorts[0].Notes) == 0 {
		t.Errorf("host %+v, known ports %+v", doc.Host, doc.KnownPorts)
	}

	// Outside the namespace, this machine's own port 3372 is another
	// matter: the namespace's sockets must not leak into it.
	out, _, _ = portinspect(t, nil, "3372", "-o", "json")
	for _, s := range decode(t, out).Sockets {
		for _, p := range s.Processes {
			if p.PID == pid {
				t.Errorf("the namespace's socket %+v is listed outside it", s)
			}
		}
	}
}

// publicCopy puts this test binary, as portinspect, where an unprivileged
// user can run it.
func publicCopy(t *testing.T) string {
	t.Helper()
	src, err := exec.LookPath("portinspect")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "portinspect-public")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "portinspect")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestUnprivilegedOwnersHidden runs portinspect as nobody against a
// listener root holds: the socket is shown, its owner is hidden, and one
// warning names the privilege that would show it.
func TestUnprivilegedOwnersHidden(t *testing.T) {
	requireRoot(t, "setpriv")
	_, ports := startListener(t, nil, "tcp4:127.0.0.1:0")
	port := strconv.Itoa(ports[0])
	bin := publicCopy(t)
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin}

	out, errOut, code := runCommand(t, append(nobody, port, "-o", "json"))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	doc := decode(t, out)
	if doc.Host.Privileged {
		t.Error("nobody is privileged")
	}
	if len(doc.Sockets) != 1 || doc.Sockets[0].OwnerStatus != "hidden" || len(doc.Sockets[0].Processes) != 0 {
		t.Fatalf("sockets %+v, want one with a hidden owner", doc.Sockets)
	}
	const warning = "owners of 1 socket are hidden: run as root (or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH) to see them"
	if len(doc.Warnings) != 1 || doc.Warnings[0] != warning {
		t.Errorf("warnings %q", doc.Warnings)
	}

	out, errOut, code = runCommand(t, append(nobody, port))
	if code != 0 || errOut != "portinspect: warning: "+warning+"\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "  LISTEN  loopback  -    (hidden)\n") || !strings.Contains(out, "  1 socket has a hidden owner (see the warning)\n") {
		t.Errorf("answer:\n%s", out)
	}

	// /proc mounted with hidepid=2 hides root's processes from nobody
	// without an error: the owner is still hidden, not "none".
	if _, err := exec.LookPath("unshare"); err == nil {
		script := "mount -t proc -o hidepid=2 proc /proc && exec " + strings.Join(append(nobody, port, "-o", "json"), " ")
		out, errOut, code = runCommand(t, []string{"unshare", "-m", "sh", "-c", script})
		if code != 0 {
			t.Fatalf("hidepid: exit %d, stderr %q", code, errOut)
		}
		doc = decode(t, out)
		if len(doc.Sockets) != 1 || doc.Sockets[0].OwnerStatus != "hidden" || len(doc.Warnings) != 1 || doc.Warnings[0] != warning {
			t.Errorf("hidepid: sockets %+v, warnings %q", doc.Sockets, doc.Warnings)
		}
	}

	// The capabilities the warning names are enough.
	withCaps := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=+sys_ptrace,+dac_read_search", "--ambient-caps=+sys_ptrace,+dac_read_search", bin}
	out, errOut, code = runCommand(t, append(withCaps, port, "-o", "json"))
	if code != 0 {
		t.Fatalf("with capabilities: exit %d, stderr %q", code, errOut)
	}
	doc = decode(t, out)
	if !doc.Host.Privileged || len(doc.Sockets) != 1 || doc.Sockets[0].OwnerStatus != "known" {
		t.Errorf("with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: host %+v sockets %+v", doc.Host, doc.Sockets)
	}
}

// TestHostileProcessName gives a real listener a name full of terminal
// escape sequences.
func TestHostileProcessName(t *testing.T) {
	const name = "\x1b]0;pwn\x07\x1b[2J"
	pid, ports := startListener(t, nil, "-comm", name, "tcp4:127.0.0.1:0")
	port := strconv.Itoa(ports[0])
	for _, format := range []string{"table", "wide", "csv"} {
		out, _, code := portinspect(t, nil, port, "-o", format)
		if code != 0 {
			t.Fatalf("-o %s: exit %d", format, code)
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("-o %s prints raw control characters: %q", format, out)
		}
		if !strings.Contains(out, `\x1b]0;pwn\x07\x1b[2J`) {
			t.Errorf("-o %s lacks the escaped name: %q", format, out)
		}
	}
	out, _, _ := portinspect(t, nil, port, "-o", "json")
	doc := decode(t, out)
	if len(doc.Sockets) != 1 || len(doc.Sockets[0].Processes) != 1 || doc.Sockets[0].Processes[0].Name != name || doc.Sockets[0].Processes[0].PID != pid {
		t.Errorf("JSON must keep the true name: %+v", doc.Sockets)
	}
}

// auditDoc is the part of audit's JSON these tests read.
type auditDoc struct {
	Host     struct{ Privileged bool }
	Findings []struct {
		Rule, Severity, Message string
		Port                    *int
		Protocol                *string
		Advice                  []struct{ Platform string }
	}
}

// newNetns makes a network namespace with loopback up for one test.
func newNetns(t *testing.T) []string {
	t.Helper()
	ns := fmt.Sprintf("pitest%d-%d", os.Getpid(), netnsCount.Add(1))
	if _, errOut, code := runCommand(t, []string{"ip", "netns", "add", ns}); code != 0 {
		// CI runs as root, where this must work.
		if os.Getenv("PORTINSPECT_REQUIRE_TOOLS") != "" {
			t.Fatalf("ip netns add: %s", errOut)
		}
		t.Skipf("ip netns add: %s", errOut)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	inNS := []string{"ip", "netns", "exec", ns}
	if _, errOut, code := runCommand(t, append(inNS, "ip", "link", "set", "lo", "up")); code != 0 {
		t.Fatalf("lo up: %s", errOut)
	}
	return inNS
}

// netnsCount numbers the namespaces of this test process, some made by
// tests running in parallel.
var netnsCount atomic.Int64

// TestAuditRulesLive gives each audit rule a real listener in a fresh
// network namespace: MSDTC's port on every interface, a dual-stack
// listener on a port nothing knows, a program run from a world-writable
// directory, and a listener no process holds.
func TestAuditRulesLive(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	// The helpers run from a directory outside /tmp, or the rule about
	// executables in temporary directories would flag them all.
	helper := filepath.Join(ownBinDir(t), "pi-listen")
	startListenerAt(t, inNS, helper, "tcp4:0.0.0.0:3372", "tcp:[::]:47002")
	startListenerAt(t, inNS, helper, "-orphan", "tcp4:0.0.0.0:8123")

	dir, err := os.MkdirTemp("", "pi-worldwritable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777|os.ModeSticky)
	b, err := os.ReadFile(listenHelperPath(t))
	if err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(dir, "pi-listen") // the name picks the helper in TestMain
	if err := os.WriteFile(planted, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(inNS[0], append(inNS[1:], planted, "tcp4:127.0.0.1:4747")...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); !strings.HasPrefix(line, "ready") {
		t.Fatalf("planted listener: %q", line)
	}

	out, errOut, code := portinspect(t, inNS, "audit", "--netns", "self", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var doc auditDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	var got []string
	for _, f := range doc.Findings {
		port := "-"
		if f.Port != nil {
			port = fmt.Sprintf("%d/%s", *f.Port, *f.Protocol)
		}
		got = append(got, f.Severity+" "+f.Rule+" "+port)
	}
	want := []string{
		"high suspicious-executable 4747/tcp",
		"medium exposed-risky-service 3372/tcp",
		"medium ownerless-listener 8123/tcp",
		"info unknown-listener 8123/tcp",
		"info unknown-listener 47002/tcp", // [::] dual-stack: every interface
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range doc.Findings {
		if f.Rule == "exposed-risky-service" && (len(f.Advice) == 0 || f.Advice[0].Platform != "linux") {
			t.Errorf("the 3372 finding's advice should start with linux: %+v", f.Advice)
		}
	}

	// The exposition format reads back with Prometheus's parser.
	out, _, code = portinspect(t, inNS, "audit", "--netns", "self", "-o", "prometheus")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(out))
	if code != 0 || err != nil || len(families["portinspect_listener"].GetMetric()) != 4 {
		t.Errorf("-o prometheus: exit %d, %v, families %v", code, err, families)
	}

	// --fail-on: exit 1 at or below the worst finding, 0 above it.
	if _, _, code := portinspect(t, inNS, "audit", "--netns", "self", "--fail-on", "high", "-o", "json"); code != 1 {
		t.Errorf("--fail-on high: exit %d, want 1", code)
	}
	if _, errOut, code := portinspect(t, inNS, "audit", "--netns", "self", "--fail-on", "critical", "--allow-partial"); code != 0 {
		t.Errorf("--fail-on critical: exit %d, want 0; stderr %q", code, errOut)
	}
	// Where even root is refused a process (a sandbox's init), the
	// listener nobody visibly holds may be that process's: the gate
	// cannot vouch for it and says so.
	_, errOut, code = portinspect(t, inNS, "audit", "--netns", "self", "--fail-on", "critical")
	if blind := strings.Contains(errOut, "refused access"); blind != (code == 1) ||
		blind && !strings.Contains(errOut, "--fail-on critical: this audit could not see every owner") {
		t.Errorf("--fail-on critical without --allow-partial: exit %d, stderr %q", code, errOut)
	}

	// Without privilege the audit says its coverage is partial.
	bin := publicCopy(t)
	out, _, code = runCommand(t, append(inNS, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "audit", "--netns", "self", "-o", "json"))
	if code != 0 {
		t.Fatalf("as nobody: exit %d", code)
	}
	doc = auditDoc{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	partial := false
	for _, f := range doc.Findings {
		partial = partial || f.Rule == "partial-coverage" && f.Severity == "info" && f.Port == nil
	}
	if doc.Host.Privileged || !partial {
		t.Errorf("as nobody: privileged %v, findings %+v", doc.Host.Privileged, doc.Findings)
	}
}

// TestCheckWaitsForAListener starts check --wait before anything listens,
// then listens.
func TestCheckWaitsForAListener(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("portinspect")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(bin, "check", "--listening", fmt.Sprintf("%d/tcp", port), "--wait", "20s")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		cmd.Process.Kill()
		t.Skip(err)
	}
	defer l.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("check --wait: %v, output %q", err, out.String())
	}
	if took := time.Since(start); took < 700*time.Millisecond {
		t.Errorf("check passed after %v, before anything listened", took)
	}
	if !strings.HasPrefix(out.String(), fmt.Sprintf("ok   %d/tcp listening: 127.0.0.1:%d/tcp by ", port, port)) {
		t.Errorf("output %q", out.String())
	}

	// And it gives up: exit 1 once the time runs out.
	start = time.Now()
	_, _, code := runCommand(t, []string{bin, "check", "-q", "--closed", fmt.Sprintf("%d/tcp", port), "--wait", "600ms"})
	if took := time.Since(start); code != 1 || took < 500*time.Millisecond {
		t.Errorf("--wait 600ms on a listener that stays: exit %d after %v", code, took)
	}
}

// ownBinDir copies pi-listen into a directory outside /tmp (the user's
// cache directory: the checkout itself may be under /tmp) and returns it.
func ownBinDir(t *testing.T) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil || strings.HasPrefix(base, "/tmp") {
		base = "/var/cache"
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Skip(err)
	}
	dir, err := os.MkdirTemp(base, "portinspect-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(listenHelperPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pi-listen"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
