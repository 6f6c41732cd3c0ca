package container

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	id1 = "294b6b6a799661c93e87e14371e222e6097f91e2c8509f1a7e00710b6ba700a7"
	id2 = "6d1f0a7b2c3e4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7"
	pod = "0f4c5e2a-9b1d-4c3e-8f7a-6b5d4c3e2f10"
)

// cgroupLayouts are /proc/PID/cgroup as each runtime and cgroup driver
// leaves it: the first read off a real Docker 20.10 (cgroupfs driver,
// cgroup v1), the others written after the layouts the runtimes document.
var cgroupLayouts = []struct {
	name string
	in   string
	want Ref
	ok   bool
}{
	{"docker cgroupfs v1 (real)", "", Ref{Runtime: Docker, ID: id1}, true},
	{"docker systemd v2", "0::/system.slice/docker-" + id1 + ".scope\n", Ref{Runtime: Docker, ID: id1}, true},
	{"docker in docker: the outer one", "0::/docker/" + id1 + "/docker/" + id2 + "\n", Ref{Runtime: Docker, ID: id1}, true},
	{"docker systemd v1", "12:pids:/system.slice/docker-" + id1 + ".scope\n1:name=systemd:/system.slice/docker-" + id1 + ".scope\n", Ref{Runtime: Docker, ID: id1}, true},
	{"podman cgroupfs", "0::/libpod_parent/libpod-" + id1 + "\n", Ref{Runtime: Podman, ID: id1}, true},
	{"podman systemd", "0::/machine.slice/libpod-" + id1 + ".scope/container\n", Ref{Runtime: Podman, ID: id1}, true},
	{"podman's conmon is beside its container", "0::/machine.slice/libpod-conmon-" + id1 + ".scope\n", Ref{}, false},
	{"containerd CRI systemd v2", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(pod, "-", "_") + ".slice/cri-containerd-" + id1 + ".scope\n",
		Ref{Runtime: Containerd, ID: id1, PodUID: pod}, true},
	{"containerd CRI systemd v1", "11:pids:/system.slice/containerd.service/kubepods-burstable-pod" + strings.ReplaceAll(pod, "-", "_") + ".slice:cri-containerd:" + id1 + "\n",
		Ref{Runtime: Containerd, ID: id1, PodUID: pod}, true},
	{"kubelet cgroupfs", "0::/kubepods/besteffort/pod" + pod + "/" + id1 + "\n", Ref{Runtime: Kubernetes, ID: id1, PodUID: pod}, true},
	{"kubelet cgroupfs guaranteed", "4:memory:/kubepods/pod" + pod + "/" + id1 + "\n", Ref{Runtime: Kubernetes, ID: id1, PodUID: pod}, true},
	{"cri-o systemd", "0::/kubepods.slice/kubepods-pod" + strings.ReplaceAll(pod, "-", "_") + ".slice/crio-" + id1 + ".scope\n", Ref{Runtime: CRIO, ID: id1, PodUID: pod}, true},
	{"systemd-nspawn", "0::/machine.slice/machine-build\\x2dbox.scope/payload\n", Ref{Runtime: Nspawn, Name: "build-box"}, true},
	{"lxc 4 and incus", "0::/lxc.payload.web/system.slice/nginx.service\n", Ref{Runtime: LXC, Name: "web"}, true},
	{"lxc before 4", "4:memory:/lxc/web\n", Ref{Runtime: LXC, Name: "web"}, true},
	{"a systemd service", "0::/system.slice/ssh.service\n", Ref{}, false},
	{"a user's scope named like Docker's", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" + id1 + ".scope\n", Ref{}, false},
	{"a user's scope named like LXC's", "0::/user.slice/user-1000.slice/user@1000.service/lxc.payload.web\n", Ref{}, false},
	{"a libvirt virtual machine", "0::/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/emulator\n", Ref{}, false},
	{"a user session", "0::/user.slice/user-1000.slice/session-2.scope\n", Ref{}, false},
	{"a short ID is not one", "0::/docker/294b6b6a7996\n", Ref{}, false},
	{"empty", "", Ref{}, false},
}

func TestParseCgroup(t *testing.T) {
	real, err := os.ReadFile("testdata/cgroup-docker-cgroupfs-v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range cgroupLayouts {
		in := tt.in
		if tt.name == "docker cgroupfs v1 (real)" {
			in = string(real)
		}
		got, ok := ParseCgroup([]byte(in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseDockerConfig(t *testing.T) {
	b, err := os.ReadFile("testdata/docker-20.10-config.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseDockerConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	want := DockerState{
		Container: Container{Runtime: Docker, ID: id1, Name: "web1", Image: "pi-busybox:test", BindingsKnown: true,
			Bindings: []Binding{{Protocol: "tcp", ContainerPort: 8080, HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: 18080}}},
		PID:       2566,
		Addresses: []netip.Addr{netip.MustParseAddr("172.17.0.2")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got.ShortID() != "294b6b6a7996" {
		t.Errorf("short ID %q", got.ShortID())
	}

	// Published on every address, IPv4 and IPv6, and a pod's labels; a
	// stopped container has no PID.
	got, err = ParseDockerConfig([]byte(`{"ID":"` + id2 + `","Name":"/k8s_app","State":{"Running":false,"Pid":0},
		"Config":{"Image":"redis:7","Labels":{"io.kubernetes.pod.name":"cache-0","io.kubernetes.pod.namespace":"prod"}},
		"NetworkSettings":{"Networks":{"n":{"IPAddress":"10.1.0.5","GlobalIPv6Address":"fd00::5"}},
		"Ports":{"6379/tcp":[{"HostIp":"0.0.0.0","HostPort":"6379"},{"HostIp":"::","HostPort":"6379"}],"53/udp":[{"HostIp":"","HostPort":"5353"}],"9/tcp":null}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want = DockerState{
		Container: Container{Runtime: Docker, ID: id2, Name: "k8s_app", Image: "redis:7", Pod: "cache-0", PodNamespace: "prod", BindingsKnown: true,
			Bindings: []Binding{
				{Protocol: "udp", ContainerPort: 53, HostPort: 5353},
				{Protocol: "tcp", ContainerPort: 6379, HostPort: 6379},
				{Protocol: "tcp", ContainerPort: 6379, HostPort: 6379},
			}},
		Addresses: []netip.Addr{netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("fd00::5")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	for _, bad := range []string{``, `{`, `[]`, `{"ID":"x"}`} {
		if _, err := ParseDockerConfig([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStorageContainers(t *testing.T) {
	got, err := ParseStorageContainers([]byte(`[
		{"id":"` + id1 + `","names":["web1"],"image":"abc","layer":"def",
		 "metadata":"{\"image-name\":\"docker.io/library/busybox:latest\",\"image-id\":\"abc\",\"name\":\"web1\",\"created-at\":1700000000}"},
		{"id":"` + id2 + `","names":["k8s_POD_x"],"metadata":"{\"pod\":true,\"pod-name\":\"cache-0\",\"pod-id\":\"p1\",\"name\":\"k8s_POD_cache-0\",\"metadata-name\":\"cache-0\",\"namespace\":\"prod\"}"},
		{"id":"short","names":["x"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Container{
		{ID: id1, Name: "web1", Image: "docker.io/library/busybox:latest"},
		{ID: id2, Name: "cache-0", Pod: "cache-0", PodNamespace: "prod"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := ParseStorageContainers([]byte(`{}`)); err == nil {
		t.Error("an object: no error")
	}
}

func TestParseOCIAnnotations(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Container
	}{
		{`{"ociVersion":"1.0.2","annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"app",
			"io.kubernetes.cri.image-name":"docker.io/library/nginx:1.27","io.kubernetes.cri.sandbox-name":"web-0","io.kubernetes.cri.sandbox-namespace":"shop"}}`,
			Container{Name: "app", Image: "docker.io/library/nginx:1.27", Pod: "web-0", PodNamespace: "shop"}},
		{`{"annotations":{"io.kubernetes.container.name":"app","io.kubernetes.cri-o.ImageName":"quay.io/x/y:1","io.kubernetes.pod.name":"p","io.kubernetes.pod.namespace":"ns"}}`,
			Container{Name: "app", Image: "quay.io/x/y:1", Pod: "p", PodNamespace: "ns"}},
		{`{"annotations":{"nerdctl/name":"db"}}`, Container{Name: "db"}},
		{`{}`, Container{}},
	} {
		got, err := ParseOCIAnnotations([]byte(tt.in))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %+v %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDockerProxyArgs(t *testing.T) {
	for _, tt := range []struct {
		args string
		want Forward
		ok   bool
	}{
		// As Docker 20.10 started it here, and as Docker 28 does.
		{"-proto tcp -host-ip 127.0.0.1 -host-port 18080 -container-ip 172.17.0.2 -container-port 8080",
			Forward{"tcp", netip.MustParseAddr("127.0.0.1"), 18080, netip.MustParseAddr("172.17.0.2"), 8080}, true},
		{"-proto udp -host-ip 0.0.0.0 -host-port 53 -container-ip 172.17.0.3 -container-port 53 -use-listen-fd",
			Forward{"udp", netip.Addr{}, 53, netip.MustParseAddr("172.17.0.3"), 53}, true},
		{"-use-listen-fd -proto=tcp --host-ip :: -host-port 80 -container-ip fd00::2 -container-port 8080",
			Forward{"tcp", netip.Addr{}, 80, netip.MustParseAddr("fd00::2"), 8080}, true},
		{"-proto tcp -host-port 80 -container-port 8080", Forward{}, false},
		{"-proto icmp -host-ip 0.0.0.0 -host-port 1 -container-ip 1.2.3.4 -container-port 1", Forward{}, false},
		{"", Forward{}, false},
	} {
		got, ok := ParseDockerProxyArgs(strings.Fields(tt.args))
		if ok != tt.ok || got != tt.want {
			t.Errorf("%q: %+v %v, want %+v %v", tt.args, got, ok, tt.want, tt.ok)
		}
	}
}

// conmonArgs is conmon's command line as rootful Podman 4.3 started it
// here, after argv[0] and cut after its log options.
const conmonArgs = "--api-version 1 -c " + id1 + " -u " + id1 + " -r /usr/bin/runc -b /var/lib/containers/storage/overlay-containers/" + id1 +
	"/userdata -p /run/containers/storage/overlay-containers/" + id1 + "/userdata/pidfile -n pweb1 --exit-dir /run/libpod/exits --full-attach" +
	" -l k8s-file:/var/lib/containers/storage/overlay-containers/" + id1 + "/userdata/ctr.log --log-level warning --runtime-arg --log-format=json"

func TestParseConmonArgs(t *testing.T) {
	for _, tt := range []struct {
		args string
		want string
		ok   bool
	}{
		{conmonArgs, id1, true},
		{"--api-version 1 --cid " + id2 + " -n web", id2, true},
		{"--cid=" + id2, id2, true},
		{"-c 294b6b6a7996", "294b6b6a7996", false}, // a short ID names nothing for sure
		{"-n pweb1 -c", "", false},
		{"", "", false},
	} {
		got, ok := ParseConmonArgs(strings.Fields(tt.args))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%.40q: %q %v, want %q %v", tt.args, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseConmonArgs(f *testing.F) {
	f.Add(conmonArgs)
	f.Add("--cid=" + id2)
	f.Fuzz(func(t *testing.T, s string) {
		if id, ok := ParseConmonArgs(strings.Fields(s)); ok && !isID(id) {
			t.Errorf("%q: %q", s, id)
		}
	})
}

func FuzzParseCgroup(f *testing.F) {
	for _, tt := range cgroupLayouts {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ref, ok := ParseCgroup(b)
		if ok && ref.Runtime == "" {
			t.Errorf("a container without a runtime: %+v", ref)
		}
		if ok && ref.ID == "" && ref.Name == "" {
			t.Errorf("a container without an ID or name: %+v", ref)
		}
	})
}

func FuzzParseDockerConfig(f *testing.F) {
	b, err := os.ReadFile("testdata/docker-20.10-config.v2.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"ID":"` + id2 + `","NetworkSettings":{"Ports":{"6379/tcp":[{"HostIp":"::","HostPort":"6379"}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseDockerConfig(b)
		if err != nil {
			return
		}
		for _, bd := range st.Container.Bindings {
			if bd.ContainerPort == 0 || bd.HostPort == 0 {
				t.Errorf("a binding with port 0: %+v", bd)
			}
		}
	})
}

func FuzzParseStorageContainers(f *testing.F) {
	f.Add([]byte(`[{"id":"` + id1 + `","names":["web1"],"metadata":"{\"image-name\":\"busybox\",\"name\":\"web1\"}"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseStorageContainers(b)
	})
}

func FuzzParseDockerProxyArgs(f *testing.F) {
	f.Add("-proto tcp -host-ip 127.0.0.1 -host-port 18080 -container-ip 172.17.0.2 -container-port 8080")
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		if fw, ok := ParseDockerProxyArgs(args); ok && (fw.HostPort == 0 || fw.ContainerPort == 0 || !fw.ContainerAddr.IsValid()) {
			t.Errorf("%q: %+v", s, fw)
		}
	})
}

func FuzzParseOCIAnnotations(f *testing.F) {
	f.Add([]byte(`{"annotations":{"io.kubernetes.cri.container-name":"app","io.kubernetes.cri.sandbox-name":"web-0"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseOCIAnnotations(b)
	})
}
