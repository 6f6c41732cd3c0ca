package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestProgramAwareNotes holds memcached's port with a process of the
// test's naming, in a namespace of its own: named memcached, the note
// matches; named python3, the answer says it is not the program expected
// there, JSON says "unexpected", and audit finds unexpected-program.
func TestProgramAwareNotes(t *testing.T) {
	requireRoot(t, "ip")
	type sock struct {
		LocalPort int `json:"local_port"`
		Match     string
		Note      string
		Service   string `json:"port_service"`
		Processes []struct{ PID int }
	}
	port := func(prefix []string) sock {
		t.Helper()
		out, errOut, _ := portinspect(t, prefix, "11211", "-o", "json")
		var doc struct{ Sockets []sock }
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Sockets) != 1 {
			t.Fatalf("%v, %s: %s", err, errOut, out)
		}
		return doc.Sockets[0]
	}

	expected := newNetns(t)
	pid, _ := startListener(t, expected, "-comm", "memcached", "tcp4:0.0.0.0:11211")
	if s := port(expected); s.Match != "expected" || s.Note != "memcached" || s.Service != "memcached" || s.Processes[0].PID != pid {
		t.Errorf("memcached on 11211: %+v", s)
	}

	unexpected := newNetns(t)
	pid, _ = startListener(t, unexpected, "-comm", "python3", "tcp4:0.0.0.0:11211")
	if s := port(unexpected); s.Match != "unexpected" || s.Note != "memcached" || s.Processes[0].PID != pid {
		t.Errorf("python3 on 11211: %+v", s)
	}
	out, _, _ := portinspect(t, unexpected, "11211")
	if want := "Not the program expected here: expected memcached (service memcached.service); held by python3 (pid " + strconv.Itoa(pid) + ")."; !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		t.Errorf("the answer lacks %q:\n%s", want, out)
	}
	out, _, _ = portinspect(t, unexpected, "audit", "-o", "json")
	var audit struct{ Findings []auditJSONFinding }
	if err := json.Unmarshal([]byte(out), &audit); err != nil {
		t.Fatal(err)
	}
	// A privileged audit covers every namespace: the other test
	// namespace's memcached is there too, expected.
	heldBy := "held by python3 (pid " + strconv.Itoa(pid) + ")"
	unexpectedFound, riskNamed := false, false
	for _, f := range audit.Findings {
		switch {
		case f.Rule == "unexpected-program" && strings.Contains(f.Message, heldBy):
			unexpectedFound = true
			if f.Severity != "critical" || !strings.Contains(f.Message, "expected memcached") {
				t.Errorf("unexpected-program: %+v", f)
			}
		case f.Rule == "unexpected-program" && strings.Contains(f.Message, ":11211 "):
			t.Errorf("unexpected-program for another holder of 11211: %+v", f)
		case f.Rule == "exposed-risky-service" && strings.Contains(f.Message, heldBy):
			riskNamed = true
		}
	}
	if !unexpectedFound || !riskNamed {
		t.Errorf("audit lacks unexpected-program (%v) or exposed-risky-service naming %s (%v): %+v", unexpectedFound, heldBy, riskNamed, audit.Findings)
	}

	out, _, code := portinspect(t, nil, "lookup", "--program", "memcached", "-o", "json")
	if code != 0 || !strings.Contains(out, `"port": 11211`) {
		t.Errorf("lookup --program memcached: exit %d:\n%.400s", code, out)
	}
	if _, errOut, code := portinspect(t, nil, "lookup", "--program", "memcached", "22"); code != 2 || strings.Count(errOut, "\n") != 1 {
		t.Errorf("lookup --program with a port: exit %d, %q", code, errOut)
	}
}
