package main

import (
	"sync"

	"golang.org/x/sys/windows"
)

// underWine reports whether this Windows test binary runs under Wine,
// whose limits some tests must step around: os.RemoveAll fails there with
// ERROR_INVALID_FUNCTION.
var underWine = sync.OnceValue(func() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
})
