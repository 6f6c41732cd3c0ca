package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// readPCBList reads a pcblist_n table. The kernel sizes the buffer with
// room to spare for sockets opened meanwhile; if they outgrow it anyway, the
// read fails with ENOMEM and is tried again.
func readPCBList(name string) ([]byte, error) {
	var err error
	for range 3 {
		var b []byte
		if b, err = unix.SysctlRaw(name); !errors.Is(err, unix.ENOMEM) {
			return b, err
		}
	}
	return nil, err
}

// lsofSockets lists the sockets that pass f, and their holders, with lsof:
// the last resort when the kernel's lists cannot be read. Run by a user
// other than root, lsof sees only that user's processes.
func (d *darwinInspector) lsofSockets(ctx context.Context, f Filter) ([]Socket, error) {
	lsof := "/usr/sbin/lsof" // macOS's own, which a PATH without /usr/sbin misses
	if _, err := os.Stat(lsof); err != nil {
		lsof = "lsof"
	}
	cmd := exec.CommandContext(ctx, lsof, lsofArgs...)
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	// lsof exits 1 when some of what it was asked for is not there (no UDP
	// socket, say) and still prints the rest.
	if err != nil && !(errors.As(err, &exitErr) && exitErr.ExitCode() == 1) {
		return nil, fmt.Errorf("running lsof: %w", err)
	}
	var socks []Socket
	index := make(map[endpointKey]int)
	err = parseLsof(out, func(pid int, s *Socket) {
		if !f.Match(s) {
			return
		}
		// lsof prints a socket once per descriptor: one row per socket,
		// with every process holding it. Listeners sharing a port are
		// one row here, as lsof cannot tell them apart either.
		k := endpointKey{s.Protocol, s.Local, s.Remote}
		i, ok := index[k]
		if !ok {
			i = len(socks)
			index[k] = i
			socks = append(socks, *s)
			d.rows = append(d.rows, pcbRow{Socket: *s, lastPID: -1})
			d.lsofPIDs = append(d.lsofPIDs, nil)
		}
		d.lsofPIDs[i] = append(d.lsofPIDs[i], pid)
	})
	if err != nil {
		d.rows, d.lsofPIDs = nil, nil
		return nil, fmt.Errorf("reading lsof's output: %w", err)
	}
	for i, pids := range d.lsofPIDs {
		slices.Sort(pids)
		d.lsofPIDs[i] = slices.Compact(pids)
	}
	if d.lsofPIDs == nil {
		d.lsofPIDs = [][]int{} // no socket, but Owners must know they came from lsof
	}
	return socks, nil
}

// walkSocketFDs asks libproc for the IP sockets every process holds, on
// every CPU. It returns them with the number of processes whose
// descriptors could not be read for lack of privilege. Processes that exit
// meanwhile are skipped. When no process at all may be read, not even this
// one (a sandbox), libproc is no use and that is an error.
func walkSocketFDs(ctx context.Context, lib *libSystem) ([]heldSocket, int, error) {
	pids, err := lib.pids()
	if err != nil {
		return nil, 0, err
	}
	workers := min(runtime.GOMAXPROCS(0), 1+len(pids)/64)
	found := make([][]heldSocket, workers)
	var denied, read atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			fdBuf := make([]byte, 256*sizeofProcFDInfo)
			// Room for a socket_fdinfo grown by a later kernel: a buffer
			// shorter than its own is refused (ENOMEM).
			infoBuf := make([]byte, 2*sizeofSocketFDInfo)
			var fds []uint32
			for {
				i := int(next.Add(1) - 1)
				if i >= len(pids) || ctx.Err() != nil {
					return
				}
				pid := pids[i]
				if pid <= 0 {
					continue // kernel_task holds no descriptors
				}
				list, err := lib.fdList(pid, fdBuf)
				if cap(list) > cap(fdBuf) {
					fdBuf = list[:cap(list)]
				}
				if err != nil {
					if errors.Is(err, unix.EPERM) {
						denied.Add(1)
					}
					continue
				}
				read.Add(1)
				hold := func(b []byte, err error) {
					if err != nil {
						return // closed meanwhile
					}
					if handle, ok, err := parseSocketFDInfo(b); err == nil && ok {
						found[w] = append(found[w], heldSocket{pid: int(pid), handle: handle})
					}
				}
				fds = socketEntries(fds[:0], list)
				for _, fd := range fds {
					hold(lib.socketInfo(pid, int32(fd), infoBuf))
				}
				// Sockets held as fileports, without a descriptor.
				if list, err = lib.fileportList(pid, fdBuf); err == nil {
					if cap(list) > cap(fdBuf) {
						fdBuf = list[:cap(list)]
					}
					for _, port := range socketEntries(fds[:0], list) {
						hold(lib.fileportSocketInfo(pid, port, infoBuf))
					}
				}
			}
		})
	}
	wg.Wait()
	if read.Load() == 0 && denied.Load() > 0 {
		return nil, 0, fmt.Errorf("proc_pidinfo refused all %d processes: %w", denied.Load(), unix.EPERM)
	}
	var held []heldSocket
	for _, f := range found {
		held = append(held, f...)
	}
	return held, int(denied.Load()), nil
}
