//go:build darwin

package platform

import (
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// startTime returns when a process started, as gopsutil reads it, or the
// zero time.
func startTime(p *process.Process) time.Time {
	ms, err := p.CreateTime()
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
