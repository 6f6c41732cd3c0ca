package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// escapeText makes untrusted text (process names, command lines, paths)
// safe for a terminal or a CSV cell: control characters (C0, DEL, C1),
// Unicode bidirectional overrides, which can reorder what a reader sees,
// and bytes that are not UTF-8 are shown as \xNN or \uNNNN escapes. A
// process can name itself "\x1b]0;owned\a" and ss prints that raw; here it
// stays visible and inert. JSON output keeps the true string instead.
func escapeText(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isInvisibleControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return slowNeedsEscape(s[i:])
		}
	}
	return false
}

func slowNeedsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r < 0x20 || r == 0x7f || isInvisibleControl(r) {
			return true
		}
		i += size
	}
	return false
}

// isInvisibleControl reports C1 controls and the bidirectional formatting
// characters (U+200E/F, U+202A–U+202E, U+2066–U+2069).
func isInvisibleControl(r rune) bool {
	return r >= 0x80 && r < 0xa0 ||
		r == 0x200e || r == 0x200f ||
		r >= 0x202a && r <= 0x202e ||
		r >= 0x2066 && r <= 0x2069
}
