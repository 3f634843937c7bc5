package history

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/systemd"
)

// Kinds of live state a change records (safefile.Live.Kind).
const (
	LiveAppArmor  = "apparmor"  // a profile loaded or its mode changed; Target the profile
	LiveHost      = "host"      // a host module activated or reverted; Target the module
	LiveContainer = "container" // a container restarted or reloaded; Data ContainerLive
	LiveSystemd   = "systemd"   // a unit enabled or disabled; Target the unit, Data SystemdLive
)

// ContainerLive is what a change did to a container, so a rollback can do
// it again once the files are back: restart it, or run Reload in it.
type ContainerLive struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Reload []string `json:"reload,omitempty"`
}

// SystemdLive is a unit a change enabled (or disabled) under Root ("" is
// this machine).
type SystemdLive struct {
	Root string `json:"root,omitempty"`
}

// liveWork is what a rollback does to the running system after (and, for
// what it removes, before) putting the files back.
type liveWork struct {
	// profiles are AppArmor profile files on this machine a change
	// loaded: reloaded when restored, unloaded before removal.
	profiles []PlannedFile
	// containers are restarted or reloaded once their files are back.
	containers []ContainerLive
	// units are systemd units enabled again when their file is back,
	// disabled first when it goes.
	units []unitWork
	// hostChanges are host applies the host engine rolls back itself.
	hostChanges []string
}

type unitWork struct {
	name string
	root string
	file PlannedFile
	has  bool // a file of the plan is the unit's
}

// planLive works out the live steps of undoing the changes in es and
// describes them in p.Live.
func planLive(p *Plan, es []Entry) *liveWork {
	w := &liveWork{}
	files := map[string]PlannedFile{}
	for _, f := range p.Files {
		files[fileKey(f.rec)] = f
	}
	byID := map[string]Entry{}
	for _, e := range p.entries {
		byID[e.ID] = e
	}
	seenProfile := map[string]bool{}
	seenUnit := map[string]bool{}
	seenContainer := map[string]bool{}
	for _, e := range es {
		for _, c := range p.Changes {
			if c.ID == e.ID && c.Action == ActHostRollback {
				w.hostChanges = append(w.hostChanges, e.ID)
			}
		}
		// A rollback's own files are those of the change it undid, and so
		// is what the running system does with them.
		origin := e
		for range len(byID) {
			o, ok := byID[origin.Undoes]
			if origin.Undoes == "" || !ok {
				break
			}
			origin = o
		}
		if loadsProfiles(origin) {
			for _, r := range e.Files {
				if f, ok := files[fileKey(r)]; ok && r.Root == "" && !seenProfile[fileKey(r)] {
					seenProfile[fileKey(r)] = true
					w.profiles = append(w.profiles, f)
				}
			}
		}
		for _, l := range origin.Live {
			switch l.Kind {
			case LiveContainer:
				var c ContainerLive
				if json.Unmarshal(l.Data, &c) == nil && c.ID != "" && !seenContainer[c.ID] {
					seenContainer[c.ID] = true
					w.containers = append(w.containers, c)
				}
			case LiveSystemd:
				var s SystemdLive
				json.Unmarshal(l.Data, &s)
				k := s.Root + "\x00" + l.Target
				if seenUnit[k] || !safeUnitName(l.Target) {
					continue
				}
				seenUnit[k] = true
				u := unitWork{name: l.Target, root: s.Root}
				for _, f := range p.Files {
					if f.Root == s.Root && path.Base(f.Path) == l.Target {
						u.file, u.has = f, true
					}
				}
				w.units = append(w.units, u)
			}
		}
	}
	for _, id := range w.hostChanges {
		p.Live = append(p.Live, fmt.Sprintf("host change %s: the host engine restores its files and reverts each module's live state (%s)", id, hostModules(byID[id])))
	}
	for _, u := range w.units {
		if u.has && u.file.Action == FileRemove {
			p.Live = append(p.Live, "systemctl "+rootFlag(u.root)+"disable --now "+u.name+" (before its file is removed)")
		}
	}
	for _, f := range w.profiles {
		if f.Action == FileRemove {
			p.Live = append(p.Live, "apparmor_parser -R "+f.Path+" (unload its profiles before the file is removed)")
		}
	}
	if len(w.units) > 0 {
		roots := map[string]bool{}
		for _, u := range w.units {
			if !roots[u.root] && systemd.Live(u.root) {
				roots[u.root] = true
				p.Live = append(p.Live, "systemctl daemon-reload")
			}
		}
		for _, u := range w.units {
			if !u.has || u.file.Action != FileRemove {
				p.Live = append(p.Live, "systemctl "+rootFlag(u.root)+"enable --now "+u.name)
			}
		}
	}
	for _, f := range w.profiles {
		if f.Action != FileRemove {
			p.Live = append(p.Live, "apparmor_parser -r -W "+f.Path+" (the kernel enforces the restored policy)")
		}
	}
	for _, c := range w.containers {
		if len(c.Reload) > 0 {
			p.Live = append(p.Live, fmt.Sprintf("run %q in container %s", strings.Join(c.Reload, " "), c.Name))
		} else {
			p.Live = append(p.Live, "restart container "+c.Name)
		}
	}
	return w
}

