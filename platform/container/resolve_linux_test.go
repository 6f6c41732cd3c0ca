package container

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stateTree lays out the runtimes' state under a root of the test's own:
// Docker's real fixture, Podman's containers.json, a containerd bundle,
// and a Docker container whose state is broken.
func stateTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	real, err := os.ReadFile("testdata/docker-20.10-config.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dockerContainers, id1, "config.v2.json"), string(real))
	write(filepath.Join(dockerContainers, id2, "config.v2.json"), "{broken")
	write(storageContainers, `[{"id":"`+id2+`","names":["web2"],"metadata":"{\"image-name\":\"docker.io/library/busybox:latest\",\"name\":\"web2\"}"}]`)
	write(filepath.Join(containerdTasks, "k8s.io", id2, "config.json"),
		`{"annotations":{"io.kubernetes.cri.container-name":"app","io.kubernetes.cri.image-name":"nginx:1.27","io.kubernetes.cri.sandbox-name":"web-0","io.kubernetes.cri.sandbox-namespace":"shop"}}`)
	return root
}

func TestResolver(t *testing.T) {
	r := NewResolver(stateTree(t))
	for _, tt := range []struct {
		ref  Ref
		want Container
	}{
		{Ref{Runtime: Docker, ID: id1}, Container{Runtime: Docker, ID: id1, Name: "web1", Image: "pi-busybox:test", BindingsKnown: true,
			Bindings: []Binding{{Protocol: "tcp", ContainerPort: 8080, HostAddr: netip.MustParseAddr("127.0.0.1"), HostPort: 18080}}}},
		{Ref{Runtime: Docker, ID: id2}, Container{Runtime: Docker, ID: id2}}, // broken state: runtime and ID only
		{Ref{Runtime: Podman, ID: id2}, Container{Runtime: Podman, ID: id2, Name: "web2", Image: "docker.io/library/busybox:latest"}},
		{Ref{Runtime: Containerd, ID: id2, PodUID: pod}, Container{Runtime: Containerd, ID: id2, Name: "app", Image: "nginx:1.27", Pod: "web-0", PodNamespace: "shop", PodUID: pod}},
		{Ref{Runtime: Kubernetes, ID: id2, PodUID: pod}, Container{Runtime: Kubernetes, ID: id2, Name: "app", Image: "nginx:1.27", Pod: "web-0", PodNamespace: "shop", PodUID: pod}},
		{Ref{Runtime: Podman, ID: id1}, Container{Runtime: Podman, ID: id1}}, // not in containers.json
		{Ref{Runtime: Nspawn, Name: "build-box"}, Container{Runtime: Nspawn, Name: "build-box"}},
	} {
		got := r.Resolve(tt.ref)
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%+v: %+v, want %+v", tt.ref, *got, tt.want)
		}
		if again := r.Resolve(tt.ref); again != got {
			t.Errorf("%+v: read twice", tt.ref)
		}
	}
	if c := r.ByAddress(netip.MustParseAddr("172.17.0.2")); c == nil || c.Name != "web1" {
		t.Errorf("172.17.0.2: %+v, want web1", c)
	}
	if c := r.ByAddress(netip.MustParseAddr("172.17.0.9")); c != nil {
		t.Errorf("172.17.0.9: %+v, want none", c)
	}
	problems := r.Problems()
	if len(problems) != 1 || !strings.Contains(problems[0], id2+"/config.v2.json: invalid character") {
		t.Errorf("problems %q, want the broken config.v2.json", problems)
	}
}

func TestResolverNoRuntime(t *testing.T) {
	r := NewResolver(t.TempDir())
	if c := r.Resolve(Ref{Runtime: Docker, ID: id1}); !reflect.DeepEqual(*c, Container{Runtime: Docker, ID: id1}) {
		t.Errorf("%+v", *c)
	}
	if c := r.ByAddress(netip.MustParseAddr("172.17.0.2")); c != nil {
		t.Errorf("%+v", c)
	}
	if p := r.Problems(); len(p) != 0 {
		t.Errorf("problems %q on a machine without containers", p)
	}
}
