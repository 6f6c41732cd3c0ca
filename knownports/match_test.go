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

// TestCoverage: every port a stock Windows, macOS or Linux install, or a
// developer's usual tools, or a commonly exposed server opens has a note
// of its own, not only the ephemeral range's.
func TestCoverage(t *testing.T) {
	db := Default()
	for _, port := range []uint16{
		// Windows 10/11 and Server, Active Directory.
		135, 137, 138, 139, 445, 1900, 2869, 3389, 3702, 5040, 5353, 5355, 5357, 5985, 5986, 7680, 2179, 47001,
		49664, 49665, 49666, 49667, 49668, 49669, 10243, 554, 88, 389, 464, 636, 3268, 3269, 9389,
		// macOS.
		548, 3283, 5900, 5000, 7000, 62078,
		// Linux desktops and servers.
		22, 53, 68, 111, 323, 631, 1716, 9090,
		// Developer tools.
		3000, 4200, 5173, 8080, 8081, 8000, 8888, 4000, 9229, 9222, 5037, 5555, 6006, 7860, 8188, 11434, 8265,
		1234, 4444, 6463, 17500, 57621, 27036,
		// Servers.
		8009, 7001, 8161, 61616, 8500, 8200, 9092, 2181, 5601, 15672, 5984, 7474, 8086, 3128, 1194, 51820,
		1883, 8883, 10000, 19999, 25565, 50000, 502, 47808, 102,
	} {
		found := false
		for _, n := range db.Port(port).Notes {
			found = found || !n.Wide()
		}
		if !found {
			t.Errorf("port %d has no note of its own", port)
		}
	}
	if n := len(db.tables().notes); n < 150 {
		t.Errorf("%d notes, want at least 150", n)
	}
}
