package main

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// orphanListener sends l's socket over a socket pair in a message nobody
// reads, then closes every descriptor of it this process has: the kernel
// keeps it listening, held by no process.
func orphanListener(l *net.TCPListener) {
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		helperFail(err)
	}
	f, err := l.File()
	if err != nil {
		helperFail(err)
	}
	if err := syscall.Sendmsg(pair[0], []byte{0}, syscall.UnixRights(int(f.Fd())), nil, 0); err != nil {
		helperFail(err)
	}
	f.Close()
	l.Close() // in the kernel, the message still holds the socket
}

// bindToDevice binds the sockets a ListenConfig opens to one network
// interface (SO_BINDTODEVICE).
func bindToDevice(device string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, device)
		})
		if err != nil {
			return err
		}
		return serr
	}
}
