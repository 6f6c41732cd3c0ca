package platform

import (
	"fmt"
	"math"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// x/sys/windows wraps none of these: they are called through the DLL.
var (
	modIPHlpAPI                     = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTCPTable         = modIPHlpAPI.NewProc("GetExtendedTcpTable")
	procGetExtendedUDPTable         = modIPHlpAPI.NewProc("GetExtendedUdpTable")
	procGetOwnerModuleFromTCPEntry  = modIPHlpAPI.NewProc("GetOwnerModuleFromTcpEntry")
	procGetOwnerModuleFromTCP6Entry = modIPHlpAPI.NewProc("GetOwnerModuleFromTcp6Entry")
	procGetOwnerModuleFromUDPEntry  = modIPHlpAPI.NewProc("GetOwnerModuleFromUdpEntry")
	procGetOwnerModuleFromUDP6Entry = modIPHlpAPI.NewProc("GetOwnerModuleFromUdp6Entry")
)

// TCP_TABLE_CLASS, UDP_TABLE_CLASS and TCPIP_OWNER_MODULE_INFO_CLASS
// values (iprtrmib.h).
const (
	tcpTableOwnerModuleListener    = 6
	tcpTableOwnerModuleConnections = 7
	tcpTableOwnerModuleAll         = 8
	udpTableOwnerModule            = 2
	tcpipOwnerModuleInfoBasic      = 0
)

// maxTableCalls bounds the calls for one table: one to learn its size, one
// to fill it, and a few more should it grow between calls on a busy host,
// or fail for a moment.
const maxTableCalls = 5

// statusUnsuccessful is what GetExtendedTcpTable returns, now and then,
// under load (STATUS_UNSUCCESSFUL, 0xC0000001): calling again is enough,
// as psutil does (psutil issue 1294).
const statusUnsuccessful = 0xC0000001

// mibSource is one table to ask for: its layout, the function and
// arguments that return it, and the function that names the module
// behind one of its rows.
//
// The tables are the owner-module ones, not the smaller owner-PID ones
// psutil reads: only their rows hold the socket's creation time, which
// tells the process that created a socket from a younger one that took
// its PID after it exited.
type mibSource struct {
	layout *mibTable
	proc   *windows.LazyProc
	af     uint32
	owner  *windows.LazyProc
}

var mibSources = []mibSource{
	{&mibTCP4OwnerModule, procGetExtendedTCPTable, windows.AF_INET, procGetOwnerModuleFromTCPEntry},
	{&mibTCP6OwnerModule, procGetExtendedTCPTable, windows.AF_INET6, procGetOwnerModuleFromTCP6Entry},
	{&mibUDP4OwnerModule, procGetExtendedUDPTable, windows.AF_INET, procGetOwnerModuleFromUDPEntry},
	{&mibUDP6OwnerModule, procGetExtendedUDPTable, windows.AF_INET6, procGetOwnerModuleFromUDP6Entry},
}

// class picks the table class that holds the states a filter keeps, so
// that `portinspect list -l` does not copy every connection out of the
// kernel. ok is false when no state is wanted.
func (m mibSource) class(states States) (class uint32, ok bool) {
	if m.layout.proto == UDP {
		return udpTableOwnerModule, states.Has(Unconnected)
	}
	listen := states.Has(Listen)
	others := states&^(1<<Listen|1<<Unconnected|1<<StateUnknown) != 0
	switch {
	case listen && others:
		return tcpTableOwnerModuleAll, true
	case listen:
		return tcpTableOwnerModuleListener, true
	case others:
		return tcpTableOwnerModuleConnections, true
	}
	return 0, false
}

// call returns the table of the given class. The table's size is learnt
// by a first call; if it grows before the second, the function says
// ERROR_INSUFFICIENT_BUFFER with the new size, and the call is made again,
// a bounded number of times.
func (m mibSource) call(class uint32) ([]byte, error) {
	what := fmt.Sprintf("%s (%s, class %d)", m.proc.Name, m.layout.family, class)
	if err := m.proc.Find(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// []uint64: the owner-module rows hold 8-byte fields.
	var buf []uint64
	var size uint32
	for range maxTableCalls {
		var p unsafe.Pointer
		if len(buf) > 0 {
			p = unsafe.Pointer(&buf[0])
		}
		// bOrder FALSE: sorting costs the system time, and callers sort.
		r, _, _ := m.proc.Call(uintptr(p), uintptr(unsafe.Pointer(&size)), 0, uintptr(m.af), uintptr(class), 0)
		switch err := syscall.Errno(r); err {
		case 0:
			if p == nil {
				return nil, fmt.Errorf("%s: no table returned", what)
			}
			return unsafe.Slice((*byte)(p), len(buf)*8), nil
		case statusUnsuccessful:
			continue
		case windows.ERROR_INSUFFICIENT_BUFFER:
			have := uint64(len(buf)) * 8
			if uint64(size) <= have {
				return nil, fmt.Errorf("%s: %w with a buffer of the %d bytes it asked for", what, err, have)
			}
			// An eighth more leaves room for the rows that appear before
			// the next call.
			grow := min(uint64(size)+uint64(size)/8, math.MaxUint32-7)
			buf = make([]uint64, (grow+7)/8)
			size = uint32(len(buf) * 8)
		default:
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil, fmt.Errorf("%s: the table kept growing, or failing, over %d calls", what, maxTableCalls)
}

// socketModule names the module that opened s, from the owner-module
// row Sockets kept. Windows records, for a socket opened by a service
// inside a shared svchost.exe, the service's tag, and
// GetOwnerModuleFrom*Entry (the documented call netstat -b makes) turns
// that into the service's name; for other sockets it names the
// executable or DLL. ok is false where the system has no such function
// (Wine). *bufp is the buffer to use, grown when Windows asks for more.
func socketModule(s *Socket, bufp *[]uint64) (name string, ok bool) {
	for _, src := range mibSources {
		if src.layout.proto != s.Protocol || src.layout.family != s.Family {
			continue
		}
		if src.owner.Find() != nil || s.mibRow == nil {
			return "", false
		}
		name, _ = ownerModule(src.owner, s.mibRow, bufp)
		return name, true
	}
	return "", false
}

// tcpipOwnerModuleBasicInfo is TCPIP_OWNER_MODULE_BASIC_INFO; the strings
// it points to follow it in the same buffer.
type tcpipOwnerModuleBasicInfo struct {
	moduleName *uint16
	modulePath *uint16
}

// ownerModule calls a GetOwnerModuleFrom*Entry function, which the caller
// has found, for one row of an owner-module table and returns the module's
// name. *bufp is the buffer to use, grown when Windows asks for more.
func ownerModule(proc *windows.LazyProc, row []byte, bufp *[]uint64) (string, error) {
	buf := *bufp
	for range 3 {
		size := uint32(len(buf) * 8)
		r, _, _ := proc.Call(uintptr(unsafe.Pointer(&row[0])), tcpipOwnerModuleInfoBasic,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)))
		switch err := syscall.Errno(r); err {
		case 0:
			info := (*tcpipOwnerModuleBasicInfo)(unsafe.Pointer(&buf[0]))
			name := ""
			if info.moduleName != nil {
				name = windows.UTF16PtrToString(info.moduleName)
			}
			runtime.KeepAlive(buf)
			return name, nil
		case statusUnsuccessful:
			continue
		case windows.ERROR_INSUFFICIENT_BUFFER:
			if uint64(size) <= uint64(len(buf))*8 {
				return "", fmt.Errorf("%s: %w", proc.Name, err)
			}
			buf = make([]uint64, (uint64(size)+7)/8)
			*bufp = buf
		default:
			return "", fmt.Errorf("%s: %w", proc.Name, err)
		}
	}
	return "", fmt.Errorf("%s: %w", proc.Name, windows.ERROR_INSUFFICIENT_BUFFER)
}
