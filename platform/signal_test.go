package platform

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "sigkill": syscall.SIGKILL, "9": syscall.SIGKILL, "Hup": syscall.SIGHUP, "2": syscall.SIGINT} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "STOP", "19", "SIG", "-9", "TERM "} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) took it", bad)
		}
	}
}
