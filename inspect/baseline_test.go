package inspect

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/platformtest"
)

func baselineOf(t *testing.T, fake *platformtest.Fake) *Baseline {
	t.Helper()
	rep, err := Run(context.Background(), fake, nil, Query{Listening: true, Detail: platform.DetailFull})
	if err != nil {
		t.Fatal(err)
	}
	return NewBaseline(rep, platform.PortRange{Low: 32768, High: 60999, TCP: true, UDP: true}, time.Unix(0, 0))
}

func TestBaselineNoiseAndDrift(t *testing.T) {
	T, U := platform.TCP, platform.UDP
	machine := func() *platformtest.Fake {
		return &platformtest.Fake{
			SocketList: []platform.Socket{
				platformtest.Sock(T, "0.0.0.0:22", "0.0.0.0:0", platform.Listen, 1),
				platformtest.Sock(T, "[::]:22", "[::]:0", platform.Listen, 2), // v6only beside 0.0.0.0: one listener
				platformtest.Sock(T, "127.0.0.1:5432", "0.0.0.0:0", platform.Listen, 3),
				platformtest.Sock(U, "0.0.0.0:41234", "0.0.0.0:0", platform.Unconnected, 4), // a resolver's socket: noise
				platformtest.Sock(U, "0.0.0.0:123", "0.0.0.0:0", platform.Unconnected, 5),
				platformtest.Sock(T, "127.0.0.1:8080", "0.0.0.0:0", platform.Listen, 6),
			},
			Holders: map[uint64][]int{1: {100}, 2: {100}, 3: {200}, 4: {300}, 5: {400}, 6: {500}},
			Processes: map[int]platform.Process{
				100: {PID: 100, Name: "sshd", Exe: "/usr/sbin/sshd", Service: "ssh.service"},
				200: {PID: 200, Name: "postgres", Exe: "/usr/lib/postgresql/16/bin/postgres", Service: "postgresql@16-main.service"},
				300: {PID: 300, Name: "systemd-resolve"},
				400: {PID: 400, Name: "chronyd", Exe: "/usr/sbin/chronyd", Service: "chrony.service"},
				500: {PID: 500, Name: "python3", Exe: "/usr/bin/python3.12"},
			},
			Machine: platform.Host{Hostname: "web1", OS: "linux", Privileged: true},
		}
	}
	base := baselineOf(t, machine())
	var names []string
	for _, l := range base.Listeners {
		names = append(names, l.Name()+" "+l.Owner())
	}
	if got := strings.Join(names, "; "); got != "tcp *:22 /usr/sbin/sshd (ssh.service); udp *:123 /usr/sbin/chronyd (chrony.service); tcp 127.0.0.1:5432 /usr/lib/postgresql/16/bin/postgres (postgresql@16-main.service); tcp 127.0.0.1:8080 /usr/bin/python3.12" {
		t.Errorf("baseline: %s", got)
	}
	if d := Diff(base, baselineOf(t, machine())); len(d.Changes) != 0 {
		t.Errorf("the same machine drifts: %+v", d.Changes)
	}

	// Every kind of change: 8080 gone, 9000 new, 5432 held by another
	// program; the resolver's port moved (noise, no drift).
	m := machine()
	m.SocketList[5] = platformtest.Sock(T, "0.0.0.0:9000", "0.0.0.0:0", platform.Listen, 7)
	m.Holders[7] = []int{600}
	m.Processes[600] = platform.Process{PID: 600, Name: "php-fpm"}
	m.Processes[200] = platform.Process{PID: 200, Name: "nc", Exe: "/usr/bin/nc.openbsd"}
	m.SocketList[3] = platformtest.Sock(U, "0.0.0.0:50123", "0.0.0.0:0", platform.Unconnected, 4)
	d := Diff(base, baselineOf(t, m))
	var got []string
	for _, c := range d.Changes {
		s := c.Change + " " + c.Listener.Name() + " " + c.Listener.Owner()
		if c.Was != nil {
			s += " was " + c.Was.Owner()
		}
		got = append(got, s)
	}
	if want := "changed tcp 127.0.0.1:5432 /usr/bin/nc.openbsd was /usr/lib/postgresql/16/bin/postgres (postgresql@16-main.service); added tcp *:9000 php-fpm; removed tcp 127.0.0.1:8080 /usr/bin/python3.12"; strings.Join(got, "; ") != want {
		t.Errorf("drift:\n %s\nwant\n %s", strings.Join(got, "; "), want)
	}

	// Without privilege, owners hidden: not drift, but counted.
	m = machine()
	m.Machine.Privileged = false
	m.Holders = map[uint64][]int{1: {100}, 2: {100}, 4: {300}, 5: {400}}
	m.Unreadable = map[uint64]bool{3: true, 6: true}
	d = Diff(base, baselineOf(t, m))
	if len(d.Changes) != 0 || d.OwnersUncompared != 2 {
		t.Errorf("hidden owners: %+v, %d uncompared; want no drift, 2", d.Changes, d.OwnersUncompared)
	}
}

func TestBaselineFile(t *testing.T) {
	// Not t.TempDir: Wine, which runs the Windows build of these tests,
	// cannot remove files, and TempDir's cleanup fails the test there.
	dir, err := os.MkdirTemp("", "baseline")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	file := filepath.Join(dir, "baseline.json")
	b := &Baseline{Schema: BaselineSchema, Hostname: "web1", Created: time.Unix(1700000000, 0).UTC(), Listeners: []BaselineListener{
		{Protocol: "tcp", Family: "any", Exposure: "all", Address: "*", Port: 22, Program: "sshd", OwnerSeen: true},
	}}
	if err := WriteBaselineFile(file, b); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the write left %d files, want the baseline alone", len(entries))
	}
	missing := filepath.Join(dir, "etc", "portinspect")
	if err := WriteBaselineFile(filepath.Join(missing, "baseline.json"), b); err == nil ||
		err.Error() != "no directory "+missing+": make it first (mkdir -p "+missing+")" {
		t.Errorf("into a missing directory: %v", err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadBaseline(bytes.NewReader(raw))
	if err != nil || len(back.Listeners) != 1 || back.Listeners[0] != b.Listeners[0] || !back.Created.Equal(b.Created) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for name, bad := range map[string]string{
		"truncated":    string(raw[:len(raw)/2]),
		"foreign":      `{"schema": "portinspect/v1", "sockets": []}`,
		"other schema": `{"schema": "portinspect-baseline/v9", "listeners": []}`,
		"no port":      `{"schema": "portinspect-baseline/v1", "listeners": [{"protocol": "tcp", "address": "*"}]}`,
		"two":          string(raw) + string(raw),
		"empty":        "",
	} {
		if _, err := ReadBaseline(strings.NewReader(bad)); !errors.Is(err, ErrBadBaseline) {
			t.Errorf("%s: %v, want ErrBadBaseline", name, err)
		}
	}
}
