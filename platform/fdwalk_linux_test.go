package platform

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fakeProc builds a /proc-like tree: pid -> fd number -> link target.
func fakeProc(t *testing.T, procs map[string]map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, fds := range procs {
		dir := filepath.Join(root, pid, "fd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for fd, target := range fds {
			if err := os.Symlink(target, filepath.Join(dir, fd)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestOwnersFromFixtureTree(t *testing.T) {
	root := fakeProc(t, map[string]map[string]string{
		"100":  {"0": "/dev/null", "3": "socket:[555]", "4": "pipe:[12]"},
		"200":  {"7": "socket:[555]", "8": "socket:[556]", "9": "socket:[556]"},
		"300":  {"1": "socket:[999]", "2": "socket:[bad]", "5": "socket:[]"},
		"self": {"3": "socket:[555]"}, // not a PID: must not count
	})
	if err := os.MkdirAll(filepath.Join(root, "400"), 0o755); err != nil { // exited: no fd dir
		t.Fatal(err)
	}
	l := newLinuxInspector(Options{ProcRoot: root})
	me := int64(os.Geteuid())
	socks := []Socket{
		{Protocol: TCP, Inode: 555, State: Listen, UID: me},
		{Protocol: TCP, Inode: 556, State: Established, UID: me},
		{Protocol: TCP, Inode: 557, State: Established, UID: me},
		{Protocol: TCP, Inode: 0, State: TimeWait},
	}
	rep, err := l.Owners(context.Background(), socks)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Denied != 0 {
		t.Errorf("denied %d, want 0", rep.Denied)
	}
	want := []struct {
		pids   []int
		status OwnerStatus
	}{
		{[]int{100, 200}, OwnersKnown}, // shared by two processes: both listed
		{[]int{200}, OwnersKnown},      // two descriptors, one process
		{nil, OwnersNone},
		{nil, OwnersNone},
	}
	for i, w := range want {
		if !slices.Equal(socks[i].PIDs, w.pids) || socks[i].Owners != w.status {
			t.Errorf("socket %d (inode %d): pids %v %v, want %v %v", i, socks[i].Inode, socks[i].PIDs, socks[i].Owners, w.pids, w.status)
		}
	}
}

// TestOwnersOfOtherUsersHidden is /proc mounted with hidepid: other users'
// processes are simply missing, with no error to count. Unprivileged, a
// socket of another user that no visible process holds is hidden, not
// ownerless.
func TestOwnersOfOtherUsersHidden(t *testing.T) {
	root := fakeProc(t, map[string]map[string]string{
		"100": {"3": "socket:[555]"},
	})
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	unprivileged := "Name:\tportinspect\nCapEff:\t0000000000000000\n"
	if err := os.WriteFile(filepath.Join(root, "self", "status"), []byte(unprivileged), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newLinuxInspector(Options{ProcRoot: root})
	me := int64(os.Geteuid())
	socks := []Socket{{Inode: 555, UID: me + 1}, {Inode: 556, UID: me}, {Inode: 557, UID: me + 1}, {Inode: 0, UID: me + 1}}
	rep, err := l.Owners(context.Background(), socks)
	if err != nil {
		t.Fatal(err)
	}
	got := []OwnerStatus{socks[0].Owners, socks[1].Owners, socks[2].Owners, socks[3].Owners}
	want := []OwnerStatus{OwnersKnown, OwnersNone, OwnersHidden, OwnersNone}
	if rep.Denied != 0 || !slices.Equal(got, want) {
		t.Errorf("denied %d, statuses %v, want 0 and %v", rep.Denied, got, want)
	}
	if l.Host().Privileged {
		t.Error("CapEff 0 is privileged")
	}
}

func TestOwnersDeniedMakesHidden(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads a mode-000 directory anyway; the unprivileged CLI test covers this as root")
	}
	root := fakeProc(t, map[string]map[string]string{
		"100": {"3": "socket:[555]"},
		"200": {"3": "socket:[556]"},
	})
	if err := os.Chmod(filepath.Join(root, "200", "fd"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "200", "fd"), 0o755) })
	l := newLinuxInspector(Options{ProcRoot: root})
	me := int64(os.Geteuid())
	socks := []Socket{{Inode: 555, UID: me}, {Inode: 556, UID: me}, {Inode: 0, State: TimeWait}}
	rep, err := l.Owners(context.Background(), socks)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Denied != 1 {
		t.Errorf("denied %d, want 1", rep.Denied)
	}
	if socks[0].Owners != OwnersKnown || socks[1].Owners != OwnersHidden || socks[2].Owners != OwnersNone {
		t.Errorf("statuses %v %v %v, want known hidden none", socks[0].Owners, socks[1].Owners, socks[2].Owners)
	}
}

func TestParseInodeDigits(t *testing.T) {
	for in, want := range map[string]uint64{"123]": 123, "0]": 0, "4294967295]": 4294967295} {
		if got, ok := parseInodeDigits([]byte(in)); !ok || got != want {
			t.Errorf("parseInodeDigits(%q) = %d %v", in, got, ok)
		}
	}
	for _, bad := range []string{"]", "12", "1a]", ""} {
		if _, ok := parseInodeDigits([]byte(bad)); ok {
			t.Errorf("parseInodeDigits(%q) ok", bad)
		}
	}
}
