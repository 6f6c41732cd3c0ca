//go:build !windows

package main

// underWine reports whether a Windows test binary runs under Wine: never
// elsewhere.
func underWine() bool { return false }
