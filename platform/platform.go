// Package platform reads the operating system's TCP and UDP sockets and the
// processes that hold them. Each OS has an adapter in its own files
// (platform_linux.go, …); systems without one return an error wrapping
// ErrNotSupported. The package never prints and never exits: callers decide
// what an error means to a user.
package platform

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portinspect/portinspect/platform/container"
)

// ErrNotSupported is wrapped by errors from systems that have no adapter.
var ErrNotSupported = errors.New("not supported on this operating system")

// ErrUnknownSource is wrapped by New's error for an Options.SocketSource
// the system does not have: the caller's input is wrong, not the machine.
var ErrUnknownSource = errors.New("unknown socket source")

// Protocol is a transport protocol.
type Protocol uint8

const (
	TCP Protocol = iota + 1
	UDP
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "unknown"
}

// ProtocolNamed returns the protocol String spells name, for TCP and UDP.
func ProtocolNamed(name string) (Protocol, bool) {
	switch name {
	case "tcp":
		return TCP, true
	case "udp":
		return UDP, true
	}
	return 0, false
}

// Family is an address family.
type Family uint8

const (
	IPv4 Family = iota + 1
	IPv6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return "unknown"
}

// State is a socket state. TCP states follow the kernel's names; a UDP
// socket is Unconnected (bound only) or Established (connected).
type State uint8

const (
	StateUnknown State = iota
	Established
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	Close
	CloseWait
	LastAck
	Listen
	Closing
	Unconnected
	numStates
)

var stateNames = [numStates]string{
	StateUnknown: "UNKNOWN",
	Established:  "ESTABLISHED",
	SynSent:      "SYN_SENT",
	SynRecv:      "SYN_RECV",
	FinWait1:     "FIN_WAIT1",
	FinWait2:     "FIN_WAIT2",
	TimeWait:     "TIME_WAIT",
	Close:        "CLOSE",
	CloseWait:    "CLOSE_WAIT",
	LastAck:      "LAST_ACK",
	Listen:       "LISTEN",
	Closing:      "CLOSING",
	Unconnected:  "UNCONN",
}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return stateNames[StateUnknown]
}

// StateNamed returns the state called name exactly as String spells it.
func StateNamed(name string) (State, bool) {
	for s, n := range stateNames {
		if n == name && State(s) != StateUnknown {
			return State(s), true
		}
	}
	return StateUnknown, false
}

// States is a set of states.
type States uint32

// AllStates holds every state.
const AllStates = States(1<<numStates - 1)

// DefaultStates is what a listing shows unless asked for more: every state
// but Close. A TCP socket in Close is bound but neither listening nor
// connected; the kernel finds those only by walking its whole bind table,
// which doubled the time of a TCP dump on a busy host (10 ms more per
// address family), and /proc/net never shows them. Ask for Close to see
// them.
const DefaultStates = AllStates &^ (1 << Close)

// Has reports whether s is in the set.
func (ss States) Has(s State) bool { return ss&(1<<s) != 0 }

// With returns the set with s added.
func (ss States) With(s State) States { return ss | 1<<s }

// OwnerStatus says what is known of the processes holding a socket.
type OwnerStatus uint8

const (
	// OwnersNotLooked means no owner lookup was asked for.
	OwnersNotLooked OwnerStatus = iota
	// OwnersKnown means PIDs lists every process found holding the socket.
	OwnersKnown
	// OwnersHidden means processes that could hold the socket could not be
	// read for lack of privilege.
	OwnersHidden
	// OwnersNone means no process holds the socket (kernel sockets,
	// TIME_WAIT, half-open connections).
	OwnersNone
	// OwnersUnknown means the system reported no owner and cannot tell
	// why: Windows gives PID 0 (which is never the System Idle Process's
	// socket), as Wine does for every socket.
	OwnersUnknown
)

