package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// natDoc is what a port answer says of publications in JSON.
type natDoc struct {
	Sockets []struct {
		LocalAddress string `json:"local_address"`
		LocalPort    int    `json:"local_port"`
		Processes    []struct{ Name string }
		Published    []natPublication
	}
	Published []natPublication
	Warnings  []string
}

type natPublication struct {
	Container *struct {
		Runtime, ID, Name, Image string
	}
	ContainerAddress string `json:"container_address"`
	ContainerPort    int    `json:"container_port"`
	Protocol, Via    string
	HostAddress      string `json:"host_address"`
	HostPort         int    `json:"host_port"`
	Listeners        []struct {
		LocalAddress string `json:"local_address"`
		LocalPort    int    `json:"local_port"`
		Netns        *struct {
			Inode uint64
			Name  string
		}
		Processes []struct {
			PID  int
			Name string
		}
	}
}

// TestNATPublication publishes ports by NAT rules alone, as CNI's portmap
// and Docker without its proxy do: in a namespace standing for the host,
// a DNAT rule forwards a port of its address to a listener in a second
// namespace, over a veth pair, and no process holds the host port. One
// rule is nft's own (dnat to), one iptables-nft's (an xtables DNAT
// target). portinspect reports the port as published, exit 0, with the
// rule's destination and the process listening behind it.
func TestNATPublication(t *testing.T) {
	requireRoot(t, "ip", "nft", "iptables", "bash", "setpriv")
	host, behind := newNetns(t), newNetns(t)
	hostNS, behindNS := host[3], behind[3]
	for _, argv := range [][]string{
		append(host, "ip", "link", "add", "pi-host", "type", "veth", "peer", "name", "pi-behind", "netns", behindNS),
		append(host, "ip", "addr", "add", "10.200.0.1/24", "dev", "pi-host"),
		append(host, "ip", "link", "set", "pi-host", "up"),
		append(behind, "ip", "addr", "add", "10.200.0.2/24", "dev", "pi-behind"),
		append(behind, "ip", "link", "set", "pi-behind", "up"),
		// Another listener on 8080 where the address is not: not the one.
		append(host, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "10.200.0.1", "--dport", "18082", "-j", "DNAT", "--to-destination", "10.200.0.2:8080"),
	} {
		if _, errOut, code := runCommand(t, argv); code != 0 {
			t.Fatalf("%q: %s", argv, errOut)
		}
	}
	rules := `table ip pitest {
		chain pre { type nat hook prerouting priority dstnat; ip daddr 10.200.0.1 tcp dport 18081 dnat to 10.200.0.2:8080; }
		chain out { type nat hook output priority -100; ip daddr 10.200.0.1 tcp dport 18081 dnat to 10.200.0.2:8080; }
	}`
	if _, errOut, code := runCommand(t, append(host, "nft", rules)); code != 0 {
		t.Fatalf("nft: %s", errOut)
	}
	startListener(t, host, "tcp4:0.0.0.0:8080")
	pid, _ := startListener(t, behind, "tcp4:0.0.0.0:8080")
	// The rules are real: a connection to the host's port reaches the
	// listener behind.
	for _, port := range []string{"18081", "18082"} {
		if _, errOut, code := runCommand(t, append(host, "bash", "-c", "exec 3<>/dev/tcp/10.200.0.1/"+port)); code != 0 {
			t.Fatalf("connecting to 10.200.0.1:%s: %s", port, errOut)
		}
	}

	for _, tt := range []struct {
		port   string
		prefix []string
		args   []string
	}{
		{"18081", host, nil},
		{"18082", host, nil},
		{"18081", nil, []string{"--netns", hostNS}},
	} {
		args := append([]string{tt.port, "-o", "json"}, tt.args...)
		out, errOut, code := portinspect(t, tt.prefix, args...)
		if code != 0 {
			t.Errorf("port %s %q: exit %d, %s", tt.port, tt.args, code, errOut)
			continue
		}
		var doc natDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Sockets) != 0 || len(doc.Published) != 1 {
			t.Errorf("port %s %q: want no socket and one publication:\n%s", tt.port, tt.args, out)
			continue
		}
		p := doc.Published[0]
		if p.Protocol != "tcp" || p.HostAddress != "10.200.0.1" || strconv.Itoa(p.HostPort) != tt.port || p.ContainerAddress != "10.200.0.2" ||
			p.ContainerPort != 8080 || p.Via != "nat" || p.Container != nil || len(p.Listeners) != 1 {
			t.Errorf("port %s %q: publication %+v", tt.port, tt.args, p)
			continue
		}
		l := p.Listeners[0]
		if l.LocalAddress != "0.0.0.0" || l.LocalPort != 8080 || l.Netns == nil || l.Netns.Name != behindNS || len(l.Processes) != 1 || l.Processes[0].PID != pid {
			t.Errorf("port %s %q: listener %+v, want pi-listen %d in %s", tt.port, tt.args, l, pid, behindNS)
		}
	}

	out, _, code := portinspect(t, host, "18081")
	for _, want := range []string{
		"Nothing is listening on 18081, but NAT rules forward it.",
		"10.200.0.1:18081/tcp to network namespace " + behindNS + " at 10.200.0.2:8080, by NAT rules alone",
		fmt.Sprintf("listening there: pi-listen (pid %d) on 0.0.0.0:8080", pid),
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("port 18081: exit %d, the answer lacks %q:\n%s", code, want, out)
		}
	}
	if _, _, code := portinspect(t, host, "18083"); code != 1 {
		t.Errorf("port 18083, which no rule publishes: exit %d, want 1", code)
	}
	// A port asked for at another address than the rule's is not it.
	if _, _, code := portinspect(t, host, "127.0.0.1:18081"); code != 1 {
		t.Errorf("port 127.0.0.1:18081: exit %d, want 1", code)
	}

	// Without CAP_NET_ADMIN the rules cannot be read: the answer says so
	// and goes on.
	bin := publicCopy(t)
	_, errOut, code := runCommand(t, append(host, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "18081"))
	if code != 1 || !strings.Contains(errOut, "reading the rules needs root (CAP_NET_ADMIN)") {
		t.Errorf("as nobody: exit %d, %q", code, errOut)
	}
}
