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

// isInvisibleControl reports C1 controls and the format characters that
// reorder, hide or break text: the bidirectional marks and overrides
// (U+061C, U+200E/F, U+202A–E, U+2066–9), zero-width characters (U+180E,
// U+200B–D, U+2060–4, U+FEFF), line and paragraph separators
// (U+2028/9) and interlinear annotations (U+FFF9–B).
func isInvisibleControl(r rune) bool {
	switch {
	case r >= 0x80 && r < 0xa0, r == 0x061c, r == 0x180e, r == 0xfeff:
		return true
	case r >= 0x200b && r <= 0x200f, r >= 0x2028 && r <= 0x202e:
		return true
	case r >= 0x2060 && r <= 0x2069, r >= 0xfff9 && r <= 0xfffb:
		return true
	}
	return false
}
