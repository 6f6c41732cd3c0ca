package platform

import (
	"encoding/binary"
	"fmt"
)

// FileCaps are the capabilities a program file grants whoever runs it
// (setcap), from its security.capability attribute.
type FileCaps struct {
	Permitted, Inheritable uint64
	// Effective says they are raised at exec ("+ep"); without it only a
	// program that raises them itself has them.
	Effective bool
	// RootID is the user namespace root they are for (revision 3), 0
	// for the first namespace's.
	RootID uint32
	// Ignored says why the kernel will not grant them, "" when it will:
	// a script (#!), or a file system mounted nosuid.
	Ignored string
}

// capNetBindService is CAP_NET_BIND_SERVICE's bit (linux/capability.h).
const capNetBindService = 10

// HasNetBindService says CAP_NET_BIND_SERVICE is among the file's.
func (c FileCaps) HasNetBindService() bool { return c.Permitted&(1<<capNetBindService) != 0 }

// BindsPrivileged says the kernel grants CAP_NET_BIND_SERVICE to who runs
// the file here: set, for the first user namespace, not ignored.
func (c FileCaps) BindsPrivileged() bool {
	return c.HasNetBindService() && c.RootID == 0 && c.Ignored == ""
}

// parseFileCaps reads struct vfs_cap_data (linux/capability.h): a
// little-endian magic with the revision and the effective flag, then one
// (revision 1) or two (2 and 3) pairs of permitted and inheritable
// words; revision 3 adds the owner of a user namespace.
func parseFileCaps(b []byte) (FileCaps, error) {
	const (
		revisionMask = 0xFF000000
		effective    = 0x000001
	)
	if len(b) < 4 {
		return FileCaps{}, fmt.Errorf("%w: a file capability of %d bytes", ErrParse, len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	words, size := 0, 0
	switch magic & revisionMask {
	case 0x01000000:
		words, size = 1, 12
	case 0x02000000:
		words, size = 2, 20
	case 0x03000000:
		words, size = 2, 24
	default:
		return FileCaps{}, fmt.Errorf("%w: a file capability of revision %#x", ErrParse, magic&revisionMask)
	}
	if len(b) != size {
		return FileCaps{}, fmt.Errorf("%w: a file capability of %d bytes, want %d", ErrParse, len(b), size)
	}
	c := FileCaps{Effective: magic&effective != 0}
	if size == 24 {
		c.RootID = binary.LittleEndian.Uint32(b[20:])
	}
	for i := range words {
		c.Permitted |= uint64(binary.LittleEndian.Uint32(b[4+8*i:])) << (32 * i)
		c.Inheritable |= uint64(binary.LittleEndian.Uint32(b[8+8*i:])) << (32 * i)
	}
	return c, nil
}
