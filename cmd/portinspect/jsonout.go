package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/container"
	"github.com/portinspect/portinspect/platform/firewall"
)

// jsonSchema names the JSON contract of DESIGN.md. Fields may be added;
// none is renamed or removed without a new schema name.
const jsonSchema = "portinspect/v1"

// jsonReport is the document but for its sockets, which writeJSONReport
// writes one at a time between host and known_ports.
type jsonReport struct {
	Schema string   `json:"schema"`
	Host   jsonHost `json:"host"`
	// Findings is an audit's, written after host; nil for other commands.
	Findings []jsonFinding `json:"findings,omitempty"`
	// Published are the ports that NAT rules publish while no socket
	// listed holds them for the rules (in a report about ports, or an
	// audit), written after sockets, and only when there are some.
	Published  []jsonPublication  `json:"published,omitempty"`
	KnownPorts []knownports.Entry `json:"known_ports"`
	Warnings   []string           `json:"warnings"`
	Error      string             `json:"error,omitempty"`
}

// jsonFinding is an audit finding. Port and protocol are null for a
// finding about the whole audit.
type jsonFinding struct {
	Rule      string               `json:"rule"`
	Severity  string               `json:"severity"`
	Message   string               `json:"message"`
	Port      *uint16              `json:"port"`
	Protocol  *string              `json:"protocol"`
	Sockets   []jsonFindingSocket  `json:"sockets"`
	Processes []jsonFindingProcess `json:"processes"`
	Advice    []knownports.Advice  `json:"advice"`
}

// jsonFindingSocket names a socket of the report's sockets list.
type jsonFindingSocket struct {
	Protocol     string `json:"protocol"`
	LocalAddress string `json:"local_address"`
	LocalPort    uint16 `json:"local_port"`
	Exposure     string `json:"exposure"`
}

func newJSONFindingSocket(s *inspect.Socket) jsonFindingSocket {
	return jsonFindingSocket{Protocol: s.Protocol.String(), LocalAddress: s.Local.Addr().String(), LocalPort: s.Local.Port(), Exposure: s.Exposure.String()}
}

// jsonFindingProcess names a process of the report's sockets list.
type jsonFindingProcess struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	Exe  string `json:"exe"`
}

// jsonFirewall is why a listener is reachable or not: the deciding rule,
// the conditions of a partly reachable one, and where destination NAT
// sends its packets.
type jsonFirewall struct {
	Reason      string       `json:"reason"`
	Rule        *jsonRuleRef `json:"rule,omitempty"`
	Conditions  []string     `json:"conditions,omitempty"`
	ForwardedTo string       `json:"forwarded_to,omitempty"`
	Bypassed    bool         `json:"bypassed,omitempty"`
}

type jsonRuleRef struct {
	Table  string `json:"table,omitempty"`
	Chain  string `json:"chain"`
	Handle uint64 `json:"handle,omitempty"`
	Text   string `json:"text"`
}

func newJSONFirewall(j *firewall.Judgement) *jsonFirewall {
	out := &jsonFirewall{Reason: j.Reason, Conditions: j.Conditions, Bypassed: j.Bypassed}
	if j.Rule != nil {
		out.Rule = &jsonRuleRef{Table: j.Rule.Table, Chain: j.Rule.Chain, Handle: j.Rule.Handle, Text: j.Rule.Text}
	}
	if j.Forwarded.IsValid() {
		out.ForwardedTo = j.Forwarded.String()
	}
	return out
}

type jsonHost struct {
	Hostname   string `json:"hostname"`
	OS         string `json:"os"`
	Privileged bool   `json:"privileged"`
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
	// ExeDeleted and ExeReplaced say the executable was unlinked after
	// the process started it, and whether a file is at its path again.
	ExeDeleted  bool `json:"exe_deleted"`
	ExeReplaced bool `json:"exe_replaced"`
	// Container is the container the process runs in, null for none or
	// where portinspect does not look (Windows, macOS; list's table
	// details).
	Container *jsonContainer `json:"container"`
}

