package platform

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// darwinPrivilegeHint is what shows every socket's owner: libproc lists
// the descriptors of other users' processes only to root.
const darwinPrivilegeHint = "root (sudo)"

type darwinInspector struct {
	// source is "sysctl", "lsof" or empty for the best that works.
	source string
	lib    func() (*libSystem, error)
	users  *darwinUsers
	zones  ifaceNames

	// rows are the sockets the last Sockets call returned, with what
	// Owners needs to find their holders; lsofPIDs, when the sockets came
	// from lsof, the PIDs it gave each of them.
	rows     []pcbRow
	lsofPIDs [][]int
	warnings []string
}

func newOS(opts Options) (Inspector, error) {
	switch opts.SocketSource {
	case "", "sysctl", "lsof":
	default:
		return nil, fmt.Errorf("%w %q (want sysctl or lsof)", ErrUnknownSource, opts.SocketSource)
	}
	lib := sync.OnceValues(loadLibSystem)
	return &darwinInspector{source: opts.SocketSource, lib: lib, users: newDarwinUsers(lib)}, nil
}

// Sockets reads the kernel's socket lists with sysctl, as netstat does,
// which needs no privilege. Where that is refused, lsof lists the sockets
// of the processes it can read.
func (d *darwinInspector) Sockets(ctx context.Context, f Filter) ([]Socket, error) {
	d.rows, d.lsofPIDs = nil, nil
	if d.source == "lsof" {
		return d.lsofSockets(ctx, f)
	}
	socks, err := d.pcbSockets(f)
	if err == nil || d.source == "sysctl" || ctx.Err() != nil {
		return socks, err
	}
	socks, lerr := d.lsofSockets(ctx, f)
	if lerr != nil {
		return nil, fmt.Errorf("%w; and %w", err, lerr)
	}
	d.warnings = append(d.warnings, fmt.Sprintf("sockets read with lsof, as %v: sockets of processes lsof cannot read are missing", err))
	return socks, nil
}

func (d *darwinInspector) pcbSockets(f Filter) ([]Socket, error) {
	var socks []Socket
	for _, t := range [...]struct {
		p    Protocol
		name string
	}{{TCP, "net.inet.tcp.pcblist_n"}, {UDP, "net.inet.udp.pcblist_n"}} {
		if !f.wants(t.p, IPv4) && !f.wants(t.p, IPv6) {
			continue
		}
		b, err := readPCBList(t.name)
		if err != nil {
			return nil, fmt.Errorf("reading sysctl %s: %w", t.name, err)
		}
		err = parsePCBList(b, t.p, func(r *pcbRow) {
			if !f.Match(&r.Socket) {
				return
			}
			r.Local, r.Remote = d.zones.nameZone(r.Local), d.zones.nameZone(r.Remote)
			socks = append(socks, r.Socket)
			d.rows = append(d.rows, *r)
		})
		if err != nil {
			d.rows = nil
			return nil, fmt.Errorf("sysctl %s: %w", t.name, err)
		}
	}
	return socks, nil
}

// Owners finds the processes holding socks by asking libproc for every
// process's socket descriptors, as lsof does. Sockets of processes libproc
// will not describe (other users', unless root) are hidden. Without
// libproc, each socket's last user stands for its holder.
func (d *darwinInspector) Owners(ctx context.Context, socks []Socket) (OwnerReport, error) {
	listed := pairRows(d.rows, socks)
	if d.lsofPIDs != nil {
		for i, j := range listed {
			socks[i].PIDs, socks[i].Owners = nil, OwnersUnknown
			if j >= 0 && len(d.lsofPIDs[j]) > 0 {
				socks[i].PIDs, socks[i].Owners = d.lsofPIDs[j], OwnersKnown
			}
		}
		return OwnerReport{}, nil
	}
	if len(socks) == 0 {
		return OwnerReport{}, nil
	}
	rows := make([]pcbRow, len(socks))
	for i, j := range listed {
		rows[i] = pcbRow{lastPID: -1}
		if j >= 0 {
			rows[i] = d.rows[j]
		}
		rows[i].Socket = socks[i]
	}
	lib, err := d.lib()
	var held []heldSocket
	denied := 0
	if err == nil {
		held, denied, err = walkSocketFDs(ctx, lib)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return OwnerReport{}, ctxErr
	}
	if err != nil {
		d.lastUsers(socks, rows, err)
		return OwnerReport{}, nil
	}
	owners := matchHolders(rows, held)
	privileged, euid := os.Geteuid() == 0, int64(os.Geteuid())
	for i := range socks {
		socks[i].PIDs = owners[i]
		socks[i].Owners = ownerStatus(&rows[i], owners[i], denied, privileged, euid)
	}
	return OwnerReport{Denied: denied}, nil
}

// lastUsers gives each socket its last user (so_last_pid) as its owner,
// for when libproc cannot be used at all.
func (d *darwinInspector) lastUsers(socks []Socket, rows []pcbRow, why error) {
	for i := range socks {
		socks[i].PIDs, socks[i].Owners = lastUser(&rows[i])
	}
	d.warnings = append(d.warnings, fmt.Sprintf("the processes shown are each socket's last user (so_last_pid), "+
		"not necessarily the one holding it now: the descriptors of processes could not be read: %v", why))
}

func (d *darwinInspector) Process(pid int, detail ProcessDetail) (Process, error) {
	return readDarwinProcess(d.users, pid, detail)
}

func (d *darwinInspector) LookupUser(name string) (int64, bool) {
	return d.users.lookup(name)
}

// Host reports "macos", the name the known-ports notes use for the system,
// so that host.os and the notes' platforms agree.
func (d *darwinInspector) Host() Host {
	host, _ := os.Hostname()
	return Host{
		Hostname:      host,
		OS:            "macos",
		Privileged:    os.Geteuid() == 0,
		PrivilegeHint: darwinPrivilegeHint,
	}
}

func (d *darwinInspector) Warnings() []string { return d.warnings }
