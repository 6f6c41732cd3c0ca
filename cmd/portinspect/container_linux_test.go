package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portinspect/portinspect/knownports"
)

// TestDockerPublishedPort runs a busybox httpd container that Docker
// publishes on a loopback port, and asks portinspect about that port: the
// host socket is docker-proxy's, and it forwards to the container, named
// with its runtime, image and port, in JSON and in the answer's text; and
// check --owner PORT=container:NAME holds. It needs a running Docker daemon (with its default data root), which .ci/run
// starts.
func TestDockerPublishedPort(t *testing.T) {
	requireRoot(t, "docker", "busybox")
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		if os.Getenv("PORTINSPECT_REQUIRE_TOOLS") != "" {
			t.Fatalf("no Docker daemon: %s", out)
		}
		t.Skipf("no Docker daemon: %s", bytes.TrimSpace(out))
	}
	image := containerImage(t, "docker")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("pi-test-%d", os.Getpid())
	docker(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), image, "/bin/httpd", "-f", "-p", "8080")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	id := docker(t, "inspect", "-f", "{{.Id}}", name)
	addr := docker(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name)

	cpid := docker(t, "inspect", "-f", "{{.State.Pid}}", name)
	assertPublished(t, nil, port, "tcp", publishedTo{runtime: "docker", id: id, name: name, image: image, addr: addr, port: 8080,
		via: "docker-proxy", holder: "docker-proxy", listener: "httpd", pid: cpid, text: "by docker-proxy"})

	// list -A shows the listener inside the container, in its namespace,
	// named by the container, held by httpd in it.
	out, _, _ := portinspect(t, nil, "list", "-A", "-l", "--port", "8080")
	if !strings.Contains(out, name+"\ttcp\t") || !strings.Contains(out, "\t"+cpid+"\thttpd\t") {
		t.Errorf("list -A lacks httpd in %s:\n%s", name, out)
	}
	out, _, _ = portinspect(t, nil, "list", "-A", "-l", "--port", "8080", "-o", "wide")
	if !strings.Contains(out, name) || !strings.Contains(out, "httpd") {
		t.Errorf("list -A -o wide:\n%s", out)
	}

	assertContainerOwner(t, nil, port, "docker-proxy", name, id)

	// free leaves docker-proxy alone, for Docker would keep the port, and
	// names the command that stops the container; --stop-services runs it.
	doc, _, code := free(t, strconv.Itoa(port), "--yes")
	if code != 1 || len(doc.Holders) != 1 || doc.Holders[0].Action != "stop" || doc.Holders[0].Manager != "container "+name ||
		strings.Join(doc.Holders[0].Command, " ") != "docker stop "+name || doc.Holders[0].Result != "untouched" {
		t.Errorf("free a published port: exit %d, %+v", code, doc)
	}
	doc, _, code = free(t, strconv.Itoa(port), "--yes", "--stop-services", "--timeout", "20s")
	if running := docker(t, "inspect", "-f", "{{.State.Running}}", name); code != 0 || doc.Free == nil || !*doc.Free || running != "false" {
		t.Errorf("free --stop-services: exit %d, running %s, %+v", code, running, doc)
	}
}

