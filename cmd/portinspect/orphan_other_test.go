//go:build !linux

package main

import (
	"errors"
	"net"
)

// orphanListener is Linux-only: the tests that use it run there.
func orphanListener(*net.TCPListener) {
	helperFail(errors.New("-orphan: not supported on this system"))
}
