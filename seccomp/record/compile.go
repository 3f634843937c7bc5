package record

import (
	"encoding/json"
	"fmt"

	"github.com/ctsec/ctsec/internal/report"
	ctseccomp "github.com/ctsec/ctsec/seccomp"
	"github.com/moby/profiles/seccomp"
)

// compile runs a profile this package built through ctsec's strict loader
// and compiles it the way runc does, for Docker's default capabilities on
// this host.
func compile(p *seccomp.Seccomp) (*ctseccomp.Compiled, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	prof, findings, err := ctseccomp.Parse("recorded profile", data)
	if err != nil {
		return nil, err
	}
	for _, f := range findings {
		if f.Severity >= report.High {
			return nil, fmt.Errorf("%s: %s", f.Rule, f.Message)
		}
	}
	c, err := prof.Resolve(ctseccomp.DefaultTarget()).Compile()
	if err != nil {
		return nil, err
	}
	if c.Instructions > ctseccomp.MaxInstructions {
		return nil, fmt.Errorf("%d BPF instructions, more than the kernel's %d", c.Instructions, ctseccomp.MaxInstructions)
	}
	return c, nil
}

// verify proves a profile loads and compiles before it is written.
func verify(p *seccomp.Seccomp) error {
	_, err := compile(p)
	return err
}
