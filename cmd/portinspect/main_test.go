package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary be portinspect itself, and pi-listen, a
// helper that holds sockets, when scripts and tests run them.
func TestMain(m *testing.M) {
	if underWine() {
		// testscript.Main removes its command directory on the way out,
		// and Wine 8 cannot remove anything: Go's os.RemoveAll asks
		// NtSetInformationFile for FileDispositionInformationEx, which
		// Wine answers "invalid function". The run would end in exit 1
		// whatever its tests did; TestScripts says it skips.
		os.Exit(m.Run())
	}
	testscript.Main(m, map[string]func(){
		"portinspect": func() { os.Exit(Main(os.Args[1:], SystemFactory())) },
		"pi-listen":   listenHelper,
	})
}

// listenHelper holds the sockets named by its arguments
// ("tcp4:127.0.0.1:0", "udp6:[::1]:3372", Go's network names, or
// "dial:127.0.0.1:3372" for a TCP connection from it, or "pad:TEXT", which
// only makes the command line longer), prints "ready PID PORT..." (a
// connection's local port) and waits until its standard input closes. With
// -comm NAME it first renames itself, the way a hostile process can; with
// -orphan, it hands each TCP listener to a message it never reads and
// closes its own descriptors, so that no process holds the listener; with
// -device NAME, its sockets are bound to that interface (Linux); with
// -ignore-term, SIGTERM does not end it; with -fork, a child of it holds
// its sockets too, as a preforking server's workers do, and ends with it
// (-hold is that child).
func listenHelper() {
	args := os.Args[1:]
	orphan, fork := false, false
	var lc net.ListenConfig
	var files []*os.File
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-hold":
			bufio.NewReader(os.Stdin).ReadString('\n')
			return
		case args[0] == "-ignore-term":
			signal.Ignore(syscall.SIGTERM)
			args = args[1:]
		case args[0] == "-fork":
			fork = true
			args = args[1:]
		case args[0] == "-orphan":
			orphan = true
			args = args[1:]
		case args[0] == "-device" && len(args) >= 2:
			lc.Control = bindToDevice(args[1])
			args = args[2:]
		case args[0] == "-comm" && len(args) >= 2:
			// Writing /proc/self/comm renames the whole process as ps and
			// /proc/PID/stat show it.
			if err := os.WriteFile("/proc/self/comm", []byte(args[1]), 0); err != nil {
				helperFail(err)
			}
			args = args[2:]
		default:
			helperFail(fmt.Errorf("unknown option %q", args[0]))
		}
	}
	ports := []string{strconv.Itoa(os.Getpid())}
	for _, a := range args {
		network, addr, _ := strings.Cut(a, ":")
		if network == "pad" {
			continue // only there to make the command line long
		}
		var local net.Addr
		switch {
		case strings.HasPrefix(network, "tcp"):
			l, err := lc.Listen(context.Background(), network, addr)
			if err != nil {
				helperFail(err)
			}
			local = l.Addr()
			if fork {
				f, err := l.(*net.TCPListener).File()
				if err != nil {
					helperFail(err)
				}
				files = append(files, f)
			}
			if orphan {
				orphanListener(l.(*net.TCPListener))
			}
		case network == "dial":
			c, err := net.Dial("tcp", addr)
			if err != nil {
				helperFail(err)
			}
			local = c.LocalAddr()
		case strings.HasPrefix(network, "udp"):
			c, err := lc.ListenPacket(context.Background(), network, addr)
			if err != nil {
				helperFail(err)
			}
			local = c.LocalAddr()
		default:
			helperFail(fmt.Errorf("want tcp4:ADDR, udp6:ADDR, dial:ADDR…, got %q", a))
		}
		_, port, _ := net.SplitHostPort(local.String())
		ports = append(ports, port)
	}
	if fork {
		child := exec.Command(os.Args[0], "-hold")
		child.Stdin, child.Stderr, child.ExtraFiles = os.Stdin, os.Stderr, files
		if err := child.Start(); err != nil {
			helperFail(err)
		}
	}
	fmt.Println("ready", strings.Join(ports, " "))
	bufio.NewReader(os.Stdin).ReadString('\n')
}