// loadsProfiles says whether a change put profiles into the kernel, so
// undoing it must take the kernel back too.
func loadsProfiles(e Entry) bool {
	for _, l := range e.Live {
		if l.Kind == LiveAppArmor {
			return true
		}
	}
	f := strings.Fields(e.Command)
	return len(f) >= 2 && f[0] == "apparmor" && slices.Contains([]string{"load", "promote", "demote"}, f[1])
}

func rootFlag(root string) string {
	if root == "" || root == "/" {
		return ""
	}
	return "--root " + root + " "
}

// safeUnitName admits only the unit names ctsec writes: a forged or
// damaged journal cannot make a rollback start arbitrary units.
func safeUnitName(n string) bool {
	if !strings.HasPrefix(n, "ctsec-") || !(strings.HasSuffix(n, ".timer") || strings.HasSuffix(n, ".service")) {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// before runs the steps that need a file still there: units disabled and
// profiles unloaded before their files are removed.
func (w *liveWork) before(ctx context.Context, o *Options, done *[]string) error {
	for _, u := range w.units {
		if u.has && u.file.Action == FileRemove {
			if err := o.systemctl(ctx, u.root, "disable", "--now", u.name); err != nil {
				return err
			}
			*done = append(*done, "disabled "+u.name)
		}
	}
	if live, why := apparmor.LiveKernel(ctx, "/"); len(w.profiles) > 0 && !live {
		*done = append(*done, "AppArmor profiles not unloaded or reloaded: "+why)
		return nil
	}
	for _, f := range w.profiles {
		if f.Action == FileRemove {
			if err := apparmor.KernelUnload(ctx, o.Runner, f.Path); err != nil {
				return fmt.Errorf("unloading the profiles of %s: %w", f.Path, err)
			}
			*done = append(*done, "unloaded the profiles of "+f.Path)
		}
	}
	return nil
}

// after makes the running system use the files as the rollback left them.
func (w *liveWork) after(ctx context.Context, o *Options, done *[]string) error {
	var errs []string
	if len(w.units) > 0 {
		roots := map[string]bool{}
		for _, u := range w.units {
			if roots[u.root] {
				continue
			}
			roots[u.root] = true
			if err := o.systemctl(ctx, u.root, "daemon-reload"); err != nil {
				errs = append(errs, err.Error())
			}
		}
		for _, u := range w.units {
			if u.has && u.file.Action == FileRemove {
				continue
			}
			if err := o.systemctl(ctx, u.root, "enable", "--now", u.name); err != nil {
				errs = append(errs, err.Error())
				continue
			}
			*done = append(*done, "enabled "+u.name)
		}
	}
	if live, _ := apparmor.LiveKernel(ctx, "/"); live {
		for _, f := range w.profiles {
			if f.Action == FileRemove {
				continue
			}
			if err := apparmor.KernelReload(ctx, o.Runner, f.Path); err != nil {
				errs = append(errs, fmt.Sprintf("reloading %s: %v", f.Path, err))
				continue
			}
			*done = append(*done, "reloaded "+f.Path)
		}
	}
	for _, c := range w.containers {
		msg, err := o.container(ctx, c)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		*done = append(*done, msg)
	}
	if len(errs) > 0 {
		return fmt.Errorf("the files are back, but the running system could not be brought in line: %s", strings.Join(errs, "; "))
	}
	return nil
}

// records are the live steps as journal records of the rollback change.
func (w *liveWork) records() []safefile.Live {
	var out []safefile.Live
	for _, f := range w.profiles {
		out = append(out, safefile.Live{Kind: LiveAppArmor, Target: f.Path, Action: "reloaded from the restored file"})
	}
	for _, c := range w.containers {
		data, _ := json.Marshal(c)
		act := "restarted"
		if len(c.Reload) > 0 {
			act = "reloaded"
		}
		out = append(out, safefile.Live{Kind: LiveContainer, Target: c.Name, Action: act, Data: data})
	}
	for _, u := range w.units {
		data, _ := json.Marshal(SystemdLive{Root: u.root})
		act := "enabled"
		if u.has && u.file.Action == FileRemove {
			act = "disabled"
		}
		out = append(out, safefile.Live{Kind: LiveSystemd, Target: u.name, Action: act, Data: data})
	}
	return out
}
