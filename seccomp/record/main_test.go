package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/profiles/seccomp"
	libseccomp "github.com/seccomp/libseccomp-golang"
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

// applyAndExec loads a Docker-format profile the simple way a recorded one
// needs (default action, ALLOW and ERRNO rules without arguments) and execs.
func applyAndExec(profilePath string, args []string) error {
	data, err := os.ReadFile(profilePath)
	if err != nil {
		return err
	}
	var p seccomp.Seccomp
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	errno := int16(1)
	if p.DefaultErrnoRet != nil {
		errno = int16(*p.DefaultErrnoRet)
	}
	filter, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(errno))
	if err != nil {
		return err
	}
	for _, a := range p.Architectures {
		name := strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		name = strings.NewReplacer("x86_64", "amd64", "aarch64", "arm64").Replace(name)
		arch, err := libseccomp.GetArchFromString(name)
		if err != nil {
			return err
		}
		if err := filter.AddArch(arch); err != nil {
			return err
		}
	}
	for _, rule := range p.Syscalls {
		act := libseccomp.ActAllow
		if rule.Action == "SCMP_ACT_ERRNO" {
			ret := int16(1)
			if rule.ErrnoRet != nil {
				ret = int16(*rule.ErrnoRet)
			}
			act = libseccomp.ActErrno.SetReturnCode(ret)
		}
		for _, name := range rule.Names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // as runc does
			}
			if err := filter.AddRule(nr, act); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if err := filter.SetNoNewPrivsBit(os.Geteuid() != 0); err != nil {
		return err
	}
	runtime.LockOSThread()
	if err := filter.Load(); err != nil {
		return err
	}
	return syscall.Exec(args[0], args, os.Environ())
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
