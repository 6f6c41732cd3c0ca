package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the tests see")

// TestAnswerGolden pins `portinspect 3372` for one listener with its note,
// in a fresh network namespace: the answer a newcomer sees first. It must
// fit a screen and be the same piped (this test) as on a terminal.
func TestAnswerGolden(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	pid, _ := startListener(t, inNS, "tcp4:0.0.0.0:3372")

	out, errOut, code := portinspect(t, inNS, "3372")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if n := strings.Count(out, "\n"); n > 40 {
		t.Errorf("the answer is %d lines, more than one screen:\n%s", n, out)
	}
	got := normalizeAnswer(out, pid)
	golden := filepath.Join("testdata", "answer-3372.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("answer differs from %s (go test -run TestAnswerGolden -update rewrites it):\n%s", golden, got)
	}
}

// TestAnswerOnATerminal checks that the answer on a terminal (a pty from
// script(1)) is the answer piped.
func TestAnswerOnATerminal(t *testing.T) {
	requireRoot(t, "ip", "script")
	inNS := newNetns(t)
	startListener(t, inNS, "tcp4:0.0.0.0:3372", "udp4:127.0.0.1:3372")
	bin, err := exec.LookPath("portinspect")
	if err != nil {
		t.Fatal(err)
	}
	onTerminal := func(cols int) string {
		t.Helper()
		shell := fmt.Sprintf("stty cols %d rows 50; exec %s 3372", cols, bin)
		out, errOut, code := runCommand(t, append(inNS, "script", "-qec", shell, "/dev/null"))
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		return strings.ReplaceAll(out, "\r\n", "\n")
	}
	piped, _, _ := portinspect(t, inNS, "3372")
	if tty := onTerminal(100); tty != piped {
		t.Errorf("on a terminal:\n%s\npiped:\n%s", tty, piped)
	}
	// A narrower terminal wraps the prose to its width; nothing else
	// changes.
	narrow := onTerminal(72)
	for _, line := range strings.Split(narrow, "\n") {
		if strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "      ") && displayWidth(line) > 72 {
			t.Errorf("wider than the terminal: %q", line)
		}
	}
	table := func(out string) string { return strings.SplitN(out, "\n\n", 2)[0] }
	if table(narrow) != table(piped) || !strings.HasSuffix(narrow, "  Full entry: portinspect lookup 3372\n") {
		t.Errorf("on a narrow terminal:\n%s\npiped:\n%s", narrow, piped)
	}
}

// TestLongCommandLineLive runs a process whose command line is 1.5 MB, as
// a Java classpath can be, and asks what its port is.
func TestLongCommandLineLive(t *testing.T) {
	args := []string{"tcp4:127.0.0.1:0"}
	pad := strings.Repeat("/opt/app/lib/dependency-1.2.3.jar:", 3000) // 102 KB: under MAX_ARG_STRLEN
	for range 15 {
		args = append(args, "pad:"+pad)
	}
	pid, ports := startListener(t, nil, args...)
	port := strconv.Itoa(ports[0])
	out, _, code := portinspect(t, nil, port)
	if code != 0 || len(out) > 8000 {
		t.Fatalf("exit %d, %d bytes of answer", code, len(out))
	}
	if !regexp.MustCompile(`(?m)^ {16}… \(\d{7} more bytes; -o json shows all\)$`).MatchString(out) {
		t.Errorf("the command line is not cut to three lines:\n%s", out)
	}
	doc := decode(t, mustOut(t, nil, port, "-o", "json"))
	if len(doc.Sockets) == 0 || len(doc.Sockets[0].Processes) != 1 || doc.Sockets[0].Processes[0].PID != pid ||
		len(strings.Join(doc.Sockets[0].Processes[0].Cmdline, " ")) < 15*len(pad) {
		t.Errorf("JSON does not keep the whole command line")
	}
	// -o wide's table has it whole; the details below keep it cut, not a
	// second copy.
	if wide := mustOut(t, nil, port, "-o", "wide"); !strings.Contains(wide, strings.Repeat(pad+" pad:", 2)) {
		t.Errorf("-o wide cuts the command line")
	} else if n := strings.Count(wide, "pad:"); n > 15+3 || !strings.Contains(wide, "more bytes; -o json shows all") {
		t.Errorf("-o wide prints %d pieces of the command line", n)
	}
}

