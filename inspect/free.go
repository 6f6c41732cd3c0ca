package inspect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
)

// What `free` does with each holder of a port.
const (
	// FreeSignal: signal the process.
	FreeSignal = "signal"
	// FreeStop: a service or container, which its manager would start
	// again: stopped through the manager when asked (--stop-services),
	// only named otherwise.
	FreeStop = "stop"
	// FreeRefuse: never touched: PID 1, the kernel, portinspect itself, a
	// holder that cannot be seen.
	FreeRefuse = "refuse"
)

// What became of a holder once `free` acted.
const (
	HolderGone      = "gone"
	HolderRunning   = "running"
	HolderUntouched = "untouched" // refused, left to its manager, or a dry run
	HolderFailed    = "failed"    // the signal or the stop command failed
)

// FreeHolder is one holder of the port: a process, or sockets no process
// can be named for.
type FreeHolder struct {
	// Process is nil for sockets whose holder is unknown.
	Process *Process
	Sockets []Socket
	Action  string
	// Manager names what would start it again: "systemd unit
	// nginx.service", "container web1".
	Manager string
	// Command stops it through its manager (Action FreeStop), as argv.
	Command []string
	// Reason says why it is refused or left to its manager.
	Reason string
	// Result is what became of it (Holder…), Err why it failed.
	Result string
	Err    error
}

// FreePlan is what `free` finds on the port and will do.
type FreePlan struct {
	Host    platform.Host
	Holders []*FreeHolder
	// OthersHold says processes the owner filters (--pid, --user,
	// --process) left out hold the port too.
	OthersHold bool
	Warnings   []string
	query      Query
	// portQuery is query without its owner filters: whether the port is
	// free is everyone's business.
	portQuery Query
}

// FreeOptions say how `free` acts.
type FreeOptions struct {
	Signal       syscall.Signal
	Timeout      time.Duration
	StopServices bool
	// RunCommand runs a manager's stop command.
	RunCommand func(ctx context.Context, argv []string) error
}

// FreeResult is the port after `free` acted.
type FreeResult struct {
	// Free says no socket but TIME_WAIT's is left on the port.
	Free bool
	// Remaining are the sockets still on it, with their holders.
	Remaining []Socket
	// Lingering counts the connections left in TIME_WAIT, Connections
	// the others that use the port as theirs: a server that sets
	// SO_REUSEADDR binds past both, others wait.
	Lingering, Connections int
	Warnings               []string
}

// PlanFree finds the holders of q's ports in this network namespace,
// each with what `free` will do.
func PlanFree(ctx context.Context, src Source, q Query) (*FreePlan, error) {
	q.Detail = platform.DetailFull
	rep, err := Run(ctx, src, nil, q)
	if err != nil {
		return nil, err
	}
	portQuery := q
	portQuery.PIDs, portQuery.Processes, portQuery.Users = nil, nil, nil
	plan := &FreePlan{Host: rep.Host, Warnings: rep.Warnings, query: q, portQuery: portQuery}
	if q.filtersOwners() {
		all, err := Run(ctx, src, nil, portQuery)
		if err != nil {
			return nil, err
		}
		plan.OthersHold = len(held(all.Sockets)) > len(held(rep.Sockets))
	}
	byPID := map[int]*FreeHolder{}
	for _, s := range held(rep.Sockets) {
		if len(s.Processes) == 0 {
			plan.Holders = append(plan.Holders, &FreeHolder{Sockets: []Socket{s}, Action: FreeRefuse, Reason: ownerlessReason(&s, rep.Host)})
			continue
		}
		for _, p := range s.Processes {
			h := byPID[p.PID]
			if h == nil {
				h = &FreeHolder{Process: p}
				byPID[p.PID] = h
				plan.Holders = append(plan.Holders, h)
			}
			h.Sockets = append(h.Sockets, s)
		}
	}
	for _, h := range plan.Holders {
		if h.Process != nil {
			classifyHolder(h, rep.Host)
		}
		h.Result = HolderUntouched
	}
	return plan, nil
}

// held keeps the sockets that hold the port against a server's bind:
// TCP listeners and UDP sockets. Connections that use the port as theirs
// (a server's accepted ones, an outgoing one) block only a bind without
// SO_REUSEADDR, and their processes are no holders: `free 22` must not
// end every SSH session.
func held(socks []Socket) []Socket {
	var out []Socket
	for _, s := range socks {
		if s.Role == RoleLocal && (s.State == platform.Listen || s.Protocol == platform.UDP) {
			out = append(out, s)
		}
	}
	return out
}