// TestDockerOwnDaemon runs Docker daemons of the test's own, with its
// userland proxy and without, each in a network namespace and a mount
// namespace of its own (a data root and run directory bound over
// /var/lib/docker and /run/docker there, where portinspect reads them),
// so that publishing on every address touches none outside them. A
// container published on a loopback port is explained whatever holds the
// host port: docker-proxy, or dockerd while Docker's NAT rule forwards
// it; one publishing Redis's port on every address is audit's finding.
func TestDockerOwnDaemon(t *testing.T) {
	requireRoot(t, "dockerd", "docker", "busybox", "ip", "nsenter", "unshare")
	for _, tt := range []struct {
		proxy       bool
		holder, how string
	}{
		{true, "docker-proxy", "by docker-proxy"},
		{false, "dockerd", "by NAT rules, the port held by dockerd"},
	} {
		t.Run(fmt.Sprintf("userland-proxy=%v", tt.proxy), func(t *testing.T) {
			cli, in := ownDockerd(t, fmt.Sprintf("--userland-proxy=%v", tt.proxy))
			dockerCLI := func(args ...string) string {
				t.Helper()
				return run(t, append(slices.Clone(cli), args...)...)
			}
			image := containerImage(t, cli...)
			start := func(name, publish string) {
				t.Helper()
				dockerCLI("run", "-d", "--name", name, "-p", publish, image, "/bin/httpd", "-f", "-p", "8080")
				t.Cleanup(func() { exec.Command(cli[0], append(cli[1:], "rm", "-f", name)...).Run() })
			}
			const port = 18095 // the namespace is new: every port is free
			name := fmt.Sprintf("pi-test-%d-web", os.Getpid())
			start(name, fmt.Sprintf("127.0.0.1:%d:8080", port))
			id, addr, cpid := dockerCLI("inspect", "-f", "{{.Id}}", name), dockerCLI("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name), dockerCLI("inspect", "-f", "{{.State.Pid}}", name)
			assertPublished(t, in, port, "tcp", publishedTo{runtime: "docker", id: id, name: name, image: image, addr: addr, port: 8080,
				via: tt.holder, holder: tt.holder, listener: "httpd", pid: cpid, text: tt.how})
			assertContainerOwner(t, in, port, tt.holder, name, id)

			redis := name + "-redis"
			start(redis, "6379:8080")
			f := auditFinding(t, in, func(msg string) bool {
				return strings.HasPrefix(msg, "Redis server is reachable beyond loopback on 0.0.0.0:6379") &&
					strings.HasSuffix(msg, ", published to container "+redis+" port 8080/tcp")
			})
			if f.Severity != "critical" || len(f.Advice) == 0 || !strings.Contains(f.Advice[0].Text, "-p 127.0.0.1:6379:8080") {
				t.Errorf("finding %+v", f)
			}

			// moby #22054: an input chain that drops everything, as ufw's
			// default does, and Docker's rules send the published port
			// around it through the forward chain.
			raddr := dockerCLI("inspect", "-f", "{{.NetworkSettings.IPAddress}}", redis)
			run(t, append(slices.Clone(in), "nft", "add", "table", "inet", "pitest")...)
			run(t, append(slices.Clone(in), "nft", "add", "chain", "inet", "pitest", "input", "{ type filter hook input priority 0; policy drop; }")...)
			out, errOut, _ := portinspect(t, in, "6379", "-o", "json")
			type socket struct {
				LocalAddress string `json:"local_address"`
				Reachable    string
				Firewall     struct {
					ForwardedTo string `json:"forwarded_to"`
					Bypassed    bool
					Rule        struct{ Chain, Text string }
				}
			}
			var doc struct{ Sockets []socket }
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			i := slices.IndexFunc(doc.Sockets, func(s socket) bool { return s.LocalAddress == "0.0.0.0" })
			if i < 0 {
				t.Fatalf("no 0.0.0.0:6379 listener: %s", out)
			}
			if s := doc.Sockets[i]; s.Reachable != "open" || s.Firewall.ForwardedTo != raddr+":8080" || !s.Firewall.Bypassed || s.Firewall.Rule.Chain != "DOCKER" {
				t.Errorf("0.0.0.0:6379 past an input chain that drops: %+v, want open through Docker's DOCKER chain to %s:8080, bypassing it", s, raddr)
			}
			var audit struct {
				Findings []struct{ Rule, Message string }
			}
			out, _, _ = portinspect(t, in, "audit", "--netns", "self", "-o", "json")
			json.Unmarshal([]byte(out), &audit)
			if !slices.ContainsFunc(audit.Findings, func(f struct{ Rule, Message string }) bool {
				return f.Rule == "firewall-bypassed" && strings.Contains(f.Message, "forwarded to "+raddr+":8080 by destination NAT")
			}) {
				t.Errorf("audit lacks firewall-bypassed: %+v", audit.Findings)
			}
		})
	}
}

// ownDockerd starts dockerd with flags in a network namespace and a mount
// namespace of its own, and returns the docker command that reaches it
// and the nsenter prefix that runs a command in its namespaces. The
// daemon is stopped when the test ends.
func ownDockerd(t *testing.T, flags ...string) (cli, in []string) {
	t.Helper()
	ns := newNetns(t)[3]
	dir, err := os.MkdirTemp("", "pi-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	// Removed last, once the daemon is gone, and with it its mounts.
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"data", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	const script = `dir=$1; shift
mkdir -p /var/lib/docker /run/docker && mount --bind "$dir/data" /var/lib/docker && mount --bind "$dir/run" /run/docker &&
exec dockerd -H "unix://$dir/docker.sock" --pidfile "$dir/docker.pid" "$@"`
	argv := append([]string{"nsenter", "--net=/run/netns/" + ns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir}, flags...)
	daemon := exec.Command(argv[0], argv[1:]...)
	logFile, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	daemon.Stdout, daemon.Stderr = logFile, logFile
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- daemon.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			daemon.Process.Kill()
			<-done
		}
		logFile.Close()
	})
	cli = []string{"docker", "-H", "unix://" + filepath.Join(dir, "docker.sock")}
	for deadline := time.Now().Add(30 * time.Second); exec.Command(cli[0], append(cli[1:], "info")...).Run() != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dockerd %q did not start:\n%s", flags, readFile(t, logFile.Name()))
		}
	}
	return cli, []string{"nsenter", "--target", strconv.Itoa(daemon.Process.Pid), "--mount", "--net"}
}

