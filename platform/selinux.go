package platform

import (
	"bufio"
	"bytes"
	"strconv"
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
		p := SELinuxPort{Type: f[0], Protocol: f[1]}
		for _, item := range strings.Split(strings.Join(f[2:], ""), ",") {
			lo, hi, isRange := strings.Cut(item, "-")
			if !isRange {
				hi = lo
			}
			l, err1 := strconv.ParseUint(lo, 10, 16)
			h, err2 := strconv.ParseUint(hi, 10, 16)
			if err1 != nil || err2 != nil || l > h {
				p.Ranges = nil
				break
			}
			p.Ranges = append(p.Ranges, PortRange{Low: uint16(l), High: uint16(h), TCP: f[1] == "tcp", UDP: f[1] == "udp"})
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
