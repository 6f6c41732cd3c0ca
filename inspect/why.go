package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/portinspect/portinspect/platform"
)

// Bind verdicts: what `why` answers.
const (
	BindFree    = "free"
	BindBlocked = "blocked"
	BindUnknown = "unknown"
)

// Codes of the reasons a bind fails, or might; stable, for scripts.
const (
	ReasonInUse        = "in_use"      // a listener, or a bound UDP socket, holds the address
	ReasonConnections  = "connections" // connections use the port as theirs, and no listener
	ReasonTimeWait     = "time_wait"   // only connections in TIME_WAIT remain
	ReasonPrivileged   = "privileged"  // below the unprivileged port start, without the capability
	ReasonNotLocal     = "address_not_local"
	ReasonEphemeral    = "ephemeral_range" // outgoing connections may take the port
	ReasonOtherNetns   = "other_netns"     // held in another network namespace: no conflict here
	ReasonNATPublished = "nat_published"   // NAT rules forward the port elsewhere
	ReasonUnexplained  = "unexplained"     // the bind failed for a reason not found here
	ReasonExcluded     = "excluded_range"  // Windows keeps the port from every program
	ReasonHTTPSys      = "http_sys"        // HTTP.sys takes the port for an application (Windows)
	ReasonURLReserved  = "http_urlacl"     // HTTP.sys reserves URLs on the port for some accounts (Windows)
	ReasonSELinux      = "selinux"         // SELinux may refuse a confined program the port
)

// BindRequest is the bind `why` judges.
type BindRequest struct {
	Protocol platform.Protocol
	// Addrs are the addresses bound; none means the wildcards, 0.0.0.0
	// and [::] (taking IPv4 too, as Linux's default does).
	Addrs []netip.Addr
	Port  uint16
	// User is who binds, as given ("" for the caller), UID its number.
	User string
	UID  int64
	// ReusePort asks about a bind that sets SO_REUSEPORT, to join the
	// listeners already there.
	ReusePort bool
	// Program is the program that will bind (Linux), "" for none given;
	// ProgramCaps the capabilities its file grants, nil when unread.
	Program     string
	ProgramCaps *platform.FileCaps
}

// BindReason is one reason a bind fails, or might, with what shows it and
// what to do.
type BindReason struct {
	Code string
	// Blocks says the reason makes the bind fail; the others are risks or
	// context.
	Blocks   bool
	Summary  string
	Evidence []string
	Fix      string
	Commands []string
	// Sockets are the sockets the reason is about, with their processes.
	Sockets []Socket
}

// BindTry is a bind tried for the truth, and what the system said.
type BindTry struct {
	Addr      netip.AddrPort
	Reuse     bool
	ReusePort bool
	Err       error
}

// BindAnswer is `why`'s answer.
type BindAnswer struct {
	Host     platform.Host
	Request  BindRequest
	Verdict  string
	Reasons  []BindReason
	Tried    []BindTry
	Warnings []string
}

// BindAddrs are the addresses a request binds.
func (r *BindRequest) BindAddrs() []netip.Addr {
	if len(r.Addrs) > 0 {
		return r.Addrs
	}
	return []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
}

