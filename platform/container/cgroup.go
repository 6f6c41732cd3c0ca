// Package container names the container a Linux process runs in, and the
// container a host socket forwards to, from what the kernel and the
// container runtimes keep on disk: /proc/PID/cgroup, Docker's
// config.v2.json, the containers.json of containers/storage (Podman,
// CRI-O), OCI bundles' config.json, and docker-proxy's command line. It
// asks no daemon: a daemon may be down, slow or remote, and its socket is
// as privileged as the files. The parsers are pure functions over bytes;
// Resolver reads the files.
package container

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Runtimes, as Ref.Runtime and Container.Runtime name them.
const (
	Docker     = "docker"
	Podman     = "podman"
	Containerd = "containerd"
	CRIO       = "cri-o"
	Nspawn     = "systemd-nspawn"
	LXC        = "lxc"
	// Kubernetes is a pod's container whose runtime the cgroup path does
	// not name (the cgroupfs driver's /kubepods/QOS/podUID/ID).
	Kubernetes = "kubernetes"
)

// Ref is what a process's cgroup says of its container: the runtime and
// the container's ID (Docker, Podman, containerd, CRI-O) or name
// (systemd-nspawn, LXC), and the Kubernetes pod's UID where the path has
// one.
type Ref struct {
	Runtime string
	ID      string
	Name    string
	PodUID  string
}

// ParseCgroup reads /proc/PID/cgroup (cgroup v1's "N:controllers:path"
// lines, v2's "0::path", or both) and reports the container the process
// runs in. The paths of one process agree on it; the first that names one
// is taken. A monitor beside a container (conmon's libpod-conmon-ID.scope)
// is not in it.
func ParseCgroup(b []byte) (Ref, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// The path is what follows the second colon; it may hold colons
		// itself (containerd's "kubepods-….slice:cri-containerd:ID").
		_, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		_, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if ref, ok := parseCgroupPath(path); ok {
			return ref, true
		}
	}
	return Ref{}, false
}

// parseCgroupPath looks for a container in one cgroup path, from its top
// segment down: a container's cgroup may hold cgroups of its own (systemd
// inside a container, Docker in Docker), and the outermost container is
// the one the host knows.
//
// Below a user's manager (user@UID.service) any name can be made by that
// user (systemd-run --user --scope --unit=docker-ID): nothing there is
// taken for a container of this host's runtimes, whose state it would
// borrow.
func parseCgroupPath(path string) (Ref, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var found Ref
	ok := false
	for i := range segs {
		if strings.HasPrefix(segs[i], "user@") {
			return Ref{}, false
		}
		ref, hit := parseSegment(segs, i)
		if hit {
			found, ok = ref, true
			break
		}
	}
	if !ok {
		return Ref{}, false
	}
	if found.PodUID == "" {
		found.PodUID = podUID(segs)
	}
	return found, true
}