func (o OwnerStatus) String() string {
	switch o {
	case OwnersKnown:
		return "known"
	case OwnersHidden:
		return "hidden"
	case OwnersNone:
		return "none"
	case OwnersUnknown:
		return "unknown"
	}
	return "not_looked_up"
}

// Socket is one TCP or UDP socket.
//
// Its one-byte fields come together: a listing holds tens of thousands
// of Sockets, copied twice, and padding after each of them made a Socket
// 216 bytes rather than 200.
type Socket struct {
	// Netns is the network namespace the socket is in, when the listing
	// covers more than one; nil otherwise.
	Netns    *Netns
	Protocol Protocol
	Family   Family
	State    State
	// DualStack says whether an IPv6 socket bound to :: also takes IPv4
	// (IPV6_V6ONLY off), where the system reports it.
	DualStack DualStack
	// DeviceLoopback says Device is a loopback interface.
	DeviceLoopback bool
	Owners         OwnerStatus
	Local          netip.AddrPort
	Remote         netip.AddrPort
	// Inode is the socket's inode on Linux, 0 elsewhere or when the socket
	// has none (TIME_WAIT, half-open connections).
	Inode uint64
	// Cookie is the kernel's identifier of the socket (Linux sock_diag),
	// unique while it lives, 0 where there is none: a socket seen by two
	// dumps has the same cookie in both.
	Cookie uint64
	// UID is the socket's owner as the kernel records it (Linux), or -1.
	UID int64
	// RecvQ and SendQ are what ss calls Recv-Q and Send-Q, or -1 where the
	// system does not report them (Windows). For a TCP listener they are
	// the connections waiting to be accepted and the most that may wait
	// (its backlog): a full accept queue is why a server "hangs". For other
	// sockets they are bytes received but not yet read, and bytes sent but
	// not yet acknowledged.
	RecvQ, SendQ int64
	// Device is the network interface the socket is bound to
	// (SO_BINDTODEVICE: libvirt's dnsmasq on virbr0, a daemon in a
	// management VRF), "" for none or where the system does not say.
	Device string

	PIDs []int

	// created is when the socket was created, a FILETIME, where the
	// system says (Windows's owner-module tables): its creator's PID is
	// another process's once that is younger than the socket.
	created int64
	// mibRow is the socket's owner-module row (Windows), kept to ask
	// which service of a shared svchost.exe opened it.
	mibRow []byte
}

// DualStack says whether an IPv6 wildcard socket takes IPv4 too.
type DualStack uint8

const (
	// DualStackUnknown: not an IPv6 wildcard socket, or the system does
	// not say.
	DualStackUnknown DualStack = iota
	// DualStackNo: IPv6 only (IPV6_V6ONLY on).
	DualStackNo
	// DualStackYes: IPv4 connections arrive too, as ::ffff:a.b.c.d.
	DualStackYes
)

// PortRange is a range of local ports for TCP, UDP or both.
type PortRange struct {
	Low, High uint16
	TCP, UDP  bool
}

// Covers reports whether the range is for protocol p.
func (r PortRange) Covers(p Protocol) bool {
	return p == TCP && r.TCP || p == UDP && r.UDP
}

// Has reports whether the range holds port for protocol p.
func (r PortRange) Has(port uint16, p Protocol) bool {
	return r.Low <= port && port <= r.High && r.Covers(p)
}

// Filter narrows a socket listing. The zero Filter matches nothing; start
// from MatchAll and narrow it.
type Filter struct {
	TCP, UDP   bool
	IPv4, IPv6 bool
	States     States
	// Ports, when not nil, keeps only sockets whose local port one of the
	// ranges holds for the socket's protocol.
	Ports []PortRange
	// PeerPorts makes Ports keep the sockets whose remote port a range
	// holds as well: this machine's clients of the ports.
	PeerPorts bool
	// AllNetns lists the sockets of every network namespace (Linux), each
	// marked with its Netns; without it, only the namespace portinspect
	// runs in.
	AllNetns bool
	// Netns lists the sockets of one network namespace (Linux): an ip
	// netns name, Docker's sandbox ID, a path to a namespace file, or a
	// PID. An unknown one is an error wrapping ErrNoNetns.
	Netns string
}

