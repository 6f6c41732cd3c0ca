package platform

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ProgramCaps reads the capabilities a program file grants; a file with
// none has the zero FileCaps. It says when the kernel would ignore them:
// for a script, whose interpreter is what runs, and on a nosuid mount.
// (A process under no_new_privs ignores them too; that is the service's
// setting, not the file's.)
func ProgramCaps(path string) (FileCaps, error) {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	switch {
	case errors.Is(err, unix.ENODATA):
		return FileCaps{}, nil
	case err != nil:
		return FileCaps{}, fmt.Errorf("reading the capabilities of %s: %w", path, err)
	}
	c, err := parseFileCaps(buf[:n])
	if err != nil {
		return c, err
	}
	if f, err := os.Open(path); err == nil {
		head := make([]byte, 2)
		if n, _ := f.Read(head); n == 2 && string(head) == "#!" {
			c.Ignored = "it is a script, and the kernel grants file capabilities to the program it runs, not to a script's interpreter"
		}
		f.Close()
	}
	var st unix.Statfs_t
	if unix.Statfs(path, &st) == nil && st.Flags&unix.ST_NOSUID != 0 {
		c.Ignored = "its file system is mounted nosuid, which makes the kernel ignore file capabilities"
	}
	return c, nil
}
