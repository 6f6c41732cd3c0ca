package platform

import (
	"fmt"
	"runtime"
)

// The darwin adapter is being written (issue 5); until then, say so.
func newOS(Options) (Inspector, error) {
	return nil, fmt.Errorf("%s: %w", runtime.GOOS, ErrNotSupported)
}