// ErrNoNetns is wrapped by the error for a Filter.Netns that names no
// network namespace.
var ErrNoNetns = errors.New("no such network namespace")

// Netns is a network namespace (Linux).
type Netns struct {
	// Inode identifies it, with the nsfs device: names can repeat or lie.
	Inode uint64
	// Name is what names it: an `ip netns` name, Docker's sandbox ID, or
	// "" when no bind mount names it.
	Name string
	// PID is a process in it, 0 when only a bind mount keeps it.
	PID int
	// Own marks the namespace portinspect runs in.
	Own bool
	// Container is the container whose namespace it is, as the cgroup of
	// PID says (Linux), nil for none.
	Container *container.Container
	// Isolated says it reaches other machines only through this host:
	// its interfaces are a container bridge's veth ends with private
	// addresses (set for other namespaces when their sockets are listed).
	Isolated bool
	// path opens it, or failing that one of alts.
	path string
	alts []string
	// pids are the processes in it, when the machine's namespaces were
	// listed.
	pids []int
}

// Label names a namespace for people: its name, else "pid N" for a
// process in it, else its inode.
func (n *Netns) Label() string {
	switch {
	case n.Name != "":
		return n.Name
	case n.Own:
		return "this namespace"
	case n.PID != 0:
		return fmt.Sprintf("pid %d", n.PID)
	}
	return fmt.Sprintf("net:[%d]", n.Inode)
}

// At reports whether s is at local address a: bound to it, or, for a
// listener bound to a wildcard, taking its connections. 0.0.0.0 takes
// every IPv4 address; :: every IPv6 one, and IPv4 ones too when the
// system says it is dual-stack (where it does not say, as on Windows,
// whose default is IPv6-only, a check must not pass on a guess). Asked for
// 0.0.0.0 itself, a dual-stack :: holds it as well.
func (s *Socket) At(a netip.Addr) bool {
	l, a := s.Local.Addr().Unmap(), a.Unmap()
	if l == a || a.Zone() == "" && l.WithZone("") == a {
		return true
	}
	if s.State != Listen && s.State != Unconnected || !l.IsUnspecified() {
		return false
	}
	if l.Is4() {
		return a.Is4()
	}
	return a.Is6() && !a.IsUnspecified() || a.Is4() && s.DualStack == DualStackYes
}

// ID names a namespace for as long as it lasts: its name, else its
// inode, never a process that happens to be in it.
func (n *Netns) ID() string {
	if n.Name != "" {
		return n.Name
	}
	return fmt.Sprintf("net:[%d]", n.Inode)
}

// MatchAll returns the filter that keeps every socket.
func MatchAll() Filter {
	return Filter{TCP: true, UDP: true, IPv4: true, IPv6: true, States: AllStates}
}

// wants reports whether f can keep any socket of protocol p and family fam.
func (f *Filter) wants(p Protocol, fam Family) bool {
	switch {
	case p == TCP && !f.TCP, p == UDP && !f.UDP:
		return false
	case fam == IPv4 && !f.IPv4, fam == IPv6 && !f.IPv6:
		return false
	}
	return f.Ports == nil || slices.ContainsFunc(f.Ports, func(r PortRange) bool { return r.Covers(p) })
}

// Match reports whether s passes f.
func (f *Filter) Match(s *Socket) bool {
	return f.wants(s.Protocol, s.Family) && f.States.Has(s.State) &&
		(f.Ports == nil || slices.ContainsFunc(f.Ports, func(r PortRange) bool {
			return r.Has(s.Local.Port(), s.Protocol) || f.PeerPorts && r.Has(s.Remote.Port(), s.Protocol)
		}))
}

