package platform

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Parsers for netsh's output (Windows), with no build tag so that their
// tests and fuzz targets run everywhere. netsh translates its labels and
// headers into the system's language but not its rows, so the parsers
// read only the rows' shapes: numbers, URLs, indentation.

// ExcludedRange is a range of ports Windows keeps from every program
// (netsh int ipv4 show excludedportrange).
type ExcludedRange struct {
	PortRange
	// Administered marks a range an administrator added (netsh int ipv4
	// add excludedportrange, "*" in the listing); the others were
	// reserved by services, WinNAT for Hyper-V, WSL 2 and Docker Desktop
	// most often.
	Administered bool
}

// parseExcludedPortRanges reads `netsh int ipv4 show excludedportrange
// protocol=P`: after the line of dashes, each row is a start port, an end
// port and "*" for an administered range.
func parseExcludedPortRanges(b []byte, p Protocol) ([]ExcludedRange, error) {
	var out []ExcludedRange
	rows := false
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		switch {
		case !rows:
			rows = len(f) > 0 && strings.Trim(strings.Join(f, ""), "-") == ""
			continue
		case len(f) < 2 || len(f) > 3:
			continue // the footer, blank lines
		}
		lo, err1 := strconv.ParseUint(f[0], 10, 16)
		hi, err2 := strconv.ParseUint(f[1], 10, 16)
		if err1 != nil || err2 != nil {
			continue
		}
		if lo > hi || len(f) == 3 && f[2] != "*" {
			return nil, fmt.Errorf("netsh printed an excluded port range %q that is not one", bytes.TrimSpace(line))
		}
		out = append(out, ExcludedRange{PortRange: PortRange{Low: uint16(lo), High: uint16(hi), TCP: p == TCP, UDP: p == UDP}, Administered: len(f) == 3})
	}
	if !rows {
		return nil, errors.New("netsh printed no table of excluded port ranges")
	}
	return out, nil
}

// parseDynamicPortRange reads `netsh int ipv4 show dynamicport P`: its
// first two "label : number" lines are the start port and the number of
// ports.
func parseDynamicPortRange(b []byte) (PortRange, error) {
	var nums []uint64
	for line := range bytes.Lines(b) {
		_, v, ok := bytes.Cut(line, []byte(":"))
		if n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 32); ok && err == nil {
			nums = append(nums, n)
		}
	}
	if len(nums) < 2 || nums[0] == 0 || nums[1] == 0 || nums[0]+nums[1]-1 > 65535 {
		return PortRange{}, fmt.Errorf("netsh printed no dynamic port range: %q", bytes.TrimSpace(b))
	}
	return PortRange{Low: uint16(nums[0]), High: uint16(nums[0] + nums[1] - 1), TCP: true, UDP: true}, nil
}

// HTTPQueue is an HTTP.sys request queue: the processes attached to it,
// and the URLs it takes, on ports the System process (PID 4) holds for
// it.
type HTTPQueue struct {
	PIDs []int
	URLs []string
}

// processRow is a process's row in a request queue: "ID: 2688, image:
// C:\…" on Windows 10 and later.
var processRow = regexp.MustCompile(`^[^:,]+:\s*(\d+),\s*[^:]+:`)

// parseHTTPServiceState reads `netsh http show servicestate
// view=requestq`. Each queue starts at the least indented lines after the
// line of dashes; within it, a line of digits alone (older systems) or a
// process row names an attached process, and a line that starts with
// http:// or https:// is a URL it takes.
func parseHTTPServiceState(b []byte) []HTTPQueue {
	var body [][]byte
	rows := false
	for line := range bytes.Lines(b) {
		line = bytes.TrimRight(line, "\r\n")
		if !rows {
			t := bytes.TrimSpace(line)
			rows = len(t) > 0 && len(bytes.Trim(t, "-")) == 0
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 {
			body = append(body, line)
		}
	}
	indent := func(l []byte) int { return len(l) - len(bytes.TrimLeft(l, " \t")) }
	top := -1
	for _, l := range body {
		if i := indent(l); top < 0 || i < top {
			top = i
		}
	}
	var out []HTTPQueue
	for _, l := range body {
		if indent(l) == top {
			out = append(out, HTTPQueue{})
			continue
		}
		if len(out) == 0 {
			continue
		}
		q := &out[len(out)-1]
		t := string(bytes.TrimSpace(l))
		lower := strings.ToLower(t)
		switch {
		case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
			q.URLs = append(q.URLs, t)
		case processRow.MatchString(t):
			if pid, err := strconv.Atoi(processRow.FindStringSubmatch(t)[1]); err == nil {
				q.PIDs = append(q.PIDs, pid)
			}
		default:
			if pid, err := strconv.Atoi(t); err == nil && pid > 0 {
				q.PIDs = append(q.PIDs, pid)
			}
		}
	}
	return out
}

// URLReservation is an HTTP.sys URL reservation (netsh http show
// urlacl): which accounts may register URLs under it without being
// administrators. It holds no port by itself.
type URLReservation struct {
	URL   string
	Users []string
	SDDL  string
}

// parseURLACL reads `netsh http show urlacl` by its values alone: a value
// with a URL starts a reservation, a value with a backslash is an account
// ("BUILTIN\Users", "\Everyone"), and one starting "D:" its SDDL.
func parseURLACL(b []byte) []URLReservation {
	var out []URLReservation
	for line := range bytes.Lines(b) {
		_, v, ok := strings.Cut(strings.TrimSpace(string(line)), ": ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		lower := strings.ToLower(v)
		switch {
		case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
			out = append(out, URLReservation{URL: v})
		case len(out) == 0:
		case strings.HasPrefix(v, "D:"):
			out[len(out)-1].SDDL = v
		case strings.Contains(v, `\`):
			out[len(out)-1].Users = append(out[len(out)-1].Users, v)
		}
	}
	return out
}

// URLPort is the port of an HTTP.sys URL: "HTTP://+:8080/x/" is 8080,
// "HTTP://127.0.0.1:8000:127.0.0.1/" 8000 (a host name, then the port,
// then the address it is bound to), "https://[::1]/" 443.
func URLPort(url string) (uint16, bool) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return 0, false
	}
	host, _, _ := strings.Cut(rest, "/")
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return 0, false
		}
		host = host[end+1:]
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[i:]
	} else {
		host = ""
	}
	if host == "" {
		switch strings.ToLower(scheme) {
		case "http":
			return 80, true
		case "https":
			return 443, true
		}
		return 0, false
	}
	port, _, _ := strings.Cut(strings.TrimPrefix(host, ":"), ":")
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint16(n), true
}

// QueuesOn are the queues that take URLs on port.
func QueuesOn(qs []HTTPQueue, port uint16) []HTTPQueue {
	var out []HTTPQueue
	for _, q := range qs {
		for _, u := range q.URLs {
			if p, ok := URLPort(u); ok && p == port {
				out = append(out, q)
				break
			}
		}
	}
	return out
}
