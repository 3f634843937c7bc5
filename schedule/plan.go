package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ctsec/ctsec/internal/execx"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/ctsec/ctsec/internal/textdiff"
)

// File is one unit file install or remove changes.
type File struct {
	Path   string `json:"path"` // host path under the root
	Unit   string `json:"unit"`
	Job    string `json:"job"`
	Exists bool   `json:"exists"`
	Remove bool   `json:"remove,omitempty"`
	Diff   string `json:"diff"`

	data []byte
}

// Plan is what install or remove would do under a root.
type Plan struct {
	Root  string `json:"root"`
	Files []File `json:"files"`
	// Timers are the timers enabled (install) or disabled (remove).
	Timers []string `json:"timers"`
	Remove bool     `json:"remove,omitempty"`
}

// Changed reports whether any file changes.
func (p *Plan) Changed() bool {
	for _, f := range p.Files {
		if f.Diff != "" {
			return true
		}
	}
	return false
}

// maxUnit bounds a unit file read back.
const maxUnit = 1 << 20

// PlanInstall renders the units of jobs with settings (per job calendar in
// calendars) and compares them with what the root has.
func PlanInstall(root string, jobs []Job, s Settings, calendars map[string]string) (*Plan, error) {
	if !path.IsAbs(s.Self) {
		return nil, fmt.Errorf("the ctsec the services run must be an absolute path, not %q", s.Self)
	}
	if !path.IsAbs(s.StateDir) {
		return nil, fmt.Errorf("--state-dir must be an absolute path for a service, not %q", s.StateDir)
	}
	for _, tmp := range []string{"/tmp", "/var/tmp"} {
		if rootfs.New(root).IsHost() && (s.StateDir == tmp || strings.HasPrefix(s.StateDir, tmp+"/")) {
			return nil, fmt.Errorf("--state-dir %s is under %s, which the services' PrivateTmp hides from them: use a directory such as /var/lib/ctsec", s.StateDir, tmp)
		}
	}
	for what, v := range map[string]string{"the ctsec binary": s.Self, "--state-dir": s.StateDir, "--policy": s.Policy} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("%s %q holds a control character: it cannot go into a unit file", what, v)
		}
	}
	p := &Plan{Root: root}
	for _, j := range jobs {
		js := s
		if c := calendars[j.Name]; c != "" {
			js.Calendar = c
		}
		for _, kind := range []string{"service", "timer"} {
			data := j.ServiceUnit(js)
			if kind == "timer" {
				data = j.TimerUnit(js)
			}
			f, err := planFile(root, j, kind, data)
			if err != nil {
				return nil, err
			}
			p.Files = append(p.Files, f)
		}
		p.Timers = append(p.Timers, j.Unit("timer"))
	}
	return p, nil
}

// PlanRemove removes the units of jobs that are there.
func PlanRemove(root string, jobs []Job) (*Plan, error) {
	p := &Plan{Root: root, Remove: true}
	for _, j := range jobs {
		for _, kind := range []string{"timer", "service"} {
			f, err := planFile(root, j, kind, nil)
			if err != nil {
				return nil, err
			}
			if f.Exists {
				f.Remove = true
				p.Files = append(p.Files, f)
			}
		}
		p.Timers = append(p.Timers, j.Unit("timer"))
	}
	return p, nil
}

func planFile(root string, j Job, kind string, data []byte) (File, error) {
	unit := j.Unit(kind)
	f := File{Path: UnitDir + "/" + unit, Unit: unit, Job: j.Name, data: data}
	old, err := rootfs.New(root).ReadFile(f.Path, maxUnit)
	switch {
	case err == nil:
		f.Exists = true
	case errors.Is(err, fs.ErrNotExist):
	default:
		return f, fmt.Errorf("reading %s: %w", rootfs.New(root).Join(f.Path), err)
	}
	if f.Exists && data != nil && bytes.Equal(old, data) {
		return f, nil
	}
	from, to := f.Path, f.Path
	if !f.Exists {
		from = "/dev/null"
	}
	if data == nil {
		to = "/dev/null"
	}
	f.Diff = textdiff.Unified(from, to, old, data)
	return f, nil
}

// CheckCalendar asks systemd whether an OnCalendar expression is valid.
func CheckCalendar(ctx context.Context, r execx.Runner, expr string) error {
	res, err := r.Run(ctx, "systemd-analyze", "calendar", expr)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("OnCalendar %q: %s", expr, execx.FirstLine(res.Stderr))
	}
	return nil
}

// Verify runs systemd-analyze verify on the units as written in dir (host
// paths): any warning it prints about them is an error, since systemd
// ignores a setting it cannot parse and would run the service less
// hardened than written.
func Verify(ctx context.Context, r execx.Runner, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	res, err := r.Run(ctx, "systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...)
	if err != nil {
		return err
	}
	var problems []string
	for _, line := range strings.Split(string(res.Stderr), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		for _, p := range paths {
			if strings.Contains(line, path.Base(p)) {
				problems = append(problems, line)
				break
			}
		}
	}
	if res.ExitCode != 0 && len(problems) == 0 {
		problems = append(problems, execx.FirstLine(res.Stderr))
	}
	if len(problems) > 0 {
		return fmt.Errorf("systemd-analyze verify: %s", strings.Join(problems, "; "))
	}
	return nil
}
