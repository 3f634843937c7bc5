package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/moby/profiles/seccomp"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the recording shim, as a helper that runs a
// command under a profile (until `ctsec seccomp exec` is on main), and as a
// small Go HTTP server to record.
const (
	applyCommand  = "__apply-profile"
	serverCommand = "__http-server"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == ShimCommand {
		runtime.LockOSThread() // exec from the thread group leader
	}
}

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case ShimCommand:
			err := Shim(afterDashes(os.Args[2:]))
			fmt.Fprintln(os.Stderr, "shim:", err)
			os.Exit(127)
		case applyCommand:
			err := applyAndExec(os.Args[2], afterDashes(os.Args[3:]))
			fmt.Fprintln(os.Stderr, "apply:", err)
			os.Exit(126)
		case serverCommand:
			if err := serveHTTP(os.Args[2]); err != nil {
				fmt.Fprintln(os.Stderr, "server:", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

func afterDashes(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}

// applyAndExec compiles a profile as runc does and execs args under it. It
// loads the filter on its own thread only (see loadThreadOnly).
func applyAndExec(profilePath string, args []string) error {
	data, err := os.ReadFile(profilePath)
	if err != nil {
		return err
	}
	var p seccomp.Seccomp
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	c, err := compile(&p)
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	if err := loadThreadOnly(c.BPF); err != nil {
		return err
	}
	return syscall.Exec(args[0], args, os.Environ())
}

// loadThreadOnly loads a BPF filter on the calling thread only.
// libseccomp (and seccomp exec, like runc) synchronise all threads, which
// would put the helper's own Go runtime threads under the profile under test
// and can crash the helper before the exec; the exec'd command inherits the
// calling thread's filter.
func loadThreadOnly(prog []byte) error {
	if len(prog) == 0 || len(prog)%8 != 0 {
		return fmt.Errorf("exported BPF of %d bytes", len(prog))
	}
	if os.Geteuid() != 0 {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER): %w", errno)
	}
	return nil
}

// serveHTTP answers /hello until /quit, writing its address to addrFile.
func serveHTTP(addrFile string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(addrFile+".tmp", []byte(ln.Addr().String()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(addrFile+".tmp", addrFile); err != nil {
		return err
	}
	srv := &http.Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "bye")
		go srv.Close()
	})
	srv.Handler = mux
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
