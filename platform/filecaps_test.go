package platform

import (
	"encoding/binary"
	"testing"
)

func capData(magic uint32, words ...uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, magic)
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

func TestParseFileCaps(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		want FileCaps
	}{
		// setcap cap_net_bind_service=+ep: revision 2, effective.
		{"+ep", capData(0x02000001, 1<<10, 0, 0, 0), FileCaps{Permitted: 1 << 10, Effective: true}},
		{"+p", capData(0x02000000, 1<<10, 0, 0, 0), FileCaps{Permitted: 1 << 10}},
		{"revision 1", capData(0x01000001, 1<<10, 1<<12), FileCaps{Permitted: 1 << 10, Inheritable: 1 << 12, Effective: true}},
		{"revision 3, a high capability", capData(0x03000001, 0, 0, 1<<8, 0, 1000), FileCaps{Permitted: 1 << 40, Effective: true, RootID: 1000}},
	} {
		got, err := parseFileCaps(tt.b)
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	if !(FileCaps{Permitted: 1 << 10}).BindsPrivileged() || (FileCaps{Permitted: 1 << 12}).BindsPrivileged() {
		t.Error("BindsPrivileged reads the wrong bit")
	}
	if (FileCaps{Permitted: 1 << 10, RootID: 1000}).BindsPrivileged() || (FileCaps{Permitted: 1 << 10, Ignored: "a script"}).BindsPrivileged() {
		t.Error("BindsPrivileged grants what the kernel would not: another namespace's root, or an ignored file")
	}
	for _, bad := range [][]byte{nil, {1, 2}, capData(0x02000001, 1), capData(0x04000000, 0, 0, 0, 0), capData(0x01000000, 0, 0, 0)} {
		if _, err := parseFileCaps(bad); err == nil {
			t.Errorf("%x taken", bad)
		}
	}
}

func FuzzParseFileCaps(f *testing.F) {
	f.Add(capData(0x02000001, 1<<10, 0, 0, 0))
	f.Add(capData(0x03000001, 0, 0, 1<<8, 0, 1000))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := parseFileCaps(b); err == nil && len(b) != 12 && len(b) != 20 && len(b) != 24 {
			t.Fatalf("took %d bytes: %+v", len(b), c)
		}
	})
}
