package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWatchJSON runs watch -o json --for 3s in a namespace the test made
// while a listener appears there and goes: one line each, flushed as it
// happens, with the listener's owner.
func TestWatchJSON(t *testing.T) {
	requireRoot(t, "ip")
	inNS := newNetns(t)
	bin, err := exec.LookPath("portinspect")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(inNS[0], append(inNS[1:], bin, "watch", "-o", "json", "--for", "3s", "--interval", "100ms")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // the first refresh is the starting point
	pid, _ := startListener(t, inNS, "-comm", "watched", "tcp4:127.0.0.1:17070")

	type event struct {
		Event  string
		Time   time.Time
		Socket struct {
			LocalPort int `json:"local_port"`
			State     string
			Processes []struct {
				PID  int
				Name string
			}
		}
	}
	next := func() event {
		t.Helper()
		select {
		case l, ok := <-lines:
			var e event
			if !ok || json.Unmarshal([]byte(l), &e) != nil || strings.Contains(l, "\n") {
				t.Fatalf("a line that is no event: %q", l)
			}
			return e
		case <-time.After(2 * time.Second):
			t.Fatal("no event within 2 s: not flushed?")
		}
		return event{}
	}
	e := next()
	if e.Event != "added" || e.Socket.LocalPort != 17070 || e.Socket.State != "LISTEN" || len(e.Socket.Processes) != 1 ||
		e.Socket.Processes[0].PID != pid || e.Socket.Processes[0].Name != "watched" || time.Since(e.Time) > 2*time.Second {
		t.Errorf("added: %+v", e)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if e := next(); e.Event != "removed" || e.Socket.LocalPort != 17070 || e.Socket.Processes[0].PID != pid {
		t.Errorf("removed: %+v", e)
	}
	// --for ends it, exit 0.
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch --for 3s: %v", err)
	}
	for _, args := range [][]string{{"watch", "--interval", "1ms"}, {"watch", "--count", "-1"}, {"watch", "--for", "-1s"}, {"watch", "-o", "csv"}, {"watch", "-l", "-a"}} {
		if _, errOut, code := portinspect(t, nil, args...); code != 2 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, %q", args, code, errOut)
		}
	}
}
