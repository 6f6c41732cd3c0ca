package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// whyDoc is why's JSON, as far as the tests read it.
type whyDoc struct {
	Verdict string
	Request struct {
		Protocol  string
		Addresses []string
		Port      int
		User      string
	}
	Reasons []struct {
		Code, Summary, Fix string
		Blocks             bool
		Evidence, Commands []string
	}
	Tried []struct {
		Address   string
		Port      int
		ReuseAddr bool
		ReusePort bool
		Error     string
	}
}

// why runs portinspect why (through prefix) and decodes its JSON.
func why(t *testing.T, prefix []string, args ...string) (whyDoc, int) {
	t.Helper()
	out, errOut, code := portinspect(t, prefix, append([]string{"why", "-o", "json"}, args...)...)
	var doc whyDoc
	if code == 0 || code == 1 {
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("why %q: %v: %s%s", args, err, out, errOut)
		}
	}
	return doc, code
}

// codes lists a verdict's reasons as "code" or "code!" where it blocks,
// but for the ephemeral range, where a port a test was given lies.
func (d whyDoc) codes() string {
	var out []string
	for _, r := range d.Reasons {
		c := r.Code
		if c == "ephemeral_range" {
			continue
		}
		if r.Blocks {
			c += "!"
		}
		out = append(out, c)
	}
	return d.Verdict + " " + strings.Join(out, ",")
}

func listenPort(t *testing.T, network, addr string, control func(network, address string, c syscall.RawConn) error) int {
	t.Helper()
	l, err := (&net.ListenConfig{Control: control}).Listen(context.Background(), network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// TestWhyConflicts holds why to the kernel's rules with listeners of this
// test: a specific address blocks the wildcard and itself but not another
// address; a dual-stack [::] blocks 0.0.0.0, an IPv6-only one does not;
// a bound UDP socket blocks a UDP bind. Each answer names this process,
// and the verdict agrees with the bind tried.
func TestWhyConflicts(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	loop := strconv.Itoa(listenPort(t, "tcp4", "127.0.0.1:0", nil))
	dual := strconv.Itoa(listenPort(t, "tcp", "[::]:0", nil))
	v6only := strconv.Itoa(listenPort(t, "tcp6", "[::]:0", func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1) })
		return err
	}))
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpPort := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)

	for _, tt := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"127.0.0.1:" + loop}, "blocked in_use!", 1},
		{[]string{loop}, "blocked in_use!", 1}, // the wildcard takes 127.0.0.1 too
		{[]string{"127.0.0.2:" + loop}, "free ", 0},
		{[]string{"0.0.0.0:" + dual}, "blocked in_use!", 1},
		{[]string{dual, "--address", "::1"}, "blocked in_use!", 1},
		{[]string{"0.0.0.0:" + v6only}, "free ", 0},
		{[]string{"[::1]:" + v6only}, "blocked in_use!", 1},
		{[]string{"127.0.0.1:" + udpPort, "-u"}, "blocked in_use!", 1},
		{[]string{"127.0.0.1:" + udpPort}, "free ", 0}, // TCP
	} {
		doc, code := why(t, nil, tt.args...)
		if got := doc.codes(); got != tt.want || code != tt.code {
			t.Errorf("why %q: %s, exit %d; want %s, exit %d", tt.args, got, code, tt.want, tt.code)
			continue
		}
		if code == 1 && !strings.Contains(strings.Join(doc.Reasons[0].Evidence, "\n"), "(pid "+pid+")") {
			t.Errorf("why %q: the evidence does not name this process %s: %q", tt.args, pid, doc.Reasons[0].Evidence)
		}
		// The verdict is the bind's: every address bound, or one failed.
		failed := false
		for _, try := range doc.Tried {
			failed = failed || try.Error != ""
		}
		if len(doc.Tried) == 0 || failed != (code == 1) {
			t.Errorf("why %q: the verdict %s, the binds tried: %+v", tt.args, doc.Verdict, doc.Tried)
		}
	}

	// The text: a verdict line, the reason with what shows it and the fix.
	out, _, _ := portinspect(t, nil, "why", "127.0.0.1:"+loop)
	for _, want := range []string{
		"Blocked: a bind of 127.0.0.1:" + loop + " (tcp) as this user would fail.",
		"(pid " + pid + ") holds 127.0.0.1:" + loop + " (in_use, blocks)",
		"  seen: tcp 127.0.0.1:" + loop + " LISTEN, held by ",
		"  fix:  Stop what holds it",
		"Tried: bind(127.0.0.1:" + loop + "): address already in use",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("why's text lacks %q:\n%s", want, out)
		}
	}
}

