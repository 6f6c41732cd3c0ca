package container

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// Publication is a host port that forwards to a container's port.
type Publication struct {
	Protocol      string
	HostAddr      netip.Addr // invalid: every address
	HostPort      uint16
	Container     *Container // nil when the target is no container known here
	ContainerAddr netip.Addr
	ContainerPort uint16
	// Via names what forwards: docker-proxy, dockerd, conmon or nat.
	Via string
}

// Host is where the publication takes connections: its host address and
// port, the host address being the unspecified one of the container
// address's family when it takes every address.
func (p *Publication) Host() netip.AddrPort {
	a := p.HostAddr
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
		if p.ContainerAddr.Is6() && !p.ContainerAddr.Is4In6() {
			a = netip.IPv6Unspecified()
		}
	}
	return netip.AddrPortFrom(a, p.HostPort)
}

// HostName spells where the publication takes connections as people read
// it: "127.0.0.1:18090", "*:6379" for every address.
func (p *Publication) HostName() string {
	host := "*"
	if p.HostAddr.IsValid() {
		host = p.HostAddr.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(int(p.HostPort)))
}

// What a Publication is forwarded by: its Via.
const (
	// ViaNAT: NAT rules alone, with no process holding the host port.
	ViaNAT = "nat"
	// ViaDockerProxy: Docker's userland proxy, which holds the port and
	// copies each connection.
	ViaDockerProxy = "docker-proxy"
	// ViaConmon: NAT rules, while Podman's conmon holds the port so that
	// nothing else takes it.
	ViaConmon = "conmon"
	// ViaDockerd: NAT rules, while dockerd holds the port (Docker 28 and
	// later without the userland proxy).
	ViaDockerd = "dockerd"
)

// Resolver names containers from the runtimes' state on disk, reading
// each file once. It is safe for concurrent use.
type Resolver struct {
	root string

	mu         sync.Mutex
	known      map[Ref]*Container
	storage    map[string]Container // containers/storage's entries by ID
	storageOK  bool
	docker     []DockerState // every Docker container, for ByAddress
	dockerOK   bool
	unreadable map[string]error
}

// NewResolver reads state under root: "/" on a machine, a tree of their
// own in tests.
func NewResolver(root string) *Resolver {
	return &Resolver{root: root, known: make(map[Ref]*Container), unreadable: make(map[string]error)}
}

// Paths of the runtimes' state, under the resolver's root.
const (
	dockerContainers  = "var/lib/docker/containers"
	storageContainers = "var/lib/containers/storage/overlay-containers/containers.json"
	containerdTasks   = "run/containerd/io.containerd.runtime.v2.task"
	crioBundles       = "run/containers/storage/overlay-containers"
)

// Resolve returns the container ref names, with what the runtime's state
// tells of it. A container whose state cannot be read keeps its runtime
// and ID; Problems says which file and why.
func (r *Resolver) Resolve(ref Ref) *Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.known[ref]; ok {
		return c
	}
	c := &Container{Runtime: ref.Runtime, ID: ref.ID, Name: ref.Name}
	switch ref.Runtime {
	case Docker:
		if st, ok := r.dockerState(ref.ID); ok {
			*c = st.Container
		}
	case Podman:
		if s, ok := r.storageEntry(ref.ID); ok {
			c.Name, c.Image = s.Name, s.Image
		}
	case Containerd, CRIO, Kubernetes:
		r.fillFromBundle(c, ref)
	}
	c.PodUID = ref.PodUID
	r.known[ref] = c
	return c
}

// readState reads and parses one state file. Why it could not is noted
// for Problems, but for a file that is not there: most runtimes are not.
func readState[T any](r *Resolver, path string, parse func([]byte) (T, error)) (T, bool) {
	b, err := os.ReadFile(path)
	if err == nil {
		var v T
		if v, err = parse(b); err == nil {
			return v, true
		}
	}
	r.note(path, err)
	var zero T
	return zero, false
}

// dockerState reads one container's config.v2.json.
func (r *Resolver) dockerState(id string) (DockerState, bool) {
	return readState(r, filepath.Join(r.root, dockerContainers, id, "config.v2.json"), ParseDockerConfig)
}

// storageEntry finds a container in containers/storage's list, read once.
func (r *Resolver) storageEntry(id string) (Container, bool) {
	if !r.storageOK {
		r.storageOK = true
		list, _ := readState(r, filepath.Join(r.root, storageContainers), ParseStorageContainers)
		r.storage = make(map[string]Container, len(list))
		for _, c := range list {
			r.storage[c.ID] = c
		}
	}
	c, ok := r.storage[id]
	return c, ok
}

// fillFromBundle names a Kubernetes runtime's container from its OCI
// bundle's annotations: containerd keeps bundles per namespace (k8s.io,
// moby, default), CRI-O in its storage's userdata.
func (r *Resolver) fillFromBundle(c *Container, ref Ref) {
	candidates, _ := filepath.Glob(filepath.Join(r.root, containerdTasks, "*", ref.ID, "config.json"))
	candidates = append(candidates, filepath.Join(r.root, crioBundles, ref.ID, "userdata", "config.json"))
	for _, path := range candidates {
		a, ok := readState(r, path, ParseOCIAnnotations)
		if !ok {
			continue
		}
		c.Name, c.Image, c.Pod, c.PodNamespace = cmp.Or(a.Name, c.Name), a.Image, a.Pod, a.PodNamespace
		return
	}
}

// ByAddress returns the running Docker container with address a, as
// docker-proxy's -container-ip names it, reading every container's state
// once.
func (r *Resolver) ByAddress(a netip.Addr) *Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dockerOK {
		r.dockerOK = true
		dir := filepath.Join(r.root, dockerContainers)
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.note(dir, err)
		}
		for _, e := range entries {
			if st, ok := r.dockerState(e.Name()); ok && st.PID != 0 {
				r.docker = append(r.docker, st)
			}
		}
	}
	for i := range r.docker {
		if slices.Contains(r.docker[i].Addresses, a) {
			c := r.docker[i].Container
			return &c
		}
	}
	return nil
}

func (r *Resolver) note(path string, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		r.unreadable[path] = err
	}
}

// Problems lists the state files that could not be read, one line each,
// with the privilege that would read them.
func (r *Resolver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for path, err := range r.unreadable {
		msg := fmt.Sprintf("container names and images unknown: %s: %v", path, err)
		if errors.Is(err, fs.ErrPermission) {
			msg = fmt.Sprintf("container names and images unknown: %s is readable only by root", path)
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}
