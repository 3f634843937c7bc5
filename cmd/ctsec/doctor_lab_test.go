//go:build lab

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// TestLabDoctor: in the lab guest, doctor finds AppArmor in the kernel and
// systemd as init, and the engine; the ctsec on the guest's PATH is the
// lean build installed as scripts/install.sh does, and finds ctsec-compose.
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
	if c := composeDoctorCheck(t, testenv.Tool(t, "ctsec")); !c.OK || !strings.HasPrefix(c.Detail, "run through ") {
		t.Errorf("the guest's ctsec: want the lean build beside ctsec-compose, got %+v", c)
	}
}