// auditFinding runs audit (through prefix) until it has the
// exposed-risky-service finding whose message match accepts, for up to
// ten seconds: a container's program listens a moment after it starts.
func auditFinding(t *testing.T, prefix []string, match func(msg string) bool) auditJSONFinding {
	t.Helper()
	var audit struct{ Findings []auditJSONFinding }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, errOut, _ := portinspect(t, prefix, "audit", "-o", "json")
		if err := json.Unmarshal([]byte(out), &audit); err != nil {
			t.Fatalf("%v: %s", err, errOut)
		}
		for _, f := range audit.Findings {
			if f.Rule == "exposed-risky-service" && match(f.Message) {
				return f
			}
		}
	}
	t.Fatalf("audit lacks the finding; it has:\n%+v", audit.Findings)
	return auditJSONFinding{}
}

type auditJSONFinding struct {
	Rule, Severity, Message string
	Advice                  []struct{ Text string }
}

// TestPodmanPublishedPort runs busybox httpd containers under rootful
// Podman in a network namespace the test made, where Podman's bridge and
// netavark's NAT rules then live, so that publishing on every address
// touches none outside it. One container is published on a loopback
// port: conmon holds the host socket while the NAT rules forward it, and
// portinspect names the container, its address and port, and httpd in
// it. The other publishes Redis's port on every address, and audit finds
// it, with the advice to publish on loopback.
func TestPodmanPublishedPort(t *testing.T) {
	requireRoot(t, "podman", "busybox", "ip", "nsenter")
	in := []string{"nsenter", "--net=/run/netns/" + newNetns(t)[3]}
	podman := func(args ...string) string {
		t.Helper()
		return run(t, append(append(slices.Clone(in), "podman"), args...)...)
	}
	image := containerImage(t, append(slices.Clone(in), "podman")...)
	// Root here lacks CAP_SYS_RESOURCE: limits no higher than its own.
	limits := []string{"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"}
	start := func(name, publish string) {
		t.Helper()
		podman(append(append([]string{"run", "-d", "--name", name}, limits...), "-p", publish, image, "/bin/httpd", "-f", "-p", "8080")...)
		// Removed from the namespace it runs in, where netavark's rules are.
		t.Cleanup(func() {
			argv := append(slices.Clone(in), "podman", "rm", "-f", "-t", "0", name)
			exec.Command(argv[0], argv[1:]...).Run()
		})
	}
	const port = 18090 // the namespace is new: every port is free
	name := fmt.Sprintf("pi-test-%d-web", os.Getpid())
	start(name, fmt.Sprintf("127.0.0.1:%d:8080", port))
	id, addr, cpid := podman("inspect", "-f", "{{.Id}}", name), podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name), podman("inspect", "-f", "{{.State.Pid}}", name)
	assertPublished(t, in, port, "tcp", publishedTo{runtime: "podman", id: id, name: name, image: "localhost/" + image, addr: addr, port: 8080,
		via: "conmon", holder: "conmon", listener: "httpd", pid: cpid, text: "by NAT rules, the port held by conmon"})
	assertContainerOwner(t, in, port, "conmon", name, id)
	out, _, _ := portinspect(t, in, "list", "-A", "-l", "--port", "8080")
	if !strings.Contains(out, name+"\ttcp\t") || !strings.Contains(out, "\t"+cpid+"\thttpd\t") {
		t.Errorf("list -A lacks httpd in %s:\n%s", name, out)
	}

	redis := name + "-redis"
	start(redis, "6379:8080")
	// The host port, held by conmon on every address; and the listeners
	// in the containers, as far as the NAT rules publish them: the web
	// container's on loopback only, the other's on every address.
	http := knownports.Default().Port(8080).Only("tcp").Notes[0]
	for msg, sev := range map[string]string{
		"Redis server is reachable beyond loopback on 0.0.0.0:6379, published to container " + redis + " port 8080/tcp": "critical",
		fmt.Sprintf("%s listens on *:8080 in network namespace %s (container %s), held by httpd (pid %s), published on 127.0.0.1:%d/tcp only: "+
			"reachable from this host and that namespace's network (a container bridge), not from other machines (unless they route to it through this host)",
			http.Title, podman("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", name)[len("/run/netns/"):], name, podman("inspect", "-f", "{{.State.Pid}}", name), port): http.RiskLoopback.String(),
		fmt.Sprintf("%s listens on *:8080 in network namespace %s (container %s), held by httpd (pid %s), published on *:6379/tcp: reachable from other machines",
			http.Title, podman("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", redis)[len("/run/netns/"):], redis, podman("inspect", "-f", "{{.State.Pid}}", redis)): http.Risk.String(),
	} {
		f := auditFinding(t, in, func(m string) bool { return m == msg })
		if f.Severity != sev {
			t.Errorf("audit: %q: severity %q, want %q", msg, f.Severity, sev)
		}
		if sev == "critical" && (len(f.Advice) == 0 || !strings.Contains(f.Advice[0].Text, "-p 127.0.0.1:6379:8080")) {
			t.Errorf("finding %+v: the first advice is not to publish on loopback", f)
		}
	}
}

