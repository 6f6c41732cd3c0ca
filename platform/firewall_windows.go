package platform

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"

	"github.com/portinspect/portinspect/platform/firewall"
)

// Windows Defender Firewall's policy in the registry: the local store,
// and Group Policy's, whose profile settings win and whose rules add to
// the local ones unless AllowLocalPolicyMerge is 0 ([MS-GPFAS] 2.2.3.13).
// Read from the registry rather than through INetFwPolicy2 (COM, which
// needs go-ole) or Get-NetFirewallRule (PowerShell, seconds per run):
// the registry holds both stores in the documented grammar, and reading
// it takes milliseconds and no privilege.
const (
	localFirewallKey  = `SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy`
	policyFirewallKey = `SOFTWARE\Policies\Microsoft\WindowsFirewall`
)

// Reachable judges each listener against Windows Defender Firewall's
// policy, in each of its profiles.
func (w *windowsInspector) Reachable(ctx context.Context, f Filter, socks []*Socket, holders []Holder) []firewall.Judgement {
	p, err := readWinPolicy()
	if err != nil {
		return unknownFor(socks, err.Error())
	}
	out := make([]firewall.Judgement, len(socks))
	for i, s := range socks {
		l := firewall.WinListener{Protocol: 6, Port: s.Local.Port(), Exe: holders[i].Exe, Services: holders[i].Services}
		if s.Protocol == UDP {
			l.Protocol = 17
		}
		if a := s.Local.Addr().Unmap(); !a.IsUnspecified() {
			l.Addr = a
		}
		out[i] = firewall.JudgeWindows(p, l)
	}
	return out
}

// readWinPolicy reads both stores' profiles and rules.
func readWinPolicy() (*firewall.WinPolicy, error) {
	local, err := registry.OpenKey(registry.LOCAL_MACHINE, localFirewallKey, registry.READ)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, fmt.Errorf("Windows Defender Firewall's policy is not in the registry (HKLM\\%s)", localFirewallKey)
	}
	if err != nil {
		return nil, fmt.Errorf("reading HKLM\\%s: %w", localFirewallKey, err)
	}
	defer local.Close()
	gpo, err := registry.OpenKey(registry.LOCAL_MACHINE, policyFirewallKey, registry.READ)
	if err != nil {
		gpo = 0
	} else {
		defer gpo.Close()
	}
	p := &firewall.WinPolicy{Profiles: make(map[string]firewall.WinProfile)}
	for _, pr := range []struct{ name, localKey, gpoKey string }{
		{"Domain", "DomainProfile", "DomainProfile"},
		{"Private", "StandardProfile", "PrivateProfile"},
		{"Public", "PublicProfile", "PublicProfile"},
	} {
		// Windows's defaults where nothing is set: on, inbound blocked.
		prof := firewall.WinProfile{Enabled: true, InboundBlock: true, LocalRules: true}
		for i, k := range []struct {
			parent registry.Key
			sub    string
		}{{local, pr.localKey}, {gpo, pr.gpoKey}} {
			if k.parent == 0 {
				continue
			}
			key, err := registry.OpenKey(k.parent, k.sub, registry.QUERY_VALUE)
			if err != nil {
				continue
			}
			if v, _, err := key.GetIntegerValue("EnableFirewall"); err == nil {
				prof.Enabled = v != 0
			}
			if v, _, err := key.GetIntegerValue("DefaultInboundAction"); err == nil {
				prof.InboundBlock = v != 0 // 1 blocks, 0 allows
			}
			if v, _, err := key.GetIntegerValue("AllowLocalPolicyMerge"); err == nil && i == 1 {
				prof.LocalRules = v != 0
			}
			key.Close()
		}
		p.Profiles[pr.name] = prof
	}
	for _, store := range []struct {
		parent registry.Key
		name   string
	}{{local, "local"}, {gpo, "group policy"}} {
		if store.parent == 0 {
			continue
		}
		rules, err := registry.OpenKey(store.parent, "FirewallRules", registry.QUERY_VALUE)
		if err != nil {
			continue
		}
		names, err := rules.ReadValueNames(-1)
		if err != nil {
			rules.Close()
			return nil, fmt.Errorf("reading the %s store's firewall rules: %w", store.name, err)
		}
		for _, id := range names {
			s, _, err := rules.GetStringValue(id)
			if err != nil {
				continue
			}
			r, err := firewall.ParseWinRule(id, store.name, s)
			if err != nil {
				rules.Close()
				return nil, err
			}
			p.Rules = append(p.Rules, r)
		}
		rules.Close()
	}
	return p, nil
}