// normalizeAnswer replaces what changes from run to run: the helper's
// PID, start time, executable and command line.
func normalizeAnswer(out string, pid int) string {
	out = regexp.MustCompile(`\b`+strconv.Itoa(pid)+`\b`).ReplaceAllString(out, "PID")
	out = regexp.MustCompile(`started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+`).ReplaceAllString(out, "started TIME")
	out = regexp.MustCompile(`(?m)^(      exe: +).*$`).ReplaceAllString(out, "${1}EXE")
	out = regexp.MustCompile(`(?m)^(      command: +).*\n(^ {16}.*\n)*`).ReplaceAllString(out, "${1}COMMAND\n")
	out = regexp.MustCompile(`(?m)^(PROTO.*PROCESS +USER|tcp .*)$`).ReplaceAllStringFunc(out, func(s string) string {
		return strings.Join(strings.Fields(s), " ")
	})
	return out
}

// TestDualStackListeners shows the difference ss shows between a [::]
// listener that takes IPv4 too and one that is IPv6 only, in the table, in
// JSON and in what an IPv4 address selects.
func TestDualStackListeners(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	// Go's "tcp" on [::] is dual-stack; "tcp6" sets IPV6_V6ONLY.
	startListener(t, inNS, "tcp:[::]:8080", "tcp6:[::]:8081", "udp:[::]:8082")

	out, _, code := portinspect(t, inNS, "list", "-l")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertContains(t, "list -l", out, "tcp\t*:8080\t[::]:*\thttp-alt\tLISTEN\tall\t", "tcp\t[::]:8081\t[::]:*\t", "udp\t*:8082\t[::]:*\t")
	// -4 keeps the listeners that take IPv4: the dual-stack ones.
	out, _, _ = portinspect(t, inNS, "list", "-l", "-4")
	assertContains(t, "list -l -4", out, "tcp\t*:8080\t", "udp\t*:8082\t")
	if strings.Contains(out, ":8081") {
		t.Errorf("list -l -4 lists the IPv6-only listener:\n%s", out)
	}
	out, _, _ = portinspect(t, inNS, "8080,8081,8082", "-o", "json")
	for _, want := range []string{
		`"local_address": "::",\s+"local_port": 8080,(?s:.)*?"dual_stack": true`,
		`"local_address": "::",\s+"local_port": 8081,(?s:.)*?"dual_stack": false`,
		`"protocol": "udp",\s+"family": "ipv6",\s+"local_address": "::",\s+"local_port": 8082,(?s:.)*?"dual_stack": true`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("JSON lacks %s:\n%s", want, out)
		}
	}
	// 127.0.0.1 reaches the dual-stack listener, not the IPv6-only one.
	if out, _, code := portinspect(t, inNS, "127.0.0.1:8080"); code != 0 || !strings.Contains(out, "*:8080") {
		t.Errorf("127.0.0.1:8080: exit %d\n%s", code, out)
	}
	if out, _, code := portinspect(t, inNS, "127.0.0.1:8081"); code != 1 || !strings.HasPrefix(out, "Nothing is listening on or connected to 127.0.0.1:8081.") {
		t.Errorf("127.0.0.1:8081: exit %d\n%s", code, out)
	}
	if _, _, code := portinspect(t, inNS, "check", "--listening", "[::1]:8081", "--closed", "127.0.0.1:8081", "--listening", "0.0.0.0:8080"); code != 0 {
		t.Errorf("check with addresses: exit %d", code)
	}
}

// TestClientsOfThePort checks that the answer lists this machine's
// clients of a port with their own processes, after the port's sockets.
func TestClientsOfThePort(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	server, _ := startListener(t, inNS, "tcp4:127.0.0.1:3372")
	client, ports := startListener(t, inNS, "dial:127.0.0.1:3372")

	out, _, code := portinspect(t, inNS, "3372")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	clientRow := regexp.MustCompile(fmt.Sprintf(`(?m)^Clients on this host\ntcp +127\.0\.0\.1:%d +127\.0\.0\.1:3372 +ESTABLISHED +loopback +%d +pi-listen`, ports[0], client))
	if !clientRow.MatchString(out) || !strings.Contains(out, fmt.Sprintf("  %d  pi-listen", server)) || !strings.Contains(out, fmt.Sprintf("  %d  pi-listen", client)) {
		t.Errorf("answer:\n%s", out)
	}
	// The server never accepted: the connection waits in the listener's
	// accept queue, which -o wide shows.
	out, _, _ = portinspect(t, inNS, "3372", "-l", "-o", "wide")
	if !regexp.MustCompile(`(?m)^tcp +127\.0\.0\.1:3372 +0\.0\.0\.0:\* +LISTEN +1 +\d+ +loopback`).MatchString(out) {
		t.Errorf("accept queue:\n%s", out)
	}
	// Listeners only: no clients.
	if out, _, _ := portinspect(t, inNS, "3372", "-l"); strings.Contains(out, "Clients") {
		t.Errorf("-l lists clients:\n%s", out)
	}
	doc := decode(t, mustOut(t, inNS, "3372", "-o", "json"))
	if n := len(doc.Sockets); n != 3 || doc.Sockets[2].LocalPort != ports[0] || doc.Sockets[2].Role != "client" || doc.Sockets[0].Role != "" {
		t.Errorf("JSON sockets %+v", doc.Sockets)
	}
}

