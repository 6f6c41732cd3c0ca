//go:build !linux

package main

import (
	"errors"
	"net"
	"syscall"
)

// orphanListener is Linux-only: the tests that use it run there.
func orphanListener(*net.TCPListener) {
	helperFail(errors.New("-orphan: not supported on this system"))
}

// bindToDevice is Linux-only too.
func bindToDevice(string) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		return errors.New("-device: not supported on this system")
	}
}
