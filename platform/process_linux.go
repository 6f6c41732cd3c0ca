package platform

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/portinspect/portinspect/platform/container"
)

// containerStateRoot is where the container runtimes keep their state
// (/var/lib/docker, /run/containerd, …).
const containerStateRoot = "/"

// procReader reads process details from a procfs tree.
type procReader struct {
	root string

	bootTime func() (time.Time, error)
	users    func() *userTable
	// bufs holds buffers for reading /proc files: procfs gives them no
	// size, so os.ReadFile grows a new buffer for each file of each
	// process (35 MB for the loaded host's 2,000 processes).
	bufs sync.Pool
	// containers names the containers processes run in.
	containers *container.Resolver
}

// maxPooledBuf bounds the buffers kept for reuse: a process with a
// megabyte of command line should not pin a megabyte.
const maxPooledBuf = 64 << 10

// readFile reads a /proc file into buf, which it grows as needed and
// returns.
func readFile(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf[:0], err
	}
	defer f.Close()
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF || n == 0 && err == nil {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func newProcReader(root string) *procReader {
	p := &procReader{root: root, containers: container.NewResolver(containerStateRoot)}
	p.users = sync.OnceValue(func() *userTable { return loadPasswd(passwdPath) })
	p.bootTime = sync.OnceValues(func() (time.Time, error) {
		b, err := os.ReadFile(filepath.Join(root, "stat"))
		if err != nil {
			return time.Time{}, err
		}
		return parseBootTime(b)
	})
	return p
}

// process reads what /proc tells of pid. It fails only when the process is
// gone; unreadable details are left empty and mark the process Hidden.
func (p *procReader) process(pid int, detail ProcessDetail) (Process, error) {
	dir := filepath.Join(p.root, strconv.Itoa(pid))
	proc := Process{PID: pid, UID: -1}
	bp, _ := p.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
		*bp = make([]byte, 0, 4096)
	}
	defer func() {
		if cap(*bp) <= maxPooledBuf {
			p.bufs.Put(bp)
		}
	}()

	// Each file is parsed before the next is read into the same buffer.
	stat, err := readFile(filepath.Join(dir, "stat"), *bp)
	*bp = stat
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return proc, fmt.Errorf("process %d: %w", pid, fs.ErrNotExist)
		}
		return proc, fmt.Errorf("process %d: %w", pid, err)
	}
	st, err := parseProcStat(stat)
	if err != nil {
		return proc, fmt.Errorf("process %d: %w", pid, err)
	}
	proc.Name = st.comm
	if boot, err := p.bootTime(); err == nil {
		proc.Started = boot.Add(ticksToDuration(st.startTicks)).UTC()
	}

	status, err := readFile(filepath.Join(dir, "status"), *bp)
	*bp = status
	if err == nil {
		if uid, ok := parseStatusUID(status); ok {
			proc.UID = int64(uid)
			proc.User = p.userName(uid)
		}
	}
	if detail < DetailFull {
		return proc, nil
	}
	cmdline, err := readFile(filepath.Join(dir, "cmdline"), *bp)
	*bp = cmdline
	if err == nil {
		proc.Cmdline = splitCmdline(cmdline)
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		// The kernel marks an executable unlinked since exec with
		// " (deleted)": the path is kept without it, so that --process
		// and check --owner still match the daemon an upgrade replaced.
		path, deleted := strings.CutSuffix(exe, " (deleted)")
		proc.Exe, proc.ExeDeleted = path, deleted
		// Through the process's own root, which a container changes.
		root := filepath.Join(dir, "root")
		if deleted {
			_, err := os.Stat(filepath.Join(root, path))
			proc.ExeReplaced = err == nil
		}
		if st, err := os.Stat(filepath.Join(root, filepath.Dir(path))); err == nil {
			proc.ExeDirWritable = st.Mode().Perm()&0o002 != 0
		}
	} else if errors.Is(err, fs.ErrPermission) {
		proc.Hidden = true
	}
	cgroup, err := readFile(filepath.Join(dir, "cgroup"), *bp)
	*bp = cgroup
	if err == nil {
		if ref, ok := container.ParseCgroup(cgroup); ok {
			// Its unit is the container's scope, or one of the container's
			// own init: no service of this host.
			proc.Container = p.containers.Resolve(ref)
		} else {
			proc.Service = systemdUnit(cgroup)
			proc.UserUnit = inUserManager(cgroup)
		}
	}
	proc.Forward = p.forwardOf(&proc)
	return proc, nil
}

// containerOf returns the container pid runs in, nil for none or when its
// cgroup cannot be read.
func (p *procReader) containerOf(pid int) *container.Container {
	if pid == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(p.root, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return nil
	}
	if ref, ok := container.ParseCgroup(b); ok {
		return p.containers.Resolve(ref)
	}
	return nil
}

// forwardOf says what a container runtime's process forwards to: one
// port to one container, as docker-proxy's command line says, or whatever
// host ports it holds for NAT rules to forward, as Podman's conmon does for
// its container (named by its -c) and dockerd does without its proxy.
// The executable's name counts, not the process's, with root and no
// container, because a process can rename itself, and anyone can run a
// program so named, root inside a container included.
func (p *procReader) forwardOf(proc *Process) *container.Publication {
	if proc.UID != 0 || proc.Container != nil || len(proc.Cmdline) < 2 {
		return nil
	}
	switch filepath.Base(proc.Exe) {
	case "docker-proxy":
		f, ok := container.ParseDockerProxyArgs(proc.Cmdline[1:])
		if !ok {
			return nil
		}
		return &container.Publication{
			Protocol: f.Protocol, HostAddr: f.HostAddr, HostPort: f.HostPort,
			Container: p.containers.ByAddress(f.ContainerAddr), ContainerAddr: f.ContainerAddr, ContainerPort: f.ContainerPort,
			Via: container.ViaDockerProxy,
		}
	case "conmon":
		id, ok := container.ParseConmonArgs(proc.Cmdline[1:])
		if !ok {
			return nil
		}
		return &container.Publication{Container: p.containers.Resolve(container.Ref{Runtime: container.Podman, ID: id}), Via: container.ViaConmon}
	case "dockerd":
		return &container.Publication{Via: container.ViaDockerd}
	}
	return nil
}

func (p *procReader) userName(uid uint32) string {
	if name, ok := p.users().names[uid]; ok {
		return name
	}
	return strconv.FormatUint(uint64(uid), 10)
}

// lookupUser returns the UID of a user name or number.
func (p *procReader) lookupUser(name string) (int64, bool) {
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		return int64(uid), true
	}
	uid, ok := p.users().uids[name]
	return int64(uid), ok
}
