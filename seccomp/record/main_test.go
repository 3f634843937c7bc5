package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"testing"

	ctseccomp "github.com/ctsec/ctsec/seccomp"
	"github.com/moby/profiles/seccomp"
)

// The test binary doubles as the recording shim, as a helper that runs a
// command under a profile (in place, so a test can start it and wait), and
// as a small Go HTTP server to record.
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

// applyAndExec compiles a profile as runc does and execs args under it,
// through the same loader as ctsec seccomp exec.
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
	return ctseccomp.ExecHere(c, args, os.Environ())
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