func helperFail(err error) {
	fmt.Fprintln(os.Stderr, "pi-listen:", err)
	os.Exit(1)
}

// startListener runs pi-listen with args (through prefix, e.g. "ip netns
// exec NS") and returns its PID and ports; it stops when the test ends.
func startListener(t *testing.T, prefix []string, args ...string) (pid int, ports []int) {
	t.Helper()
	return startListenerAt(t, prefix, listenHelperPath(t), args...)
}

// startListenerAt is startListener with a copy of pi-listen at exe.
func startListenerAt(t *testing.T, prefix []string, exe string, args ...string) (pid int, ports []int) {
	t.Helper()
	argv := append(append(slices.Clone(prefix), exe), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) < 2 || fields[0] != "ready" {
		t.Fatalf("pi-listen %q: %q %v", args, line, err)
	}
	pid, _ = strconv.Atoi(fields[1])
	for _, f := range fields[2:] {
		p, _ := strconv.Atoi(f)
		ports = append(ports, p)
	}
	return pid, ports
}

func listenHelperPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("pi-listen")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestScripts runs testdata/script/*.txtar against the real machine, with
// sockets this test process holds: their owner is this test's PID.
func TestScripts(t *testing.T) {
	if underWine() {
		t.Skip("Wine cannot remove directories, which testscript's commands need (see TestMain); the scripts run on Linux")
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setupLiveSockets,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":  cmdExits,
			"expand": cmdExpand,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "linux":
				return runtime.GOOS == "linux", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// setupLiveSockets opens TCP and UDP sockets on 127.0.0.1 and [::1] and a
// connected TCP pair, and tells the script their ports ($TCP4, $TCP6,
// $UDP4, $UDP6, $CLIENT, the client end of the pair to $TCP4), a port
// nothing uses ($FREE) and this process's PID ($PID).
func setupLiveSockets(env *testscript.Env) error {
	var closers []func() error
	env.Defer(func() {
		for _, c := range closers {
			c()
		}
	})
	port := func(a net.Addr) string {
		_, p, _ := net.SplitHostPort(a.String())
		return p
	}
	for _, l := range []struct{ name, network, addr string }{
		{"TCP4", "tcp4", "127.0.0.1:0"},
		{"TCP6", "tcp6", "[::1]:0"},
	} {
		ln, err := net.Listen(l.network, l.addr)
		if err != nil {
			return err
		}
		closers = append(closers, ln.Close)
		env.Setenv(l.name, port(ln.Addr()))
		if l.name == "TCP4" {
			client, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				return err
			}
			closers = append(closers, client.Close)
			server, err := ln.Accept()
			if err != nil {
				return err
			}
			closers = append(closers, server.Close)
			env.Setenv("CLIENT", port(client.LocalAddr()))
		}
	}
	for _, u := range []struct{ name, network, addr string }{
		{"UDP4", "udp4", "127.0.0.1:0"},
		{"UDP6", "udp6", "[::1]:0"},
	} {
		c, err := net.ListenPacket(u.network, u.addr)
		if err != nil {
			return err
		}
		closers = append(closers, c.Close)
		env.Setenv(u.name, port(c.LocalAddr()))
	}
	free, err := freePort()
	if err != nil {
		return err
	}
	env.Setenv("FREE", strconv.Itoa(free))
	env.Setenv("PID", strconv.Itoa(os.Getpid()))
	return nil
}

// freePort returns a port that nothing used a moment ago, TCP or UDP,
// below Linux's ephemeral range (32768 and up), so that no socket the
// tests open meanwhile can take it.
func freePort() (int, error) {
	for range 100 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		if c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			c.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free port found")
}

// cmdExits runs a command and checks its exit code:
// exits CODE COMMAND [ARGS...].
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// cmdExpand replaces $VARS in files with the script's values, so that
// policy files can name the ports setupLiveSockets opened: expand FILE...
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: expand FILE...")
	}
	for _, name := range args {
		text := os.Expand(ts.ReadFile(name), ts.Getenv)
		if err := os.WriteFile(ts.MkAbs(name), []byte(text), 0o644); err != nil {
			ts.Fatalf("expand: %v", err)
		}
	}
}

// assertContains reports each of wants that out, the output named what,
// lacks.
func assertContains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, out)
		}
	}
}
