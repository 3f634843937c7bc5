// Command ctsec hardens Docker hosts: seccomp and AppArmor profiles, Compose
// and Portainer stacks, the CIS Docker Benchmark, and the host itself.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctsec/ctsec/internal/clock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, clock.System{}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
