package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// PortPolicy reads the sysctls of the network namespace portinspect runs
// in (/proc/sys/net shows the reader's) and this process's capabilities.
func (l *linuxInspector) PortPolicy(Protocol) (PortPolicy, error) {
	sys := filepath.Join(l.procRoot, "sys", "net", "ipv4")
	p := PortPolicy{EphemeralSource: SysctlLocalPortRange}
	// Kernels before 4.11 have no such sysctl: 1024, fixed.
	p.PrivilegedBelow = 1024
	if b, err := os.ReadFile(filepath.Join(sys, "ip_unprivileged_port_start")); err == nil {
		start, err := parseSysctlUint(b)
		if err != nil {
			return p, err
		}
		p.PrivilegedBelow = uint16(min(start, 65535))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return p, err
	}
	var err error
	if p.Ephemeral, err = l.EphemeralRange(TCP); err != nil {
		return p, err
	}
	b, err := os.ReadFile(filepath.Join(sys, "ip_local_reserved_ports"))
	if err != nil {
		return p, err
	}
	if p.Reserved, err = parsePortList(b); err != nil {
		return p, err
	}
	// semanage is slow (Python loading the policy), and asked only
	// where SELinux enforces.
	if b, err := os.ReadFile("/sys/fs/selinux/enforce"); err == nil && strings.TrimSpace(string(b)) == "1" {
		p.SELinuxEnforcing = true
		if out, err := exec.Command("semanage", "port", "-l").Output(); err == nil {
			p.SELinuxPorts = parseSELinuxPorts(out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(l.procRoot, "self", "status")); err == nil {
		caps, ok := parseStatusCapEff(b)
		p.CanBindPrivileged = ok && caps&(1<<unix.CAP_NET_BIND_SERVICE) != 0
	}
	return p, nil
}

// EphemeralRange reads net.ipv4.ip_local_port_range, which TCP and UDP
// share.
func (l *linuxInspector) EphemeralRange(Protocol) (PortRange, error) {
	b, err := os.ReadFile(filepath.Join(l.procRoot, "sys", "net", "ipv4", "ip_local_port_range"))
	if err != nil {
		return PortRange{}, err
	}
	return parseSysctlRange(b)
}

func (l *linuxInspector) TryBind(p Protocol, addr netip.AddrPort, opts BindOptions) error {
	return tryBindSocket(p, addr, opts)
}

// TryBindAs tries the bind as another user: in a child, this program run
// again with the user's UID and primary group and no other groups, which
// leaves it no capability, as that user's program would have none.
func (l *linuxInspector) TryBindAs(p Protocol, addr netip.AddrPort, opts BindOptions, uid int64) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	gid := uint64(65534) // nogroup, for a UID the user database does not know
	if u, err := user.LookupId(strconv.FormatInt(uid, 10)); err == nil {
		if g, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			gid = g
		}
	}
	cmd := exec.Command(exe, TryBindArg, p.String(), addr.String(), strconv.FormatBool(opts.ReuseAddr), strconv.FormatBool(opts.ReusePort))
	cmd.Args[0] = "portinspect"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.Output()
	if err != nil {
		// Most often the user may not run this binary (under /root, or
		// go run's build directory).
		return fmt.Errorf("%w as UID %d: %w", ErrNotTried, uid, err)
	}
	errno, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("trying the bind as UID %d: the child said %q", uid, out)
	}
	if errno == 0 {
		return nil
	}
	return syscall.Errno(errno)
}

// TryBindChild is the child of TryBindAs: it tries the bind its arguments
// name (protocol, address, SO_REUSEADDR, SO_REUSEPORT) and prints the
// errno, 0 for none. It returns the exit code.
func TryBindChild(args []string) int {
	if len(args) != 4 {
		return 2
	}
	p, ok := ProtocolNamed(args[0])
	addr, err := netip.ParseAddrPort(args[1])
	reuseAddr, rerr := strconv.ParseBool(args[2])
	reusePort, perr := strconv.ParseBool(args[3])
	if !ok || err != nil || rerr != nil || perr != nil {
		return 2
	}
	err = tryBindSocket(p, addr, BindOptions{ReuseAddr: reuseAddr, ReusePort: reusePort})
	var errno syscall.Errno
	switch {
	case err == nil:
		fmt.Println(0)
	case errors.As(err, &errno):
		fmt.Println(int(errno))
	default:
		return 1
	}
	return 0
}
