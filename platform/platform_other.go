//go:build !linux && !windows && !darwin

package platform

import (
	"fmt"
	"runtime"
)

func newOS(Options) (Inspector, error) {
	return nil, fmt.Errorf("%s: %w", runtime.GOOS, ErrNotSupported)
}
