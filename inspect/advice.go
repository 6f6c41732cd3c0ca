package inspect

import (
	"fmt"
	"strings"

	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
)

// This file is what to do about the audit findings that no known-port note
// speaks to: a listener nothing names, one run from a suspicious place,
// one no process holds, an audit that could not see everything. Each
// finding gets steps for the platform the audit ran on, with the PIDs and
// ports filled in.

// inspectProcessCommands are the commands that show who a process is and
// who started it.
func inspectProcessCommands(here string, pid int) []string {
	switch here {
	case "windows":
		return []string{
			fmt.Sprintf(`Get-CimInstance Win32_Process -Filter "ProcessId = %d" | Select-Object ProcessId, ParentProcessId, ExecutablePath, CommandLine`, pid),
			fmt.Sprintf("tasklist /svc /FI \"PID eq %d\"", pid),
		}
	case "macos":
		return []string{
			fmt.Sprintf("ps -o pid,ppid,user,lstart,command -p %d", pid),
			fmt.Sprintf("sudo launchctl procinfo %d", pid),
		}
	}
	return []string{
		fmt.Sprintf("ps -o pid,ppid,user,lstart,args -p %d", pid),
		fmt.Sprintf("systemctl status %d", pid),
	}
}

// listenersCommand lists what listens on a port with its owners.
func listenersCommand(here string, port uint16, proto platform.Protocol) string {
	switch here {
	case "windows":
		if proto == platform.UDP {
			return fmt.Sprintf("Get-NetUDPEndpoint -LocalPort %d", port)
		}
		return fmt.Sprintf("Get-NetTCPConnection -LocalPort %d -State Listen", port)
	case "macos":
		return fmt.Sprintf("sudo lsof -nP -i%s:%d", map[platform.Protocol]string{platform.TCP: "TCP", platform.UDP: "UDP"}[proto], port)
	}
	return fmt.Sprintf("sudo ss -lnpe%s 'sport = :%d'", map[platform.Protocol]string{platform.TCP: "t", platform.UDP: "u"}[proto], port)
}

func unknownListenerAdvice(here string, port uint16, proto platform.Protocol, procs []*Process) []knownports.Advice {
	cmds := []string{listenersCommand(here, port, proto)}
	for _, p := range procs {
		cmds = append(cmds, inspectProcessCommands(here, p.PID)...)
	}
	return []knownports.Advice{{
		Platform: here,
		Text: "Find out what the program is from its command line, executable and service. If only this machine uses it, " +
			"bind it to loopback; if others need it, allow only them at the firewall; if nothing needs it, stop it.",
		Commands: cmds,
	}}
}

// exeSuspicion is why a listener's executable is suspect, the first that
// applies in this order, which the finding and its advice share.
type exeSuspicion uint8

const (
	exeFine exeSuspicion = iota
	exeVanished
	exeInWritableDir
	exeInTempDir
	exeReplaced
)

func suspectExecutable(p *Process) exeSuspicion {
	switch {
	case p.ExeDeleted && !p.ExeReplaced:
		return exeVanished
	case p.ExeDirWritable:
		return exeInWritableDir
	case inTempDir(p.Exe):
		return exeInTempDir
	case p.ExeDeleted:
		return exeReplaced
	}
	return exeFine
}

func suspiciousExecutableAdvice(here string, p *Process, suspect exeSuspicion) []knownports.Advice {
	text := "A program that was installed properly does not run from a temporary or world-writable directory: " +
		"find out who started it and how, keep a copy of the executable for analysis, then stop it."
	switch suspect {
	case exeReplaced:
		text = "A file is at the executable's path again, as after a package upgrade: restart the service so that " +
			"it runs the new one. If no upgrade ran, compare the running executable with the file before restarting."
	case exeVanished:
		text = "Nothing is at the executable's path any more: unless a package was removed and its service not " +
			"stopped, the program removed its own file, as malware does. Keep a copy before stopping it."
	}
	cmds := inspectProcessCommands(here, p.PID)
	switch here {
	case "windows":
		cmds = append(cmds, "Get-AuthenticodeSignature "+powershellQuote(p.Exe))
	case "macos":
		cmds = append(cmds, "codesign -dv "+shellQuote(p.Exe))
	case "linux":
		cmds = append(cmds, fmt.Sprintf("sudo cp /proc/%d/exe /root/pid-%d.exe", p.PID, p.PID), "ls -la "+shellQuote(dirOf(p.Exe)))
	}
	return []knownports.Advice{{Platform: here, Text: text, Commands: cmds}}
}

// shellQuote quotes a path for a POSIX shell, so that a command someone
// pastes runs on the path whatever it holds: the path is untrusted, and
// a quote in it must not end the argument.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// powershellQuote quotes a path for PowerShell, where a single-quoted
// string escapes a quote by doubling it.
func powershellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func ownerlessAdvice(here string, port uint16, proto platform.Protocol) []knownports.Advice {
	text := "A listener that no process holds is either a kernel service (the NFS server, its lock manager, a " +
		"WireGuard interface) or a socket whose process handed it on and closed its own copy. See whether a " +
		"kernel module serves the port; if nothing should, find what opened it from the socket's user and inode."
	cmds := []string{listenersCommand(here, port, proto)}
	if here == "linux" {
		cmds = append(cmds, "lsmod | grep -E 'nfsd|lockd|wireguard'")
	}
	return []knownports.Advice{{Platform: here, Text: text, Commands: cmds}}
}

func partialCoverageAdvice(here, hint string) []knownports.Advice {
	cmd := "sudo portinspect audit"
	if here == "windows" {
		cmd = "portinspect audit   # in a PowerShell started with Run as administrator"
	}
	return []knownports.Advice{{
		Platform: here,
		Text:     "Run the audit again as " + hint + ", so that every listener's owner can be read.",
		Commands: []string{cmd},
	}}
}
