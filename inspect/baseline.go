package inspect

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
)

// BaselineSchema names the baseline file format.
const BaselineSchema = "portinspect-baseline/v1"

// Baseline is the listeners of a machine as identities, not PIDs: what
// should listen, to compare the machine with later.
type Baseline struct {
	Schema   string    `json:"schema"`
	Hostname string    `json:"hostname"`
	OS       string    `json:"os"`
	Created  time.Time `json:"created"`
	// Privileged says every owner could be seen when it was taken.
	Privileged bool `json:"privileged"`
	// AllNetns says it holds every network namespace's listeners, not
	// only the machine's own.
	AllNetns  bool               `json:"all_namespaces"`
	Listeners []BaselineListener `json:"listeners"`
}

// BaselineListener is one listener's identity.
type BaselineListener struct {
	Protocol string `json:"protocol"`
	// Family is ipv4, ipv6, or any for the wildcard of a dual-stack
	// system, where 0.0.0.0 and [::] are one listener.
	Family string `json:"family"`
	// Exposure is the bind address's class: all, loopback, address,
	// interface.
	Exposure string `json:"exposure"`
	// Address is the bound address, "*" for the wildcard.
	Address string `json:"address"`
	Port    uint16 `json:"port"`
	// Netns is the network namespace's container name, else its name or
	// id, "" for the machine's own.
	Netns string `json:"netns,omitempty"`
	// Program is the holder's executable (its path, or its name where the
	// path is unknown), Service its unit or service; both "" when the
	// owner was not seen (OwnerSeen false).
	Program   string `json:"program"`
	Service   string `json:"service"`
	OwnerSeen bool   `json:"owner_seen"`
}

// key is what makes a listener the same one in two baselines: where it
// listens, not who holds it.
func (l *BaselineListener) key() string {
	return strings.Join([]string{l.Netns, l.Protocol, l.Address, fmt.Sprint(l.Port)}, "|")
}

// Name spells the listener for people: "tcp *:22", "udp 127.0.0.1:53 in web1".
func (l *BaselineListener) Name() string {
	addr := l.Address
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	s := fmt.Sprintf("%s %s:%d", l.Protocol, addr, l.Port)
	if l.Netns != "" {
		s += " in " + l.Netns
	}
	return s
}

// Owner spells the holder: "sshd (ssh.service)", "(not seen)".
func (l *BaselineListener) Owner() string {
	switch {
	case !l.OwnerSeen:
		return "(not seen)"
	case l.Program == "":
		return "(no process)"
	case l.Service != "":
		return l.Program + " (" + l.Service + ")"
	}
	return l.Program
}

// NewBaseline takes the listeners of a report: one identity per listener,
// with two noise rules. Unconnected UDP sockets on ports of the ephemeral
// range are left out (resolvers' and mDNS clients' sockets come and go);
// on a dual-stack system a wildcard is one listener, whether a program
// binds [::] alone or 0.0.0.0 and [::].
func NewBaseline(rep *Report, ephemeral platform.PortRange, now time.Time) *Baseline {
	b := &Baseline{Schema: BaselineSchema, Hostname: rep.Host.Hostname, OS: rep.Host.OS, Created: now.UTC(),
		Privileged: rep.Host.Privileged, AllNetns: rep.AllNetns, Listeners: []BaselineListener{}}
	seen := map[string]bool{}
	for i := range rep.Sockets {
		s := &rep.Sockets[i]
		if !s.Listening() || s.Role != RoleLocal {
			continue
		}
		if s.Protocol == platform.UDP && ephemeral.High != 0 && ephemeral.Has(s.Local.Port(), platform.UDP) {
			continue
		}
		l := BaselineListener{Protocol: s.Protocol.String(), Family: s.Family.String(), Exposure: s.Exposure.String(),
			Address: s.Local.Addr().Unmap().String(), Port: s.Local.Port()}
		if s.Local.Addr().IsUnspecified() {
			l.Address, l.Family = "*", "any"
		}
		if s.Netns != nil && !s.Netns.Own {
			l.Netns = s.Netns.ID()
			if c := s.Netns.Container; c != nil {
				l.Netns = c.Label()
			}
		}
		switch s.Owners {
		case platform.OwnersKnown:
			l.OwnerSeen = true
			p := s.Processes[0]
			// The executable's path: a process may rename itself, and
			// the same name in another directory is another program.
			l.Program, l.Service = cmp.Or(p.Exe, p.Name), p.Service
		case platform.OwnersNone:
			l.OwnerSeen = true
		}
		if k := l.key(); !seen[k] {
			seen[k] = true
			b.Listeners = append(b.Listeners, l)
		}
	}
	slices.SortFunc(b.Listeners, func(x, y BaselineListener) int {
		return cmp.Or(cmp.Compare(x.Netns, y.Netns), cmp.Compare(x.Port, y.Port), cmp.Compare(x.Protocol, y.Protocol), cmp.Compare(x.Address, y.Address))
	})
	return b
}

// Changes of a machine against its baseline.
const (
	DriftAdded   = "added"
	DriftRemoved = "removed"
	DriftChanged = "changed"
)

// Drift is one difference from the baseline: a listener added, removed,
// or held by another program (Was is then the baseline's).
type Drift struct {
	Change   string
	Listener BaselineListener
	Was      *BaselineListener
}

