package platform

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, stat string
		comm       string
		ticks      uint64
	}{
		{"plain", "4242 (sshd) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 2 3\n", "sshd", 12345},
		{"spaces and parens", "7 (a) (b c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0\n", "a) (b c)", 99},
		{"escape bytes", "8 (\x1b[31mred) S 1 8 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0\n", "\x1b[31mred", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := parseProcStat([]byte(tt.stat))
			if err != nil {
				t.Fatal(err)
			}
			if st.comm != tt.comm || st.startTicks != tt.ticks {
				t.Errorf("got %q %d, want %q %d", st.comm, st.startTicks, tt.comm, tt.ticks)
			}
		})
	}
	for _, bad := range []string{"", "1 sshd S", "1 (sshd) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 abc 0"} {
		if _, err := parseProcStat([]byte(bad)); !errors.Is(err, ErrParse) {
			t.Errorf("parseProcStat(%q) err = %v, want ErrParse", bad, err)
		}
	}
}

// TestTicksToDuration: a process started after 3.2 years of uptime
// (10^10 ticks) starts 3.2 years after boot, not in 1708.
func TestTicksToDuration(t *testing.T) {
	for ticks, want := range map[uint64]time.Duration{
		0:              0,
		150:            1500 * time.Millisecond,
		10_000_000_000: 100_000_000 * time.Second,
		// 285 years, near the most a time.Duration holds.
		900_000_000_055: 9_000_000_000*time.Second + 550*time.Millisecond,
	} {
		if got := ticksToDuration(ticks); got != want {
			t.Errorf("%d ticks: %v, want %v", ticks, got, want)
		}
	}
}

func TestParseStatusUID(t *testing.T) {
	status := "Name:\tsshd\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t0\t1000\t0\t0\nGid:\t0\t0\t0\t0\n"
	if uid, ok := parseStatusUID([]byte(status)); !ok || uid != 1000 {
		t.Errorf("got %d %v, want the effective UID 1000", uid, ok)
	}
	if _, ok := parseStatusUID([]byte("Name:\tx\n")); ok {
		t.Error("status without Uid parsed")
	}
}

func TestParseStatusCapEff(t *testing.T) {
	status := "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000080004\n"
	caps, ok := parseStatusCapEff([]byte(status))
	if !ok || caps != 1<<19|1<<2 {
		t.Errorf("got %x %v", caps, ok)
	}
}

func TestParseBootTime(t *testing.T) {
	stat := "cpu  1 2 3\nintr 5\nctxt 9\nbtime 1764115200\nprocesses 10\n"
	got, err := parseBootTime([]byte(stat))
	if err != nil || !got.Equal(time.Unix(1764115200, 0)) {
		t.Errorf("got %v %v", got, err)
	}
	if _, err := parseBootTime([]byte("cpu 1\n")); !errors.Is(err, ErrParse) {
		t.Errorf("no btime: err = %v", err)
	}
}

func TestSplitCmdline(t *testing.T) {
	if got := splitCmdline([]byte("nginx: master process\x00")); !slices.Equal(got, []string{"nginx: master process"}) {
		t.Errorf("got %q", got)
	}
	if got := splitCmdline([]byte("/bin/sleep\x00100\x00")); !slices.Equal(got, []string{"/bin/sleep", "100"}) {
		t.Errorf("got %q", got)
	}
	if got := splitCmdline([]byte("redis-server 127.0.0.1:6379\x00\x00\x00\x00\x00")); !slices.Equal(got, []string{"redis-server 127.0.0.1:6379"}) {
		t.Errorf("got %q", got)
	}
	if got := splitCmdline(nil); got != nil {
		t.Errorf("kernel thread: got %q", got)
	}
}

func TestSystemdUnit(t *testing.T) {
	tests := []struct{ cgroup, want string }{
		{"0::/system.slice/ssh.service\n", "ssh.service"},
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope\n", "app-firefox.scope"},
		{"0::/system.slice/docker-abc.scope/init\n", "docker-abc.scope"},
		{"0::/\n", ""},
		{"12:pids:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n0::/\n", "cron.service"},
		{"12:pids:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n", "cron.service"},
	}
	for _, tt := range tests {
		if got := systemdUnit([]byte(tt.cgroup)); got != tt.want {
			t.Errorf("systemdUnit(%q) = %q, want %q", tt.cgroup, got, tt.want)
		}
	}
	for cgroup, want := range map[string]bool{
		"0::/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service\n": true,
		"0::/user.slice/user-1000.slice/user@1000.service/init.scope\n":                  false,
		"0::/user.slice/user-1000.slice/user@1000.service\n":                             false,
		"0::/system.slice/nginx.service\n":                                               false,
	} {
		if got := inUserManager([]byte(cgroup)); got != want {
			t.Errorf("inUserManager(%q) = %v", cgroup, got)
		}
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("4242 (sshd) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 2 3\n"))
	f.Add([]byte("7 (a) (b c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseProcStat(b)
	})
}