// Why answers whether req's bind would succeed, and if not, why and what
// to do: from the sockets on the port and their holders, the system's
// port policy and a bind tried and closed at once: by this process for
// the caller, by a child with the user's credentials for another user
// when run as root.
func Why(ctx context.Context, src Source, req BindRequest) (*BindAnswer, error) {
	ports := PortSet{{PortRange: platform.PortRange{Low: req.Port, High: req.Port, TCP: req.Protocol == platform.TCP, UDP: req.Protocol == platform.UDP}}}
	rep, err := Run(ctx, src, nil, Query{Ports: ports, States: platform.AllStates, Detail: platform.DetailFull})
	if err != nil {
		return nil, err
	}
	ans := &BindAnswer{Host: rep.Host, Request: req, Warnings: rep.Warnings}
	ans.Reasons = append(ans.Reasons, socketReasons(req, rep.Sockets)...)
	for _, p := range rep.Published {
		ans.Reasons = append(ans.Reasons, BindReason{
			Code:    ReasonNATPublished,
			Summary: fmt.Sprintf("NAT rules forward %s/%s to %s: a bind succeeds, but connections from other machines go there", p.HostName(), p.Protocol, publishedTarget(p)),
			Fix:     "Publish the container on another port, or bind another one.",
		})
	}
	if r, ok := otherNetnsReason(ctx, src, ports, rep); ok {
		ans.Reasons = append(ans.Reasons, r)
	}
	var policy platform.PortPolicy
	binder, canBind := src.(platform.Binder)
	if canBind {
		if policy, err = binder.PortPolicy(req.Protocol); err != nil {
			ans.Warnings = append(ans.Warnings, fmt.Sprintf("the port policy is unknown: %v", err))
		}
	}
	self := req.UID < 0
	if r, ok := privilegedReason(req, policy, self); ok {
		ans.Reasons = append(ans.Reasons, r)
	}
	if policy.InEphemeral(req.Port) {
		ans.Reasons = append(ans.Reasons, ephemeralReason(req, policy, rep.Host.OS))
	}
	ans.Reasons = append(ans.Reasons, windowsReasons(src, req, policy)...)
	if policy.SELinuxEnforcing {
		ans.Reasons = append(ans.Reasons, selinuxReason(req, policy))
	}
	switch {
	case canBind && self:
		tryBinds(binder.TryBind, ans)
	case canBind && rep.Host.Privileged && rep.Host.OS == "linux":
		tryBinds(func(p platform.Protocol, a netip.AddrPort, opts platform.BindOptions) error {
			return binder.TryBindAs(p, a, opts, req.UID)
		}, ans)
	}
	ans.Verdict = BindFree
	for _, r := range ans.Reasons {
		switch {
		case r.Blocks:
			ans.Verdict = BindBlocked
		case r.Code == ReasonUnexplained && ans.Verdict == BindFree:
			ans.Verdict = BindUnknown
		}
	}
	return ans, nil
}

// overlaps reports whether a socket bound to l takes an address a bind to
// a would: the same address, or a wildcard of its family on either side;
// an IPv6 wildcard taking IPv4 too (dual-stack) overlaps every IPv4
// address, and a bind to [::] here is dual-stack.
func overlaps(s *platform.Socket, a netip.Addr) bool {
	l := s.Local.Addr().Unmap()
	a = a.Unmap()
	switch {
	case l.Is4() == a.Is4():
		return l == a || l.IsUnspecified() || a.IsUnspecified()
	case a.Is4():
		return l.IsUnspecified() && s.DualStack != platform.DualStackNo
	}
	return a.IsUnspecified() // a dual-stack [::] takes every IPv4 address
}

