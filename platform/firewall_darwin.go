package platform

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/portinspect/portinspect/platform/firewall"
)

// socketfilterfw is the Application Firewall's own tool; its answers are
// what System Settings shows, and it needs no privilege to read them.
const socketfilterfw = "/usr/libexec/ApplicationFirewall/socketfilterfw"

// Reachable judges each listener against the Application Firewall, by
// its program, and pf, whose rules are read as root and not evaluated:
// a pf with block rules makes a listener the Application Firewall lets
// in unknown, never open.
func (d *darwinInspector) Reachable(ctx context.Context, f Filter, socks []*Socket, holders []Holder) []firewall.Judgement {
	var answers [5]string
	for i, flag := range []string{"--getglobalstate", "--getblockall", "--getallowsigned", "--listapps", "--getstealthmode"} {
		out, err := exec.CommandContext(ctx, socketfilterfw, flag).Output()
		if err != nil && i == 0 {
			return unknownFor(socks, fmt.Sprintf("the Application Firewall's settings could not be read: %s %s: %v", socketfilterfw, flag, err))
		}
		answers[i] = string(out)
	}
	alf, err := firewall.ParseALF(answers[0], answers[1], answers[2], answers[3], answers[4])
	if err != nil {
		return unknownFor(socks, err.Error())
	}
	pf := pfState(ctx)
	out := make([]firewall.Judgement, len(socks))
	for i := range socks {
		j := firewall.JudgeALF(alf, holders[i].Exe)
		if j.Verdict != firewall.Filtered && pf != "" {
			j = firewall.Judgement{Verdict: firewall.Unknown, Reason: pf + "; the Application Firewall alone would say: " + j.Reason}
		}
		out[i] = j
	}
	return out
}

// pfState says why pf may stop what the Application Firewall lets in,
// or "" when it cannot: off, or on with no block rule.
func pfState(ctx context.Context) string {
	info, _ := exec.CommandContext(ctx, "pfctl", "-s", "info").CombinedOutput()
	enabled, ok := firewall.PFEnabled(string(info))
	switch {
	case !ok:
		return "needs root: pf's state (pfctl -s info) could not be read"
	case !enabled:
		return ""
	}
	rules, err := exec.CommandContext(ctx, "pfctl", "-s", "rules").Output()
	if err != nil {
		return "pf is enabled, and its rules could not be read: " + err.Error()
	}
	if firewall.PFRules(string(rules)) {
		return "pf is enabled with block rules, which portinspect does not evaluate (pfctl -s rules)"
	}
	return ""
}