// mustOut runs portinspect in a namespace and returns its output whatever
// the exit code.
func mustOut(t *testing.T, prefix []string, args ...string) string {
	t.Helper()
	out, _, _ := portinspect(t, prefix, args...)
	return out
}

// TestChecksTellTheTruth runs check and audit against an SSH-like
// listener in a fresh namespace, as root and as nobody.
func TestChecksTellTheTruth(t *testing.T) {
	requireRoot(t, "ip", "setpriv")
	inNS := newNetns(t)
	pid, _ := startListener(t, inNS, "tcp4:0.0.0.0:22")
	startListener(t, inNS, "dial:127.0.0.1:22")

	check := func(prefix []string, args ...string) (string, int) {
		t.Helper()
		out, _, code := portinspect(t, prefix, append([]string{"check"}, args...)...)
		return out, code
	}
	// A service name listens when any of its protocols does: ssh is
	// 22/tcp and 22/udp at IANA.
	if out, code := check(inNS, "--listening", "ssh", "--closed", "ssh/udp"); code != 0 {
		t.Errorf("ssh on TCP only: exit %d\n%s", code, out)
	}
	if out, code := check(inNS, "--closed", "ssh"); code != 1 || !strings.Contains(out, "FAIL ssh closed: listening on 0.0.0.0:22/tcp") {
		t.Errorf("--closed ssh: exit %d\n%s", code, out)
	}
	// Failures say what is there instead.
	out, code := check(inNS, "--listening", "22/tcp@loopback")
	if want := "FAIL 22/tcp listening@loopback: listens on 0.0.0.0:22/tcp (all), not on loopback only\n"; code != 1 || out != want {
		t.Errorf("got exit %d %q, want %q", code, out, want)
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("require:\n  - port: ssh\n    owner: nginx\n    reason: the web server\n"), 0o644)
	out, code = check(inNS, "--policy", policy)
	if want := fmt.Sprintf("held by pi-listen (pid %d) on 0.0.0.0:22/tcp, not nginx", pid); code != 1 || !strings.Contains(out, want) {
		t.Errorf("policy owner: exit %d %q, want %q", code, out, want)
	}

	// A connection's server end is named by its port's service, even
	// when the listener is filtered out.
	out, _, _ = portinspect(t, inNS, "list", "--state", "established")
	if !regexp.MustCompile(`(?m)^tcp\t127\.0\.0\.1:22\t127\.0\.0\.1:\d+\tssh\tESTABLISHED\t`).MatchString(out) {
		t.Errorf("list --state established:\n%s", out)
	}

	// As nobody, owners are hidden: assertions about them fail and say
	// why, and an audit gate does not pass blind.
	nobody := append(append([]string{}, inNS...), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", publicCopy(t))
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runCommand(t, append(append([]string{}, nobody...), args...))
	}
	out, _, code = run("check", "--owner", "22=sshd")
	if want := "FAIL 22 owner sshd: owner hidden on 0.0.0.0:22/tcp: run as root (or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH) to see it\n"; code != 1 || out != want {
		t.Errorf("as nobody: exit %d %q, want %q", code, out, want)
	}
	// nobody must be able to read the policy.
	public, err := os.MkdirTemp("", "pi-policy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(public) })
	os.Chmod(public, 0o755)
	deny := filepath.Join(public, "deny.yaml")
	os.WriteFile(deny, []byte("deny:\n  - port: 22\n    owner: python3\n    reason: no Python servers\n"), 0o644)
	out, _, code = run("check", "--policy", deny)
	if code != 1 || !strings.Contains(out, "FAIL 22 closed owner python3 ("+deny+":2 deny): owner hidden on 0.0.0.0:22/tcp: run as root") {
		t.Errorf("deny with an owner, as nobody: exit %d %q", code, out)
	}
	_, errOut, code := run("audit", "--fail-on", "critical")
	if code != 1 || !strings.Contains(errOut, "portinspect: --fail-on critical: this audit could not see every owner (the owners of 1 listener are hidden)") {
		t.Errorf("blind audit gate: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code = run("audit", "--fail-on", "critical", "--allow-partial", "-q"); code != 0 || errOut != "" {
		t.Errorf("--allow-partial: exit %d, stderr %q", code, errOut)
	}
}

// TestCheckWaitsTheWholeTime checks that --wait 1s looks again until a
// full second has passed, not until the last poll before it.
func TestCheckWaitsTheWholeTime(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, _, code := portinspect(t, nil, "check", "--listening", fmt.Sprintf("%d/udp", port), "--wait", "1s")
	if elapsed := time.Since(start); code != 1 || elapsed < time.Second {
		t.Errorf("exit %d after %v, want 1 after at least 1s: %s", code, elapsed, out)
	}
}

// TestChildPIDNamespace runs portinspect in a PID namespace of its own
// (as a container that shares the host's network does) against a listener
// this test holds outside it: the owner is hidden, not "none", and a
// warning says why.
func TestChildPIDNamespace(t *testing.T) {
	requireRoot(t, "unshare")
	_, ports := startListener(t, nil, "tcp4:127.0.0.1:0")
	port := strconv.Itoa(ports[0])
	bin, err := exec.LookPath("portinspect")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCommand(t, []string{"unshare", "--pid", "--fork", "--mount-proc", bin, port, "-o", "json"})
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	doc := decode(t, out)
	if len(doc.Sockets) != 1 || doc.Sockets[0].OwnerStatus != "hidden" {
		t.Errorf("sockets %+v, want the listener with its owner hidden", doc.Sockets)
	}
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], "child PID namespace") {
		t.Errorf("warnings %q", doc.Warnings)
	}
	// audit does not call it ownerless, and check says where its owner is.
	out, _, _ = runCommand(t, []string{"unshare", "--pid", "--fork", "--mount-proc", bin, "audit", "--port", port, "-o", "json"})
	if strings.Contains(out, "ownerless-listener") {
		t.Errorf("audit in a child PID namespace:\n%s", out)
	}
	// A gate that cannot see the owner says where they are, not that a
	// process refused root.
	_, errOut, code = runCommand(t, []string{"unshare", "--pid", "--fork", "--mount-proc", bin, "audit", "--port", port, "--fail-on", "critical"})
	if code != 1 || !strings.Contains(errOut, "run in the host's PID namespace") {
		t.Errorf("audit --fail-on in a child PID namespace: exit %d, %q", code, errOut)
	}
	out, _, code = runCommand(t, []string{"unshare", "--pid", "--fork", "--mount-proc", bin, "check", "--owner", port + "=sshd"})
	if code != 1 || !strings.Contains(out, "its holder is outside this PID namespace") {
		t.Errorf("check in a child PID namespace: exit %d, %q", code, out)
	}
}

