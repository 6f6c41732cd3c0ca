package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
)

// jsonSchema names the JSON contract of DESIGN.md. Fields may be added;
// none is renamed or removed without a new schema name.
const jsonSchema = "portinspect/v1"

type jsonReport struct {
	Schema     string             `json:"schema"`
	Host       jsonHost           `json:"host"`
	Sockets    []jsonSocket       `json:"sockets"`
	KnownPorts []knownports.Entry `json:"known_ports"`
	Warnings   []string           `json:"warnings"`
	Error      string             `json:"error,omitempty"`
}

type jsonHost struct {
	Hostname   string `json:"hostname"`
	OS         string `json:"os"`
	Privileged bool   `json:"privileged"`
}

type jsonSocket struct {
	Protocol      string         `json:"protocol"`
	Family        string         `json:"family"`
	LocalAddress  string         `json:"local_address"`
	LocalPort     uint16         `json:"local_port"`
	RemoteAddress string         `json:"remote_address"`
	RemotePort    uint16         `json:"remote_port"`
	State         string         `json:"state"`
	Exposure      string         `json:"exposure"`
	OwnerStatus   string         `json:"owner_status"`
	Processes     []*jsonProcess `json:"processes"`
	Inode         *uint64        `json:"inode,omitempty"`
	UID           *int64         `json:"uid,omitempty"`
}

type jsonProcess struct {
	PID     int        `json:"pid"`
	Name    string     `json:"name"`
	Exe     string     `json:"exe"`
	Cmdline []string   `json:"cmdline"`
	User    string     `json:"user"`
	UID     *int64     `json:"uid"`
	Started *time.Time `json:"started"`
	Service *string    `json:"service"`
}

// newJSONReport turns a report into the JSON contract. Empty lists are [],
// never null, so that scripts can iterate without checks.
func newJSONReport(rep *inspect.Report) *jsonReport {
	out := &jsonReport{
		Schema:     jsonSchema,
		Host:       jsonHost{Hostname: rep.Host.Hostname, OS: rep.Host.OS, Privileged: rep.Host.Privileged},
		Sockets:    make([]jsonSocket, len(rep.Sockets)),
		KnownPorts: rep.KnownPorts,
		Warnings:   rep.Warnings,
	}
	if out.KnownPorts == nil {
		out.KnownPorts = []knownports.Entry{}
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	procs := make(map[*inspect.Process]*jsonProcess)
	for i := range rep.Sockets {
		s := &rep.Sockets[i]
		js := &out.Sockets[i]
		*js = jsonSocket{
			Protocol:      s.Protocol.String(),
			Family:        s.Family.String(),
			LocalAddress:  s.Local.Addr().String(),
			LocalPort:     s.Local.Port(),
			RemoteAddress: s.Remote.Addr().String(),
			RemotePort:    s.Remote.Port(),
			State:         s.State.String(),
			Exposure:      s.Exposure.String(),
			OwnerStatus:   s.Owners.String(),
			Processes:     make([]*jsonProcess, 0, len(s.Processes)),
		}
		if s.Inode != 0 {
			js.Inode = &s.Inode
		}
		if s.UID >= 0 {
			js.UID = &s.UID
		}
		for _, p := range s.Processes {
			jp := procs[p]
			if jp == nil {
				jp = newJSONProcess(p)
				procs[p] = jp
			}
			js.Processes = append(js.Processes, jp)
		}
	}
	return out
}

func newJSONProcess(p *inspect.Process) *jsonProcess {
	jp := &jsonProcess{PID: p.PID, Name: p.Name, Exe: p.Exe, Cmdline: p.Cmdline, User: p.User}
	if jp.Cmdline == nil {
		jp.Cmdline = []string{}
	}
	if p.UID >= 0 {
		jp.UID = &p.UID
	}
	if !p.Started.IsZero() {
		t := p.Started.UTC()
		jp.Started = &t
	}
	if p.Service != "" {
		jp.Service = &p.Service
	}
	return jp
}

// failedReport is the document printed when the machine could not be
// inspected at all.
func failedReport(err error) *jsonReport {
	host, _ := os.Hostname()
	return &jsonReport{
		Schema:     jsonSchema,
		Host:       jsonHost{Hostname: host, OS: runtime.GOOS},
		Sockets:    []jsonSocket{},
		KnownPorts: []knownports.Entry{},
		Warnings:   []string{},
		Error:      err.Error(),
	}
}

func writeJSON(out io.Writer, doc any) error {
	w := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Commands in notes hold <PID> and &&: keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return w.Flush()
}
