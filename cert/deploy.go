package cert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ctsec/ctsec/history"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
)

// DeployOptions are what deploy needs beyond the plan.
type DeployOptions struct {
	Store  *safefile.Store
	Docker *engine.Client
	// Command is the journal's name for the change ("tls deploy pg").
	Command string
	// VerifyWithin bounds the wait for the service to present the new
	// certificate (default 60 s).
	VerifyWithin time.Duration
	Log          io.Writer
	Clock        clock.Clock
}

// Result is what deploy did.
type Result struct {
	// Change is the journal entry ("" when nothing needed doing).
	Change    string    `json:"change,omitempty"`
	Written   bool      `json:"written"`
	Activated string    `json:"activated,omitempty"` // "restart" or the reload command run
	Presented Presented `json:"presented"`
	// RolledBack: verification failed and the previous files were put back.
	RolledBack bool `json:"rolled_back,omitempty"`
}

func (o *DeployOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Deploy carries out a plan: the files as they are kept in the journal,
// the new ones written atomically inside the mount with their owner and
// mode, the service reloaded (or the container restarted), then the
// service asked over TLS; if it does not present the new certificate, the
// previous files are put back and the service reloaded again.
func Deploy(ctx context.Context, pl *Plan, o DeployOptions) (*Result, error) {
	if o.VerifyWithin <= 0 {
		o.VerifyWithin = 60 * time.Second
	}
	res := &Result{}
	want := pl.Pair.SHA256
	sni := pl.target.ServerName
	if sni == "" && len(pl.Pair.DNSNames) > 0 {
		sni = pl.Pair.DNSNames[0]
	}
	if !pl.Changed {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		got, err := Probe(pctx, pl.Verify, pl.StartTLS, sni)
		cancel()
		if err == nil && got.SHA256 == want {
			res.Presented = got
			return res, nil
		}
		o.logf("the files are current but the service does not present them: activating")
	}
	root := rootfs.New(pl.Mount)
	change, err := o.Store.NewChange(o.Command)
	if err != nil {
		return res, err
	}
	res.Change = change.ID()
	change.SetNote(pl.Pair.Subject + " into " + pl.Container)
	for _, f := range pl.Files {
		if err := change.SaveIn(root, f.rel); err != nil {
			return res, fmt.Errorf("keeping %s before replacing it: %w (nothing changed)", f.HostPath, err)
		}
	}
	live := history.ContainerLive{ID: pl.ContainerID, Name: pl.Container, Reload: pl.target.Reload}
	data, _ := json.Marshal(live)
	action := "restarted"
	if len(live.Reload) > 0 {
		action = "reloaded with " + strings.Join(live.Reload, " ")
	}
	if err := change.AddLive(safefile.Live{Kind: history.LiveContainer, Target: pl.Container, Action: action, Data: data}); err != nil {
		return res, err
	}
	if pl.Changed {
		for _, f := range pl.Files {
			if !f.Changed {
				continue
			}
			o.logf("writing %s (mode %04o, owner %d:%d)", f.HostPath, f.perm, f.UID, f.GID)
			if err := root.WriteFile(f.rel, f.data, f.perm, rootfs.Owner(f.UID, f.GID)); err != nil {
				o.Store.Restore(change.ID())
				return res, fmt.Errorf("writing %s: %w (the previous files were put back)", f.HostPath, err)
			}
		}
		res.Written = true
	}
	if err := activate(ctx, o.Docker, pl); err != nil {
		return res, undo(ctx, o, pl, res, fmt.Errorf("activating: %w", err))
	}
	res.Activated = pl.Activate
	// A restart may give an ephemeral published port a new number.
	addr, err := currentAddr(ctx, o.Docker, pl)
	if err != nil {
		return res, undo(ctx, o, pl, res, err)
	}
	got, err := WaitFor(ctx, addr, pl.StartTLS, sni, want, o.VerifyWithin)
	res.Presented = got
	if err != nil {
		return res, undo(ctx, o, pl, res, fmt.Errorf("verifying: %w", err))
	}
	return res, change.Finish()
}

// currentAddr is where the service answers now.
func currentAddr(ctx context.Context, docker *engine.Client, pl *Plan) (string, error) {
	if pl.target.Verify != "" {
		return pl.target.Verify, nil
	}
	res, err := docker.ContainerInspect(ctx, pl.ContainerID)
	if err != nil {
		return "", fmt.Errorf("inspecting container %s: %w", pl.Container, err)
	}
	return verifyAddr(res, pl.target)
}

// activate makes the service read the files: the reload command in the
// container, or a restart.
func activate(ctx context.Context, docker *engine.Client, pl *Plan) error {
	if len(pl.target.Reload) == 0 {
		return engine.Restart(ctx, docker, pl.ContainerID)
	}
	code, out, err := engine.Exec(ctx, docker, pl.ContainerID, pl.target.Reload)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%q exited %d: %s", strings.Join(pl.target.Reload, " "), code, firstLine(out))
	}
	return nil
}

// undo puts the previous files back after a failed activation or
// verification and makes the service read them again.
func undo(ctx context.Context, o DeployOptions, pl *Plan, res *Result, cause error) error {
	if !res.Written {
		return cause
	}
	if _, err := o.Store.Restore(res.Change); err != nil {
		return fmt.Errorf("%w; PUTTING THE PREVIOUS FILES BACK FAILED: %v (they are in change %s)", cause, err, res.Change)
	}
	o.Store.MarkRolledBack(res.Change, safefile.RolledBack{Time: clock.Or(o.Clock).Now(), Reason: "automatic: " + cause.Error()})
	res.RolledBack, res.Written = true, false
	if err := activate(ctx, o.Docker, pl); err != nil {
		return fmt.Errorf("%w; the previous files were put back, but reloading the service failed: %v", cause, err)
	}
	return fmt.Errorf("%w; the previous certificate and key were put back and the service reloaded", cause)
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
