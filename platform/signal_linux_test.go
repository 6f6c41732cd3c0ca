package platform

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestSignalOnlyTheProcessRead signals this test process with signal 0,
// which checks and delivers nothing: it goes through only while the PID,
// the start time and a socket all match what was read.
func TestSignalOnlyTheProcessRead(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	in, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := MatchAll()
	f.Ports = []PortRange{{Low: uint16(l.Addr().(*net.TCPAddr).Port), High: uint16(l.Addr().(*net.TCPAddr).Port), TCP: true}}
	socks, err := in.Sockets(context.Background(), f)
	if err != nil || len(socks) != 1 || socks[0].Inode == 0 {
		t.Fatalf("the listener: %+v, %v", socks, err)
	}
	self, err := in.Process(os.Getpid(), DetailBasic)
	if err != nil {
		t.Fatal(err)
	}
	s := in.(Signaller)
	if !s.Running(&self) {
		t.Error("Running(this process) = false")
	}
	if err := s.Signal(&self, []uint64{socks[0].Inode}, 0); err != nil {
		t.Errorf("Signal(this process, its socket) = %v", err)
	}
	older := self
	older.Started = self.Started.Add(-time.Second)
	if err := s.Signal(&older, nil, 0); !errors.Is(err, ErrNotSameProcess) || s.Running(&older) {
		t.Errorf("another start time: Signal = %v, Running = %v; want ErrNotSameProcess, false", err, s.Running(&older))
	}
	if err := s.Signal(&self, []uint64{socks[0].Inode + 1<<40}, 0); !errors.Is(err, ErrNotHolding) {
		t.Errorf("a socket it does not hold: Signal = %v, want ErrNotHolding", err)
	}
	gone := Process{PID: 1 << 22, Started: self.Started}
	if err := s.Signal(&gone, nil, 0); !errors.Is(err, ErrNotSameProcess) {
		t.Errorf("a PID nothing has: Signal = %v, want ErrNotSameProcess", err)
	}
}