func ownerlessReason(s *Socket, host platform.Host) string {
	switch s.Owners {
	case platform.OwnersHidden:
		return "its holder is hidden from this run: run as " + host.PrivilegeHint + " to see it"
	case platform.OwnersUnknown:
		return "the system does not say which process holds it"
	}
	return "no process holds it: the kernel does (NFS, WireGuard, a tunnel), so there is nothing to signal"
}

// classifyHolder decides what `free` does with a process: refuse it,
// leave it to the manager that would restart it, or signal it.
func classifyHolder(h *FreeHolder, host platform.Host) {
	p := h.Process
	switch {
	case p.PID == os.Getpid():
		h.Action, h.Reason = FreeRefuse, "it is portinspect itself"
	case p.PID == 1 && host.OS != "windows":
		h.Action, h.Reason = FreeRefuse, "it is PID 1, "+p.Name+": it holds the port for socket activation, and ending it would end the system; stop the socket unit instead (systemctl list-sockets names it)"
	case p.PID <= 1, host.OS == "windows" && p.PID == 4:
		h.Action, h.Reason = FreeRefuse, "it is the kernel (HTTP.sys or another driver): netsh http show servicestate names the application that registered the port"
	case host.OS == "windows" && windowsCritical[strings.ToLower(p.Name)]:
		h.Action, h.Reason = FreeRefuse, "it is "+p.Name+", a process Windows cannot run without: ending it stops the machine"
	default:
		if c := holderContainer(h); c != nil {
			h.Action, h.Manager = FreeStop, "container "+c.Label()
			h.Command, h.Reason = containerStop(c)
			return
		}
		if cmd, manager := serviceStop(p, host.OS); manager != "" {
			h.Action, h.Manager, h.Command = FreeStop, manager, cmd
			h.Reason = "its manager would start it again if it were killed"
			if cmd == nil {
				h.Reason = "it hosts several services, and which holds the port is not known: stop that one (sc.exe stop NAME)"
			}
			return
		}
		h.Action = FreeSignal
	}
}

// windowsCritical are the processes whose end stops Windows (they are
// marked critical; ending one is a bug check), some of which listen:
// wininit.exe and services.exe on RPC's dynamic ports, lsass.exe too.
var windowsCritical = map[string]bool{
	"smss.exe": true, "csrss.exe": true, "wininit.exe": true, "winlogon.exe": true, "services.exe": true, "lsass.exe": true,
}

// holderContainer is the container the holder runs in, or that it
// forwards the port to (docker-proxy, conmon).
func holderContainer(h *FreeHolder) *container.Container {
	if h.Process.Container != nil {
		return h.Process.Container
	}
	for _, s := range h.Sockets {
		for _, pub := range s.Published {
			if pub.Container != nil {
				return pub.Container
			}
		}
	}
	return nil
}

func containerStop(c *container.Container) ([]string, string) {
	switch {
	case c.Pod != "":
		return []string{"kubectl", "delete", "pod", "-n", c.PodNamespace, c.Pod}, "its pod's kubelet would start it again; its controller may recreate the pod too"
	case c.Runtime == container.Docker || c.Runtime == container.Podman:
		return []string{c.Runtime, "stop", c.Label()}, "its runtime would keep it, or restart it by its policy"
	case c.Runtime == container.Nspawn:
		return []string{"machinectl", "stop", c.Label()}, "it is a container"
	case c.Runtime == container.LXC:
		return []string{"lxc-stop", "-n", c.Label()}, "it is a container"
	}
	return []string{"crictl", "stop", c.ID}, "its runtime would start it again"
}

// serviceStop is the command that stops the service p runs in through
// its manager, and the manager's name for it; "" when p is no service,
// a nil command when no one command would do.
// A systemd scope (a login session, an app a desktop started) restarts
// nothing, so its processes are signalled.
func serviceStop(p *Process, goos string) ([]string, string) {
	if p.Service == "" {
		return nil, ""
	}
	switch goos {
	case "linux":
		switch {
		case !strings.HasSuffix(p.Service, ".service") || strings.HasPrefix(p.Service, "user@"):
		case p.UserUnit && p.User != "":
			return []string{"systemctl", "--user", "--machine", p.User + "@", "stop", p.Service}, "systemd user unit " + p.Service + " of " + p.User
		case !p.UserUnit:
			return []string{"systemctl", "stop", p.Service}, "systemd unit " + p.Service
		}
	case "windows":
		// sc.exe takes the name as one argument: no shell reads it. A
		// shared svchost.exe names every service it hosts, and which
		// one holds the port is not known: stop that one alone.
		if strings.Contains(p.Service, ", ") {
			return nil, "Windows services " + p.Service
		}
		return []string{"sc.exe", "stop", p.Service}, "Windows service " + p.Service
	case "macos":
		// A LaunchAgent runs in its user's GUI domain; a LaunchDaemon,
		// whatever user it runs as, in the system domain.
		domain := "system/"
		if p.UID > 0 {
			domain = fmt.Sprintf("gui/%d/", p.UID)
		}
		return []string{"launchctl", "bootout", domain + p.Service}, "launchd job " + p.Service
	}
	return nil, ""
}