// publishedTo is what a published port must be said to lead to.
type publishedTo struct {
	runtime, id, name, image, addr string
	port                           int
	via, holder                    string
	// listener is the process, PID pid, that listens behind the port.
	listener, pid string
	// text is how the answer says what forwards.
	text string
}

// assertPublished asks portinspect (through prefix) about a published
// host port, in JSON and as the answer's text, until the container's
// program listens (a container's start does not wait for it), and holds
// the answer to want.
func assertPublished(t *testing.T, prefix []string, port int, proto string, want publishedTo) {
	t.Helper()
	var doc natDoc
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var errOut string
		var code int
		out, errOut, code = portinspect(t, prefix, strconv.Itoa(port), "-o", "json")
		if code != 0 {
			t.Fatalf("port %d: exit %d: %s", port, code, errOut)
		}
		doc = natDoc{}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if len(doc.Sockets) == 1 && len(doc.Sockets[0].Published) == 1 && len(doc.Sockets[0].Published[0].Listeners) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(doc.Sockets) != 1 || len(doc.Sockets[0].Published) != 1 {
		t.Fatalf("want one socket publishing one container port:\n%s", out)
	}
	s, p := doc.Sockets[0], doc.Sockets[0].Published[0]
	if len(s.Processes) != 1 || s.Processes[0].Name != want.holder {
		t.Errorf("the host port is held by %+v, want %s", s.Processes, want.holder)
	}
	if c := p.Container; c == nil || c.Runtime != want.runtime || c.ID != want.id || c.Name != want.name || c.Image != want.image ||
		p.ContainerAddress != want.addr || p.ContainerPort != want.port || p.Protocol != proto || p.Via != want.via {
		t.Errorf("published %+v (container %+v), want %+v", p, p.Container, want)
	}
	if len(p.Listeners) != 1 || len(p.Listeners[0].Processes) != 1 || strconv.Itoa(p.Listeners[0].Processes[0].PID) != want.pid ||
		p.Listeners[0].Processes[0].Name != want.listener || p.Listeners[0].LocalPort != want.port || p.Listeners[0].Netns == nil {
		t.Errorf("listeners %+v, want %s (pid %s) on port %d", p.Listeners, want.listener, want.pid, want.port)
	}

	out, _, _ = portinspect(t, prefix, strconv.Itoa(port))
	for _, line := range []string{
		fmt.Sprintf("%s:%d/%s to container %s (%s %s, image %s) at %s:%d, %s",
			s.LocalAddress, port, proto, want.name, want.runtime, want.id[:12], want.image, want.addr, want.port, want.text),
		fmt.Sprintf("    listening there: %s (pid %s) on ", want.listener, want.pid),
	} {
		if !strings.Contains(out, line) {
			t.Errorf("the answer lacks %q:\n%s", line, out)
		}
	}
}