// socketReasons are the sockets on the port that a bind of req collides
// with: listeners (and bound UDP sockets) hold the address; connections
// that use the port as theirs, and TIME_WAIT's, yield to SO_REUSEADDR.
func socketReasons(req BindRequest, socks []Socket) []BindReason {
	var held, conns, waiting []Socket
	for _, s := range socks {
		if s.Role != RoleLocal || s.Protocol != req.Protocol || s.Local.Port() != req.Port ||
			!slices.ContainsFunc(req.BindAddrs(), func(a netip.Addr) bool { return overlaps(&s.Socket, a) }) {
			continue
		}
		switch {
		case s.State == platform.TimeWait:
			waiting = append(waiting, s)
		case s.Listening() || s.Protocol == platform.UDP:
			held = append(held, s)
		default:
			conns = append(conns, s)
		}
	}
	var out []BindReason
	if len(held) > 0 {
		r := BindReason{Code: ReasonInUse, Blocks: true, Sockets: held,
			Summary: fmt.Sprintf("%s holds %s", describeHolders(ptrs(held)), addresses(ptrs(held))),
			Fix:     "Stop what holds it (portinspect " + strconv.Itoa(int(req.Port)) + " shows it in full), or bind another port.",
		}
		if to, _ := publishedTo(ptrs(held)); to != "" {
			r.Summary += ", published to " + to
		}
		for _, s := range held {
			r.Evidence = append(r.Evidence, socketEvidence(&s))
		}
		switch {
		case airPlayHolds(held, req.Port):
			r.Fix = "AirPlay Receiver holds it (ControlCenter): turn it off in System Settings > General > AirDrop & Handoff > AirPlay Receiver, or bind another port."
		case req.ReusePort:
			r.Summary += "; SO_REUSEPORT joins them only if every one set it too and runs as the same user"
			if uids := otherUIDs(held, req.binderUID()); uids != "" {
				r.Summary = fmt.Sprintf("%s holds %s as %s, and SO_REUSEPORT joins only listeners of the same user", describeHolders(ptrs(held)), addresses(ptrs(held)), uids)
				r.Fix = "Run the server as the holder's user, or bind another port."
			}
		case reusePortGroup(held):
			r.Fix += " Its listeners share the port by SO_REUSEPORT: a program of the same user that sets it too may join them."
		}
		out = append(out, r)
	}
	if len(conns) > 0 {
		r := BindReason{Code: ReasonConnections, Sockets: conns,
			Summary: fmt.Sprintf("%s use port %d as theirs, and nothing listens", platform.Plural(len(conns), "connection"), req.Port),
			Fix:     "Set SO_REUSEADDR before the bind (most servers do); without it the bind fails while they last.",
		}
		for _, s := range conns {
			r.Evidence = append(r.Evidence, socketEvidence(&s))
		}
		out = append(out, r)
	}
	if len(waiting) > 0 && len(held) == 0 {
		r := BindReason{Code: ReasonTimeWait, Sockets: waiting,
			Summary: fmt.Sprintf("only %s in TIME_WAIT remain on port %d; they end within 60 seconds", platform.Plural(len(waiting), "connection"), req.Port),
			Fix:     "Set SO_REUSEADDR before the bind (most servers do), or wait for them to end.",
		}
		for _, s := range waiting {
			r.Evidence = append(r.Evidence, socketEvidence(&s))
		}
		out = append(out, r)
	}
	return out
}

// airPlayHolds reports whether macOS's AirPlay Receiver holds the port:
// ControlCenter listens on 5000 and 7000 while it is on (macOS 12 and
// later), and the kernel truncates its name to ControlCe.
func airPlayHolds(socks []Socket, port uint16) bool {
	if port != 5000 && port != 7000 {
		return false
	}
	for _, p := range holders(ptrs(socks)) {
		if strings.HasPrefix(p.Name, "ControlCe") {
			return true
		}
	}
	return false
}

// binderUID is the UID the bind runs as.
func (r *BindRequest) binderUID() int64 {
	if r.UID >= 0 {
		return r.UID
	}
	return int64(os.Geteuid())
}