// parseSegment reports the container named by segs[i], read with its
// parent where the layout needs it.
func parseSegment(segs []string, i int) (Ref, bool) {
	s := segs[i]
	parent := ""
	if i > 0 {
		parent = segs[i-1]
	}
	// systemd's cgroup driver: RUNTIME-ID.scope.
	for _, p := range []struct{ prefix, runtime string }{
		{"docker-", Docker},
		{"libpod-", Podman},
		{"cri-containerd-", Containerd},
		{"crio-", CRIO},
	} {
		if id, ok := strings.CutPrefix(s, p.prefix); ok {
			if id, ok = strings.CutSuffix(id, ".scope"); ok && isID(id) {
				return Ref{Runtime: p.runtime, ID: id}, true
			}
		}
	}
	// containerd under the systemd driver with cgroup v1 names the scope
	// "POD-SLICE:cri-containerd:ID"; CRI-O "POD-SLICE:crio:ID".
	if f := strings.Split(s, ":"); len(f) == 3 && isID(f[2]) {
		switch f[1] {
		case "cri-containerd":
			return Ref{Runtime: Containerd, ID: f[2], PodUID: podUIDOfSlice(f[0])}, true
		case "crio":
			return Ref{Runtime: CRIO, ID: f[2], PodUID: podUIDOfSlice(f[0])}, true
		case "docker":
			return Ref{Runtime: Docker, ID: f[2], PodUID: podUIDOfSlice(f[0])}, true
		}
	}
	// The cgroupfs driver: /docker/ID, /libpod_parent/libpod-ID, and a
	// pod's containers as /kubepods[/QOS]/podUID/ID.
	switch {
	case parent == "docker" && isID(s):
		return Ref{Runtime: Docker, ID: s}, true
	case parent == "libpod_parent" && strings.HasPrefix(s, "libpod-") && isID(s[len("libpod-"):]):
		return Ref{Runtime: Podman, ID: s[len("libpod-"):]}, true
	case strings.HasPrefix(parent, "pod") && isUID(parent[len("pod"):]) && isID(s):
		return Ref{Runtime: Kubernetes, ID: s, PodUID: parent[len("pod"):]}, true
	}
	// systemd-nspawn: machine.slice/machine-NAME.scope, NAME escaped as
	// systemd escapes unit names. Podman's libpod-ID.scope sits in
	// machine.slice too, and is read above.
	// libvirt's virtual machines sit there too, as machine-qemu-N-NAME.
	if parent == "machine.slice" {
		if name, ok := strings.CutPrefix(s, "machine-"); ok {
			if name, ok = strings.CutSuffix(name, ".scope"); ok && name != "" && !isLibvirtMachine(unescapeUnit(name)) {
				return Ref{Runtime: Nspawn, Name: unescapeUnit(name)}, true
			}
		}
	}
	// LXC 4+ and Incus: lxc.payload.NAME; LXC before 4: /lxc/NAME.
	if name, ok := strings.CutPrefix(s, "lxc.payload."); ok && name != "" {
		return Ref{Runtime: LXC, Name: name}, true
	}
	if parent == "lxc" && i == 1 && s != "" {
		return Ref{Runtime: LXC, Name: s}, true
	}
	return Ref{}, false
}

// isLibvirtMachine reports whether a machine name is libvirt's for a
// virtual machine: qemu-ID-NAME (or lxc-ID-NAME for its containers, which
// are containers but not nspawn's; left out too).
func isLibvirtMachine(name string) bool {
	for _, driver := range []string{"qemu-", "lxc-"} {
		if rest, ok := strings.CutPrefix(name, driver); ok {
			id, _, ok := strings.Cut(rest, "-")
			if _, err := strconv.Atoi(id); ok && err == nil {
				return true
			}
		}
	}
	return false
}

// podUID finds a Kubernetes pod's UID in a path: a "podUID" segment
// (cgroupfs driver) or a "kubepods[-QOS]-podUID.slice" one (systemd driver,
// the UID's dashes written as underscores).
func podUID(segs []string) string {
	for _, s := range segs {
		if uid, ok := strings.CutPrefix(s, "pod"); ok && isUID(uid) {
			return uid
		}
		if uid := podUIDOfSlice(s); uid != "" {
			return uid
		}
	}
	return ""
}

func podUIDOfSlice(s string) string {
	s, ok := strings.CutSuffix(s, ".slice")
	if !ok || !strings.HasPrefix(s, "kubepods") {
		return ""
	}
	i := strings.LastIndex(s, "-pod")
	if i < 0 {
		return ""
	}
	uid := strings.ReplaceAll(s[i+len("-pod"):], "_", "-")
	if !isUID(uid) {
		return ""
	}
	return uid
}

// isID reports whether s is a container ID: 64 hex digits, as every
// runtime here writes it into cgroup paths.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// isUID reports whether s is a Kubernetes UID: a UUID, 36 characters of
// hex digits and dashes.
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
}

// unescapeUnit undoes systemd's unit-name escaping ("\x2d" for "-").
func unescapeUnit(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]) {
			b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}
