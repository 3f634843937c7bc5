package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ctsec/ctsec/history"
	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/systemd"
)

// ApplyOptions are what install and remove need beyond the plan.
type ApplyOptions struct {
	Store  *safefile.Store
	Runner execx.Runner
	// Command names the change in the journal ("schedule install").
	Command string
	Log     io.Writer
}

// Result is what apply did.
type Result struct {
	Change string   `json:"change,omitempty"`
	Live   []string `json:"live"`
}

func (o *ApplyOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Apply makes the plan so. Installed units are checked with
// systemd-analyze verify before anything is written (in a directory of the
// state directory, so the real files are only replaced by units systemd
// accepts); every file is kept in a journal change first; timers are
// disabled before their files go and enabled once they are there.
func Apply(ctx context.Context, p *Plan, o ApplyOptions) (*Result, error) {
	res := &Result{Live: []string{}}
	if !p.Changed() {
		return res, nil
	}
	if !p.Remove {
		if err := stageAndVerify(ctx, p, o); err != nil {
			return res, err
		}
	}
	root := rootfs.New(p.Root)
	change, err := o.Store.NewChange(o.Command)
	if err != nil {
		return res, err
	}
	res.Change = change.ID()
	for _, f := range p.Files {
		if f.Diff == "" {
			continue
		}
		if err := change.SaveIn(root, f.Path); err != nil {
			return res, fmt.Errorf("keeping %s: %w (nothing changed)", root.Join(f.Path), err)
		}
	}
	liveRoot := ""
	if !root.IsHost() {
		liveRoot = root.Dir()
	}
	data, _ := json.Marshal(history.SystemdLive{Root: liveRoot})
	if p.Remove {
		for _, t := range p.Timers {
			if !present(p, t) {
				continue
			}
			if err := systemd.Systemctl(ctx, o.Runner, p.Root, "disable", "--now", t); err != nil {
				return res, fmt.Errorf("%w (nothing removed)", err)
			}
			change.AddLive(safefile.Live{Kind: history.LiveSystemd, Target: t, Action: "disabled", Data: data})
			res.Live = append(res.Live, "disabled "+t)
		}
	}
	if _, err := root.MkdirAll(UnitDir, 0o755); err != nil {
		return res, err
	}
	for _, f := range p.Files {
		if f.Diff == "" {
			continue
		}
		o.logf("%s %s", map[bool]string{true: "removing", false: "writing"}[f.Remove], root.Join(f.Path))
		if f.Remove {
			err = root.Remove(f.Path)
		} else {
			err = root.WriteFile(f.Path, f.data, 0o644, rootfs.Reset)
		}
		if err != nil {
			o.Store.Restore(change.ID())
			return res, fmt.Errorf("writing %s: %w (every unit file was put back)", root.Join(f.Path), err)
		}
	}
	if !p.Remove {
		if err := systemd.Systemctl(ctx, o.Runner, p.Root, "daemon-reload"); err != nil {
			return res, err
		}
		for _, t := range p.Timers {
			if err := systemd.Systemctl(ctx, o.Runner, p.Root, "enable", "--now", t); err != nil {
				return res, fmt.Errorf("%w (the units are written; ctsec rollback %s removes them)", err, change.ID())
			}
			change.AddLive(safefile.Live{Kind: history.LiveSystemd, Target: t, Action: "enabled", Data: data})
			res.Live = append(res.Live, "enabled "+t)
		}
	} else if err := systemd.Systemctl(ctx, o.Runner, p.Root, "daemon-reload"); err != nil {
		return res, err
	}
	return res, change.Finish()
}

// present says whether the plan removes a unit file of timer t (so it
// exists and is worth disabling).
func present(p *Plan, timer string) bool {
	for _, f := range p.Files {
		if f.Unit == timer && f.Exists {
			return true
		}
	}
	return false
}

// stageAndVerify writes the units into a private directory of the state
// directory and runs systemd-analyze verify on them.
func stageAndVerify(ctx context.Context, p *Plan, o ApplyOptions) error {
	base := filepath.Join(o.Store.Dir, "schedule")
	if err := safefile.MakeStateDir(base); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(base, "verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var paths []string
	for _, f := range p.Files {
		if f.Remove {
			continue
		}
		pth := filepath.Join(dir, f.Unit)
		if err := os.WriteFile(pth, f.data, 0o644); err != nil {
			return err
		}
		paths = append(paths, pth)
	}
	o.logf("systemd-analyze verify %d units", len(paths))
	return Verify(ctx, o.Runner, paths)
}
