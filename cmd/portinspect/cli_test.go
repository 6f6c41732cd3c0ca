package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/platformtest"
)

// runCLI runs portinspect in this process against fake, as if on a
// terminal when tty is set.
func runCLI(t *testing.T, fake *platformtest.Fake, tty bool, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &Factory{
		IO:         &IOStreams{Out: &out, ErrOut: &errOut, OutTTY: tty, Width: 100},
		Inspector:  func() (platform.Inspector, error) { return fake, nil },
		KnownPorts: knownports.Default,
	}
	code = Main(args, f)
	return out.String(), errOut.String(), code
}

// TestPortAnswer checks `portinspect 3372`: the port's sockets, this
// machine's clients of it, their processes and a short known-port block,
// the same on a terminal and piped.
func TestPortAnswer(t *testing.T) {
	out, errOut, code := runCLI(t, platformtest.Workstation(), true, "3372")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(out, "\n")
	wantRows := []string{
		"PROTO  LOCAL            REMOTE           STATE        EXPOSURE  PID   PROCESS          USER",
		"tcp    127.0.0.1:3372   0.0.0.0:*        LISTEN       loopback  4242  tipd             alice",
		"tcp    [::]:3372        [::]:*           LISTEN       all       4242  tipd             alice",
		"udp    0.0.0.0:3372     0.0.0.0:*        UNCONN       all       4242  tipd             alice",
		"tcp    127.0.0.1:3372   127.0.0.1:50000  ESTABLISHED  loopback  4242  tipd             alice",
		"",
		"Clients on this host",
		"tcp    127.0.0.1:50000  127.0.0.1:3372   ESTABLISHED  loopback  777   systemd-resolve  systemd-resolve",
		"tcp    127.0.0.1:50001  127.0.0.1:3372   TIME_WAIT    loopback  -",
	}
	for i, want := range wantRows {
		if i >= len(lines) || strings.TrimRight(lines[i], " ") != want {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[min(i, len(lines)-1)], want)
		}
	}
	assertContains(t, "output", out,
		"Processes\n  4242  tipd  (user alice)\n      exe:      /usr/local/bin/tipd\n      command:  /usr/local/bin/tipd --tip\n",
		"  777  systemd-resolve  (user systemd-resolve)\n",
		"Port 3372 (tcp, udp)\n  Registered (IANA): tip2 (tcp, udp): TIP 2\n",
		"  MSDTC TIP listener — risk medium beyond loopback, low on loopback only\n    IANA registers 3372/tcp",
		"  What to do on Linux:", // the fake machine's system
		"  Full entry: portinspect lookup 3372\n",
	)
	// The whole entry is for --full and lookup.
	for _, not := range []string{"Commonly seen:", "References:", "What to do on Windows"} {
		if strings.Contains(out, not) {
			t.Errorf("the answer has %q:\n%s", not, out)
		}
	}
	if n := strings.Count(out, "\n"); n > 40 {
		t.Errorf("the answer is %d lines, more than a screen", n)
	}

	// Piped, the answer is the same.
	piped, errOut, code := runCLI(t, platformtest.Workstation(), false, "3372")
	if code != 0 || errOut != "" || piped != out {
		t.Errorf("piped: exit %d, stderr %q, differs from the terminal's:\n%s", code, errOut, piped)
	}

	// --full (and -v) print the whole entry, advice grouped per platform.
	full, _, _ := runCLI(t, platformtest.Workstation(), false, "3372", "--full")
	verbose, _, _ := runCLI(t, platformtest.Workstation(), false, "3372", "-v")
	if full != verbose {
		t.Error("-v differs from --full")
	}
	assertContains(t, "--full", full,
		"    Commonly seen:\n      windows: msdtc.exe (service MSDTC) — off by default.",
		"    What to do on Windows:\n      1. See whether anything listens on 3372",
		"      2. Look at MSDTC's network settings.",
		"           netstat -ano | findstr /C:\":3372 \"\n",
		"    References:\n      - ",
	)
	if strings.Contains(full, "On any") || strings.Count(full, "What to do on Windows:") != 1 {
		t.Errorf("--full groups advice badly:\n%s", full)
	}
	// The machine's own system's advice comes first.
	here := strings.Index(full, "What to do on Linux:")
	windows := strings.Index(full, "What to do on Windows:")
	if here < 0 || here > windows {
		t.Errorf("advice order: Linux at %d, Windows at %d", here, windows)
	}
	fake := platformtest.Workstation()
	fake.Machine.OS = "windows"
	out, _, _ = runCLI(t, fake, false, "3372")
	assertContains(t, "answer on Windows", out, "  What to do on Windows (step 1 of ")
}