// TestWhyTimeWait: once the server closed first and went, only TIME_WAIT
// is left on its port: a bind without SO_REUSEADDR fails, one with it
// succeeds, and the verdict says so.
func TestWhyTimeWait(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // the server closes first: its end waits
	l.Close()
	c.Read(make([]byte, 1))
	c.Close()

	doc, code := why(t, nil, "127.0.0.1:"+port)
	if doc.codes() != "free time_wait" || code != 0 {
		t.Fatalf("why after the server left: %s, exit %d", doc.codes(), code)
	}
	if len(doc.Tried) != 2 || doc.Tried[0].Error != "address already in use" || !doc.Tried[1].ReuseAddr || doc.Tried[1].Error != "" {
		t.Errorf("binds tried: %+v", doc.Tried)
	}
}

// TestWhyPolicy runs in a network namespace of its own, whose sysctls the
// test may change: a port below ip_unprivileged_port_start, as nobody and
// as root, and after the start is lowered; a port in the ephemeral range,
// and after it is reserved; a listener of another namespace, which does
// not conflict; and bad input.
func TestWhyPolicy(t *testing.T) {
	requireRoot(t, "ip", "setpriv", "sysctl", "setcap")
	inNS := newNetns(t)
	nobody := append(append([]string{}, inNS...), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all")
	sysctl := func(kv string) {
		t.Helper()
		if _, errOut, code := runCommand(t, append(append([]string{}, inNS...), "sysctl", "-qw", kv)); code != 0 {
			t.Fatalf("sysctl %s: %s", kv, errOut)
		}
	}
	bin := publicCopy(t)
	whyAs := func(prefix []string, args ...string) (whyDoc, int) {
		t.Helper()
		out, errOut, code := runCommand(t, append(append(append([]string{}, prefix...), bin, "why", "-o", "json"), args...))
		var doc whyDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("why %q: %v: %s%s", args, err, out, errOut)
		}
		return doc, code
	}

	if doc, code := whyAs(nobody, "80"); doc.codes() != "blocked privileged!" || code != 1 {
		t.Errorf("80 as nobody: %s, exit %d", doc.codes(), code)
	} else if !strings.Contains(doc.Reasons[0].Summary, "below 1024") || doc.Tried[0].Error != "permission denied" {
		t.Errorf("80 as nobody: %+v", doc)
	}
	// As root, --user tries the bind in a child with that user's
	// credentials.
	if doc, code := whyAs(inNS, "80", "--user", "nobody"); doc.codes() != "blocked privileged!" || code != 1 || doc.Request.User != "nobody" ||
		len(doc.Tried) != 2 || doc.Tried[0].Error != "permission denied" {
		t.Errorf("80 --user nobody, as root: %s, exit %d, %+v", doc.codes(), code, doc)
	}
	if doc, code := whyAs(inNS, "8081", "--user", "nobody"); doc.codes() != "free " || code != 0 || len(doc.Tried) != 2 || doc.Tried[0].Error != "" {
		t.Errorf("8081 --user nobody, as root: %s, exit %d, %+v", doc.codes(), code, doc)
	}
	if doc, code := whyAs(inNS, "80"); doc.codes() != "free " || code != 0 {
		t.Errorf("80 as root: %s, exit %d", doc.codes(), code)
	}
	// --program: a program file that grants CAP_NET_BIND_SERVICE binds
	// 80 whoever runs it; one that does not, does not; and a script's
	// capability the kernel ignores.
	dir := t.TempDir()
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && st.Flags&unix.ST_NOSUID != 0 {
		t.Fatalf("%s is on a nosuid mount, where file capabilities do not work: set TMPDIR elsewhere", dir)
	}
	plainProgram, capProgram, capScript := filepath.Join(dir, "server"), filepath.Join(dir, "server-with-cap"), filepath.Join(dir, "script-with-cap")
	elf, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	for p, body := range map[string][]byte{plainProgram: elf, capProgram: elf, capScript: []byte("#!/bin/sh\n")} {
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{capProgram, capScript} {
		if _, errOut, code := runCommand(t, []string{"setcap", "cap_net_bind_service=+ep", p}); code != 0 {
			t.Fatalf("setcap: %s", errOut)
		}
	}
	if doc, code := whyAs(inNS, "80", "--user", "nobody", "--program", capScript); doc.codes() != "blocked privileged!" || code != 1 ||
		!strings.Contains(doc.Reasons[0].Summary, "it is a script") {
		t.Errorf("80 --user nobody --program, a script with the capability: %s, exit %d, %+v", doc.codes(), code, doc.Reasons)
	}
	if doc, code := whyAs(inNS, "80", "--user", "nobody", "--program", capProgram); doc.codes() != "free privileged" || code != 0 ||
		!slices.Contains(doc.Reasons[0].Evidence, "getcap "+capProgram+": cap_net_bind_service=ep") {
		t.Errorf("80 --user nobody --program with the capability: %s, exit %d, %+v", doc.codes(), code, doc.Reasons)
	}
	if doc, code := whyAs(inNS, "80", "--user", "nobody", "--program", plainProgram); doc.codes() != "blocked privileged!" || code != 1 ||
		doc.Reasons[0].Commands[0] != "sudo setcap cap_net_bind_service=+ep "+plainProgram {
		t.Errorf("80 --user nobody --program without it: %s, exit %d, %+v", doc.codes(), code, doc.Reasons)
	}
	sysctl("net.ipv4.ip_unprivileged_port_start=80")
	if doc, code := whyAs(nobody, "80"); doc.codes() != "free " || code != 0 {
		t.Errorf("80 as nobody, the start lowered to 80: %s, exit %d", doc.codes(), code)
	}

	sysctl("net.ipv4.ip_local_port_range=40000 40100")
	doc, code := whyAs(inNS, "40050")
	if doc.Verdict != "free" || len(doc.Reasons) != 1 || doc.Reasons[0].Code != "ephemeral_range" || code != 0 || !strings.Contains(doc.Reasons[0].Summary, "40000-40100") ||
		doc.Reasons[0].Commands[0] != "sudo sysctl -w net.ipv4.ip_local_reserved_ports=40050" {
		t.Errorf("40050 in the ephemeral range: %s, exit %d, %+v", doc.codes(), code, doc.Reasons)
	}
	sysctl("net.ipv4.ip_local_reserved_ports=40050")
	if doc, code := whyAs(inNS, "40050"); len(doc.Reasons) != 0 || code != 0 {
		t.Errorf("40050 reserved: %s, exit %d", doc.codes(), code)
	}

	// Another namespace's listener: no conflict here, and said so.
	_, ports := startListener(t, inNS, "tcp4:0.0.0.0:0")
	port := strconv.Itoa(ports[0])
	if doc, code := whyAs(nil, port); doc.codes() != "free other_netns" || code != 0 || !strings.Contains(doc.Reasons[0].Summary, inNS[3]) {
		t.Errorf("a port of namespace %s, from this one: %s, exit %d, %+v", inNS[3], doc.codes(), code, doc.Reasons)
	}
	if doc, code := whyAs(inNS, port); doc.codes() != "blocked in_use!" || code != 1 {
		t.Errorf("the same port in its namespace: %s, exit %d", doc.codes(), code)
	}

	for _, args := range [][]string{
		{"why", "80", "--program", "/no/such/program"},
		{"why"}, {"why", "1-5"}, {"why", "80,81"}, {"why", "80", "-t", "-u"}, {"why", "80", "--user", "pi-no-such-user"},
		{"why", "127.0.0.1:80", "--address", "::1"}, {"why", "80", "--address", "not-an-address"},
	} {
		_, errOut, code := portinspect(t, nil, args...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "portinspect: ") {
			t.Errorf("%q: exit %d, %q", args, code, errOut)
		}
	}
}

// TestWhyReusePort: a listener of this process that set SO_REUSEPORT
// admits a bind that sets it too, as the same user only; one that did
// not admits none.
func TestWhyReusePort(t *testing.T) {
	reusePort := func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return err
	}
	shared := "127.0.0.1:" + strconv.Itoa(listenPort(t, "tcp4", "127.0.0.1:0", reusePort))
	plain := "127.0.0.1:" + strconv.Itoa(listenPort(t, "tcp4", "127.0.0.1:0", nil))
	if doc, code := why(t, nil, shared, "--reuseport"); doc.codes() != "free in_use" || code != 0 || !strings.Contains(doc.Reasons[0].Summary, "joins them") || !doc.Tried[0].ReusePort {
		t.Errorf("--reuseport beside a listener with SO_REUSEPORT: %s, exit %d, %+v", doc.codes(), code, doc)
	}
	if doc, code := why(t, nil, shared); doc.codes() != "blocked in_use!" || code != 1 {
		t.Errorf("a plain bind beside it: %s, exit %d", doc.codes(), code)
	}
	if doc, code := why(t, nil, plain, "--reuseport"); doc.codes() != "blocked in_use!" || code != 1 {
		t.Errorf("--reuseport beside a listener without SO_REUSEPORT: %s, exit %d", doc.codes(), code)
	}
	if os.Geteuid() != 0 {
		t.Skip("another user's bind is tried by a child with that user's credentials, which needs root")
	}
	bin := publicCopy(t)
	out, errOut, code := runCommand(t, []string{bin, "why", "-o", "json", shared, "--reuseport", "--user", "nobody"})
	var doc whyDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s%s", err, out, errOut)
	}
	if doc.codes() != "blocked in_use!" || code != 1 || !strings.Contains(doc.Reasons[0].Summary, "as UID "+strconv.Itoa(os.Geteuid())+", and SO_REUSEPORT joins only listeners of the same user") ||
		doc.Tried[0].Error != "address already in use" {
		t.Errorf("--reuseport --user nobody beside root's group: %s, exit %d, %+v", doc.codes(), code, doc)
	}
}
