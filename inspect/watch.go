package inspect

import (
	"context"
	"net/netip"
	"time"

	"github.com/portinspect/portinspect/platform"
)

// What a watch reports of a socket.
const (
	WatchAdded   = "added"
	WatchRemoved = "removed"
)

// WatchEvent is a socket that appeared or went between two refreshes.
type WatchEvent struct {
	Event  string
	Time   time.Time
	Socket Socket
}

// watchKey names a socket across refreshes: the kernel's cookie where
// there is one, else where it is and what it is.
type watchKey struct {
	netns         uint64
	protocol      platform.Protocol
	local, remote netip.AddrPort
	inode, cookie uint64
}

func keyOf(s *Socket) watchKey {
	k := watchKey{protocol: s.Protocol, local: s.Local, remote: s.Remote, inode: s.Inode, cookie: s.Cookie}
	if s.Netns != nil {
		k.netns = s.Netns.Inode
	}
	return k
}

// Watcher lists the sockets a query selects again and again, and says
// which appeared and which went. Each refresh is a listing without owners
// (a netlink dump filtered in the kernel, on Linux); owners are looked up
// only for sockets not seen before, and kept, by socket, until the socket
// goes: a busy host's thousands of unchanged listeners cost nothing after
// the first refresh.
type Watcher struct {
	src   Source
	query Query
	// current are the sockets of the last refresh, with their owners.
	current map[watchKey]Socket
	// procs caches the processes read, by PID, while a socket of the
	// current set names them.
	procs map[int]*Process
	// Started says the first refresh was made: its sockets are the
	// starting point, not events.
	started bool
}

// NewWatcher watches q's sockets on src.
func NewWatcher(src Source, q Query) *Watcher {
	q.NoProcesses = true
	q.KnownPorts = KnownPortsNone
	return &Watcher{src: src, query: q, current: map[watchKey]Socket{}, procs: map[int]*Process{}}
}

// Sockets are the sockets of the last refresh.
func (w *Watcher) Sockets() []Socket {
	out := make([]Socket, 0, len(w.current))
	for _, s := range w.current {
		out = append(out, s)
	}
	sortSockets(out)
	return out
}

// Refresh lists the sockets again and returns what changed since the last
// refresh (nothing on the first, which sets the starting point), added
// sockets with their owners.
func (w *Watcher) Refresh(ctx context.Context, now time.Time) ([]WatchEvent, error) {
	rep, err := Run(ctx, w.src, nil, w.query)
	if err != nil {
		return nil, err
	}
	next := make(map[watchKey]Socket, len(rep.Sockets))
	var fresh []platform.Socket
	var freshKeys []watchKey
	for _, s := range rep.Sockets {
		k := keyOf(&s)
		if old, ok := w.current[k]; ok {
			next[k] = old
			continue
		}
		next[k] = s
		fresh = append(fresh, s.Socket)
		freshKeys = append(freshKeys, k)
	}
	if len(fresh) > 0 {
		if err := w.lookUpOwners(ctx, fresh, freshKeys, next); err != nil {
			return nil, err
		}
	}
	var events []WatchEvent
	if w.started {
		for _, k := range freshKeys {
			events = append(events, WatchEvent{Event: WatchAdded, Time: now, Socket: next[k]})
		}
		for k, s := range w.current {
			if _, ok := next[k]; !ok {
				events = append(events, WatchEvent{Event: WatchRemoved, Time: now, Socket: s})
			}
		}
	}
	w.current, w.started = next, true
	w.sweep()
	return events, nil
}

// lookUpOwners finds the owners of the sockets not seen before, reading
// only processes not already cached.
func (w *Watcher) lookUpOwners(ctx context.Context, fresh []platform.Socket, keys []watchKey, next map[watchKey]Socket) error {
	if _, err := w.src.Owners(ctx, fresh); err != nil {
		return err
	}
	var unread []platform.Socket
	for _, s := range fresh {
		for _, pid := range s.PIDs {
			if w.procs[pid] == nil {
				unread = append(unread, platform.Socket{PIDs: []int{pid}})
			}
		}
	}
	for pid, p := range readProcesses(w.src, unread, platform.DetailFull) {
		w.procs[pid] = p
	}
	for i, raw := range fresh {
		s := next[keys[i]]
		s.Owners, s.PIDs, s.Processes = raw.Owners, raw.PIDs, nil
		for _, pid := range raw.PIDs {
			if p := w.procs[pid]; p != nil {
				s.Processes = append(s.Processes, p)
			}
		}
		next[keys[i]] = s
	}
	return nil
}

// sweep forgets the processes no current socket names: the cache lives
// as long as the sockets do, not as long as the watch.
func (w *Watcher) sweep() {
	used := make(map[int]bool, len(w.procs))
	for _, s := range w.current {
		for _, pid := range s.PIDs {
			used[pid] = true
		}
	}
	for pid := range w.procs {
		if !used[pid] {
			delete(w.procs, pid)
		}
	}
}

// CachedProcesses counts the processes the watcher keeps.
func (w *Watcher) CachedProcesses() int { return len(w.procs) }
