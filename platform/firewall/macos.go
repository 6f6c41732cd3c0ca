package firewall

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// macOS's Application Firewall (ALF) filters incoming connections by
// program, not by port: off, on (listed programs allowed or blocked,
// Apple's and, if the user allows it, other signed programs allowed
// without asking, others blocked until the user answers), or blocking
// all but essential services. Its settings are read from socketfilterfw,
// whose output is the same on every macOS since 10.6; pf, which can
// filter by port too, is off unless someone turned it on.

// ALF is the Application Firewall's settings.
type ALF struct {
	// State is --getglobalstate's: 0 off, 1 on, 2 blocking all but
	// essential services.
	State int
	// BlockAll is --getblockall's, the same as State 2 on newer macOS.
	BlockAll bool
	// AllowBuiltin and AllowDownloaded are --getallowsigned's: Apple's
	// programs, and other programs signed by an identified developer, are
	// let in without asking.
	AllowBuiltin, AllowDownloaded bool
	// Apps are --listapps's programs: path (a program or an .app bundle)
	// to whether it may take incoming connections.
	Apps []ALFApp
	// Stealth is --getstealthmode's: blocked connections get no answer,
	// not even a reset, so a scan cannot tell the Mac is there.
	Stealth bool
}

// ALFApp is a program the Application Firewall lists.
type ALFApp struct {
	Path  string
	Allow bool
}

var alfState = regexp.MustCompile(`\(State = (\d)\)`)

// ParseALF reads socketfilterfw's answers to --getglobalstate,
// --getblockall, --getallowsigned, --listapps and --getstealthmode.
func ParseALF(globalState, blockAll, allowSigned, listApps, stealth string) (ALF, error) {
	var a ALF
	low := strings.ToLower(stealth)
	a.Stealth = strings.Contains(low, "is on") || strings.Contains(low, "enabled")
	m := alfState.FindStringSubmatch(globalState)
	if m == nil {
		return a, fmt.Errorf("%w: socketfilterfw --getglobalstate said %q", errParse, truncate(globalState))
	}
	a.State, _ = strconv.Atoi(m[1])
	low = strings.ToLower(blockAll)
	a.BlockAll = strings.Contains(low, "enabled") || strings.Contains(low, "set to on")
	for line := range strings.Lines(allowSigned) {
		on := strings.Contains(line, "ENABLED")
		switch {
		case strings.Contains(line, "built-in signed"):
			a.AllowBuiltin = on
		case strings.Contains(line, "downloaded signed"):
			a.AllowDownloaded = on
		}
	}
	// "1 :  /Applications/Foo.app \n \t ( Allow incoming connections )":
	// a numbered path, then its setting on the next line (or the same).
	sc := bufio.NewScanner(strings.NewReader(listApps))
	var path string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " : "); i > 0 && isDigits(line[:i]) {
			path = strings.TrimSpace(line[i+3:])
			line = ""
			if j := strings.Index(path, "( "); j > 0 {
				path, line = strings.TrimSpace(path[:j]), path[j:]
			}
		}
		switch {
		case path == "":
		case strings.Contains(line, "Allow incoming connections"):
			a.Apps, path = append(a.Apps, ALFApp{Path: path, Allow: true}), ""
		case strings.Contains(line, "Block incoming connections"):
			a.Apps, path = append(a.Apps, ALFApp{Path: path}), ""
		}
	}
	return a, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// alfEssential are the programs that "Block all incoming connections"
// still lets in: configd (DHCP), mDNSResponder (Bonjour) and racoon
// (IPsec), as Apple's "About the Application Firewall" lists them
// (support.apple.com/kb/HT1810, written for Mac OS X 10.5 and 10.6; not
// verified on later releases). The same article says an unsigned program
// the firewall does not list gets a dialog to allow or deny it.
var alfEssential = []string{"/usr/libexec/configd", "/usr/sbin/mDNSResponder", "/usr/sbin/racoon"}

// JudgeALF judges a listener held by the program at exe ("" when hidden)
// against the Application Firewall.
func JudgeALF(a ALF, exe string) Judgement {
	j := judgeALF(a, exe)
	if j.Verdict == Filtered && a.Stealth {
		j.Reason += " (stealth mode: the connection gets no answer at all)"
	}
	return j
}

func judgeALF(a ALF, exe string) Judgement {
	ref := func(text string) *RuleRef {
		return &RuleRef{Table: "Application Firewall", Chain: "incoming", Text: text}
	}
	switch {
	case a.State == 0:
		return Judgement{Verdict: Open, Rule: ref("off"), Reason: "the Application Firewall is off"}
	case a.State == 2 || a.BlockAll:
		for _, e := range alfEssential {
			if exe == e {
				return Judgement{Verdict: Open, Rule: ref("block all: an essential service"), Reason: "the Application Firewall blocks all incoming connections but essential services', and " + exe + " is one"}
			}
		}
		return Judgement{Verdict: Filtered, Rule: ref("block all"), Reason: "the Application Firewall blocks all incoming connections but essential services'"}
	case exe == "":
		return Judgement{Verdict: Unknown, Reason: "the Application Firewall filters by program, and the listener's program is hidden"}
	}
	for _, app := range a.Apps {
		if exe == app.Path || strings.HasSuffix(app.Path, ".app") && strings.HasPrefix(exe, app.Path+"/") {
			if app.Allow {
				return Judgement{Verdict: Open, Rule: ref(app.Path + ": allow"), Reason: "the Application Firewall lets " + app.Path + " take incoming connections"}
			}
			return Judgement{Verdict: Filtered, Rule: ref(app.Path + ": block"), Reason: "the Application Firewall blocks incoming connections to " + app.Path}
		}
	}
	if a.AllowBuiltin && appleProgram(exe) {
		return Judgement{Verdict: Open, Rule: ref("allow built-in signed software"), Reason: "the Application Firewall lets Apple's own programs in, and " + exe + " is one"}
	}
	if a.AllowDownloaded {
		return Judgement{Verdict: Unknown, Reason: "the Application Firewall lets in programs signed by an identified developer, and asks about others: whether " + exe + " is signed was not checked (codesign -dv)"}
	}
	return Judgement{Verdict: Filtered, Rule: ref("not listed"),
		Reason: "the Application Firewall blocks a program it does not list until the user allows it: " + exe + " is not listed"}
}

// appleProgram says whether a path is one of macOS's own, on the sealed
// system volume.
func appleProgram(exe string) bool {
	for _, dir := range []string{"/System/", "/usr/bin/", "/usr/sbin/", "/usr/libexec/", "/bin/", "/sbin/"} {
		if strings.HasPrefix(exe, dir) {
			return true
		}
	}
	return false
}

// PFRules reads `pfctl -s rules`: whether the rules loaded can stop a
// packet (a block rule), which portinspect does not evaluate. Apple's
// default rule set only scrubs and anchors.
func PFRules(rules string) (blocks bool) {
	for line := range strings.Lines(rules) {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "block" {
			return true
		}
	}
	return false
}

// PFEnabled reads `pfctl -s info`'s "Status: Enabled".
func PFEnabled(info string) (enabled, ok bool) {
	for line := range strings.Lines(info) {
		if rest, found := strings.CutPrefix(strings.TrimSpace(line), "Status: "); found {
			return strings.HasPrefix(rest, "Enabled"), true
		}
	}
	return false, false
}
