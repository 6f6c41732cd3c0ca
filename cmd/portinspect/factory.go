package main

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/knownports"
	"github.com/portinspect/portinspect/platform"
)

// IOStreams are the streams a command may write to; commands never touch
// os.Stdout directly, so tests can capture them.
type IOStreams struct {
	In io.Reader
	// InTTY says whether In is a terminal, where a command may ask.
	InTTY  bool
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY says whether Out is a terminal: tables get headers and
	// alignment there, and plain tab-separated rows elsewhere.
	OutTTY bool
	// Width is the terminal's width, or 0 when Out is not a terminal.
	Width int
}

// Factory gives commands the world they inspect.
type Factory struct {
	IO *IOStreams
	// Inspector opens the operating system's socket and process source.
	Inspector func() (platform.Inspector, error)
	// KnownPorts returns the known-ports database.
	KnownPorts func() *knownports.DB
	// Hosts returns the hosts file's names: the only names an address may
	// be given by, since nothing is ever looked up in DNS.
	Hosts func() map[string][]netip.Addr
}

// names resolves the service and host names that PORTSPECs hold.
func (f *Factory) names() inspect.Names {
	return inspect.Names{Services: inspect.ResolverFrom(f.KnownPorts()), Hosts: f.Hosts, HostsFile: platform.HostsFile()}
}

// socketSourceEnv forces a socket source ("netlink" or "proc" on Linux),
// to check the fallback path on a machine where the first choice works.
const socketSourceEnv = "PORTINSPECT_SOCKET_SOURCE"

// SystemFactory returns the factory for the real machine and terminal.
func SystemFactory() *Factory {
	ios := &IOStreams{In: os.Stdin, InTTY: term.IsTerminal(int(os.Stdin.Fd())), Out: os.Stdout, ErrOut: os.Stderr}
	if fd := int(os.Stdout.Fd()); term.IsTerminal(fd) {
		ios.OutTTY = true
		if w, _, err := term.GetSize(fd); err == nil {
			ios.Width = w
		}
	}
	return &Factory{
		IO: ios,
		Inspector: func() (platform.Inspector, error) {
			src, err := platform.New(platform.Options{SocketSource: os.Getenv(socketSourceEnv)})
			if errors.Is(err, platform.ErrUnknownSource) {
				return nil, &inspect.UsageError{Msg: socketSourceEnv + ": " + err.Error()}
			}
			return src, err
		},
		KnownPorts: knownports.Default,
		Hosts:      sync.OnceValue(func() map[string][]netip.Addr { return platform.LoadHosts(platform.HostsFile()) }),
	}
}
