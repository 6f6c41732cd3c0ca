package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWatchTUI runs the live view in a real terminal: tmux, 80×24, in a
// namespace the test made. A listener opened there shows, marked new; q
// ends the view, the shell's prompt comes back and the terminal is sane.
func TestWatchTUI(t *testing.T) {
	requireRoot(t, "ip", "tmux")
	inNS := newNetns(t)
	bin, err := exec.LookPath("portinspect")
	if err != nil {
		t.Fatal(err)
	}
	server := fmt.Sprintf("pi-watch-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", server}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v: %s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "w", "-x", "80", "-y", "24", "env", "PS1=READY$ ", "TERM=xterm-256color", "bash", "--norc", "--noprofile")
	t.Cleanup(func() { exec.Command("tmux", "-L", server, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", "w") }
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		var s string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if s = screen(); ok(s) {
				return s
			}
		}
		t.Fatalf("%s; the screen:\n%s", what, s)
		return ""
	}
	waitFor("no prompt", func(s string) bool { return strings.Contains(s, "READY$") })
	tmux("send-keys", "-t", "w", strings.Join(append(inNS, bin, "watch", "--interval", "500ms"), " "), "Enter")
	waitFor("the view does not start", func(s string) bool { return strings.Contains(s, "q quit p pause") })

	pid, _ := startListener(t, inNS, "-comm", "newcomer", "tcp4:127.0.0.1:17171")
	s := waitFor("the listener is not shown marked new", func(s string) bool {
		return regexp.MustCompile(fmt.Sprintf(`(?m)^\+ tcp +127\.0\.0\.1:17171 +LISTEN +newcomer \(pid %d\)`, pid)).MatchString(s)
	})
	for i, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if displayWidth(l) > 80 || i >= 24 {
			t.Errorf("line %d does not fit 80×24: %q", i+1, l)
		}
	}

	tmux("send-keys", "-t", "w", "q")
	waitFor("q does not give the prompt back", func(s string) bool { return strings.Contains(s, "READY$") && !strings.Contains(s, "q quit p pause") })
	tmux("send-keys", "-t", "w", "stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo|isig)' | tr '\\n' ' '; echo DO\"\"NE", "Enter")
	s = waitFor("stty did not answer", func(s string) bool { return strings.Contains(s, "DONE") })
	if !strings.Contains(s, "isig icanon echo") {
		t.Errorf("the terminal is not sane after q (want isig icanon echo):\n%s", s)
	}
}
