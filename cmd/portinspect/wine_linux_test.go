package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wineEnv names the run-exe script (tools/wine/run-exe) that runs Windows
// programs under Wine; .ci/run sets it once Wine can be installed.
const wineEnv = "PORTINSPECT_WINE"

// TestWindowsBuildUnderWine runs the Windows build of portinspect under
// Wine against a listener on 127.0.0.1:3372 in a fresh network namespace.
// Wine 8 lists the namespace's sockets through GetExtendedTcpTable, but
// gives every one owner PID 0 and has no services worth the name: so the
// test expects the socket, owner_status "unknown" and the 3372 note, and
// nothing about processes.
func TestWindowsBuildUnderWine(t *testing.T) {
	runExe := os.Getenv(wineEnv)
	if runExe == "" {
		t.Skipf("set %s to tools/wine/run-exe to run the Windows build under Wine", wineEnv)
	}
	requireRoot(t, "ip")
	exe := filepath.Join(t.TempDir(), "portinspect.exe")
	build := exec.Command("go", "build", "-o", exe, "github.com/portinspect/portinspect/cmd/portinspect")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, out)
	}
	inNS := newNetns(t)
	startListener(t, inNS, "tcp4:127.0.0.1:3372")
	startListener(t, inNS, "tcp4:0.0.0.0:13373", "tcp4:0.0.0.0:13374")
	// A wineserver started outside the namespace would serve this run and
	// show the host's sockets: stop it first, and the namespace's after.
	stopWineserver()
	t.Cleanup(stopWineserver)
	wine := append(inNS, runExe, exe)

	out, errOut, code := runCommand(t, append(wine, "3372", "-o", "json"))
	if code != 0 {
		t.Fatalf("portinspect.exe 3372: exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	var doc struct {
		Host    struct{ OS string }
		Sockets []struct {
			LocalAddress string `json:"local_address"`
			LocalPort    int    `json:"local_port"`
			State        string
			OwnerStatus  string `json:"owner_status"`
			Processes    []any
		}
		KnownPorts []struct {
			Port  int
			Notes []struct{ Title string }
		} `json:"known_ports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if doc.Host.OS != "windows" {
		t.Errorf("host.os %q, want windows", doc.Host.OS)
	}
	found := false
	for _, s := range doc.Sockets {
		if s.LocalAddress == "127.0.0.1" && s.LocalPort == 3372 && s.State == "LISTEN" {
			found = true
			if s.OwnerStatus != "unknown" || len(s.Processes) != 0 {
				t.Errorf("owner under Wine: %q %v, want unknown and no process (Wine reports PID 0)", s.OwnerStatus, s.Processes)
			}
		}
	}
	if !found {
		t.Errorf("the namespace's listener on 127.0.0.1:3372 is not listed: %+v", doc.Sockets)
	}
	if len(doc.KnownPorts) == 0 || doc.KnownPorts[0].Port != 3372 || len(doc.KnownPorts[0].Notes) == 0 || doc.KnownPorts[0].Notes[0].Title != "MSDTC TIP listener" {
		t.Errorf("known ports %+v, want the 3372 note", doc.KnownPorts)
	}

	out, _, code = runCommand(t, append(wine, "list", "-l"))
	if code != 0 || !strings.Contains(out, "127.0.0.1:3372") {
		t.Errorf("portinspect.exe list -l: exit %d:\n%s", code, out)
	}
	out, _, code = runCommand(t, append(wine, "lookup", "3372"))
	if code != 0 || !strings.Contains(out, "tip2 (tcp, udp): TIP 2") || !strings.Contains(out, "MSDTC TIP listener") {
		t.Errorf("portinspect.exe lookup 3372: exit %d:\n%s", code, out)
	}
	// The answer on Windows: Windows's first step, queues unknown.
	out, _, code = runCommand(t, append(wine, "3372"))
	if code != 0 || !strings.Contains(out, "  What to do on Windows (step 1 of ") || !strings.Contains(out, `netstat -ano | findstr /C:":3372 "`) ||
		!strings.Contains(out, "Full entry: portinspect lookup 3372") {
		t.Errorf("portinspect.exe 3372: exit %d:\n%s", code, out)
	}
	out, _, _ = runCommand(t, append(wine, "3372", "-l", "-o", "wide"))
	if !regexp.MustCompile(`(?m)^tcp +127\.0\.0\.1:3372 +0\.0\.0\.0:\* +LISTEN +- +- +loopback`).MatchString(out) {
		t.Errorf("portinspect.exe 3372 -o wide: queues should be unknown:\n%s", out)
	}

	// why: the bind tried through Winsock fails as Linux's does, and the
	// listener explains it; a port nothing holds is free.
	var why struct {
		Verdict string
		Reasons []struct{ Code, Summary string }
		Tried   []struct{ Address, Error string }
	}
	out, errOut, code = runCommand(t, append(wine, "why", "127.0.0.1:3372", "-o", "json"))
	if err := json.Unmarshal([]byte(out), &why); err != nil || code != 1 || why.Verdict != "blocked" || len(why.Reasons) == 0 || why.Reasons[0].Code != "in_use" ||
		len(why.Tried) != 1 || why.Tried[0].Error != "address already in use" {
		t.Errorf("portinspect.exe why 127.0.0.1:3372: exit %d, %+v, %v, stderr %q", code, why, err, errOut)
	}
	out, errOut, code = runCommand(t, append(wine, "why", "127.0.0.1:3373", "-o", "json"))
	if err := json.Unmarshal([]byte(out), &why); err != nil || code != 0 || why.Verdict != "free" || len(why.Tried) != 1 || why.Tried[0].Error != "" {
		t.Errorf("portinspect.exe why 127.0.0.1:3373: exit %d, %+v, %v, stderr %q", code, why, err, errOut)
	}
	// The firewall: Wine's registry has no Windows Defender Firewall
	// policy, which is said, not taken for an open port; with a policy
	// and a rule written into the registry, as Windows keeps them, the
	// rule's port is open and the other blocked by the default inbound
	// action.
	reachable := func(port int) (string, string) {
		t.Helper()
		out, errOut, _ := runCommand(t, append(wine, strconv.Itoa(port), "-o", "json"))
		var doc struct {
			Sockets []struct {
				LocalPort int    `json:"local_port"`
				Reachable string `json:"reachable"`
				Firewall  struct{ Reason string }
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Sockets) != 1 || doc.Sockets[0].LocalPort != port {
			t.Fatalf("portinspect.exe %d -o json: %v, %s", port, err, errOut)
		}
		return doc.Sockets[0].Reachable, doc.Sockets[0].Firewall.Reason
	}
	if v, why := reachable(13373); v != "unknown" || !strings.Contains(why, "policy is not in the registry") {
		t.Errorf("no firewall policy: %s (%s), want unknown", v, why)
	}
	const policy = `HKLM\System\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy`
	reg := func(args ...string) {
		t.Helper()
		if _, errOut, code := runCommand(t, append(append(slices.Clone(inNS), runExe, "reg"), args...)); code != 0 {
			t.Fatalf("reg %v: exit %d, %s", args, code, errOut)
		}
	}
	t.Cleanup(func() { runCommand(t, append(slices.Clone(inNS), runExe, "reg", "delete", policy, "/f")) })
	reg("add", policy+`\StandardProfile`, "/v", "EnableFirewall", "/t", "REG_DWORD", "/d", "1", "/f")
	reg("add", policy+`\FirewallRules`, "/v", "PI-Test-In-TCP", "/t", "REG_SZ", "/d",
		"v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=13373|Name=portinspect test|", "/f")
	if v, why := reachable(13373); v != "open" || !strings.Contains(why, "PI-Test-In-TCP: Allow In TCP port 13373") {
		t.Errorf("a rule allowing 13373: %s (%s), want open", v, why)
	}
	if v, why := reachable(13374); v != "filtered" || !strings.Contains(why, "default inbound action") {
		t.Errorf("no rule for 13374: %s (%s), want filtered", v, why)
	}

	// free: Wine names no owner (PID 0), so there is nothing to signal.
	var free freeDoc
	out, errOut, code = runCommand(t, append(wine, "free", "3372", "--yes", "-o", "json"))
	if err := json.Unmarshal([]byte(out), &free); err != nil || code != 1 || len(free.Holders) != 1 || free.Holders[0].Process != nil ||
		free.Holders[0].Action != "refuse" || !strings.Contains(free.Holders[0].Reason, "does not say") {
		t.Errorf("portinspect.exe free 3372: exit %d, %+v, %v, stderr %q", code, free, err, errOut)
	}
}

// stopWineserver stops the wineserver of the Wine prefix, if one runs.
func stopWineserver() {
	cmd := exec.Command("/usr/lib/wine/wineserver", "-k")
	cmd.Env = os.Environ()
	if os.Getenv("WINEPREFIX") == "" {
		cmd.Env = append(cmd.Env, "WINEPREFIX=/tmp/portinspect-wine")
	}
	cmd.Run()
}