// DriftReport is a machine compared with its baseline.
type DriftReport struct {
	Baseline *Baseline
	Now      *Baseline
	Changes  []Drift
	// OwnersUncompared counts listeners whose owners were not compared,
	// for one side could not see them (a baseline taken as root,
	// compared without root): no drift, but said.
	OwnersUncompared int
}

// Diff compares now with the baseline.
func Diff(base, now *Baseline) *DriftReport {
	d := &DriftReport{Baseline: base, Now: now}
	before := map[string]*BaselineListener{}
	for i := range base.Listeners {
		before[base.Listeners[i].key()] = &base.Listeners[i]
	}
	after := map[string]bool{}
	for _, l := range now.Listeners {
		after[l.key()] = true
		was, ok := before[l.key()]
		switch {
		case !ok:
			d.Changes = append(d.Changes, Drift{Change: DriftAdded, Listener: l})
		case !was.OwnerSeen || !l.OwnerSeen:
			if was.OwnerSeen != l.OwnerSeen {
				d.OwnersUncompared++
			}
		case was.Program != l.Program || was.Service != l.Service:
			d.Changes = append(d.Changes, Drift{Change: DriftChanged, Listener: l, Was: was})
		}
	}
	for _, l := range base.Listeners {
		if !after[l.key()] {
			d.Changes = append(d.Changes, Drift{Change: DriftRemoved, Listener: l})
		}
	}
	return d
}

// Rules of the drift findings audit --baseline adds.
const (
	RuleNewListener  = "new-listener"
	RuleGoneListener = "gone-listener"
	RuleChangedOwner = "changed-owner"
)

// AddDrift compares the audited machine with a baseline and adds the
// drift as findings: a new listener (medium beyond loopback, low on
// loopback), one gone (info), one held by another program (medium beyond
// loopback, low on loopback). An audit of every namespace compared with a
// baseline of the machine's own compares the machine's own.
func (a *Audit) AddDrift(base *Baseline, ephemeral platform.PortRange, now time.Time) *DriftReport {
	cur := NewBaseline(a.Report, ephemeral, now)
	if !base.AllNetns {
		cur.Listeners = slices.DeleteFunc(cur.Listeners, func(l BaselineListener) bool { return l.Netns != "" })
	}
	d := Diff(base, cur)
	for _, c := range d.Changes {
		l := c.Listener
		proto, _ := platform.ProtocolNamed(l.Protocol)
		f := Finding{Port: l.Port, Protocol: proto}
		exposed := l.Exposure != ExposureLoopback.String()
		switch c.Change {
		case DriftAdded:
			f.Rule, f.Severity = RuleNewListener, knownports.RiskLow
			if exposed {
				f.Severity = knownports.RiskMedium
			}
			f.Message = fmt.Sprintf("%s, held by %s, is not in the baseline of %s", l.Name(), l.Owner(), base.Created.Format(time.RFC3339))
		case DriftRemoved:
			f.Rule, f.Severity = RuleGoneListener, knownports.RiskInfo
			f.Message = fmt.Sprintf("%s, held by %s in the baseline, listens no more", l.Name(), l.Owner())
		case DriftChanged:
			f.Rule, f.Severity = RuleChangedOwner, knownports.RiskLow
			if exposed {
				f.Severity = knownports.RiskMedium
			}
			f.Message = fmt.Sprintf("%s is held by %s, and was by %s in the baseline", l.Name(), l.Owner(), c.Was.Owner())
		}
		for i := range a.Report.Sockets {
			s := &a.Report.Sockets[i]
			if s.Listening() && s.Local.Port() == l.Port && s.Protocol == proto {
				f.Sockets = append(f.Sockets, s)
			}
		}
		f.Processes = holders(f.Sockets)
		if c.Change != DriftRemoved {
			f.Advice = unknownListenerAdvice(a.Report.Host.OS, l.Port, proto, f.Processes)
		}
		a.Findings = append(a.Findings, f)
	}
	slices.SortStableFunc(a.Findings, compareFindings)
	return d
}

// ErrBadBaseline wraps what is wrong with a baseline file.
var ErrBadBaseline = errors.New("not a portinspect baseline")

// ReadBaseline reads a baseline file; a damaged or foreign one is an
// error wrapping ErrBadBaseline that says what is wrong.
func ReadBaseline(r io.Reader) (*Baseline, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var b Baseline
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBaseline, err)
	}
	if b.Schema != BaselineSchema {
		return nil, fmt.Errorf("%w: schema %q, want %q", ErrBadBaseline, b.Schema, BaselineSchema)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON document", ErrBadBaseline)
	}
	for i, l := range b.Listeners {
		if _, ok := platform.ProtocolNamed(l.Protocol); !ok || l.Port == 0 || l.Address == "" {
			return nil, fmt.Errorf("%w: listener %d: want a protocol tcp or udp, a port and an address", ErrBadBaseline, i+1)
		}
	}
	if b.Listeners == nil {
		b.Listeners = []BaselineListener{}
	}
	return &b, nil
}

// WriteBaselineFile writes b to file atomically: to a temporary file in
// the same directory, synced, then renamed over it, so that a crash or a
// full disk never leaves a truncated baseline.
func WriteBaselineFile(file string, b *Baseline) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return err
	}
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no directory %s: make it first (mkdir -p %s)", dir, dir)
	}
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	// The rename is durable once the directory is synced (not possible
	// on Windows, where opening a directory fails: the rename stands).
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
