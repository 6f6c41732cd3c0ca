package knownports

import "testing"

func TestNoteMatch(t *testing.T) {
	db := Default()
	for _, tt := range []struct {
		port     uint16
		proto    string
		h        Holder
		title    string
		want     Match
		expected string
	}{
		{3372, "tcp", Holder{Platform: "windows", Name: "msdtc.exe"}, "MSDTC TIP listener", MatchExpected, "msdtc.exe (service MSDTC)"},
		{3372, "tcp", Holder{Platform: "windows", Name: "MSDTC.EXE"}, "MSDTC TIP listener", MatchExpected, ""},
		{3372, "tcp", Holder{Platform: "windows", Name: "python3.exe", Exe: `C:\Python\python3.exe`}, "MSDTC TIP listener", MatchUnexpected, ""},
		{3372, "tcp", Holder{Platform: "linux", Name: "tipd"}, "MSDTC TIP listener", MatchUnknown, ""}, // no Linux program
		{3372, "tcp", Holder{Platform: "windows"}, "MSDTC TIP listener", MatchUnknown, ""},
		{11211, "tcp", Holder{Platform: "linux", Name: "memcached"}, "memcached", MatchExpected, "memcached (service memcached.service)"},
		{11211, "tcp", Holder{Platform: "linux", Name: "python3"}, "memcached", MatchUnexpected, ""},
		// By unit, by executable, and by a name Linux cut to 15 bytes.
		{11211, "tcp", Holder{Platform: "linux", Name: "mc", Service: "memcached.service"}, "memcached", MatchExpected, ""},
		{11211, "tcp", Holder{Platform: "linux", Name: "x", Exe: "/usr/bin/memcached"}, "memcached", MatchExpected, ""},
		{9100, "tcp", Holder{Platform: "linux", Name: "prometheus-node"}, "", MatchExpected, ""},
		{40000, "tcp", Holder{Platform: "linux", Name: "python3"}, "", MatchUnknown, ""}, // the ephemeral range expects nothing
	} {
		n, m := db.NoteFor(tt.port, tt.proto, tt.h)
		if n == nil || m != tt.want || tt.title != "" && n.Title != tt.title {
			title := ""
			if n != nil {
				title = n.Title
			}
			t.Errorf("%d/%s %+v: %q %s, want %q %s", tt.port, tt.proto, tt.h, title, m, tt.title, tt.want)
			continue
		}
		if tt.expected != "" && n.ExpectedText(tt.h.Platform) != tt.expected {
			t.Errorf("%d %s: expected %q, want %q", tt.port, tt.h.Platform, n.ExpectedText(tt.h.Platform), tt.expected)
		}
	}
	if n, _ := db.NoteFor(1, "tcp", Holder{Platform: "linux", Name: "x"}); n != nil {
		t.Errorf("a port no note covers: %q", n.Title)
	}

	found := false
	for _, n := range db.ProgramPorts("msdtc.exe") {
		found = found || n.Title == "MSDTC TIP listener"
	}
	if !found || len(db.ProgramPorts("no-such-program")) != 0 {
		t.Errorf("ProgramPorts(msdtc.exe) lacks 3372, or a program no note names has notes")
	}
}
