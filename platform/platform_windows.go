package platform

import (
	"fmt"
	"runtime"
)

// The windows adapter is being written (issue 5); until then, say so.
func newOS(Options) (Inspector, error) {
	return nil, fmt.Errorf("%s: %w", runtime.GOOS, ErrNotSupported)
}