// TestRegistrationWithoutDescription: an IANA name without a description
// is shown without an empty one.
func TestRegistrationWithoutDescription(t *testing.T) {
	out, _, _ := runCLI(t, platformtest.Workstation(), false, "5000")
	assertContains(t, "answer", out, "  Registered (IANA): commplex-main (tcp, udp)\n")
}

// TestPortOnlyClients: a server gone, its clients in TIME_WAIT: nothing is
// on the port (exit 1), and the clients are listed under the sentence.
func TestPortOnlyClients(t *testing.T) {
	fake := platformtest.Workstation()
	fake.SocketList = append(fake.SocketList, platformtest.Sock(platform.TCP, "127.0.0.1:50003", "127.0.0.1:18090", platform.TimeWait, 0))
	for _, format := range []string{"table", "json"} {
		out, _, code := runCLI(t, fake, false, "18090", "-o", format)
		if code != exitNotFound {
			t.Errorf("-o %s: exit %d, want 1:\n%s", format, code, out)
		}
		if format == "table" && !strings.HasPrefix(out, "Nothing is listening on or connected to 18090.\n\nClients on this host\nPROTO ") {
			t.Errorf("answer:\n%s", out)
		}
	}
}

func TestPortNothingThereIsAnAnswer(t *testing.T) {
	for _, tty := range []bool{true, false} {
		out, errOut, code := runCLI(t, platformtest.Workstation(), tty, "3389")
		if code != exitNotFound || errOut != "" || !strings.HasPrefix(out, "Nothing is listening on or connected to 3389.\n\nPort 3389 (tcp, udp)\n") ||
			!strings.Contains(out, "Remote Desktop (RDP)") || !strings.HasSuffix(out, "Full entry: portinspect lookup 3389\n") {
			t.Errorf("tty %v: exit %d, stdout %q, stderr %q", tty, code, out, errOut)
		}
	}
}

// TestLongCommandLineIsCut checks that a command line of megabytes is
// three lines in the answer and whole in -o wide, CSV and JSON.
func TestLongCommandLineIsCut(t *testing.T) {
	fake := platformtest.Workstation()
	p := fake.Processes[4242]
	classpath := strings.Repeat("/opt/app/lib/dependency-1.2.3.jar:", 45000) // 1.5 MB
	p.Cmdline = []string{"java", "-cp", classpath, "Main"}
	fake.Processes[4242] = p
	out, _, _ := runCLI(t, fake, false, "3372")
	if len(out) > 10000 {
		t.Fatalf("the answer is %d bytes", len(out))
	}
	i := strings.Index(out, "      command:  java -cp /opt/app/lib/")
	if i < 0 {
		t.Fatalf("no command line:\n%s", out)
	}
	lines := strings.Split(out[i:], "\n")
	total := len("java -cp " + classpath + " Main")
	shown := 0
	for _, l := range lines[:3] {
		shown += len(strings.TrimLeft(strings.TrimPrefix(l, "      command:  "), " "))
		if displayWidth(l) > 100 {
			t.Errorf("line wider than 100 columns: %q", l)
		}
	}
	want := fmt.Sprintf("                … (%d more bytes; -o json shows all)", total-shown)
	if lines[3] != want {
		t.Errorf("after 3 lines: %q, want %q", lines[3], want)
	}
	for _, format := range []string{"wide", "csv", "json"} {
		out, _, _ := runCLI(t, fake, false, "3372", "-o", format)
		if !strings.Contains(out, classpath) {
			t.Errorf("-o %s cuts the command line", format)
		}
	}
}

