package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/knownports"
)

// freeDoc is free's JSON, as far as the tests read it.
type freeDoc struct {
	Signal  string
	DryRun  bool `json:"dry_run"`
	Holders []struct {
		Process *struct {
			PID  int
			Name string
		}
		Action, Manager, Reason, Result, Error string
		Command                                []string
	}
	Free      *bool
	Remaining []struct{ LocalPort int } `json:"remaining"`
}

func free(t *testing.T, args ...string) (freeDoc, string, int) {
	t.Helper()
	out, errOut, code := portinspect(t, nil, append([]string{"free", "-o", "json"}, args...)...)
	var doc freeDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("free %q: %v in %q (stderr %q)", args, err, out, errOut)
	}
	return doc, errOut, code
}

func (d freeDoc) pids() []int {
	var out []int
	for _, h := range d.Holders {
		if h.Process != nil {
			out = append(out, h.Process.PID)
		}
	}
	slices.Sort(out)
	return out
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := bytes.Cut(b, []byte(") "))
	return len(rest) > 0 && rest[0] != 'Z'
}

// bindable reports whether a listener can take 127.0.0.1:port now.
func bindable(t *testing.T, port int) bool {
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TestFreeSignals frees the ports of real listeners: one that exits on
// TERM, one that ignores it (KILL ends it), and a forked pair sharing
// one listener.
func TestFreeSignals(t *testing.T) {
	pid, ports := startListener(t, nil, "tcp4:127.0.0.1:0")
	port := strconv.Itoa(ports[0])
	doc, _, code := free(t, port, "--dry-run")
	if code != 1 || doc.Free != nil || !slices.Equal(doc.pids(), []int{pid}) || doc.Holders[0].Action != "signal" || doc.Holders[0].Result != "untouched" || !alive(pid) {
		t.Fatalf("--dry-run: exit %d, %+v; pid %d alive %v", code, doc, pid, alive(pid))
	}
	if _, errOut, code := portinspect(t, nil, "free", port); code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "--yes") || !alive(pid) {
		t.Errorf("piped without --yes: exit %d, %q; pid %d alive %v", code, errOut, pid, alive(pid))
	}
	doc, _, code = free(t, port, "--yes")
	if code != 0 || doc.Free == nil || !*doc.Free || doc.Holders[0].Result != "gone" || alive(pid) || !bindable(t, ports[0]) {
		t.Errorf("TERM: exit %d, %+v; pid %d alive %v", code, doc, pid, alive(pid))
	}

	pid, ports = startListener(t, nil, "-ignore-term", "tcp4:127.0.0.1:0")
	port = strconv.Itoa(ports[0])
	out, _, code := portinspect(t, nil, "free", port, "--yes", "--timeout", "300ms")
	if code != 1 || !alive(pid) || !strings.Contains(out, "still running") || !strings.Contains(out, "--signal KILL") {
		t.Errorf("a holder that ignores TERM: exit %d, pid %d alive %v:\n%s", code, pid, alive(pid), out)
	}
	doc, _, code = free(t, port, "--yes", "--signal", "kill")
	if code != 0 || doc.Signal != "KILL" || alive(pid) || !bindable(t, ports[0]) {
		t.Errorf("--signal kill: exit %d, %+v; pid %d alive %v", code, doc, pid, alive(pid))
	}

	pid, ports = startListener(t, nil, "-fork", "tcp4:127.0.0.1:0")
	port = strconv.Itoa(ports[0])
	doc, _, code = free(t, port, "--yes")
	if code != 0 || len(doc.pids()) != 2 || !slices.Contains(doc.pids(), pid) || !bindable(t, ports[0]) {
		t.Errorf("a forked pair: exit %d, %+v", code, doc)
	}
	for _, h := range doc.Holders {
		if h.Result != "gone" || alive(h.Process.PID) {
			t.Errorf("forked pair: %s (pid %d): %s, alive %v", h.Process.Name, h.Process.PID, h.Result, alive(h.Process.PID))
		}
	}

	doc, _, code = free(t, port, "--yes")
	if code != 0 || len(doc.Holders) != 0 || doc.Free == nil || !*doc.Free {
		t.Errorf("a free port: exit %d, %+v", code, doc)
	}
}

// TestFreeRefuses checks what free never touches: a socket no process
// holds, portinspect itself, and bad input.
func TestFreeRefuses(t *testing.T) {
	// A machine with a process root may not read (one in another user
	// namespace) says the owner is hidden rather than none.
	_, ports := startListener(t, nil, "-orphan", "tcp4:127.0.0.1:0")
	doc, _, code := free(t, strconv.Itoa(ports[0]), "--yes")
	if code != 1 || len(doc.Holders) != 1 || doc.Holders[0].Process != nil || doc.Holders[0].Action != "refuse" ||
		!strings.Contains(doc.Holders[0].Reason, "kernel") && !strings.Contains(doc.Holders[0].Reason, "hidden") {
		t.Errorf("an ownerless listener: exit %d, %+v", code, doc)
	}

	// In this process, whose own listener is portinspect's.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	out, _, code := runLive(t, false, "", "free", port, "--yes")
	if code != 1 || !strings.Contains(out, "refused: it is portinspect itself") {
		t.Errorf("itself: exit %d:\n%s", code, out)
	}

	for _, args := range [][]string{
		{"free"}, {"free", "80", "--signal", "STOP"}, {"free", "80", "--signal", "99"}, {"free", "80", "--timeout", "-1s"},
		{"free", "80", "--timeout", "soon"}, {"free", "no-such-service"}, {"free", "80", "-o", "csv"},
	} {
		_, errOut, code := portinspect(t, nil, args...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "portinspect: ") {
			t.Errorf("%q: exit %d, %q", args, code, errOut)
		}
	}
}

// TestFreeAsks runs free in this process as if on a terminal: it shows
// the holders, asks, and acts only on yes.
func TestFreeAsks(t *testing.T) {
	pid, ports := startListener(t, nil, "tcp4:127.0.0.1:0")
	port := strconv.Itoa(ports[0])
	out, errOut, code := runLive(t, true, "n\n", "free", port)
	if code != 1 || !alive(pid) || !strings.Contains(errOut, "Send TERM to pi-listen (pid "+strconv.Itoa(pid)+")? [y/N]") || !strings.Contains(errOut, "Nothing done.") || out != "" {
		t.Errorf("answered n: exit %d, alive %v, stderr:\n%s\nstdout:\n%s", code, alive(pid), errOut, out)
	}
	out, errOut, code = runLive(t, true, "y\n", "free", port)
	if code != 0 || alive(pid) || !strings.Contains(out, "pi-listen (pid "+strconv.Itoa(pid)+"): gone.") || !strings.Contains(out, "is free.") {
		t.Errorf("answered y: exit %d, alive %v, stderr:\n%s\nstdout:\n%s", code, alive(pid), errOut, out)
	}
}

// runLive runs portinspect in this process against the machine, its
// standard input answer and a terminal when tty.
func runLive(t *testing.T, tty bool, answer string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := SystemFactory()
	f.IO = &IOStreams{In: strings.NewReader(answer), InTTY: tty, Out: &out, ErrOut: &errOut, Width: 100}
	f.KnownPorts = knownports.Default
	code = Main(args, f)
	return out.String(), errOut.String(), code
}
