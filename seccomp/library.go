package seccomp

// #cgo pkg-config: libseccomp
// #include <seccomp.h>
import "C"

import (
	"fmt"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Library is the libseccomp ctsec was built against and the one running:
// they differ when the shared library was upgraded (or downgraded) after
// the build, which changes which syscall names resolve.
type Library struct {
	Linked  string `json:"linked"`  // the headers' version at build time
	Running string `json:"running"` // what the loaded library reports
}

// LibraryVersions reports both versions.
func LibraryVersions() Library {
	maj, min, micro := libseccomp.GetLibraryVersion()
	return Library{
		Linked:  fmt.Sprintf("%d.%d.%d", C.SCMP_VER_MAJOR, C.SCMP_VER_MINOR, C.SCMP_VER_MICRO),
		Running: fmt.Sprintf("%d.%d.%d", maj, min, micro),
	}
}