// otherUIDs names the socket owners that are not uid ("UID 0"), "" when
// every known one is.
func otherUIDs(socks []Socket, uid int64) string {
	var out []string
	for _, s := range socks {
		if s.UID >= 0 && s.UID != uid {
			if u := "UID " + strconv.FormatInt(s.UID, 10); !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return strings.Join(out, ", ")
}

// bindsPastHolders unblocks the holders when every address bound anyway:
// by SO_REUSEPORT, it joined their group; by SO_REUSEADDR, the system lets
// a specific address share a port with a wildcard (macOS and the BSDs
// do, Linux does not).
func bindsPastHolders(ans *BindAnswer, viaReuseAddr bool) {
	for i := range ans.Reasons {
		r := &ans.Reasons[i]
		if r.Code != ReasonInUse || !r.Blocks {
			continue
		}
		r.Blocks = false
		switch {
		case ans.Request.ReusePort:
			r.Summary = fmt.Sprintf("%s holds %s with SO_REUSEPORT, as the same user: the bind joins them, and the kernel spreads connections among them", describeHolders(ptrs(r.Sockets)), addresses(ptrs(r.Sockets)))
			r.Fix = "Nothing to fix, if sharing is meant; if not, a stale server may still be taking a share of the connections."
		case viaReuseAddr:
			r.Summary += "; a bind with SO_REUSEADDR gets past it here, each socket taking its own address's connections"
			r.Fix = "Set SO_REUSEADDR before the bind, if sharing the port is meant."
		}
	}
}

// reusePortGroup reports whether listeners share one address and port, as
// only SO_REUSEPORT lets them.
func reusePortGroup(socks []Socket) bool {
	seen := make(map[netip.AddrPort]int)
	for _, s := range socks {
		if s.Listening() {
			seen[s.Local]++
		}
	}
	for _, n := range seen {
		if n > 1 {
			return true
		}
	}
	return false
}

// socketEvidence is one socket as the evidence lists it.
func socketEvidence(s *Socket) string {
	line := fmt.Sprintf("%s %s %s", s.Protocol, s.LocalName(), s.State)
	if s.Remote.Port() != 0 {
		line += " to " + s.Remote.String()
	}
	var who []string
	for _, p := range s.Processes {
		who = append(who, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
	}
	switch {
	case len(who) > 0:
		line += ", held by " + strings.Join(who, ", ")
	case s.Owners == platform.OwnersHidden:
		line += ", held by a process hidden from this run"
	}
	return line
}

func ptrs(socks []Socket) []*Socket {
	out := make([]*Socket, len(socks))
	for i := range socks {
		out[i] = &socks[i]
	}
	return out
}

// publishedTarget names where a NAT rule forwards.
func publishedTarget(p *Publication) string {
	to := netip.AddrPortFrom(p.ContainerAddr, p.ContainerPort).String()
	if p.Container != nil {
		return "container " + p.Container.Label() + " at " + to
	}
	return to
}

// otherNetnsReason notes listeners on the port in other network
// namespaces, which do not conflict with a bind here: `why` is asked
// when "something" is on the port, and it may be a container's.
func otherNetnsReason(ctx context.Context, src Source, ports PortSet, here *Report) (BindReason, bool) {
	if here.Host.OS != "linux" || !here.Host.Privileged {
		return BindReason{}, false
	}
	rep, err := Run(ctx, src, nil, Query{Ports: ports, AllNetns: true, Listening: true})
	if err != nil {
		return BindReason{}, false
	}
	var elsewhere []*Socket
	for i := range rep.Sockets {
		if s := &rep.Sockets[i]; s.Netns != nil && !s.Netns.Own && s.Role == RoleLocal {
			elsewhere = append(elsewhere, s)
		}
	}
	if len(elsewhere) == 0 {
		return BindReason{}, false
	}
	r := BindReason{Code: ReasonOtherNetns,
		Summary: fmt.Sprintf("%s listens on %s in %s: another namespace's port, no conflict here", describeHolders(elsewhere), addresses(elsewhere), netnsNames(elsewhere)),
	}
	for _, s := range elsewhere {
		r.Evidence = append(r.Evidence, socketEvidence(s))
		r.Sockets = append(r.Sockets, *s)
	}
	return r, true
}

// ephemeralReason says that outgoing connections may take the port, and
// how to reserve it on the system.
func ephemeralReason(req BindRequest, policy platform.PortPolicy, goos string) BindReason {
	r := BindReason{
		Code: ReasonEphemeral,
		Summary: fmt.Sprintf("%d is in the ephemeral range %d-%d: an outgoing connection may take it at random before the server binds it",
			req.Port, policy.Ephemeral.Low, policy.Ephemeral.High),
		Evidence: []string{fmt.Sprintf("%s: %d-%d", policy.EphemeralSource, policy.Ephemeral.Low, policy.Ephemeral.High)},
		Fix:      "Reserve the port, so that outgoing connections leave it alone (add it to any already reserved).",
		Commands: []string{fmt.Sprintf("sudo sysctl -w %s=%s", platform.SysctlLocalReservedPorts, reservedWith(policy.Reserved, req.Port))},
	}
	switch goos {
	case "windows":
		r.Commands = []string{fmt.Sprintf("netsh int ipv4 add excludedportrange protocol=%s startport=%d numberofports=1", req.Protocol, req.Port)}
	case "macos":
		r.Fix = "macOS cannot reserve one port: use a port below the range, or move the range's start above it."
		r.Commands = nil
		if req.Port < 65535 {
			r.Commands = []string{fmt.Sprintf("sudo sysctl -w net.inet.ip.portrange.first=%d", int(req.Port)+1)}
		}
	}
	return r
}

// selinuxReason says what SELinux, enforcing, makes of the port: a
// confined program binds it only if its domain may name_bind the port's
// type. Which domain a program runs in is not known here, so it is a
// risk, and the likely cause when the bind tried fails with EACCES and
// nothing else explains it.
func selinuxReason(req BindRequest, policy platform.PortPolicy) BindReason {
	typ := platform.SELinuxTypeOf(policy.SELinuxPorts, req.Port, req.Protocol)
	r := BindReason{Code: ReasonSELinux,
		Evidence: []string{"/sys/fs/selinux/enforce = 1"},
		Fix:      "Find the denial (an AVC of name_bind naming the program's domain, scontext=…:httpd_t:…), then give the port the type that domain may bind, or use a port that has it.",
		Commands: []string{
			"sudo ausearch -m avc -ts recent | grep name_bind",
			fmt.Sprintf("sudo semanage port -a -t TYPE_port_t -p %s %d", req.Protocol, req.Port),
		},
	}
	switch {
	case typ != "":
		r.Summary = fmt.Sprintf("SELinux is enforcing and gives %d/%s the type %s: a confined program whose domain may not bind %s is refused", req.Port, req.Protocol, typ, typ)
		r.Evidence = append(r.Evidence, fmt.Sprintf("semanage port -l: %s %s %d", typ, req.Protocol, req.Port))
	case policy.SELinuxPorts == nil:
		r.Summary = fmt.Sprintf("SELinux is enforcing: a confined program may be refused %d/%s by its domain (semanage, which would tell the port's type, is not installed or failed)", req.Port, req.Protocol)
	default:
		r.Summary = fmt.Sprintf("SELinux is enforcing and gives %d/%s no type of its own (so reserved_port_t or unreserved_port_t): a confined service binds it only if its domain may bind that", req.Port, req.Protocol)
	}
	return r
}

// reservedWith spells the reserved ports with port added, as the sysctl
// takes them: writing it replaces the list, so the ports already there
// are kept.
func reservedWith(reserved []platform.PortRange, port uint16) string {
	var items []string
	for _, r := range reserved {
		if r.Low == r.High {
			items = append(items, strconv.Itoa(int(r.Low)))
		} else {
			items = append(items, fmt.Sprintf("%d-%d", r.Low, r.High))
		}
	}
	return strings.Join(append(items, strconv.Itoa(int(port))), ",")
}

// windowsReasons are Windows's own: an excluded port range, which no
// program may bind, and HTTP.sys taking the port for an application, so
// that its holder reads as the System process.
func windowsReasons(src Source, req BindRequest, policy platform.PortPolicy) []BindReason {
	var out []BindReason
	for _, ex := range policy.Excluded {
		if !ex.Has(req.Port, req.Protocol) {
			continue
		}
		span := fmt.Sprintf("%d-%d", ex.Low, ex.High)
		r := BindReason{Code: ReasonExcluded, Blocks: true,
			Evidence: []string{fmt.Sprintf("%s: %s%s", policy.ExcludedSource, span, map[bool]string{true: " *"}[ex.Administered])},
		}
		if ex.Administered {
			r.Summary = fmt.Sprintf("%d is in the excluded port range %s, which an administrator added: Windows lets no program bind it", req.Port, span)
			r.Fix = "Delete the exclusion, as an administrator, if nothing needs it."
			r.Commands = []string{fmt.Sprintf("netsh int ipv4 delete excludedportrange protocol=%s startport=%d numberofports=%d", req.Protocol, ex.Low, int(ex.High)-int(ex.Low)+1)}
		} else {
			r.Summary = fmt.Sprintf("%d is in the excluded port range %s, which a service reserved (WinNAT, for Hyper-V, WSL 2 or Docker Desktop, most often): Windows lets no program bind it", req.Port, span)
			r.Fix = "As an administrator, stop WinNAT, reserve the port for yourself, and start WinNAT again: it reserves its ranges elsewhere. Or move the dynamic range, which those services reserve from, off the port (Windows's default is 49152 and up)."
			r.Commands = []string{
				"net stop winnat",
				fmt.Sprintf("netsh int ipv4 add excludedportrange protocol=%s startport=%d numberofports=1", req.Protocol, req.Port),
				"net start winnat",
				fmt.Sprintf("netsh int ipv4 set dynamicport %s start=49152 num=16384", req.Protocol),
			}
		}
		out = append(out, r)
	}
	var reserved, deletes []string
	for _, r := range policy.URLReservations {
		if p, ok := platform.URLPort(r.URL); ok && p == req.Port {
			reserved = append(reserved, fmt.Sprintf("%s for %s", r.URL, strings.Join(r.Users, ", ")))
			deletes = append(deletes, "netsh http delete urlacl url="+r.URL)
		}
	}
	if len(reserved) > 0 {
		out = append(out, BindReason{Code: ReasonURLReserved,
			Summary:  fmt.Sprintf("HTTP.sys reserves %s: programs using HTTP.sys (IIS, HttpListener, WinRM) of those accounts may take the port without being administrators; a reservation holds no port by itself", strings.Join(reserved, "; ")),
			Evidence: []string{"netsh http show urlacl"},
			Fix:      "If no program of theirs should take the port, delete the reservation as an administrator.",
			Commands: deletes,
		})
	}
	for _, q := range platform.QueuesOn(policy.HTTPQueues, req.Port) {
		var who []string
		for _, pid := range q.PIDs {
			if p, err := src.Process(pid, platform.DetailFull); err == nil {
				name := fmt.Sprintf("%s (pid %d)", p.Name, pid)
				if p.Service != "" {
					name += ", service " + p.Service
				}
				who = append(who, name)
			} else {
				who = append(who, fmt.Sprintf("pid %d", pid))
			}
		}
		holder := "an application with no process attached now (IIS starts one on demand)"
		if len(who) > 0 {
			holder = strings.Join(who, ", ")
		}
		out = append(out, BindReason{Code: ReasonHTTPSys,
			Summary:  fmt.Sprintf("HTTP.sys takes %s on port %d for %s: the System process (pid 4) holds the port in its name", strings.Join(q.URLs, ", "), req.Port, holder),
			Evidence: []string{"netsh http show servicestate view=requestq"},
			Fix:      "Stop that application or service; HTTP.sys lets the port go when its last URL is removed.",
		})
	}
	return out
}

// privilegedReason says when the port needs privilege the binder lacks:
// the caller without CAP_NET_BIND_SERVICE, or another user than root.
func privilegedReason(req BindRequest, policy platform.PortPolicy, self bool) (BindReason, bool) {
	if policy.PrivilegedBelow == 0 || req.Port >= policy.PrivilegedBelow {
		return BindReason{}, false
	}
	if self && policy.CanBindPrivileged || !self && req.UID == 0 {
		return BindReason{}, false
	}
	wildcard := !slices.ContainsFunc(req.BindAddrs(), func(a netip.Addr) bool { return !a.IsUnspecified() })
	if policy.WildcardUnprivileged && wildcard {
		return BindReason{}, false
	}
	who := "this user"
	if !self {
		who = "user " + req.User
	}
	program := cmp.Or(req.Program, "/path/to/program")
	r := BindReason{
		Code: ReasonPrivileged, Blocks: true,
		Summary:  fmt.Sprintf("ports below %d need root or CAP_NET_BIND_SERVICE, which %s lacks", policy.PrivilegedBelow, who),
		Evidence: []string{fmt.Sprintf("%s = %d", platform.SysctlUnprivilegedPortStart, policy.PrivilegedBelow)},
		Fix:      "Give the program the capability (a systemd service: AmbientCapabilities=CAP_NET_BIND_SERVICE), use a port from " + strconv.Itoa(int(policy.PrivilegedBelow)) + " up, or lower the start for this host.",
		Commands: []string{
			"sudo setcap cap_net_bind_service=+ep " + program,
			fmt.Sprintf("sudo sysctl -w %s=%d", platform.SysctlUnprivilegedPortStart, req.Port),
		},
	}
	if c := req.ProgramCaps; c != nil {
		switch {
		case c.HasNetBindService() && c.Ignored != "":
			r.Summary += fmt.Sprintf("; %s has the capability set, but %s", req.Program, c.Ignored)
			r.Evidence = append(r.Evidence, "getcap "+req.Program+": cap_net_bind_service, ignored")
		case c.HasNetBindService() && c.RootID != 0:
			r.Summary += fmt.Sprintf("; %s has the capability only for the user namespace whose root is UID %d", req.Program, c.RootID)
			r.Evidence = append(r.Evidence, fmt.Sprintf("getcap %s: cap_net_bind_service, for namespace root %d", req.Program, c.RootID))
		case c.BindsPrivileged() && c.Effective:
			r.Blocks = false
			r.Summary = fmt.Sprintf("ports below %d need root or CAP_NET_BIND_SERVICE; %s grants the capability to whoever runs it, so it may bind the port (the bind tried here, without the program, cannot show it)", policy.PrivilegedBelow, req.Program)
			r.Evidence = append(r.Evidence, "getcap "+req.Program+": cap_net_bind_service=ep")
			r.Fix, r.Commands = "", nil
		case c.BindsPrivileged():
			r.Summary += fmt.Sprintf("; %s has it as a permitted file capability, not an effective one, so only a program that raises it itself binds the port", req.Program)
			r.Evidence = append(r.Evidence, "getcap "+req.Program+": cap_net_bind_service=p")
		default:
			r.Evidence = append(r.Evidence, "getcap "+req.Program+": no cap_net_bind_service")
		}
	}
	if policy.WildcardUnprivileged {
		r.Summary = fmt.Sprintf("ports below %d need root on a specific address, which %s is not", policy.PrivilegedBelow, who)
		r.Evidence = []string{"macOS 10.14 and later let any user bind them on the wildcard address only"}
		r.Fix = "Bind the wildcard address (0.0.0.0 or [::]) and filter connections yourself, use a port from " + strconv.Itoa(int(policy.PrivilegedBelow)) + " up, or run as root."
		r.Commands = nil
	}
	return r, true
}

// tryBinds binds each address for the truth, plainly and, for TCP, with
// SO_REUSEADDR as most servers do, and reconciles what the system said
// with the reasons found: a failure none explains is unexplained, and
// connections or TIME_WAIT that a plain bind trips on block one without
// SO_REUSEADDR only.
func tryBinds(try func(p platform.Protocol, addr netip.AddrPort, opts platform.BindOptions) error, ans *BindAnswer) {
	req := ans.Request
	has := func(code string) bool {
		return slices.ContainsFunc(ans.Reasons, func(r BindReason) bool { return r.Code == code })
	}
	allBound, viaReuseAddr := true, false
	for _, a := range req.BindAddrs() {
		addr := netip.AddrPortFrom(a, req.Port)
		opts := platform.BindOptions{ReusePort: req.ReusePort}
		plain := try(req.Protocol, addr, opts)
		if errors.Is(plain, platform.ErrNotTried) {
			ans.Warnings = append(ans.Warnings, plain.Error()+": the verdict is the reasons'")
			return
		}
		ans.Tried = append(ans.Tried, BindTry{Addr: addr, ReusePort: req.ReusePort, Err: plain})
		err := plain
		// Windows's SO_REUSEADDR takes over live listeners: no retry.
		if req.Protocol == platform.TCP && errors.Is(plain, syscall.EADDRINUSE) && ans.Host.OS != "windows" {
			opts.ReuseAddr = true
			err = try(req.Protocol, addr, opts)
			ans.Tried = append(ans.Tried, BindTry{Addr: addr, Reuse: true, ReusePort: req.ReusePort, Err: err})
		}
		allBound = allBound && err == nil
		viaReuseAddr = viaReuseAddr || err == nil && plain != nil
		switch {
		case err == nil:
		case errors.Is(err, syscall.EAFNOSUPPORT) && a.Is6():
			allBound = true
			ans.Warnings = append(ans.Warnings, fmt.Sprintf("this host has no IPv6 (bind(%s): %v): the verdict is IPv4's", addr, err))
		case errors.Is(err, syscall.EADDRINUSE) && (has(ReasonInUse) || has(ReasonConnections) || has(ReasonTimeWait)):
			for i := range ans.Reasons {
				r := &ans.Reasons[i]
				if r.Code != ReasonConnections && r.Code != ReasonTimeWait {
					continue
				}
				r.Blocks = true
				if errors.Is(plain, syscall.EADDRINUSE) && opts.ReuseAddr {
					// Linux lets a bind past them only when both sockets
					// set SO_REUSEADDR.
					r.Fix = "Even with SO_REUSEADDR the bind fails: their sockets did not set it, and Linux passes them only when both did. Wait for them to end, or end what holds them."
				}
			}
		case errors.Is(err, syscall.EACCES) && (has(ReasonPrivileged) || has(ReasonExcluded)):
		case errors.Is(err, syscall.EACCES) && has(ReasonSELinux):
			for i := range ans.Reasons {
				if r := &ans.Reasons[i]; r.Code == ReasonSELinux && !r.Blocks {
					r.Blocks = true
					r.Summary = "Likely: " + r.Summary
					r.Evidence = append(r.Evidence, fmt.Sprintf("bind(%s): %v, which nothing else here explains", addr, err))
				}
			}
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			ans.Reasons = append(ans.Reasons, BindReason{
				Code: ReasonNotLocal, Blocks: true,
				Summary:  fmt.Sprintf("%s is no address of this host", a),
				Evidence: []string{fmt.Sprintf("bind(%s): %v", addr, err)},
				Fix:      "Bind an address of one of this host's interfaces (ip -br address lists them), or the wildcard.",
			})
		default:
			ans.Reasons = append(ans.Reasons, BindReason{
				Code:     ReasonUnexplained,
				Summary:  fmt.Sprintf("binding %s failed for a reason not found here: %v", addr, err),
				Evidence: []string{fmt.Sprintf("bind(%s): %v", addr, err)},
				Fix:      "A security module (SELinux: look for an AVC denial in the audit log, ausearch -m avc) or a firewall on bind can refuse it.",
			})
		}
	}
	if allBound {
		bindsPastHolders(ans, viaReuseAddr)
	}
}
