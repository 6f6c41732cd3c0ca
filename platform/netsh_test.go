package platform

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func readNetsh(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "netsh", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseExcludedPortRanges(t *testing.T) {
	tcp := func(lo, hi uint16, admin bool) ExcludedRange {
		return ExcludedRange{PortRange: PortRange{Low: lo, High: hi, TCP: true}, Administered: admin}
	}
	for file, want := range map[string][]ExcludedRange{
		"excludedportrange-en.txt": {tcp(80, 80, false), tcp(5986, 5986, false), tcp(47001, 47001, false), tcp(55679, 55679, true), tcp(56638, 56737, false)},
		"excludedportrange-es.txt": {tcp(1025, 1124, false), tcp(5357, 5357, false), tcp(25313, 25412, false), tcp(50000, 50059, false)},
	} {
		got, err := parseExcludedPortRanges(readNetsh(t, file), TCP)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", file, got, err, want)
		}
	}
	if _, err := parseExcludedPortRanges([]byte("The requested operation requires elevation (Run as administrator).\r\n"), TCP); err == nil {
		t.Error("an error message read as an empty table")
	}
	if _, err := parseExcludedPortRanges([]byte("----\n 90 80\n"), TCP); err == nil {
		t.Error("a range backwards taken")
	}
}

func TestParseDynamicPortRange(t *testing.T) {
	got, err := parseDynamicPortRange(readNetsh(t, "dynamicport-en.txt"))
	if err != nil || got.Low != 49152 || got.High != 65535 {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"", "Start Port : 60000\nNumber of Ports : 16384\n", "Start Port : x\n"} {
		if _, err := parseDynamicPortRange([]byte(bad)); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
}

func TestParseHTTPServiceState(t *testing.T) {
	want := []HTTPQueue{
		{PIDs: []int{1412}, URLs: []string{"HTTP://+:5985/WSMAN/", "HTTP://+:47001/WSMAN/"}},
		{PIDs: []int{2688}, URLs: []string{"HTTPS://+:443/HOSTAGENT/VSWITCH/"}},
		{PIDs: []int{37584}, URLs: []string{"HTTP://LOCALHOST:8080/", "HTTP://127.0.0.1:8000:127.0.0.1/"}},
		{URLs: []string{"HTTP://*:80/"}},
	}
	for _, file := range []string{"http-servicestate-requestq-en.txt", "http-servicestate-requestq-relabelled.txt"} {
		if got := parseHTTPServiceState(readNetsh(t, file)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", file, got, want)
		}
	}
	qs := parseHTTPServiceState(readNetsh(t, "http-servicestate-requestq-en.txt"))
	for port, pids := range map[uint16][]int{8080: {37584}, 8000: {37584}, 47001: {1412}, 443: {2688}, 80: nil, 8443: nil} {
		var got []int
		for _, q := range QueuesOn(qs, port) {
			got = append(got, q.PIDs...)
		}
		if !slices.Equal(got, pids) {
			t.Errorf("port %d: queues of %v, want %v", port, got, pids)
		}
	}
}

func TestParseURLACL(t *testing.T) {
	want := []URLReservation{
		{URL: "http://*:5357/", Users: []string{`BUILTIN\Users`, `NT AUTHORITY\LOCAL SERVICE`}, SDDL: "D:(A;;GX;;;BU)(A;;GX;;;LS)"},
		{URL: "http://+:80/Temporary_Listen_Addresses/", Users: []string{`\Everyone`}, SDDL: "D:(A;;GX;;;WD)"},
		{URL: "https://*:5358/", Users: []string{`BUILTIN\Users`, `NT AUTHORITY\LOCAL SERVICE`}, SDDL: "D:(A;;GX;;;BU)(A;;GX;;;LS)"},
		{URL: "http://+:10247/apps/", Users: []string{`NT AUTHORITY\Authenticated Users`}, SDDL: "D:(A;;GX;;;AU)"},
	}
	if got := parseURLACL(readNetsh(t, "http-urlacl-en.txt")); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestURLPort(t *testing.T) {
	for url, want := range map[string]uint16{
		"HTTP://+:8080/x/": 8080, "http://127.0.0.1:8000:127.0.0.1/": 8000, "https://[::1]/": 443, "http://[::1]:81/": 81,
		"HTTP://LOCALHOST/": 80, "https://*:5358/": 5358, "ftp://x/": 0, "http://+:0/": 0, "http://+:99999/": 0, "nonsense": 0,
	} {
		if got, ok := URLPort(url); got != want || ok != (want != 0) {
			t.Errorf("URLPort(%q) = %d, %v; want %d", url, got, ok, want)
		}
	}
}

func FuzzParseNetsh(f *testing.F) {
	for _, name := range []string{"excludedportrange-en.txt", "excludedportrange-es.txt", "dynamicport-en.txt", "http-servicestate-requestq-en.txt", "http-urlacl-en.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "netsh", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if rs, err := parseExcludedPortRanges(b, UDP); err == nil {
			for _, r := range rs {
				if r.Low > r.High || !r.UDP || r.TCP {
					t.Fatalf("bad range %+v", r)
				}
			}
		}
		if r, err := parseDynamicPortRange(b); err == nil && (r.Low == 0 || r.Low > r.High) {
			t.Fatalf("bad dynamic range %+v", r)
		}
		for _, r := range parseURLACL(b) {
			if !strings.Contains(strings.ToLower(r.URL), "://") {
				t.Fatalf("a reservation of no URL: %+v", r)
			}
		}
		for _, q := range parseHTTPServiceState(b) {
			for _, u := range q.URLs {
				if p, ok := URLPort(u); ok == (p == 0) {
					t.Fatalf("URLPort(%q) = %d, %v", u, p, ok)
				}
			}
		}
	})
}
