package platform

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"
)

// passwdPath is the local user file. On macOS it lists only the system's
// own accounts; the people using the Mac are in Directory Services.
const passwdPath = "/etc/passwd"

// loadPasswd reads the user file at path. A missing or unreadable file
// gives an empty table, so users are shown by number.
func loadPasswd(path string) *userTable {
	f, err := os.Open(path)
	if err != nil {
		return &userTable{}
	}
	defer f.Close()
	users, _ := parsePasswd(f)
	return users
}

// userTable maps user IDs and names as /etc/passwd lists them. portinspect
// reads the file itself rather than asking the C library, whose name
// service may query LDAP or SSSD over the network: users the file lacks
// are shown by number.
type userTable struct {
	names map[uint32]string
	uids  map[string]uint32
}

// parsePasswd reads passwd(5) lines, "name:password:UID:GID:…". Lines it
// cannot read are skipped, as the C library does; the first entry for a
// name or UID wins.
func parsePasswd(r io.Reader) (*userTable, error) {
	t := &userTable{names: make(map[uint32]string), uids: make(map[string]uint32)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue // NIS compat entries name no local user
		}
		fields := bytes.SplitN(line, []byte(":"), 4)
		if len(fields) < 4 || len(fields[0]) == 0 {
			continue
		}
		uid, err := strconv.ParseUint(string(fields[2]), 10, 32)
		if err != nil {
			continue
		}
		name := string(fields[0])
		if _, ok := t.names[uint32(uid)]; !ok {
			t.names[uint32(uid)] = name
		}
		if _, ok := t.uids[name]; !ok {
			t.uids[name] = uint32(uid)
		}
	}
	return t, sc.Err()
}