// assertContainerOwner holds check --owner PORT=container:NAME to the
// truth: by the container's name or short ID it holds; another
// container's name fails, saying who holds the port.
func assertContainerOwner(t *testing.T, prefix []string, port int, holder, name, id string) {
	t.Helper()
	for _, owner := range []string{name, id[:12]} {
		if out, errOut, code := portinspect(t, prefix, "check", "--owner", fmt.Sprintf("%d=container:%s", port, owner)); code != 0 {
			t.Errorf("--owner %d=container:%s: exit %d\n%s%s", port, owner, code, out, errOut)
		}
	}
	out, _, code := portinspect(t, prefix, "check", "--owner", fmt.Sprintf("%d=container:other", port))
	if code != 1 || !strings.Contains(out, "held by "+holder) || !strings.Contains(out, "not container:other") {
		t.Errorf("--owner %d=container:other: exit %d\n%s", port, code, out)
	}
	if _, errOut, code := portinspect(t, prefix, "check", "--owner", fmt.Sprintf("%d=container:", port)); code != 2 || !strings.Contains(errOut, "PORTSPEC=container:NAME") {
		t.Errorf("--owner %d=container: exit %d, %q", port, code, errOut)
	}
}

// containerImage imports a busybox image from this machine's busybox
// into a runtime's store (runtime is docker or podman, perhaps behind
// nsenter), as no registry is reachable, once per store.
func containerImage(t *testing.T, runtime ...string) string {
	t.Helper()
	const image = "portinspect-test-busybox:1"
	if _, _, code := runCommand(t, append(slices.Clone(runtime), "image", "inspect", image)); code == 0 {
		return image
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rootfs, "bin", "busybox"), string(readFile(t, busybox)), 0o755)
	for _, cmd := range []string{"sh", "httpd", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", cmd)); err != nil {
			t.Fatal(err)
		}
	}
	tar := exec.Command("tar", "-C", rootfs, "-c", ".")
	argv := append(slices.Clone(runtime), "import", "-", image)
	imp := exec.Command(argv[0], argv[1:]...)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("%s import: %v: %s", runtime[len(runtime)-1], err, out)
	}
	if err := tar.Wait(); err != nil {
		t.Fatal(err)
	}
	return image
}

// run runs a command and returns its standard output, trimmed: Podman
// warns on stderr of what it cannot do here (cgroups it cannot make).
func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, errOut, code := runCommand(t, argv)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", strings.Join(argv, " "), code, errOut)
	}
	return strings.TrimSpace(out)
}

// docker runs the docker command and returns its output, trimmed.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, append([]string{"docker"}, args...)...)
}