// Acts reports whether Free would touch some holder with opts.
func (plan *FreePlan) Acts(opts FreeOptions) bool {
	return slices.ContainsFunc(plan.Holders, func(h *FreeHolder) bool {
		return h.Action == FreeSignal || h.Action == FreeStop && opts.StopServices
	})
}

// freePollInterval is how often free looks at the port while it waits: a
// listing of one port's sockets, without owners, and a stat of each
// holder, which cost a fraction of a millisecond.
const freePollInterval = 20 * time.Millisecond

// stopCommandTimeout bounds a manager's stop command: docker stop
// waits 10 s for a container before it kills it.
const stopCommandTimeout = 30 * time.Second

// Free signals the holders the plan signals, stops the services and
// containers when asked (each manager once), and waits up to
// opts.Timeout for the port to be free and for them to be gone.
func Free(ctx context.Context, src Source, plan *FreePlan, opts FreeOptions) (*FreeResult, error) {
	signaller, canSignal := src.(platform.Signaller)
	var acted []*FreeHolder
	stopped := map[string]error{}
	for _, h := range plan.Holders {
		switch {
		case h.Action == FreeSignal && !canSignal:
			h.Result, h.Err = HolderFailed, fmt.Errorf("signalling a process: %w", platform.ErrNotSupported)
			continue
		case h.Action == FreeSignal:
			h.Err = signaller.Signal(h.Process, inodes(h.Sockets), opts.Signal)
		case h.Action == FreeStop && opts.StopServices && h.Command != nil:
			key := strings.Join(h.Command, "\x00")
			err, done := stopped[key]
			if !done {
				cctx, cancel := context.WithTimeout(ctx, max(opts.Timeout, stopCommandTimeout))
				err = opts.RunCommand(cctx, h.Command)
				cancel()
				stopped[key] = err
			}
			h.Err = err
		default:
			continue
		}
		switch {
		case errors.Is(h.Err, platform.ErrNotSameProcess):
			h.Result, h.Err = HolderGone, nil
		case errors.Is(h.Err, platform.ErrNotHolding):
			h.Result = HolderUntouched
		case h.Err != nil:
			h.Result = HolderFailed
		default:
			h.Result = HolderRunning
			acted = append(acted, h)
		}
	}
	res, err := waitFree(ctx, src, plan, acted, opts.Timeout, canSignal)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func inodes(socks []Socket) []uint64 {
	var out []uint64
	for _, s := range socks {
		if s.Inode != 0 {
			out = append(out, s.Inode)
		}
	}
	return out
}

// waitFree polls the port and the holders acted on until the port is free
// and they are gone, or the timeout; then reads what is left on the port
// with its holders.
func waitFree(ctx context.Context, src Source, plan *FreePlan, acted []*FreeHolder, timeout time.Duration, canSignal bool) (*FreeResult, error) {
	quick := plan.portQuery
	quick.NoProcesses = true
	deadline := time.Now().Add(timeout)
	for {
		for _, h := range acted {
			if h.Result == HolderRunning && canSignal && !src.(platform.Signaller).Running(h.Process) {
				h.Result = HolderGone
			}
		}
		rep, err := Run(ctx, src, nil, quick)
		if err != nil {
			return nil, err
		}
		allGone := !slices.ContainsFunc(acted, func(h *FreeHolder) bool { return h.Result == HolderRunning })
		if len(held(rep.Sockets)) == 0 && allGone || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(freePollInterval):
		}
	}
	rep, err := Run(ctx, src, nil, plan.portQuery)
	if err != nil {
		return nil, err
	}
	res := &FreeResult{Remaining: held(rep.Sockets)}
	res.Free = len(res.Remaining) == 0
	for _, w := range rep.Warnings {
		if !slices.Contains(plan.Warnings, w) && !slices.Contains(res.Warnings, w) {
			res.Warnings = append(res.Warnings, w)
		}
	}
	for _, s := range rep.Sockets {
		switch {
		case s.Role != RoleLocal || s.State == platform.Listen || s.Protocol == platform.UDP:
		case s.State == platform.TimeWait:
			res.Lingering++
		default:
			res.Connections++
		}
	}
	return res, nil
}
