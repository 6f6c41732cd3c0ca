package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
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

// jsonReport is the document but for its sockets, which writeJSONReport
// writes one at a time between host and known_ports.
type jsonReport struct {
	Schema     string             `json:"schema"`
	Host       jsonHost           `json:"host"`
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

// newJSONReport turns a report, but for its sockets, into the JSON
// contract. Empty lists are [], never null, so that scripts can iterate
// without checks.
func newJSONReport(rep *inspect.Report) *jsonReport {
	out := &jsonReport{
		Schema:     jsonSchema,
		Host:       jsonHost{Hostname: rep.Host.Hostname, OS: rep.Host.OS, Privileged: rep.Host.Privileged},
		KnownPorts: rep.KnownPorts,
		Warnings:   rep.Warnings,
	}
	if out.KnownPorts == nil {
		out.KnownPorts = []knownports.Entry{}
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	return out
}

// jsonProcesses converts each process once, however many sockets it holds.
type jsonProcesses map[*inspect.Process]*jsonProcess

func (procs jsonProcesses) socket(s *inspect.Socket) *jsonSocket {
	js := &jsonSocket{
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
	return js
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
		KnownPorts: []knownports.Entry{},
		Warnings:   []string{},
		Error:      err.Error(),
	}
}

// writeJSONReport writes doc with sockets in the "sockets" field, laid
// out as json.Encoder's two-space indent would, but one socket at a time:
// a busy host's 24,000 sockets are never one JSON text in memory.
func writeJSONReport(out io.Writer, doc *jsonReport, sockets []inspect.Socket) error {
	w := bufio.NewWriterSize(out, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Commands in notes hold <PID> and &&: keep them readable.
	enc.SetEscapeHTML(false)
	value := func(indent string, v any) error {
		buf.Reset()
		enc.SetIndent(indent, "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		_, err := w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return err
	}
	field := func(name string, v any, more bool) error {
		fmt.Fprintf(w, "  %q: ", name)
		if err := value("  ", v); err != nil {
			return err
		}
		if more {
			w.WriteByte(',')
		}
		return w.WriteByte('\n')
	}
	w.WriteString("{\n")
	if err := field("schema", doc.Schema, true); err != nil {
		return err
	}
	if err := field("host", doc.Host, true); err != nil {
		return err
	}
	w.WriteString(`  "sockets": [`)
	procs := make(jsonProcesses)
	for i := range sockets {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n    ")
		if err := value("    ", procs.socket(&sockets[i])); err != nil {
			return err
		}
	}
	if len(sockets) > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("],\n")
	if err := field("known_ports", doc.KnownPorts, true); err != nil {
		return err
	}
	if err := field("warnings", doc.Warnings, doc.Error != ""); err != nil {
		return err
	}
	if doc.Error != "" {
		if err := field("error", doc.Error, false); err != nil {
			return err
		}
	}
	w.WriteString("}\n")
	return w.Flush()
}
