//go:build lab

package main

import (
	"context"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// TestLabDoctor: in the lab guest, doctor finds AppArmor in the kernel and
// systemd as init, and the engine.
func TestLabDoctor(t *testing.T) {
	testenv.Lab(t)
	testenv.Docker(t)
	res := inspectHost(context.Background(), "/", "")
	checks := map[string]doctorCheck{}
	for _, c := range res.Checks {
		checks[c.Name] = c
	}
	for _, name := range []string{"AppArmor in the kernel", "systemd as init", "Docker engine", "seccomp user notification"} {
		c, ok := checks[name]
		if !ok || !c.OK {
			t.Errorf("doctor %q: %+v (present %v), want ok", name, c, ok)
		}
	}
}
