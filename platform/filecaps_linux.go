package platform

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ProgramCaps reads the capabilities a program file grants; a file with
// none has the zero FileCaps.
func ProgramCaps(path string) (FileCaps, error) {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	switch {
	case errors.Is(err, unix.ENODATA):
		return FileCaps{}, nil
	case err != nil:
		return FileCaps{}, fmt.Errorf("reading the capabilities of %s: %w", path, err)
	}
	return parseFileCaps(buf[:n])
}
