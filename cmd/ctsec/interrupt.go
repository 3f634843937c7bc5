package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// interruptGrace is how long a command may take to stop after SIGINT or
// SIGTERM before the process exits anyway: a parser deep in a large input
// does not look at its context, and the operator who pressed Ctrl-C should
// not wait for it. Nothing is half-written by exiting: files are replaced by
// rename, and a stale temporary file is removed by the next run.
const interruptGrace = 800 * time.Millisecond

// signalsHandled are the commands that change live state step by step
// (reload a profile, restart a service, push a stack) or forward the signal
// to what they run: they see the cancelled context and finish or undo the
// step themselves, so they are never cut short.
var signalsHandled = map[string]bool{
	"ctsec profile record":   true,
	"ctsec __record-shim":    true,
	"ctsec seccomp exec":     true,
	"ctsec host apply":       true,
	"ctsec host rollback":    true,
	"ctsec host confirm":     true,
	"ctsec apparmor load":    true,
	"ctsec apparmor promote": true,
	"ctsec apparmor demote":  true,
	"ctsec portainer push":   true,
	"ctsec portainer harden": true,
	"ctsec rollback":         true,
	"ctsec tls deploy":       true,
	"ctsec schedule install": true,
	"ctsec schedule remove":  true,
	"ctsec schedule run":     true,
}

// interrupt is the watchdog's state: commands outside signalsHandled that
// still have a step which must not be cut (containers of a trial run to
// remove) hold it with critical while they do.
type interrupt struct {
	mu   sync.Mutex
	held int
	free *sync.Cond
}

// critical marks a step that a signal must not cut short; the returned
// function ends it. Exiting waits for every held step to end.
func (a *app) critical() (release func()) {
	in := &a.interrupt
	in.mu.Lock()
	in.held++
	in.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			in.mu.Lock()
			in.held--
			if in.free != nil {
				in.free.Broadcast()
			}
			in.mu.Unlock()
		})
	}
}

// armInterrupt makes the process exit shortly after ctx is cancelled by a
// signal, unless cmd handles signals itself. exit is nil in tests, which
// run commands in-process with contexts no signal cancels.
func (a *app) armInterrupt(ctx context.Context, cmd *cobra.Command) {
	if a.exit == nil || signalsHandled[cmd.CommandPath()] {
		return
	}
	go func() {
		<-ctx.Done()
		time.Sleep(interruptGrace)
		in := &a.interrupt
		in.mu.Lock()
		if in.free == nil {
			in.free = sync.NewCond(&in.mu)
		}
		for in.held > 0 {
			in.free.Wait()
		}
		in.mu.Unlock()
		fmt.Fprintln(a.stderr, "ctsec: interrupted")
		a.exit(exitInterrupted)
	}()
}
