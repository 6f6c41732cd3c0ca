package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
	"github.com/portinspect/portinspect/platform/platformtest"
)

// jsonSocket is the reference for what jsonWriter.appendSocket writes by
// hand: encoding/json's rendering of this struct is the contract.
type jsonSocket struct {
	Protocol      string         `json:"protocol"`
	Family        string         `json:"family"`
	LocalAddress  string         `json:"local_address"`
	LocalPort     uint16         `json:"local_port"`
	RemoteAddress string         `json:"remote_address"`
	RemotePort    uint16         `json:"remote_port"`
	PortService   string         `json:"port_service"`
	State         string         `json:"state"`
	Exposure      string         `json:"exposure"`
	OwnerStatus   string         `json:"owner_status"`
	Processes     []*jsonProcess `json:"processes"`
	Inode         *uint64        `json:"inode,omitempty"`
	UID           *int64         `json:"uid,omitempty"`
	RecvQ         *int64         `json:"recv_q"`
	SendQ         *int64         `json:"send_q"`
	DualStack     *bool          `json:"dual_stack,omitempty"`
	Device        string         `json:"device,omitempty"`
	Role          string         `json:"role,omitempty"`
	Match         string         `json:"match,omitempty"`
	Note          string         `json:"note,omitempty"`
}

// jsonProcesses converts each process once, as the reference model.
type jsonProcesses map[*inspect.Process]*jsonProcess

func (procs jsonProcesses) socket(s *inspect.Socket) *jsonSocket {
	js := &jsonSocket{
		Protocol:      s.Protocol.String(),
		Family:        s.Family.String(),
		LocalAddress:  s.Local.Addr().String(),
		LocalPort:     s.Local.Port(),
		RemoteAddress: s.Remote.Addr().String(),
		RemotePort:    s.Remote.Port(),
		PortService:   s.Service,
		State:         s.State.String(),
		Exposure:      s.Exposure.String(),
		OwnerStatus:   s.Owners.String(),
		Processes:     make([]*jsonProcess, 0, len(s.Processes)),
	}
	if s.Inode != 0 {
		js.Inode = &s.Inode
	}
	if s.Note != nil {
		js.Match, js.Note = string(s.Match), s.Note.ID()
	}
	if s.UID >= 0 {
		js.UID = &s.UID
	}
	if s.RecvQ >= 0 {
		js.RecvQ = &s.RecvQ
	}
	if s.SendQ >= 0 {
		js.SendQ = &s.SendQ
	}
	if s.DualStack != platform.DualStackUnknown {
		dual := s.DualStack == platform.DualStackYes
		js.DualStack = &dual
	}
	js.Device = s.Device
	if s.Role == inspect.RoleClient {
		js.Role = "client"
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

// TestStreamedJSONMatchesEncoder checks that writing sockets one at a time
// gives byte for byte what encoding the whole document would.
func TestStreamedJSONMatchesEncoder(t *testing.T) {
	fake := platformtest.Workstation()
	// Text encoding/json must escape, in a process and in an address zone.
	p := fake.Processes[4242]
	p.Name = "\x1b]0;pwn\x07 <&> \u2028 bad\xff \"q\" \\"
	p.Cmdline = []string{"a\tb", "日本"}
	p.Started = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	p.Service = "tipd.service"
	fake.Processes[4242] = p
	fake.SocketList = append(fake.SocketList, platformtest.Sock(platform.UDP, "[fe80::1%eth\"0]:546", "[fe80::2%eth\"0]:547", platform.Established, 4))
	// Queues unknown, as on Windows; a dual-stack listener; clients.
	fake.SocketList[0].RecvQ, fake.SocketList[0].SendQ = -1, -1
	fake.SocketList[3].DualStack = platform.DualStackYes
	fake.SocketList[4].Device = "virbr0"
	ports, _ := inspect.ParsePortSpec("22,546,3372,8080,9000", inspect.Names{})
	rep, err := inspect.Run(context.Background(), fake, knownports.Default(),
		inspect.Query{Ports: ports, Clients: true, KnownPorts: inspect.KnownPortsListening, Detail: platform.DetailFull})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Sockets); n != 10 || rep.Sockets[n-1].Role != inspect.RoleClient {
		t.Fatalf("%d sockets, the last %+v; want 10, the last a client", n, rep.Sockets[n-1])
	}
	for _, doc := range []*jsonReport{newJSONReport(rep), failedReport(errors.New("no <source> & no luck"))} {
		socks := rep.Sockets
		if doc.Error != "" {
			socks = nil
		}
		var streamed bytes.Buffer
		if err := writeJSONReport(&streamed, doc, socks); err != nil {
			t.Fatal(err)
		}
		whole := struct {
			Schema     string             `json:"schema"`
			Host       jsonHost           `json:"host"`
			Sockets    []*jsonSocket      `json:"sockets"`
			KnownPorts []knownports.Entry `json:"known_ports"`
			Warnings   []string           `json:"warnings"`
			Error      string             `json:"error,omitempty"`
		}{doc.Schema, doc.Host, []*jsonSocket{}, doc.KnownPorts, doc.Warnings, doc.Error}
		procs := make(jsonProcesses)
		for i := range socks {
			whole.Sockets = append(whole.Sockets, procs.socket(&socks[i]))
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(whole); err != nil {
			t.Fatal(err)
		}
		if streamed.String() != want.String() {
			t.Errorf("streamed:\n%s\nwant:\n%s", streamed.String(), want.String())
		}
	}
}
