package platform

import (
	"fmt"
	"slices"
	"unsafe"

	"golang.org/x/sys/windows"
)

// maxEnumServicesBuffer is the largest buffer EnumServicesStatusExW
// accepts: "The maximum size of this array is 256K bytes."
const maxEnumServicesBuffer = 256 << 10

// maxServicePages bounds the calls of one enumeration: one to learn the
// size, one that usually returns every service, and more pages should the
// services outgrow the largest buffer or start between calls.
const maxServicePages = 16

// runningServices lists the running Win32 services by the process that
// hosts them, in one enumeration. It asks the Service Control Manager for
// SC_MANAGER_CONNECT and SC_MANAGER_ENUMERATE_SERVICE only, which every
// authenticated user has: x/sys/windows/svc/mgr's Connect asks for
// SC_MANAGER_ALL_ACCESS, which only administrators get.
func runningServices() (map[uint32][]string, error) {
	scm, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return nil, fmt.Errorf("OpenSCManager: %w", err)
	}
	defer windows.CloseServiceHandle(scm)

	byPID := make(map[uint32][]string)
	// []uint64: the entries hold pointers.
	var buf []uint64
	var resume uint32
	for range maxServicePages {
		var p *byte
		if len(buf) > 0 {
			p = (*byte)(unsafe.Pointer(&buf[0]))
		}
		var needed, n uint32
		err := windows.EnumServicesStatusEx(scm, windows.SC_ENUM_PROCESS_INFO, windows.SERVICE_WIN32,
			windows.SERVICE_ACTIVE, p, uint32(len(buf)*8), &needed, &n, &resume, nil)
		if n > 0 && p != nil {
			for _, e := range unsafe.Slice((*windows.ENUM_SERVICE_STATUS_PROCESS)(unsafe.Pointer(p)), n) {
				if pid := e.ServiceStatusProcess.ProcessId; pid != 0 {
					byPID[pid] = append(byPID[pid], windows.UTF16PtrToString(e.ServiceName))
				}
			}
		}
		switch {
		case err == nil:
			for _, names := range byPID {
				slices.Sort(names)
			}
			return byPID, nil
		case err != windows.ERROR_MORE_DATA:
			return nil, fmt.Errorf("EnumServicesStatusEx: %w", err)
		case n > 0:
			// A page was returned; resume carries on after it.
			continue
		}
		// Nothing fitted: make room for what is left, as far as allowed.
		size := min(max(uint64(needed), 4<<10), maxEnumServicesBuffer)
		if size <= uint64(len(buf))*8 {
			return nil, fmt.Errorf("EnumServicesStatusEx: %w with a buffer of %d bytes", err, len(buf)*8)
		}
		buf = make([]uint64, (size+7)/8)
	}
	return nil, fmt.Errorf("EnumServicesStatusEx: services still left after %d calls", maxServicePages)
}
