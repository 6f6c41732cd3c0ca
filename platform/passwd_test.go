package platform

import (
	"strings"
	"testing"
)

func TestParsePasswd(t *testing.T) {
	const passwd = `root:x:0:0:root:/root:/bin/bash
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
broken line
bad:x:notanumber:1::/:
toolarge:x:4294967296:1::/:
alias:x:0:0:second name for root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
+nisuser::::::
`
	users, err := parsePasswd(strings.NewReader(passwd))
	if err != nil {
		t.Fatal(err)
	}
	for uid, name := range map[uint32]string{0: "root", 1: "daemon", 65534: "nobody"} {
		if got := users.names[uid]; got != name {
			t.Errorf("name of %d = %q, want %q", uid, got, name)
		}
	}
	for name, uid := range map[string]uint32{"root": 0, "alias": 0, "nobody": 65534} {
		if got, ok := users.uids[name]; !ok || got != uid {
			t.Errorf("UID of %q = %d %v, want %d", name, got, ok, uid)
		}
	}
	for _, name := range []string{"bad", "toolarge", "broken line", "+nisuser", "nisuser"} {
		if _, ok := users.uids[name]; ok {
			t.Errorf("%q was read", name)
		}
	}
}

func FuzzParsePasswd(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:\n")
	f.Add("a:b:c\n::::\n")
	f.Fuzz(func(t *testing.T, s string) {
		users, err := parsePasswd(strings.NewReader(s))
		if err != nil {
			return
		}
		for name, uid := range users.uids {
			if name == "" {
				t.Fatalf("empty name for %d", uid)
			}
		}
	})
}
