package inspect

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/platformtest"
)

// TestPlanFree decides what free does with each kind of holder, on each
// system, without touching any.
func TestPlanFree(t *testing.T) {
	T, U := platform.TCP, platform.UDP
	sock := platformtest.Sock
	self := os.Getpid()
	fake := func(goos string) *platformtest.Fake {
		return &platformtest.Fake{
			SocketList: []platform.Socket{
				sock(T, "0.0.0.0:22", "0.0.0.0:0", platform.Listen, 1),
				sock(T, "10.0.0.5:22", "10.0.0.9:51000", platform.Established, 2), // an SSH session
				sock(T, "0.0.0.0:80", "0.0.0.0:0", platform.Listen, 3),
				sock(T, "0.0.0.0:8080", "0.0.0.0:0", platform.Listen, 4),
				sock(U, "0.0.0.0:5353", "0.0.0.0:0", platform.Unconnected, 5),
				sock(T, "0.0.0.0:9000", "0.0.0.0:0", platform.Listen, 6),
				sock(T, "0.0.0.0:9001", "0.0.0.0:0", platform.Listen, 7),
				sock(T, "0.0.0.0:49664", "0.0.0.0:0", platform.Listen, 8),
				sock(T, "0.0.0.0:135", "0.0.0.0:0", platform.Listen, 9),
				sock(T, "0.0.0.0:2049", "0.0.0.0:0", platform.Listen, 10),
				sock(T, "127.0.0.1:9002", "0.0.0.0:0", platform.Listen, 11),
			},
			Holders: map[uint64][]int{1: {100}, 2: {300}, 3: {1}, 4: {400}, 5: {500}, 6: {600}, 7: {700}, 8: {800}, 9: {900}, 11: {self}},
			Processes: map[int]platform.Process{
				100:  {PID: 100, Name: "sshd", UID: 0, User: "root", Service: "ssh.service"},
				300:  {PID: 300, Name: "sshd", UID: 1000, User: "alice", Service: "session-4.scope"},
				1:    {PID: 1, Name: "systemd", UID: 0, User: "root"},
				400:  {PID: 400, Name: "httpd", UID: 0, Container: &container.Container{Runtime: container.Docker, ID: "294b6b6a79961234", Name: "web1"}},
				500:  {PID: 500, Name: "syncthing", UID: 1000, User: "alice", Service: "syncthing.service", UserUnit: true},
				600:  {PID: 600, Name: "python3", UID: 1000, User: "alice", Service: "app-gnome-term.scope"},
				700:  {PID: 700, Name: "svchost.exe", UID: 18, Service: "Dnscache, NlaSvc"},
				800:  {PID: 800, Name: "wininit.exe", UID: 18},
				900:  {PID: 900, Name: "svchost.exe", UID: 20, Service: "RpcSs"},
				self: {PID: self, Name: "portinspect", UID: 0},
			},
			Machine: platform.Host{OS: goos, Privileged: true, PrivilegeHint: "root"},
		}
	}
	for _, tt := range []struct {
		goos    string
		port    uint16
		want    string // pid action, for each holder
		command string // the first holder's
		reason  string // a phrase of the first holder's reason
	}{
		{"linux", 22, "100 stop", "systemctl stop ssh.service", "start it again"}, // not the session
		{"linux", 80, "1 refuse", "", "socket activation"},
		{"linux", 8080, "400 stop", "docker stop web1", "restart it"},
		{"linux", 5353, "500 stop", "systemctl --user --machine alice@ stop syncthing.service", ""},
		{"linux", 9000, "600 signal", "", ""}, // a scope restarts nothing
		{"linux", 2049, "- refuse", "", "kernel"},
		{"linux", 9002, "self refuse", "", "portinspect itself"},
		{"windows", 9001, "700 stop", "", "several services"},
		{"windows", 49664, "800 refuse", "", "cannot run without"},
		{"windows", 135, "900 stop", "sc.exe stop RpcSs", ""},
		{"macos", 9000, "600 stop", "launchctl bootout gui/1000/app-gnome-term.scope", ""},
	} {
		q := Query{Ports: PortSet{{PortRange: platform.PortRange{Low: tt.port, High: tt.port, TCP: true, UDP: true}}}}
		plan, err := PlanFree(context.Background(), fake(tt.goos), q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range plan.Holders {
			pid := "-"
			if h.Process != nil {
				pid = map[bool]string{true: "self", false: strconv.Itoa(h.Process.PID)}[h.Process.PID == self]
			}
			got = append(got, pid+" "+h.Action)
		}
		if strings.Join(got, ", ") != tt.want {
			t.Errorf("%s %d: %q, want %q", tt.goos, tt.port, got, tt.want)
			continue
		}
		h := plan.Holders[0]
		if strings.Join(h.Command, " ") != tt.command || !strings.Contains(h.Reason, tt.reason) {
			t.Errorf("%s %d: command %q, reason %q; want %q and %q", tt.goos, tt.port, h.Command, h.Reason, tt.command, tt.reason)
		}
	}

	// An owner filter that leaves the holder out says others hold it.
	plan, err := PlanFree(context.Background(), fake("linux"), Query{Ports: PortSet{{PortRange: platform.PortRange{Low: 22, High: 22, TCP: true}}}, Users: []string{"alice"}})
	if err != nil || len(plan.Holders) != 0 || !plan.OthersHold {
		t.Errorf("free 22 --user alice: %+v, %v", plan, err)
	}
}
