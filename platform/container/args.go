package container

import (
	"net/netip"
	"strconv"
	"strings"
)

// Forward is what docker-proxy's command line says it forwards.
type Forward struct {
	Protocol      string
	HostAddr      netip.Addr // invalid: every address
	HostPort      uint16
	ContainerAddr netip.Addr
	ContainerPort uint16
}

// ParseDockerProxyArgs reads docker-proxy's arguments (after argv[0]):
// -proto tcp -host-ip 127.0.0.1 -host-port 18080 -container-ip 172.17.0.2
// -container-port 8080, in Go's flag syntax ("-x v", "-x=v", "--x v").
func ParseDockerProxyArgs(args []string) (Forward, bool) {
	flags := goFlags(args)
	var f Forward
	f.Protocol = flags["proto"]
	switch f.Protocol {
	case "tcp", "udp", "sctp":
	default:
		return Forward{}, false
	}
	hp, err1 := strconv.ParseUint(flags["host-port"], 10, 16)
	cp, err2 := strconv.ParseUint(flags["container-port"], 10, 16)
	ca, err3 := netip.ParseAddr(flags["container-ip"])
	if err1 != nil || err2 != nil || err3 != nil || hp == 0 || cp == 0 {
		return Forward{}, false
	}
	f.HostPort, f.ContainerPort, f.ContainerAddr = uint16(hp), uint16(cp), ca
	if a, err := netip.ParseAddr(flags["host-ip"]); err == nil && !a.IsUnspecified() {
		f.HostAddr = a
	}
	return f, true
}

// goFlags reads "-name value", "-name=value" and "--name value" pairs. A
// flag followed by another has no value (docker-proxy's -use-listen-fd);
// no value read here starts with "-".
func goFlags(args []string) map[string]string {
	out := make(map[string]string)
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "-")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			out[n] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out[name] = args[i+1]
			i++
		}
	}
	return out
}

// ParseConmonArgs reads the container ID from conmon's arguments (after
// argv[0]): "-c ID" or "--cid ID", in GLib's option syntax, where
// "--cid=ID" is the same.
func ParseConmonArgs(args []string) (string, bool) {
	for i, a := range args {
		var v string
		switch {
		case (a == "-c" || a == "--cid") && i+1 < len(args):
			v = args[i+1]
		case strings.HasPrefix(a, "--cid="):
			v = strings.TrimPrefix(a, "--cid=")
		default:
			continue
		}
		return v, isID(v)
	}
	return "", false
}
