package platform

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// HostsFile is where this system keeps its static host names: the only
// place portinspect looks a name such as "localhost" up, since a tool
// that inspects a machine's ports must not ask the network anything.
func HostsFile() string {
	if runtime.GOOS == "windows" {
		root := os.Getenv("SystemRoot")
		if root == "" {
			root = `C:\Windows`
		}
		return filepath.Join(root, "System32", "drivers", "etc", "hosts")
	}
	return "/etc/hosts"
}

// LoadHosts reads the hosts file at path. A missing or unreadable file
// gives no names.
func LoadHosts(path string) map[string][]netip.Addr {
	f, err := os.Open(path)
	if err != nil {
		return map[string][]netip.Addr{}
	}
	defer f.Close()
	hosts, _ := ParseHosts(f)
	return hosts
}

// ParseHosts reads a hosts file (hosts(5), and Windows's of the same
// form): an address, then the names it has, with # starting a comment.
// Names are folded to lower case; each maps to its addresses in the
// order the file gives them, without repeats. Lines it cannot read are
// skipped, as the C library does.
func ParseHosts(r io.Reader) (map[string][]netip.Addr, error) {
	hosts := make(map[string][]netip.Addr)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(string(line))
		if len(fields) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		for _, name := range fields[1:] {
			name = strings.ToLower(name)
			if !slices.Contains(hosts[name], addr) {
				hosts[name] = append(hosts[name], addr)
			}
		}
	}
	return hosts, sc.Err()
}
