package platform

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// netnsMounts are where bind mounts keep network namespaces that may have
// no process: ip netns's and Docker's sandboxes.
var netnsMounts = []string{"/run/netns", "/run/docker/netns"}

// listNetns finds every network namespace on the machine: those of the
// processes in pids (/proc/PID/ns/net) and those that only a bind mount
// keeps. Each is listed once, by the nsfs device and inode, with the
// name a bind mount gives it. It counts the processes whose namespace
// could not be read (other users' processes, without privilege).
func listNetns(procRoot string, pids []int) (list []Netns, unreadable int, err error) {
	var own unix.Stat_t
	if err := unix.Stat(filepath.Join(procRoot, "self", "ns", "net"), &own); err != nil {
		return nil, 0, fmt.Errorf("reading this process's network namespace: %w", err)
	}
	index := make(map[uint64]int)
	add := func(st *unix.Stat_t, ns Netns) {
		if st.Dev != own.Dev {
			return // not a namespace: a file left where a mount was
		}
		if i, ok := index[st.Ino]; ok {
			n := &list[i]
			n.Name = cmp.Or(n.Name, ns.Name)
			n.PID = cmp.Or(n.PID, ns.PID)
			if ns.PID != 0 {
				n.pids = append(n.pids, ns.PID)
			}
			// A mount outlives any process in the namespace: open that
			// first, the processes' paths after.
			if ns.PID == 0 {
				n.path, n.alts = ns.path, append([]string{n.path}, n.alts...)
			} else {
				n.alts = append(n.alts, ns.path)
			}
			return
		}
		ns.Inode, ns.Own = st.Ino, st.Ino == own.Ino
		if ns.PID != 0 {
			ns.pids = []int{ns.PID}
		}
		index[st.Ino] = len(list)
		list = append(list, ns)
	}
	var st unix.Stat_t
	for _, pid := range pids {
		path := filepath.Join(procRoot, strconv.Itoa(pid), "ns", "net")
		if err := unix.Stat(path, &st); err != nil {
			if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
				unreadable++
			}
			continue
		}
		add(&st, Netns{PID: pid, path: path})
	}
	for _, dir := range netnsMounts {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if unix.Stat(path, &st) == nil {
				add(&st, Netns{Name: e.Name(), path: path})
			}
		}
	}
	// The namespace portinspect runs in first, then by name and inode.
	slices.SortStableFunc(list, func(a, b Netns) int {
		own := func(n Netns) int {
			if n.Own {
				return 0
			}
			return 1
		}
		unnamed := func(n Netns) int {
			if n.Name == "" {
				return 1
			}
			return 0
		}
		return cmp.Or(cmp.Compare(own(a), own(b)), cmp.Compare(unnamed(a), unnamed(b)), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Inode, b.Inode))
	})
	return list, unreadable, nil
}

// socketIn opens a socket (a netlink socket for NETLINK_SOCK_DIAG or
// NETLINK_ROUTE, a raw one to ask x_tables) in ns (nil: this process's
// namespace). A socket stays in the namespace it was made in, so only its
// making moves a thread, in a goroutine of its own: the thread moves back
// or, if it cannot, ends with that goroutine, locked to it, rather than
// serve others in the wrong namespace.
func socketIn(ns *Netns, domain, typ, protocol int) (fd int, err error) {
	err = doIn(ns, func() error {
		fd, err = unix.Socket(domain, typ|unix.SOCK_CLOEXEC, protocol)
		return err
	})
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// doIn calls fn on a thread in ns (nil or this one: here). The thread
// is its own goroutine's: if it cannot go back to this process's
// namespace, it ends with that goroutine rather than serve others in the
// wrong one.
func doIn(ns *Netns, fn func() error) error {
	if ns == nil || ns.Own {
		return fn()
	}
	target, err := openNetns(ns)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer unix.Close(self)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("entering network namespace %s: %w", ns.Label(), err)
			return
		}
		err = fn()
		if unix.Setns(self, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// openNetns opens ns's namespace file: its mount, or the path of a process
// in it, and then of the others, as processes exit. A process's path may
// by now be another process's, in another namespace: the inode says
// whether it is still ns. When no path leads to it any more, it is gone.
func openNetns(ns *Netns) (int, error) {
	for _, path := range append([]string{ns.path}, ns.alts...) {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Ino == ns.Inode {
			return fd, nil
		}
		unix.Close(fd)
	}
	return -1, fmt.Errorf("network namespace %s: %w", ns.Label(), errNetnsGone)
}

// errNetnsGone is a namespace gone since it was listed: its last process
// exited, or its mount was removed, and a new one may have its path.
var errNetnsGone = errors.New("gone since it was listed")

// selectNetns finds the namespace sel names in list: a bind mount's name,
// a path to a namespace file, the PID of a process in it, or "self", the
// one portinspect runs in.
func selectNetns(procRoot string, list []Netns, sel string) (Netns, error) {
	for _, ns := range list {
		if ns.Name == sel || sel == "self" && ns.Own {
			return ns, nil
		}
	}
	path := sel
	if pid, err := strconv.Atoi(sel); err == nil && pid > 0 {
		path = filepath.Join(procRoot, sel, "ns", "net")
	}
	var own, st unix.Stat_t
	if err := unix.Stat(filepath.Join(procRoot, "self", "ns", "net"), &own); err != nil {
		return Netns{}, err
	}
	switch err := unix.Stat(path, &st); {
	case errors.Is(err, unix.EACCES):
		return Netns{}, fmt.Errorf("--netns %s: %w: reading it needs root", sel, err)
	case err == nil && st.Dev == own.Dev:
		// Any namespace file will do, listed or not (unshare --net=FILE).
		for _, ns := range list {
			if ns.Inode == st.Ino {
				ns.path = path
				return ns, nil
			}
		}
		return Netns{Inode: st.Ino, Own: st.Ino == own.Ino, path: path}, nil
	}
	return Netns{}, fmt.Errorf("invalid --netns %q: %w: want an ip netns name, a Docker sandbox ID, a path to a namespace file, a PID or self", sel, ErrNoNetns)
}