type jsonContainer struct {
	Runtime      string `json:"runtime"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	Image        string `json:"image"`
	Pod          string `json:"pod"`
	PodNamespace string `json:"pod_namespace"`
}

func newJSONContainer(c *container.Container) *jsonContainer {
	if c == nil {
		return nil
	}
	return &jsonContainer{Runtime: c.Runtime, ID: c.ID, Name: c.Name, Image: c.Image, Pod: c.Pod, PodNamespace: c.PodNamespace}
}

// jsonPublication is one element of a host socket's "published", or of
// the report's, for a port NAT rules publish with no socket holding it.
type jsonPublication struct {
	Container        *jsonContainer `json:"container"`
	ContainerAddress string         `json:"container_address"`
	ContainerPort    uint16         `json:"container_port"`
	Protocol         string         `json:"protocol"`
	Via              string         `json:"via"`
	// HostAddress is "" when every address of the host is published.
	HostAddress string         `json:"host_address"`
	HostPort    uint16         `json:"host_port"`
	Listeners   []jsonListener `json:"listeners"`
	// ListenersUnknown says why listeners could not be told: "" when
	// they are the answer, none included.
	ListenersUnknown string `json:"listeners_unknown"`
}

// jsonListener is a socket that takes what a publication forwards.
type jsonListener struct {
	LocalAddress string               `json:"local_address"`
	LocalPort    uint16               `json:"local_port"`
	Netns        *jsonNetns           `json:"netns"`
	OwnerStatus  string               `json:"owner_status"`
	Processes    []jsonFindingProcess `json:"processes"`
}

type jsonNetns struct {
	Inode uint64 `json:"inode"`
	Name  string `json:"name"`
}

func newJSONPublications(pubs []*inspect.Publication) []jsonPublication {
	list := make([]jsonPublication, 0, len(pubs))
	for _, p := range pubs {
		jp := jsonPublication{Container: newJSONContainer(p.Container), ContainerPort: p.ContainerPort,
			Protocol: p.Protocol, Via: p.Via, HostPort: p.HostPort, Listeners: []jsonListener{}, ListenersUnknown: p.ListenersUnknown}
		if p.ContainerAddr.IsValid() {
			jp.ContainerAddress = p.ContainerAddr.String()
		}
		if p.HostAddr.IsValid() {
			jp.HostAddress = p.HostAddr.String()
		}
		for _, l := range p.Listeners {
			jl := jsonListener{LocalAddress: l.Local.Addr().String(), LocalPort: l.Local.Port(), OwnerStatus: l.Owners.String(),
				Processes: []jsonFindingProcess{}}
			if l.Netns != nil {
				jl.Netns = &jsonNetns{Inode: l.Netns.Inode, Name: l.Netns.Name}
			}
			for _, proc := range l.Processes {
				jl.Processes = append(jl.Processes, jsonFindingProcess{PID: proc.PID, Name: proc.Name, Exe: proc.Exe})
			}
			jp.Listeners = append(jp.Listeners, jl)
		}
		list = append(list, jp)
	}
	return list
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
	if len(rep.Published) > 0 {
		out.Published = newJSONPublications(rep.Published)
	}
	if out.KnownPorts == nil {
		out.KnownPorts = []knownports.Entry{}
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	return out
}

func newJSONProcess(p *inspect.Process) *jsonProcess {
	jp := &jsonProcess{PID: p.PID, Name: p.Name, Exe: p.Exe, Cmdline: p.Cmdline, User: p.User, ExeDeleted: p.ExeDeleted, ExeReplaced: p.ExeReplaced}
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
	jp.Container = newJSONContainer(p.Container)
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
	jw := newJSONWriter()
	field := func(name string, v any, more bool) error {
		fmt.Fprintf(w, "  %q: ", name)
		b, err := jw.encode("  ", v)
		if err != nil {
			return err
		}
		w.Write(b)
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
	if doc.Findings != nil {
		if err := field("findings", doc.Findings, true); err != nil {
			return err
		}
	}
	w.WriteString(`  "sockets": [`)
	var b []byte
	for i := range sockets {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n    ")
		var err error
		if b, err = jw.appendSocket(b[:0], &sockets[i]); err != nil {
			return err
		}
		w.Write(b)
	}
	if len(sockets) > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("],\n")
	if len(doc.Published) > 0 {
		if err := field("published", doc.Published, true); err != nil {
			return err
		}
	}
	w.WriteString(`  "known_ports": [`)
	for i := range doc.KnownPorts {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n    ")
		var err error
		if b, err = jw.appendEntry(b[:0], &doc.KnownPorts[i]); err != nil {
			return err
		}
		w.Write(b)
	}
	if len(doc.KnownPorts) > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("],\n")
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

// writeJSONDoc writes a small document whole: lookup's and check's.
func writeJSONDoc(out io.Writer, doc any) error {
	b, err := newJSONWriter().encode("", doc)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	w.Write(b)
	w.WriteByte('\n')
	return w.Flush()
}

// jsonWriter encodes parts of the document. Sockets and known ports,
// thousands of them, are written one at a time; the processes and notes in
// them are encoded once each and reused, since one process often holds
// thousands of sockets and one note (the ephemeral range's) covers
// thousands of listeners.
type jsonWriter struct {
	buf   bytes.Buffer
	enc   *json.Encoder
	procs map[*inspect.Process][]byte
	notes map[*knownports.Note][]byte
}

func newJSONWriter() *jsonWriter {
	jw := &jsonWriter{procs: make(map[*inspect.Process][]byte), notes: make(map[*knownports.Note][]byte)}
	jw.enc = json.NewEncoder(&jw.buf)
	// Commands in notes hold <PID> and &&: keep them readable.
	jw.enc.SetEscapeHTML(false)
	return jw
}

// encode encodes v as json.Encoder does with every line but the first
// prefixed by indent. The result is valid until the next call.
func (jw *jsonWriter) encode(indent string, v any) ([]byte, error) {
	jw.buf.Reset()
	jw.enc.SetIndent(indent, "  ")
	if err := jw.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(jw.buf.Bytes(), []byte("\n")), nil
}

// appendSocket appends one element of "sockets", at the indent of one, in
// the field order of DESIGN.md.
func (jw *jsonWriter) appendSocket(b []byte, s *inspect.Socket) ([]byte, error) {
	const in = "\n      "
	b = append(b, '{')
	b = appendJSONField(b, in, "protocol", s.Protocol.String())
	b = appendJSONField(b, ",\n      ", "family", s.Family.String())
	b = appendJSONField(b, ",\n      ", "local_address", s.Local.Addr().String())
	b = append(b, `,`+in+`"local_port": `...)
	b = strconv.AppendUint(b, uint64(s.Local.Port()), 10)
	b = appendJSONField(b, ",\n      ", "remote_address", s.Remote.Addr().String())
	b = append(b, `,`+in+`"remote_port": `...)
	b = strconv.AppendUint(b, uint64(s.Remote.Port()), 10)
	b = appendJSONField(b, ",\n      ", "port_service", s.Service)
	b = appendJSONField(b, ",\n      ", "state", s.State.String())
	b = appendJSONField(b, ",\n      ", "exposure", s.Exposure.String())
	if s.Reach != nil {
		b = appendJSONField(b, ",\n      ", "reachable", string(s.Reach.Verdict))
		enc, err := jw.encode(in[1:], newJSONFirewall(s.Reach))
		if err != nil {
			return nil, err
		}
		b = append(b, `,`+in+`"firewall": `...)
		b = append(b, enc...)
	}
	b = appendJSONField(b, ",\n      ", "owner_status", s.Owners.String())
	b = append(b, `,`+in+`"processes": `...)
	b, err := appendCached(jw, b, s.Processes, jw.procs, func(p *inspect.Process) any { return newJSONProcess(p) })
	if err != nil {
		return nil, err
	}
	if s.Inode != 0 {
		b = append(b, `,`+in+`"inode": `...)
		b = strconv.AppendUint(b, s.Inode, 10)
	}
	if s.UID >= 0 {
		b = append(b, `,`+in+`"uid": `...)
		b = strconv.AppendInt(b, s.UID, 10)
	}
	b = appendJSONQueue(b, in, "recv_q", s.RecvQ)
	b = appendJSONQueue(b, in, "send_q", s.SendQ)
	if s.DualStack != platform.DualStackUnknown {
		b = append(b, `,`+in+`"dual_stack": `...)
		b = strconv.AppendBool(b, s.DualStack == platform.DualStackYes)
	}
	if s.Device != "" {
		b = appendJSONField(b, ","+in, "device", s.Device)
	}
	if s.Role == inspect.RoleClient {
		b = appendJSONField(b, ","+in, "role", s.Role.String())
	}
	if s.Netns != nil {
		b = append(b, `,`+in+`"netns": {"inode": `...)
		b = strconv.AppendUint(b, s.Netns.Inode, 10)
		b = appendJSONField(b, ", ", "name", s.Netns.Name)
		b = append(b, '}')
	}
	if s.Note != nil {
		b = appendJSONField(b, ","+in, "match", string(s.Match))
		b = appendJSONField(b, ","+in, "note", s.Note.ID())
	}
	if len(s.Published) > 0 {
		enc, err := jw.encode(in[1:], newJSONPublications(s.Published))
		if err != nil {
			return nil, err
		}
		b = append(b, `,`+in+`"published": `...)
		b = append(b, enc...)
	}
	return append(b, "\n    }"...), nil
}

// appendJSONQueue appends a queue length, null where the system does not
// report it.
func appendJSONQueue(b []byte, in, name string, q int64) []byte {
	b = append(b, `,`...)
	b = append(b, in...)
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `": `...)
	if q < 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, q, 10)
}

// appendEntry appends one element of "known_ports", at the indent of one:
// port, protocols and iana as encoding/json writes them, then the notes,
// each encoded once.
func (jw *jsonWriter) appendEntry(b []byte, e *knownports.Entry) ([]byte, error) {
	head := *e
	head.Notes = nil
	enc, err := jw.encode("    ", head)
	if err != nil {
		return nil, err
	}
	// enc ends in `"notes": null` and the closing brace: write the notes there.
	const tail = "\"notes\": null\n    }"
	if !bytes.HasSuffix(enc, []byte(tail)) {
		return nil, fmt.Errorf("known_ports entry does not end in its notes: %.40q", enc[max(0, len(enc)-40):])
	}
	b = append(b, enc[:len(enc)-len(tail)+len(`"notes": `)]...)
	b, err = appendCached(jw, b, e.Notes, jw.notes, func(n *knownports.Note) any { return n })
	if err != nil {
		return nil, err
	}
	return append(b, "\n    }"...), nil
}

// appendCached appends items as a JSON array nested two deep in an
// element of the document's top-level lists, encoding each item once per
// document and reusing the bytes after.
func appendCached[T comparable](jw *jsonWriter, b []byte, items []T, cache map[T][]byte, value func(T) any) ([]byte, error) {
	const in = "\n        "
	b = append(b, '[')
	for i, it := range items {
		enc, ok := cache[it]
		if !ok {
			e, err := jw.encode(in[1:], value(it))
			if err != nil {
				return nil, err
			}
			enc = bytes.Clone(e)
			cache[it] = enc
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, in...)
		b = append(b, enc...)
	}
	if len(items) > 0 {
		b = append(b, "\n      "...)
	}
	return append(b, ']'), nil
}

// appendJSONField appends sep, "name": and value as a JSON string.
func appendJSONField(b []byte, sep, name, value string) []byte {
	b = append(b, sep...)
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `": `...)
	return appendJSONString(b, value)
}

// appendJSONString quotes s as encoding/json does without HTML escaping.
// Socket fields are plain ASCII; anything else takes encoding/json's path.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			var sb strings.Builder
			enc := json.NewEncoder(&sb)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			return append(b, strings.TrimSuffix(sb.String(), "\n")...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
