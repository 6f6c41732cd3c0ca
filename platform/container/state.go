package container

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Container is what is known of one container, as JSON shows it.
type Container struct {
	Runtime      string
	ID           string
	Name         string
	Image        string
	Pod          string // a Kubernetes pod's name
	PodNamespace string
	// PodUID is the pod's UID from the cgroup path, where the runtimes'
	// state did not name the pod.
	PodUID string
	// Bindings are its published ports, where the runtime's state was
	// read and keeps them (Docker); BindingsKnown says so.
	Bindings      []Binding
	BindingsKnown bool
}

// Label names the container for people: its name, else its short ID.
func (c *Container) Label() string {
	return cmp.Or(c.Name, c.ShortID())
}

// ShortID is the ID as runtimes print it: its first 12 hex digits.
func (c *Container) ShortID() string {
	if len(c.ID) > 12 {
		return c.ID[:12]
	}
	return c.ID
}

// Binding is a published port: a container port, and the host address
// and port that reach it.
type Binding struct {
	Protocol      string // tcp, udp or sctp
	ContainerPort uint16
	HostAddr      netip.Addr // invalid: every address
	HostPort      uint16
}

// DockerState is what Docker's config.v2.json holds of a container.
type DockerState struct {
	Container
	PID       int          // its first process, 0 when stopped
	Addresses []netip.Addr // on its networks
}

// ParseDockerConfig reads /var/lib/docker/containers/ID/config.v2.json.
// The name loses Docker's leading "/"; the image is the one asked for
// (Config.Image), not its digest; a pod's name and namespace come from
// the labels Kubernetes's dockershim set.
func ParseDockerConfig(b []byte) (DockerState, error) {
	var raw struct {
		ID     string
		Name   string
		Config struct {
			Image  string
			Labels map[string]string
		}
		State struct {
			Pid     int
			Running bool
		}
		NetworkSettings struct {
			Networks map[string]struct {
				IPAddress         string
				GlobalIPv6Address string
			}
			Ports map[string][]struct {
				HostIp   string
				HostPort string
			}
		}
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return DockerState{}, err
	}
	if !isID(raw.ID) {
		return DockerState{}, errors.New("no container ID")
	}
	st := DockerState{Container: Container{
		Runtime:       Docker,
		ID:            raw.ID,
		Name:          strings.TrimPrefix(raw.Name, "/"),
		Image:         raw.Config.Image,
		Pod:           raw.Config.Labels["io.kubernetes.pod.name"],
		PodNamespace:  raw.Config.Labels["io.kubernetes.pod.namespace"],
		BindingsKnown: true,
	}}
	if raw.State.Running {
		st.PID = raw.State.Pid
	}
	for _, n := range raw.NetworkSettings.Networks {
		for _, s := range []string{n.IPAddress, n.GlobalIPv6Address} {
			if a, err := netip.ParseAddr(s); err == nil {
				st.Addresses = append(st.Addresses, a)
			}
		}
	}
	for spec, hosts := range raw.NetworkSettings.Ports {
		port, proto, ok := parsePortProto(spec)
		if !ok {
			continue
		}
		for _, h := range hosts {
			hp, err := strconv.ParseUint(h.HostPort, 10, 16)
			if err != nil || hp == 0 {
				continue
			}
			b := Binding{Protocol: proto, ContainerPort: port, HostPort: uint16(hp)}
			if a, err := netip.ParseAddr(h.HostIp); err == nil && !a.IsUnspecified() {
				b.HostAddr = a
			}
			st.Container.Bindings = append(st.Container.Bindings, b)
		}
	}
	sortBindings(st.Container.Bindings)
	sortAddrs(st.Addresses)
	return st, nil
}

// parsePortProto reads Docker's "8080/tcp".
func parsePortProto(s string) (uint16, string, bool) {
	p, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, "", false
	}
	switch proto {
	case "tcp", "udp", "sctp":
		return uint16(n), proto, true
	}
	return 0, "", false
}

// ParseStorageContainers reads containers.json of containers/storage
// (/var/lib/containers/storage/overlay-containers/containers.json), which
// Podman and CRI-O share. Podman keeps the name and image in the entry's
// metadata; CRI-O adds the pod's name, the name Kubernetes gave the
// container ("metadata-name"; "name" is CRI-O's own) and, for a pod's
// sandbox, the namespace (cri-o's internal/storage RuntimeContainerMetadata).
// Runtime is left to the caller, who knows which runtime's cgroup led
// here.
func ParseStorageContainers(b []byte) ([]Container, error) {
	var raw []struct {
		ID       string   `json:"id"`
		Names    []string `json:"names"`
		Metadata string   `json:"metadata"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	var out []Container
	for _, r := range raw {
		if !isID(r.ID) {
			continue
		}
		c := Container{ID: r.ID}
		var md struct {
			Name         string `json:"name"`
			MetadataName string `json:"metadata-name"`
			ImageName    string `json:"image-name"`
			Pod          string `json:"pod-name"`
			PodNamespace string `json:"namespace"`
		}
		if json.Unmarshal([]byte(r.Metadata), &md) == nil {
			c.Name, c.Image, c.Pod, c.PodNamespace = cmp.Or(md.MetadataName, md.Name), md.ImageName, md.Pod, md.PodNamespace
		}
		if c.Name == "" && len(r.Names) > 0 {
			c.Name = r.Names[0]
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseOCIAnnotations reads an OCI bundle's config.json for the names
// that Kubernetes runtimes (containerd's CRI plugin, CRI-O) and nerdctl
// leave in its annotations.
func ParseOCIAnnotations(b []byte) (Container, error) {
	var raw struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Container{}, err
	}
	a := raw.Annotations
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := a[k]; v != "" {
				return v
			}
		}
		return ""
	}
	return Container{
		Name:         first("io.kubernetes.cri.container-name", "io.kubernetes.container.name", "nerdctl/name"),
		Image:        first("io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName", "io.kubernetes.cri-o.Image"),
		Pod:          first("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"),
		PodNamespace: first("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"),
	}, nil
}

func sortBindings(bs []Binding) {
	slices.SortFunc(bs, func(a, b Binding) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), cmp.Compare(a.Protocol, b.Protocol),
			a.HostAddr.Compare(b.HostAddr), cmp.Compare(a.HostPort, b.HostPort))
	})
}

func sortAddrs(as []netip.Addr) {
	slices.SortFunc(as, netip.Addr.Compare)
}
