package firewall

import (
	"errors"
	"strings"
	"testing"
)

// socketfilterfw's answers, as published projects quote them from real
// Macs (testdata/README.md).
const (
	alfOn          = "Firewall is enabled. (State = 1)\n"
	alfOff         = "Firewall is disabled. (State = 0)\n"
	alfBlockAllOff = "Firewall has block all state set to disabled.\n"
	alfBlockAllOn  = "Firewall has block all state set to enabled.\n"
	alfSigned      = "Automatically allow built-in signed software ENABLED.\nAutomatically allow downloaded signed software DISABLED.\n"
	alfBothSigned  = "Automatically allow built-in signed software ENABLED.\nAutomatically allow downloaded signed software ENABLED.\n"
	alfApps        = "ALF: total number of apps = 3 \n\n1 :  /usr/libexec/bootpd \n \t ( Allow incoming connections ) \n\n" +
		"2 :  /Users/service/Library/Application Support/flanforge/bin/flanforged \n \t ( Block incoming connections ) \n\n" +
		"3 :  /Applications/Foo.app \n \t ( Allow incoming connections ) \n"
)

func TestParseALF(t *testing.T) {
	a, err := ParseALF(alfOn, alfBlockAllOff, alfSigned, alfApps, "Firewall stealth mode is on\n")
	if err != nil || a.State != 1 || a.BlockAll || !a.Stealth || !a.AllowBuiltin || a.AllowDownloaded || len(a.Apps) != 3 ||
		a.Apps[1] != (ALFApp{Path: "/Users/service/Library/Application Support/flanforge/bin/flanforged"}) || !a.Apps[2].Allow {
		t.Errorf("%+v %v", a, err)
	}
	// One line per program, as another macOS prints it.
	b, err := ParseALF("Firewall is enabled. (State = 2)", "Block all ENABLED!", "", "ALF: total number of apps = 1\n1 : /opt/x ( Allow incoming connections )\n", "Stealth mode disabled")
	if err != nil || b.State != 2 || !b.BlockAll || b.Stealth || len(b.Apps) != 1 || b.Apps[0] != (ALFApp{Path: "/opt/x", Allow: true}) {
		t.Errorf("%+v %v", b, err)
	}
	if _, err := ParseALF("command not found", "", "", "", ""); !errors.Is(err, errParse) {
		t.Errorf("an unreadable state: %v", err)
	}
}

func TestJudgeALF(t *testing.T) {
	on, _ := ParseALF(alfOn, alfBlockAllOff, alfSigned, alfApps, "")
	off, _ := ParseALF(alfOff, alfBlockAllOff, alfSigned, "", "")
	all, _ := ParseALF(alfOn, alfBlockAllOn, alfSigned, alfApps, "Firewall stealth mode is on")
	signed, _ := ParseALF(alfOn, alfBlockAllOff, alfBothSigned, "", "")
	for _, tt := range []struct {
		name    string
		a       ALF
		exe     string
		verdict Verdict
		why     string
	}{
		{"off", off, "/opt/homebrew/bin/redis-server", Open, "is off"},
		{"a listed program", on, "/usr/libexec/bootpd", Open, "lets /usr/libexec/bootpd"},
		{"a blocked one", on, "/Users/service/Library/Application Support/flanforge/bin/flanforged", Filtered, "blocks incoming connections to"},
		{"in a listed bundle", on, "/Applications/Foo.app/Contents/MacOS/foo", Open, "lets /Applications/Foo.app"},
		{"Apple's own", on, "/usr/sbin/sshd", Open, "Apple's own programs"},
		{"unlisted, unsigned not allowed", on, "/opt/homebrew/bin/redis-server", Filtered, "is not listed"},
		{"unlisted, signed allowed", signed, "/opt/homebrew/bin/redis-server", Unknown, "codesign"},
		{"block all, in stealth", all, "/usr/libexec/bootpd", Filtered, "blocks all incoming connections but essential services' (stealth mode"},
		{"block all, Bonjour", all, "/usr/sbin/mDNSResponder", Open, "essential services"},
		{"hidden", on, "", Unknown, "program is hidden"},
	} {
		if j := JudgeALF(tt.a, tt.exe); j.Verdict != tt.verdict || !strings.Contains(j.Reason, tt.why) {
			t.Errorf("%s: %s (%s), want %s (%s)", tt.name, j.Verdict, j.Reason, tt.verdict, tt.why)
		}
	}
}

func TestPF(t *testing.T) {
	if e, ok := PFEnabled("Status: Enabled for 0 days 00:12:01           Debug: Urgent\n\nState Table  Total  Rate\n"); !e || !ok {
		t.Error("enabled")
	}
	if e, ok := PFEnabled("Status: Disabled                              Debug: Urgent\n"); e || !ok {
		t.Error("disabled")
	}
	if _, ok := PFEnabled("pfctl: /dev/pf: Permission denied\n"); ok {
		t.Error("a refusal read as a state")
	}
	apple := "scrub-anchor \"com.apple/*\" all fragment reassemble\nanchor \"com.apple/*\" all\n"
	if PFRules(apple) || !PFRules(apple+"block drop in quick proto tcp from any to any port = 6379\n") {
		t.Error("block rules")
	}
}

func FuzzParseALF(f *testing.F) {
	f.Add(alfOn, alfBlockAllOff, alfSigned, alfApps, "Firewall stealth mode is on")
	f.Fuzz(func(t *testing.T, state, blockAll, signed, apps, stealth string) {
		a, err := ParseALF(state, blockAll, signed, apps, stealth)
		if err != nil {
			return
		}
		for _, app := range a.Apps {
			if app.Path == "" {
				t.Fatalf("an app without a path from %q", apps)
			}
		}
		JudgeALF(a, "/usr/sbin/sshd")
	})
}