// OwnerReport tells how complete an owner lookup was.
type OwnerReport struct {
	// Denied counts processes whose descriptors could not be read.
	Denied int
	// ChildPIDNamespace says the lookup ran in a PID namespace below the
	// first (a container's) and so could not see the processes outside
	// it, which may hold sockets of its network namespace
	// (docker run --net=host without --pid=host, hostNetwork pods).
	ChildPIDNamespace bool
}

// Process describes one process. Fields that could not be read are zero,
// with UID -1.
type Process struct {
	PID     int
	Name    string
	Exe     string
	Cmdline []string
	UID     int64
	User    string
	Started time.Time
	// Service is the systemd unit or Windows service running the process.
	Service string
	// UserUnit says Service is a unit of the user's own systemd manager
	// (systemctl --user), not the system's.
	UserUnit bool
	// Hidden is set when some details were unreadable for lack of privilege.
	Hidden bool
	// ExeDeleted says the executable file was deleted or replaced after
	// the process started it; Exe is still the path it had.
	ExeDeleted bool
	// ExeReplaced says a file is at the deleted executable's path again:
	// the package upgrade of a daemon not yet restarted, most often.
	ExeReplaced bool
	// ExeDirWritable says the executable's directory is writable by every
	// user, as /tmp and /dev/shm are: anyone could have put it there.
	ExeDirWritable bool
	// Container is the container the process runs in (Linux), nil for
	// none; read with DetailFull.
	Container *container.Container
	// Forward is what this process forwards to a container (Linux,
	// DetailFull): one host port to a container's, as docker-proxy does,
	// or, with HostPort 0, whatever host ports it holds while NAT rules
	// forward them, as Podman's conmon and dockerd do.
	Forward *container.Publication
}

// ProcessDetail says how much of a process to read.
type ProcessDetail uint8

const (
	// DetailBasic reads the name, user and start time: what a table shows.
	DetailBasic ProcessDetail = iota
	// DetailFull adds the executable, command line and service.
	DetailFull
)

// Host describes the machine and the privilege the inspection runs with.
type Host struct {
	Hostname string
	OS       string
	// Privileged reports whether every process's sockets can be read.
	Privileged bool
	// PrivilegeHint names what would show hidden owners
	// ("root (or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)").
	PrivilegeHint string
}

// Inspector reads sockets and processes from one operating system.
type Inspector interface {
	// Sockets lists the sockets that pass f. Where the system names each
	// socket's owner with it (Windows, lsof), PIDs are filled in here and
	// Owners only says what they mean.
	Sockets(ctx context.Context, f Filter) ([]Socket, error)
	// Owners fills in Owners and PIDs of socks, searching every process.
	Owners(ctx context.Context, socks []Socket) (OwnerReport, error)
	// Process reads the details of one process. It returns an error
	// wrapping fs.ErrNotExist when the process is gone.
	Process(pid int, detail ProcessDetail) (Process, error)
	// LookupUser returns the user ID a user name (or number) stands for.
	LookupUser(name string) (uid int64, ok bool)
	// Host describes the machine.
	Host() Host
	// Warnings returns what the adapter noticed that degrades the answer
	// (a fallback taken, a dump interrupted).
	Warnings() []string
}

// NetnsCoverage is an Inspector that says what its last listing of every
// network namespace left out (Linux).
type NetnsCoverage interface {
	// NetnsLeftOut counts the namespaces that could not be entered, and
	// the processes whose namespace could not be read.
	NetnsLeftOut() (namespaces, processes int)
}

// Options configure an Inspector.
type Options struct {
	// SocketSource forces a socket source on systems that have several
	// ("netlink" or "proc" on Linux); empty picks the best that works.
	SocketSource string
	// ProcRoot is where procfs is mounted; empty means /proc.
	ProcRoot string
}

// New returns the Inspector for the running system.
func New(opts Options) (Inspector, error) {
	return newOS(opts)
}

// Plural spells a count of things: "1 socket", "2 sockets", "3 processes".
func Plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if strings.HasSuffix(thing, "s") {
		return fmt.Sprintf("%d %ses", n, thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
