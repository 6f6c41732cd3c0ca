package platform

import (
	"bufio"
	"bytes"
	"strings"
)

// SELinuxPort is a row of `semanage port -l`: the type SELinux gives
// some ports; a confined program binds a port only if its domain may
// name_bind the port's type.
type SELinuxPort struct {
	Type     string
	Protocol string
	Ranges   []PortRange
}

// parseSELinuxPorts reads `semanage port -l`: a header, then a type, a
// protocol and a comma list of ports and ranges per row. Rows of other
// shapes are skipped.
func parseSELinuxPorts(b []byte) []SELinuxPort {
	var out []SELinuxPort
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || !strings.HasSuffix(f[0], "_t") {
			continue
		}
		ranges, err := parsePortList([]byte(strings.Join(f[2:], "")))
		if err != nil {
			continue
		}
		p := SELinuxPort{Type: f[0], Protocol: f[1]}
		for _, r := range ranges {
			r.TCP, r.UDP = f[1] == "tcp", f[1] == "udp"
			p.Ranges = append(p.Ranges, r)
		}
		if len(p.Ranges) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// SELinuxTypeOf is the type SELinux gives port for protocol p: the
// narrowest range that holds it, as the kernel picks; "" when no row
// does.
func SELinuxTypeOf(ports []SELinuxPort, port uint16, p Protocol) string {
	best, width := "", 1<<17
	for _, row := range ports {
		for _, r := range row.Ranges {
			if r.Has(port, p) && int(r.High)-int(r.Low) < width {
				best, width = row.Type, int(r.High)-int(r.Low)
			}
		}
	}
	return best
}
