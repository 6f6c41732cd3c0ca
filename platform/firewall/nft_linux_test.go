package firewall

import (
	"testing"
)

// TestVerdictAttr reads verdict map elements' data as google/nftables
// leaves it, from a live rule set: tcp dport vmap { 9000 : accept,
// 9001 : drop, 9002 : jump ufw-user-input }.
func TestVerdictAttr(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{[]byte{8, 0, 1, 0, 0, 0, 0, 1}, "accept"},
		{[]byte{8, 0, 1, 0, 0, 0, 0, 0}, "drop"},
		{[]byte{8, 0, 1, 0, 255, 255, 255, 253, 19, 0, 2, 0, 117, 102, 119, 45, 117, 115, 101, 114, 45, 105, 110, 112, 117, 116, 0, 0}, "jump ufw-user-input"},
	} {
		a := verdictAttr(tt.in)
		if !looksLikeVerdict(tt.in) || a == nil || actionText(*a) != tt.want {
			t.Errorf("%v: %+v, want %s", tt.in, a, tt.want)
		}
	}
	if verdictAttr([]byte{4, 0, 2, 0}) != nil || looksLikeVerdict([]byte{1, 2}) {
		t.Error("data without a verdict code read as a verdict")
	}
}

func FuzzVerdictAttr(f *testing.F) {
	f.Add([]byte{8, 0, 1, 0, 255, 255, 255, 253, 19, 0, 2, 0, 117, 102, 119, 45, 117, 115, 101, 114, 45, 105, 110, 112, 117, 116, 0, 0})
	f.Add([]byte{8, 0, 1, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if a := verdictAttr(b); a != nil && a.Kind != ActionJump && a.Kind != ActionGoto && a.Chain != "" {
			t.Errorf("%x: a chain for %+v", b, a)
		}
	})
}
