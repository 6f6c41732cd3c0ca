package main

import (
	"net"
	"syscall"
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
