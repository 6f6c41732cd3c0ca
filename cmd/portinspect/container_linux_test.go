package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	image := dockerImage(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("pi-test-%d", os.Getpid())
	docker(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), image, "/bin/httpd", "-f", "-p", "8080")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	id := docker(t, "inspect", "-f", "{{.Id}}", name)
	addr := docker(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name)

	out, errOut, code := portinspect(t, nil, strconv.Itoa(port), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Sockets []struct {
			LocalAddress string `json:"local_address"`
			Processes    []struct{ Name string }
			Published    []struct {
				Container struct {
					Runtime, ID, Name, Image string
				}
				ContainerAddress string `json:"container_address"`
				ContainerPort    int    `json:"container_port"`
				Protocol, Via    string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(doc.Sockets) != 1 || len(doc.Sockets[0].Published) != 1 {
		t.Fatalf("want one socket publishing one container port:\n%s", out)
	}
	s := doc.Sockets[0]
	p := s.Published[0]
	if s.LocalAddress != "127.0.0.1" || len(s.Processes) != 1 || s.Processes[0].Name != "docker-proxy" ||
		p.Container.Runtime != "docker" || p.Container.ID != id || p.Container.Name != name || p.Container.Image != image ||
		p.ContainerAddress != addr || p.ContainerPort != 8080 || p.Protocol != "tcp" || p.Via != "docker-proxy" {
		t.Errorf("socket %+v", s)
	}

	out, _, _ = portinspect(t, nil, strconv.Itoa(port))
	want := fmt.Sprintf("forwards: 127.0.0.1:%d to container %s (docker %s, image %s) at %s:8080/tcp", port, name, id[:12], image, addr)
	if !strings.Contains(out, want) {
		t.Errorf("the answer lacks %q:\n%s", want, out)
	}

	// list -A shows the listener inside the container, in its namespace,
	// named by the container, held by httpd in it.
	cpid := docker(t, "inspect", "-f", "{{.State.Pid}}", name)
	out, _, _ = portinspect(t, nil, "list", "-A", "-l", "--port", "8080")
	if !strings.Contains(out, name+"\ttcp\t") || !strings.Contains(out, "\t"+cpid+"\thttpd\t") {
		t.Errorf("list -A lacks httpd in %s:\n%s", name, out)
	}
	out, _, _ = portinspect(t, nil, "list", "-A", "-l", "--port", "8080", "-o", "wide")
	if !strings.Contains(out, name) || !strings.Contains(out, "httpd") {
		t.Errorf("list -A -o wide:\n%s", out)
	}

	// check --owner PORT=container:NAME: by name or short ID it holds;
	// another container's name fails, saying who holds the port.
	for _, owner := range []string{name, id[:12]} {
		if out, errOut, code := portinspect(t, nil, "check", "--owner", fmt.Sprintf("%d=container:%s", port, owner)); code != 0 {
			t.Errorf("--owner %d=container:%s: exit %d\n%s%s", port, owner, code, out, errOut)
		}
	}
	out, _, code = portinspect(t, nil, "check", "--owner", fmt.Sprintf("%d=container:other", port))
	if code != 1 || !strings.Contains(out, "held by docker-proxy") || !strings.Contains(out, "not container:other") {
		t.Errorf("--owner %d=container:other: exit %d\n%s", port, code, out)
	}
	if _, errOut, code := portinspect(t, nil, "check", "--owner", fmt.Sprintf("%d=container:", port)); code != 2 || !strings.Contains(errOut, "PORTSPEC=container:NAME") {
		t.Errorf("--owner %d=container: exit %d, %q", port, code, errOut)
	}
}

// dockerImage imports a busybox image from this machine's busybox, as no
// registry is reachable, once per test binary.
func dockerImage(t *testing.T) string {
	t.Helper()
	const image = "portinspect-test-busybox:1"
	if exec.Command("docker", "image", "inspect", image).Run() == nil {
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
	imp := exec.Command("docker", "import", "-", image)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v: %s", err, out)
	}
	if err := tar.Wait(); err != nil {
		t.Fatal(err)
	}
	return image
}

// docker runs the docker command and returns its output, trimmed.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
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
	startListener(t, inNS, "tcp4:0.0.0.0:6379")
	out, _, _ = portinspect(t, nil, "audit", "-A", "-o", "json")
	var audit struct {
		Findings []struct{ Rule, Severity, Message string }
	}
	if err := json.Unmarshal([]byte(out), &audit); err != nil {
		t.Fatal(err)
	}
	want := "Redis server listens on 0.0.0.0:6379 in network namespace " + ns + ": reachable from other machines if that namespace has an interface or a published port of theirs"
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
}
