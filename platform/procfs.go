package platform

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// Parsers for files under /proc/PID. They have no build tag so that their
// tests and fuzz targets run on every system.

type procStat struct {
	comm string
	// state is the one-letter state: Z for a zombie, which holds no
	// socket and waits only for its parent.
	state      byte
	startTicks uint64
}

// parseProcStat decodes the fields of /proc/PID/stat that portinspect uses.
// The command name is in parentheses and may itself hold spaces and
// parentheses, so it runs to the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("%w: /proc stat without a command name", ErrParse)
	}
	st := procStat{comm: string(b[open+1 : closing])}
	// Fields after the name start at field 3 (state); starttime is field
	// 22. Walked, not split: this runs for thousands of processes.
	const startTimeIndex = 22 - 3
	rest := b[closing+1:]
	for i := 0; ; i++ {
		rest = bytes.TrimLeft(rest, " \n")
		if len(rest) == 0 {
			return st, fmt.Errorf("%w: /proc stat has %d fields after the name", ErrParse, i)
		}
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		if i == 0 {
			st.state = rest[0]
		}
		if i == startTimeIndex {
			ticks, err := strconv.ParseUint(string(rest[:end]), 10, 64)
			if err != nil {
				return st, fmt.Errorf("%w: /proc stat start time %q", ErrParse, rest[:end])
			}
			st.startTicks = ticks
			return st, nil
		}
		rest = rest[end:]
	}
}

// userHZ is the unit of /proc/PID/stat times. The kernel fixes it at 100
// for userspace on every architecture Go supports (USER_HZ).
const userHZ = 100

// ticksToDuration turns clock ticks since boot into a duration. Whole
// seconds first: ticks times time.Second overflows an int64 after 2.9
// years of uptime.
func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks/userHZ)*time.Second + time.Duration(ticks%userHZ)*time.Second/userHZ
}

// parseStatusUID returns the effective UID from /proc/PID/status, the user
// ps shows.
func parseStatusUID(b []byte) (uint32, bool) {
	i := bytes.Index(b, []byte("\nUid:"))
	if i < 0 {
		return 0, false
	}
	line := b[i+len("\nUid:"):]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	fields := bytes.Fields(line)
	if len(fields) < 2 {
		return 0, false
	}
	uid, err := strconv.ParseUint(string(fields[1]), 10, 32)
	return uint32(uid), err == nil
}

// parseBootTime returns the boot time from /proc/stat's btime line.
func parseBootTime(b []byte) (time.Time, error) {
	i := bytes.Index(b, []byte("\nbtime "))
	if i < 0 {
		return time.Time{}, fmt.Errorf("%w: no btime in /proc/stat", ErrParse)
	}
	line := b[i+len("\nbtime "):]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	secs, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: btime %q", ErrParse, line)
	}
	return time.Unix(secs, 0), nil
}

// splitCmdline splits /proc/PID/cmdline, where every argument ends in a
// NUL. A process that retitles itself (nginx, redis, postgres) leaves its
// new title followed by NUL padding; the padding is not arguments, so all
// trailing NULs go, at the price of a genuine empty last argument.
func splitCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	args := make([]string, 0, bytes.Count(b, []byte{0})+1)
	for arg := range bytes.SplitSeq(b, []byte{0}) {
		args = append(args, string(arg))
	}
	return args
}

// systemdUnit returns the systemd unit that /proc/PID/cgroup places the
// process in: the innermost service or scope of the unified hierarchy or,
// failing that, of the name=systemd one (cgroup v1 and hybrid hosts).
func systemdUnit(cgroup []byte) string {
	var unified, named string
	for line := range bytes.Lines(cgroup) {
		line = bytes.TrimRight(line, "\n")
		if path, ok := bytes.CutPrefix(line, []byte("0::")); ok {
			unified = unitInPath(path)
		} else if _, path, ok := bytes.Cut(line, []byte(":name=systemd:")); ok {
			named = unitInPath(path)
		}
	}
	if unified != "" {
		return unified
	}
	return named
}

// inUserManager reports whether the process's unit is one its user's
// own systemd manager runs (systemctl --user), below user@UID.service,
// not that manager itself.
func inUserManager(cgroup []byte) bool {
	i := bytes.Index(cgroup, []byte("/user@"))
	if i < 0 {
		return false
	}
	rest := cgroup[i+1:]
	end := bytes.IndexAny(rest, "/\n")
	return end >= 0 && rest[end] == '/' && bytes.Contains(rest[end:], []byte(".service"))
}

func unitInPath(path []byte) string {
	unit := ""
	for part := range bytes.SplitSeq(path, []byte("/")) {
		if bytes.HasSuffix(part, []byte(".service")) || bytes.HasSuffix(part, []byte(".scope")) {
			unit = string(part)
		}
	}
	return unit
}

// parseStatusCapEff returns the effective capability set from
// /proc/PID/status.
func parseStatusCapEff(b []byte) (uint64, bool) {
	i := bytes.Index(b, []byte("\nCapEff:"))
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(b[i+len("\nCapEff:"):])
	if len(fields) == 0 {
		return 0, false
	}
	caps, err := strconv.ParseUint(string(fields[0]), 16, 64)
	return caps, err == nil
}
