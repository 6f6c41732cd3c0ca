package platform

import (
	"context"

	"github.com/portinspect/portinspect/platform/firewall"
)

// FirewallJudge is an Inspector that can judge listeners against the
// host firewall.
type FirewallJudge interface {
	// Reachable judges each of socks, listeners of the namespace f
	// selects, held by holders[i] (zero where unknown): whether the
	// firewall lets the network's packets reach it. Every socket gets a
	// judgement; where the rules could not be read (without privilege,
	// say) it is Unknown and says why, never Open.
	Reachable(ctx context.Context, f Filter, socks []*Socket, holders []Holder) []firewall.Judgement
}

// Holder is what a firewall may select a listener by besides its
// address and port: the program that holds it (Windows's rules name
// programs and services).
type Holder struct {
	// Exe is the executable's path; "System" for Windows's kernel.
	Exe string
	// Services are the short names of the services it runs.
	Services []string
}

// unknownFor is the judgement of every socket when the firewall could not
// be judged at all.
func unknownFor(socks []*Socket, reason string) []firewall.Judgement {
	out := make([]firewall.Judgement, len(socks))
	for i := range out {
		out[i] = firewall.Judgement{Verdict: firewall.Unknown, Reason: reason}
	}
	return out
}
