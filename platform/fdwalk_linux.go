package platform

import (
	"context"
	"encoding/binary"
	"errors"
	"iter"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ownerWalk finds the processes that hold given socket inodes by reading
// every /proc/PID/fd link, the only place Linux tells which process holds a
// socket. It is the slow part of every owner lookup (ss -p and lsof do the
// same), so it runs on every CPU, opens each fd directory relative to one
// /proc descriptor, and reads links with readlinkat straight from the
// getdents buffer into a reused one: no path building, no allocation per
// descriptor.
type ownerWalk struct {
	procFD int
	want   map[uint64]struct{}
}

type inodeOwner struct {
	inode uint64
	pid   int
}

// walkResult is what one worker found.
type walkResult struct {
	found  []inodeOwner
	denied int
}

// run searches the fd directories of pids and returns, for every wanted
// inode that some process holds, the sorted PIDs holding it, and how many
// processes could not be searched for lack of privilege.
func (w *ownerWalk) run(ctx context.Context, pids []int) (map[uint64][]int, int) {
	workers := min(runtime.GOMAXPROCS(0), 1+len(pids)/64)
	results := make([]walkResult, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { results[i] = w.worker(ctx, pids, &next) })
	}
	wg.Wait()

	owners := make(map[uint64][]int)
	denied := 0
	for _, r := range results {
		denied += r.denied
		for _, f := range r.found {
			owners[f.inode] = append(owners[f.inode], f.pid)
		}
	}
	for inode, ps := range owners {
		slices.Sort(ps)
		owners[inode] = slices.Compact(ps)
	}
	return owners, denied
}

func (w *ownerWalk) worker(ctx context.Context, pids []int, next *atomic.Int64) walkResult {
	var r walkResult
	dirents := make([]byte, 16<<10)
	link := make([]byte, 64)
	path := make([]byte, 0, 32)
	for {
		i := int(next.Add(1) - 1)
		if i >= len(pids) || ctx.Err() != nil {
			return r
		}
		pid := pids[i]
		path = append(strconv.AppendInt(path[:0], int64(pid), 10), "/fd\x00"...)
		dirfd, err := openat(w.procFD, path)
		if err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				r.denied++
				continue
			}
			// ENOENT, ESRCH: the process has exited, or only its main
			// thread has.
			w.scanThreads(pid, dirents, link, &r)
			continue
		}
		denied, entries := w.scanFDs(dirfd, pid, dirents, link, &r)
		unix.Close(dirfd)
		if denied {
			r.denied++
		}
		if entries == 0 && !denied {
			w.scanThreads(pid, dirents, link, &r)
		}
	}
}

// scanThreads reads the descriptors of a process whose main thread has
// exited while others run on: /proc/PID/fd is then empty, and the table
// they share shows under /proc/PID/task/TID/fd. A single-threaded process
// with no descriptors (a kernel thread) costs one fstatat: its task
// directory has three links, "." and ".." and its one thread.
func (w *ownerWalk) scanThreads(pid int, dirents, link []byte, r *walkResult) {
	task := strconv.Itoa(pid) + "/task"
	var st unix.Stat_t
	if err := unix.Fstatat(w.procFD, task, &st, 0); err != nil || st.Nlink <= 3 {
		return
	}
	taskFD, err := unix.Openat(w.procFD, task, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(taskFD)
	tids, _ := listPIDs(taskFD)
	for _, tid := range tids {
		if tid == pid {
			continue
		}
		dirfd, err := unix.Openat(taskFD, strconv.Itoa(tid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		denied, entries := w.scanFDs(dirfd, pid, dirents, link, r)
		unix.Close(dirfd)
		if denied {
			r.denied++
		}
		if denied || entries > 0 {
			return // the threads share one table
		}
	}
}

// scanFDs reads one process's fd directory and reports whether it was
// denied access to the links, and how many descriptors it has.
func (w *ownerWalk) scanFDs(dirfd, pid int, dirents, link []byte, r *walkResult) (denied bool, entries int) {
	const prefix = "socket:["
	for {
		n, err := unix.Getdents(dirfd, dirents)
		if err != nil || n <= 0 {
			return false, entries
		}
		for name := range direntNames(dirents[:n]) {
			if dirents[name] == '.' {
				continue
			}
			entries++
			size, errno := readlinkat(dirfd, &dirents[name], link)
			if errno != 0 {
				if errno == unix.EACCES || errno == unix.EPERM {
					return true, entries
				}
				continue // the descriptor was closed meanwhile
			}
			if size <= len(prefix) || string(link[:len(prefix)]) != prefix {
				continue
			}
			inode, ok := parseInodeDigits(link[len(prefix):size])
			if !ok {
				continue
			}
			if _, ok := w.want[inode]; ok {
				r.found = append(r.found, inodeOwner{inode, pid})
			}
		}
	}
}

// parseInodeDigits parses the "12345]" tail of a socket link.
func parseInodeDigits(b []byte) (uint64, bool) {
	var v uint64
	for i, c := range b {
		if c == ']' {
			return v, i > 0
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return 0, false
}

// openat opens a NUL-terminated path relative to dirfd as a directory.
func openat(dirfd int, path []byte) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])),
		unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// readlinkat reads the link named by the NUL-terminated name at *name into
// buf, which the kernel truncates to fit.
func readlinkat(dirfd int, name *byte, buf []byte) (int, unix.Errno) {
	n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	return int(n), errno
}

// direntNames yields the offset in buf of each name in a getdents64
// result; each name is NUL-terminated in place.
func direntNames(buf []byte) iter.Seq[int] {
	return func(yield func(int) bool) {
		const nameOffset = 19 // d_ino, d_off, d_reclen, d_type
		for off := 0; off+nameOffset < len(buf); {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen == 0 || !yield(off+nameOffset) {
				return
			}
			off += reclen
		}
	}
}

// listPIDs returns the numbered entries of the directory procFD: the PIDs
// of /proc, or a /proc/PID/task directory's thread IDs.
func listPIDs(procFD int) ([]int, error) {
	dirfd, err := unix.Openat(procFD, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	buf := make([]byte, 32<<10)
	pids := make([]int, 0, 512)
	for {
		n, err := unix.Getdents(dirfd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return pids, nil
		}
		for name := range direntNames(buf[:n]) {
			pid := 0
			for _, c := range buf[name:n] {
				if c == 0 {
					break
				}
				if c < '0' || c > '9' {
					pid = -1
					break
				}
				pid = pid*10 + int(c-'0')
			}
			if pid > 0 {
				pids = append(pids, pid)
			}
		}
	}
}