// TestAllNamespaces lists with -A a listener in a network namespace the
// test made: it is shown with its namespace's name and its owner, and
// without -A it is not; --netns picks that namespace alone; without
// privilege the namespace is skipped with a warning, not an error.
func TestAllNamespaces(t *testing.T) {
	requireRoot(t, "ip", "setpriv")
	inNS := newNetns(t)
	ns := inNS[3]
	pid, ports := startListener(t, inNS, "tcp4:0.0.0.0:0")
	port := ports[0]

	type doc struct {
		Sockets []struct {
			LocalPort int `json:"local_port"`
			Netns     *struct {
				Inode uint64
				Name  string
			}
			Processes []struct{ PID int }
		}
	}
	find := func(args ...string) (found bool, netns string, owner int) {
		t.Helper()
		out, errOut, code := portinspect(t, nil, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d, %s", args, code, errOut)
		}
		var d doc
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		for _, s := range d.Sockets {
			if s.LocalPort == port && len(s.Processes) == 1 && s.Processes[0].PID == pid {
				if s.Netns == nil || s.Netns.Inode == 0 {
					t.Errorf("%q: the socket has no netns: %+v", args, s)
					return true, "", pid
				}
				return true, s.Netns.Name, s.Processes[0].PID
			}
		}
		return false, "", 0
	}
	if found, name, _ := find("list", "-A", "-l", "-o", "json"); !found || name != ns {
		t.Errorf("list -A: found %v in netns %q, want it in %q", found, name, ns)
	}
	if found, _, _ := find("list", "-l", "-o", "json"); found {
		t.Errorf("list without -A shows another namespace's listener")
	}
	// --netns picks the namespace by its name, a process in it, or its file.
	for _, sel := range []string{ns, strconv.Itoa(pid), "/run/netns/" + ns} {
		if found, name, _ := find("list", "-l", "--netns", sel, "-o", "json"); !found || name != ns {
			t.Errorf("--netns %s: found %v in %q", sel, found, name)
		}
	}
	if _, errOut, code := portinspect(t, nil, "list", "--netns", "pi-no-such-ns"); code != 2 || !strings.Contains(errOut, `invalid --netns "pi-no-such-ns"`) {
		t.Errorf("--netns pi-no-such-ns: exit %d, %q", code, errOut)
	}
	out, _, _ := portinspect(t, nil, "list", "-A", "-l", "--port", strconv.Itoa(port))
	if !strings.HasPrefix(out, ns+"\ttcp\t") {
		t.Errorf("list -A's table lacks the namespace:\n%s", out)
	}

	// check -A holds the namespace's listener to the assertions.
	spec := strconv.Itoa(port) + "/tcp"
	if _, _, code := portinspect(t, nil, "check", "-q", "--closed", spec); code != 0 {
		t.Errorf("check --closed %s: exit %d, want 0: the listener is in another namespace", spec, code)
	}
	if _, _, code := portinspect(t, nil, "check", "-q", "-A", "--closed", spec); code != 1 {
		t.Errorf("check -A --closed %s: exit %d, want 1", spec, code)
	}
	if _, _, code := portinspect(t, nil, "check", "-q", "-A", "--owner", spec+"=pi-listen"); code != 0 {
		t.Errorf("check -A --owner %s=pi-listen: exit %d, want 0", spec, code)
	}

	// audit -A: Redis on 0.0.0.0 in that namespace, which no runtime says
	// is unpublished, keeps the note's risk and says where it listens.
	redisPID, _ := startListener(t, inNS, "tcp4:0.0.0.0:6379")
	out, _, _ = portinspect(t, nil, "audit", "-A", "-o", "json")
	var audit struct {
		Findings []struct{ Rule, Severity, Message string }
	}
	if err := json.Unmarshal([]byte(out), &audit); err != nil {
		t.Fatal(err)
	}
	want := "Redis server listens on 0.0.0.0:6379 in network namespace " + ns + ", held by pi-listen (pid " + strconv.Itoa(redisPID) + "): reachable from other machines if that namespace has an interface or a published port of theirs"
	found := false
	for _, f := range audit.Findings {
		found = found || f.Rule == "exposed-risky-service" && f.Severity == "critical" && f.Message == want
	}
	if !found {
		t.Errorf("audit -A lacks a critical finding %q:\n%+v", want, audit.Findings)
	}

	bin := publicCopy(t)
	out, errOut, code := runCommand(t, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "list", "-A", "-l", "--port", strconv.Itoa(port)})
	if code != 0 || strings.Contains(out, ns) || !strings.Contains(errOut, " "+ns+" (") {
		t.Errorf("as nobody: exit %d\n%s\n%s", code, out, errOut)
	}
	// An audit of every namespace says, under its summary, which it could
	// not look into.
	out, _, _ = runCommand(t, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "audit", "-A", "-o", "markdown"})
	if !regexp.MustCompile(`(?m)^Every network namespace of the machine, containers' too, but \d+ namespaces? that could not be entered or read and those of \d+ process(es)? that could not be read \(see the warnings; --netns self: this one only\)\.$`).MatchString(out) {
		t.Errorf("audit -A as nobody does not say what it left out:\n%s", out)
	}
}
