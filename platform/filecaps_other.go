//go:build !linux

package platform

import "fmt"

// ProgramCaps is Linux's alone: other systems have no file capabilities.
func ProgramCaps(path string) (FileCaps, error) {
	return FileCaps{}, fmt.Errorf("file capabilities: %w", ErrNotSupported)
}
