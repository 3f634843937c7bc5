// Command ctsec hardens Docker hosts: seccomp and AppArmor profiles, Compose
// and Portainer stacks, the CIS Docker Benchmark, and the host itself.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctsec/ctsec/internal/clock"
	// the program's code and tables mapped in one call before it starts
	_ "github.com/ctsec/ctsec/internal/prefault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, clock: clock.System{}, exit: os.Exit, lookupEnv: os.LookupEnv}
	code := runApp(ctx, a, os.Args[1:])
	stop()
	os.Exit(code)
}