// TestBoundToInterface: a wildcard listener bound to one interface
// (SO_BINDTODEVICE) is reached through it alone: exposure "interface",
// shown as ss shows it; bound to lo, loopback.
func TestBoundToInterface(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	// A veth pair inside the namespace: no kernel module to load.
	if _, errOut, code := runCommand(t, append(append([]string{}, inNS...), "ip", "link", "add", "pi0", "type", "veth", "peer", "name", "pi1")); code != 0 {
		t.Skipf("no veth pair: %s", errOut)
	}
	startListener(t, inNS, "-device", "pi0", "tcp4:0.0.0.0:5301", "udp4:0.0.0.0:5302")
	startListener(t, inNS, "-device", "lo", "tcp4:0.0.0.0:5303")

	out, _, _ := portinspect(t, inNS, "list", "-l")
	for _, want := range []string{
		`(?m)^tcp\t0\.0\.0\.0%pi0:5301\t.*\tLISTEN\tinterface\t`,
		`(?m)^udp\t0\.0\.0\.0%pi0:5302\t.*\tUNCONN\tinterface\t`,
		`(?m)^tcp\t0\.0\.0\.0%lo:5303\t.*\tLISTEN\tloopback\t`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("list -l lacks %s:\n%s", want, out)
		}
	}
	doc := decode(t, mustOut(t, inNS, "5301", "-o", "json"))
	if len(doc.Sockets) != 1 || doc.Sockets[0].Exposure != "interface" || doc.Sockets[0].Device != "pi0" {
		t.Errorf("JSON %+v", doc.Sockets)
	}
	out, _, _ = portinspect(t, inNS, "audit", "--netns", "self", "-o", "markdown")
	if !regexp.MustCompile(`(?m)^\| 5301 \| tcp \| .* \| interface \| open \| 0\.0\.0\.0%pi0 \|`).MatchString(out) {
		t.Errorf("audit lacks 5301 on pi0:\n%s", out)
	}
	// check selects it as beyond loopback and as interface, not as all.
	if out, _, code := portinspect(t, inNS, "check", "--listening", "5301@interface", "--closed", "5301@all", "--only-loopback", "5303"); code != 0 {
		t.Errorf("check: exit %d\n%s", code, out)
	}
}