func TestPortNothingThere(t *testing.T) {
	out, _, code := runCLI(t, platformtest.Workstation(), true, "3389/tcp")
	if code != exitNotFound {
		t.Errorf("exit %d, want %d", code, exitNotFound)
	}
	if !strings.HasPrefix(out, "Nothing is listening on or connected to 3389/tcp.\n") || !strings.Contains(out, "Port 3389") {
		t.Errorf("output:\n%s", out)
	}
	out, _, _ = runCLI(t, platformtest.Workstation(), true, "3372", "--user", "root")
	if !strings.HasPrefix(out, "No socket on 3372 matches the filters.") {
		t.Errorf("filtered output:\n%s", out)
	}
	out, errOut, code := runCLI(t, platformtest.Workstation(), true, "3372", "--user", "nosuchuser", "-o", "json")
	if code != exitUsage || out != "" || errOut != "portinspect: unknown user \"nosuchuser\": want a user name or UID\n" {
		t.Errorf("unknown user: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestListWarnsOnceAboutHiddenOwners(t *testing.T) {
	out, errOut, code := runCLI(t, platformtest.Workstation(), false, "list", "-l")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if errOut != "portinspect: warning: owners of 1 socket are hidden (and sockets shown with owners may have more): run as root to see them\n" {
		t.Errorf("stderr %q", errOut)
	}
	if !strings.Contains(out, "192.0.2.10:8080\t0.0.0.0:*\thttp-alt\tLISTEN\taddress\t-\t(hidden)\t") {
		t.Errorf("hidden row missing:\n%s", out)
	}
	// JSON carries the warning in the document, not on stderr.
	out, errOut, _ = runCLI(t, platformtest.Workstation(), false, "list", "-l", "--json")
	if errOut != "" || !strings.Contains(out, `"warnings": [
    "owners of 1 socket are hidden (and sockets shown with owners may have more): run as root to see them"
  ]`) {
		t.Errorf("stderr %q, stdout:\n%s", errOut, out)
	}
}

// TestJSONContract checks every field DESIGN.md promises, by name and
// JSON type.
func TestJSONContract(t *testing.T) {
	out, _, code := runCLI(t, platformtest.Workstation(), false, "3372", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	type field struct {
		path, kind string
	}
	check := func(obj map[string]any, prefix string, fields []field) {
		t.Helper()
		for _, f := range fields {
			v, ok := obj[f.path]
			if !ok {
				t.Errorf("%s%s missing", prefix, f.path)
				continue
			}
			if got := jsonKind(v); got != f.kind {
				t.Errorf("%s%s is %s, want %s", prefix, f.path, got, f.kind)
			}
		}
	}
	check(doc, "", []field{{"schema", "string"}, {"host", "object"}, {"sockets", "array"}, {"known_ports", "array"}, {"warnings", "array"}})
	if doc["schema"] != "portinspect/v1" {
		t.Errorf("schema %v", doc["schema"])
	}
	check(doc["host"].(map[string]any), "host.", []field{{"hostname", "string"}, {"os", "string"}, {"privileged", "bool"}})
	sockets := doc["sockets"].([]any)
	if len(sockets) != 6 {
		t.Fatalf("%d sockets, want 4 on the port and 2 clients", len(sockets))
	}
	for i, s := range sockets {
		s := s.(map[string]any)
		check(s, fmt.Sprintf("sockets[%d].", i), []field{{"recv_q", "number"}, {"send_q", "number"}})
		if role, ok := s["role"]; i < 4 && ok || i >= 4 && role != "client" {
			t.Errorf("socket %d: role %v", i, role)
		}
	}
	s0 := sockets[0].(map[string]any)
	check(s0, "sockets[0].", []field{
		{"protocol", "string"}, {"family", "string"}, {"local_address", "string"}, {"local_port", "number"},
		{"remote_address", "string"}, {"remote_port", "number"}, {"state", "string"}, {"exposure", "string"},
		{"owner_status", "string"}, {"processes", "array"},
	})
	if s0["local_address"] != "127.0.0.1" || s0["local_port"] != 3372.0 || s0["state"] != "LISTEN" || s0["exposure"] != "loopback" || s0["owner_status"] != "known" {
		t.Errorf("socket 0: %v", s0)
	}
	if s1 := sockets[1].(map[string]any); s1["local_address"] != "::" || s1["family"] != "ipv6" || s1["exposure"] != "all" {
		t.Errorf("socket 1 (addresses are never bracketed): %v", s1)
	}
	p0 := s0["processes"].([]any)[0].(map[string]any)
	check(p0, "processes[0].", []field{
		{"pid", "number"}, {"name", "string"}, {"exe", "string"}, {"cmdline", "array"}, {"user", "string"},
		{"uid", "number"}, {"started", "null"}, {"service", "null"}, {"exe_deleted", "bool"}, {"exe_replaced", "bool"},
	})
	kp := doc["known_ports"].([]any)
	if len(kp) != 1 {
		t.Fatalf("known_ports %v", kp)
	}
	k0 := kp[0].(map[string]any)
	check(k0, "known_ports[0].", []field{{"port", "number"}, {"protocols", "array"}, {"iana", "array"}, {"notes", "array"}})
	check(k0["iana"].([]any)[0].(map[string]any), "iana[0].", []field{{"service", "string"}, {"protocol", "string"}, {"description", "string"}})
	note := k0["notes"].([]any)[0].(map[string]any)
	check(note, "notes[0].", []field{{"title", "string"}, {"platforms", "array"}, {"risk", "string"}, {"summary", "string"}, {"advice", "array"}, {"references", "array"}})
	check(note["advice"].([]any)[0].(map[string]any), "advice[0].", []field{{"platform", "string"}, {"text", "string"}, {"commands", "array"}})
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

func TestJSONWhenTheMachineCannotBeRead(t *testing.T) {
	fake := platformtest.Workstation()
	fake.Err = errors.New("netlink: permission denied")
	out, errOut, code := runCLI(t, fake, false, "3372", "--json")
	if code != exitInspect {
		t.Errorf("exit %d, want %d", code, exitInspect)
	}
	var doc struct {
		Schema  string
		Error   string
		Sockets []any
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Schema != "portinspect/v1" || !strings.Contains(doc.Error, "permission denied") || doc.Sockets == nil {
		t.Errorf("document %q (%v)", out, err)
	}
	if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "permission denied") {
		t.Errorf("stderr %q", errOut)
	}
	_, _, code = runCLI(t, fake, false, "list")
	if code != exitInspect {
		t.Errorf("list: exit %d, want %d", code, exitInspect)
	}
}

// TestHostileNamesAreEscaped checks that a process named with terminal
// escape sequences cannot reach the terminal raw, while JSON keeps the
// true name.
func TestHostileNamesAreEscaped(t *testing.T) {
	fake := platformtest.Workstation()
	p := fake.Processes[4242]
	p.Name = "\x1b]0;pwned\x07tipd"
	p.Cmdline = []string{"/usr/local/bin/tipd", "--x=\x1b[2J\r", "\u202eevil"}
	fake.Processes[4242] = p
	for _, format := range []string{"table", "wide", "csv"} {
		for _, tty := range []bool{true, false} {
			out, _, _ := runCLI(t, fake, tty, "3372", "-o", format)
			if strings.ContainsAny(out, "\x1b\x07\r\u202e") {
				t.Errorf("-o %s (tty %v) prints raw control characters:\n%q", format, tty, out)
			}
			if !strings.Contains(out, `\x1b]0;pwned\x07tipd`) {
				t.Errorf("-o %s (tty %v) lacks the escaped name:\n%s", format, tty, out)
			}
		}
	}
	out, _, _ := runCLI(t, fake, false, "3372", "-o", "wide")
	if !strings.Contains(out, `--x=\x1b[2J\x0d \u202eevil`) {
		t.Errorf("wide lacks the escaped command line:\n%s", out)
	}
	out, _, _ = runCLI(t, fake, false, "3372", "-o", "json")
	if !strings.Contains(out, `"name": "\u001b]0;pwned\u0007tipd"`) {
		t.Errorf("JSON does not keep the true name:\n%s", out)
	}
}

func TestCSVHasOneRowPerHolder(t *testing.T) {
	fake := platformtest.Workstation()
	fake.Holders[2] = []int{4242, 100} // a forked server: two holders
	out, _, code := runCLI(t, fake, false, "3372/tcp", "-l", "-4", "-o", "csv")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "protocol,family,local_address,local_port,remote_address,remote_port,port_service,state,exposure,owner_status,pid,process,user,uid,exe,cmdline,service,started,recv_q,send_q,dual_stack,role,device\n" +
		"tcp,ipv4,127.0.0.1,3372,0.0.0.0,0,msdtc,LISTEN,loopback,known,100,sshd,root,0,/usr/sbin/sshd,sshd: /usr/sbin/sshd -D,ssh.service,,0,0,,,\n" +
		"tcp,ipv4,127.0.0.1,3372,0.0.0.0,0,msdtc,LISTEN,loopback,known,4242,tipd,alice,1000,/usr/local/bin/tipd,/usr/local/bin/tipd --tip,,,0,0,,,\n"
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	// The table keeps one row per socket and lists both holders.
	out, _, _ = runCLI(t, fake, false, "list", "3372/tcp", "-l", "-4")
	if !strings.Contains(out, "\t100,4242\tsshd,tipd\troot,alice") {
		t.Errorf("table:\n%s", out)
	}
}

func TestListOptions(t *testing.T) {
	var got *listOptions
	f := &Factory{IO: &IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, KnownPorts: knownports.Default}
	cmd := newCmdList(f, func(o *listOptions) error { got = o; return nil })
	// Repeated flags add up, and arguments are ports: `list 80` is --port 80.
	cmd.SetArgs([]string{"-t", "-4", "--state", "listen,time-wait", "--pid", "5,6", "--pid", "7", "--port", "ssh", "--port", "443",
		"--process", "nginx", "--process", "sshd", "--user", "www-data", "--user", "0", "--address", "localhost", "-o", "wide", "80"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	q := got.query
	if !q.TCP || q.UDP || !q.IPv4 || q.IPv6 || !slices.Equal(q.PIDs, []int{5, 6, 7}) ||
		!slices.Equal(q.Processes, []string{"nginx", "sshd"}) || !slices.Equal(q.Users, []string{"www-data", "0"}) {
		t.Errorf("query %+v", q)
	}
	if !q.States.Has(platform.Listen) || !q.States.Has(platform.TimeWait) || q.States.Has(platform.Established) {
		t.Errorf("states %b", q.States)
	}
	var ports []uint16
	for _, r := range q.Ports {
		ports = append(ports, r.Low)
	}
	if !slices.Equal(ports, []uint16{22, 443, 80}) || !q.Ports[0].TCP || !q.Ports[0].UDP {
		t.Errorf("ports %+v, want ssh's 22/tcp and 22/udp, 443 and 80", q.Ports)
	}
	if len(q.Addresses) != 2 || !q.Addresses[0].IsLoopback() || !q.Addresses[1].IsLoopback() {
		t.Errorf("addresses %v, want localhost's two", q.Addresses)
	}
	if got.out.format != formatWide || q.Detail != platform.DetailFull {
		t.Errorf("format %v detail %v", got.out.format, q.Detail)
	}
}

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                "nginx",
		"café ☕":               "café ☕",
		"\x1b[31mred":          `\x1b[31mred`,
		"a\tb\nc\r":            `a\x09b\x0ac\x0d`,
		"\x7f":                 `\x7f`,
		"\u0085":               `\u0085`,
		"\u202egnp.exe":        `\u202egnp.exe`,
		"bad\xffutf8":          `bad\xffutf8`,
		`C:\Windows\msdtc.exe`: `C:\Windows\msdtc.exe`,
	} {
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteTableAlignsWideCells(t *testing.T) {
	var out bytes.Buffer
	long := strings.Repeat("x", 200)
	err := writeTable(&IOStreams{Out: &out, OutTTY: true}, []string{"A", "B", "C"}, [][]string{
		{"日本", long, "1"},
		{"ab", "c", "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "A     B" + strings.Repeat(" ", 201) + "C\n" +
		"日本  " + long + "  1\n" +
		"ab    c" + strings.Repeat(" ", 201) + "2\n"
	if out.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", out.String(), want)
	}
}

func TestManyHoldersOnTerminal(t *testing.T) {
	fake := platformtest.Workstation()
	fake.Holders[1] = []int{100, 101, 102, 103, 104}
	for pid := 101; pid <= 104; pid++ {
		fake.Processes[pid] = platform.Process{PID: pid, Name: "sshd", User: "sshd", UID: 100}
	}
	out, _, _ := runCLI(t, fake, true, "list", "22")
	if !strings.Contains(out, "  100,101,102,+2  sshd     root,sshd") {
		t.Errorf("terminal:\n%s", out)
	}
	out, _, _ = runCLI(t, fake, false, "list", "22")
	if !strings.Contains(out, "\t100,101,102,103,104\tsshd\troot,sshd") {
		t.Errorf("piped:\n%s", out)
	}
	// An answer is for people, piped or not.
	if out, _, _ = runCLI(t, fake, false, "22"); !strings.Contains(out, "  100,101,102,+2  sshd     root,sshd") {
		t.Errorf("answer:\n%s", out)
	}
}

func TestTerminalLinesHaveNoTrailingSpaces(t *testing.T) {
	out, _, _ := runCLI(t, platformtest.Workstation(), true, "list")
	for i, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d ends in spaces: %q", i, line)
		}
	}
}

func TestLookupOnTerminal(t *testing.T) {
	out, errOut, code := runCLI(t, nil, true, "lookup", "3372")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "Port 3372 (tcp, udp)\n  Registered (IANA): tip2 (tcp, udp): TIP 2\n  MSDTC TIP listener") {
		t.Errorf("one port: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	out, _, code = runCLI(t, nil, true, "lookup", "3370-3373")
	lines := strings.Split(out, "\n")
	if code != 0 || !strings.HasPrefix(lines[0], "PORT  PROTO    REGISTERED (IANA)") ||
		!strings.Contains(out, "\n3372  tcp,udp  tip2 (TIP 2)") || !strings.Contains(out, "portinspect lookup PORT describes one port in full.") {
		t.Errorf("a range: exit %d:\n%s", code, out)
	}
	out, _, _ = runCLI(t, nil, true, "lookup", "3371-3372", "-o", "wide")
	if !strings.Contains(out, "Port 3371") || !strings.Contains(out, "Port 3372 (tcp, udp)\n") || !strings.Contains(out, "References:") {
		t.Errorf("-o wide describes every port in full:\n%s", out)
	}
	out, errOut, code = runCLI(t, nil, true, "lookup", "zzqqx")
	if code != exitNotFound || out != "Nothing in the database matches \"zzqqx\".\n" || errOut != "" {
		t.Errorf("nothing: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestLookupJSONContract(t *testing.T) {
	out, _, code := runCLI(t, nil, false, "lookup", "3372,22", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Schema string
		Source struct {
			Name, URL, Date string
			Rows            int
		}
		KnownPorts []map[string]any `json:"known_ports"`
		Warnings   []string
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "portinspect/v1" || doc.Source.Rows != 14447 || doc.Source.Date != "2024-04-30" || doc.Warnings == nil {
		t.Errorf("document %+v", doc)
	}
	if len(doc.KnownPorts) != 2 || doc.KnownPorts[0]["port"] != 22.0 || doc.KnownPorts[1]["port"] != 3372.0 {
		t.Fatalf("known_ports %v", doc.KnownPorts)
	}
	for _, e := range doc.KnownPorts {
		for field, kind := range map[string]string{"port": "number", "protocols": "array", "iana": "array", "notes": "array"} {
			if got := jsonKind(e[field]); got != kind {
				t.Errorf("port %v: %s is %s, want %s", e["port"], field, got, kind)
			}
		}
		note := e["notes"].([]any)[0].(map[string]any)
		for field, kind := range map[string]string{
			"ports": "array", "protocols": "array", "title": "string", "aliases": "array", "platforms": "array",
			"risk": "string", "risk_loopback": "string", "summary": "string", "commonly_seen": "array",
			"advice": "array", "references": "array",
		} {
			if got := jsonKind(note[field]); got != kind {
				t.Errorf("port %v note: %s is %s, want %s", e["port"], field, got, kind)
			}
		}
	}
}

// On a system without an adapter, commands that read the machine say so in
// one line and exit 3; lookup, which needs only the database, still works.
func TestUnsupportedSystem(t *testing.T) {
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		f := &Factory{
			IO: &IOStreams{Out: &out, ErrOut: &errOut},
			Inspector: func() (platform.Inspector, error) {
				return nil, fmt.Errorf("plan9: %w", platform.ErrNotSupported)
			},
			KnownPorts: knownports.Default,
		}
		code := Main(args, f)
		return out.String(), errOut.String(), code
	}
	for _, args := range [][]string{{"3372"}, {"list"}, {"audit"}, {"check", "--closed", "23"}} {
		out, errOut, code := run(args...)
		if code != exitInspect || out != "" || errOut != "portinspect: plan9: not supported on this operating system\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	out, errOut, code := run("lookup", "3372")
	if code != exitOK || !strings.Contains(out, "tip2") || errOut != "" {
		t.Errorf("lookup: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// A socket source the system lacks is the user's mistake: exit 2, naming
// the variable and the sources there are.
func TestUnknownSocketSource(t *testing.T) {
	t.Setenv(socketSourceEnv, "bogus")
	f := SystemFactory()
	var out, errOut bytes.Buffer
	f.IO = &IOStreams{Out: &out, ErrOut: &errOut}
	code := Main([]string{"3372", "-o", "json"}, f)
	if _, err := platform.New(platform.Options{}); errors.Is(err, platform.ErrNotSupported) {
		t.Skip("no adapter on this system")
	}
	want := `portinspect: PORTINSPECT_SOCKET_SOURCE: unknown socket source "bogus" (`
	if code != exitUsage || out.Len() != 0 || !strings.HasPrefix(errOut.String(), want) || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// TestLookupTableFitsTheTerminal: a search's table wraps its prose columns
// to a narrow terminal, and its piped rows stay whole.
func TestLookupTableFitsTheTerminal(t *testing.T) {
	var out, errOut bytes.Buffer
	f := &Factory{IO: &IOStreams{Out: &out, ErrOut: &errOut, OutTTY: true, Width: 70}, KnownPorts: knownports.Default}
	if code := Main([]string{"lookup", "remote", "desktop"}, f); code != 0 {
		t.Fatalf("exit %d, %s", code, errOut.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if displayWidth(line) > 70 {
			t.Errorf("wider than 70 columns: %q", line)
		}
	}
	assertContains(t, "table", out.String(), "PORT  PROTO    REGISTERED (IANA)", "3389  tcp,udp  ms-wbt-server")
	piped, _, _ := runCLI(t, platformtest.Workstation(), false, "lookup", "remote", "desktop")
	assertContains(t, "piped", piped, "3283\ttcp,udp\tApple Remote Desktop (Net Assistant) (Net Assistant)\tApple Remote Management (ARDAgent)\thigh\n")
}
