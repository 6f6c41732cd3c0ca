// Package testtools finds the programs that tests run beside portinspect,
// such as promtool, ansible-playbook or systemd-analyze. Without one, a
// test skips and says what it needs, unless PORTINSPECT_REQUIRE_TOOLS is
// set: .ci/run sets it after installing them, so that CI cannot pass by
// skipping.
package testtools

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// Need skips or fails t unless every program in names is on PATH. The
// programs are Linux's: elsewhere (Windows tests under Wine) t skips.
func Need(t testing.TB, names ...string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("needs %v, which the tests run on Linux", names)
	}
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("PORTINSPECT_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s is not installed, and PORTINSPECT_REQUIRE_TOOLS is set", name)
			}
			t.Skipf("needs %s (.ci/run installs it)", name)
		}
	}
}
