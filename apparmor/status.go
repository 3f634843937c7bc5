package apparmor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
)

// ProfileDir is where ctsec installs container profiles, relative to the
// root. Files there are loaded with apparmor_parser -r -W, which also
// writes the cache so they come back after an AppArmor reload.
const ProfileDir = "etc/apparmor.d/containers"

// securityfsProfiles lists loaded profiles as `name (mode)` lines.
const securityfsProfiles = "sys/kernel/security/apparmor/profiles"

// LoadedProfile is a profile in the kernel.
type LoadedProfile struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
}

// ContainerProfile is the profile a container runs under.
type ContainerProfile struct {
	Container string `json:"container"`
	ID        string `json:"id"`
	State     string `json:"state"`
	Profile   string `json:"profile"`             // what the engine reports (empty without AppArmor)
	Requested string `json:"requested,omitempty"` // from security_opt apparmor=…
	Loaded    bool   `json:"loaded"`
}

// DiskProfile is a profile file in the profile directory.
type DiskProfile struct {
	File    string   `json:"file"`
	Names   []string `json:"names"`
	Mode    string   `json:"mode,omitempty"` // as the file's flags say
	Loaded  bool     `json:"loaded"`
	Problem string   `json:"problem,omitempty"`
}

// Status is what `ctsec apparmor status` shows.
type Status struct {
	Root          string             `json:"root"`
	KernelEnabled bool               `json:"kernel_enabled"`
	SecurityFS    bool               `json:"securityfs"`
	Loaded        []LoadedProfile    `json:"loaded"`
	Containers    []ContainerProfile `json:"containers,omitempty"`
	DockerError   string             `json:"docker_error,omitempty"`
	OnDisk        []DiskProfile      `json:"on_disk"`
}

// ErrNoAppArmor means the kernel under root does not offer AppArmor.
var ErrNoAppArmor = errors.New("AppArmor is not enabled in this kernel")

// MaxSecurityFSSize bounds the profiles list read from securityfs.
const MaxSecurityFSSize = 16 << 20

// ReadLoaded parses ROOT/sys/kernel/security/apparmor/profiles.
func ReadLoaded(root string) ([]LoadedProfile, error) {
	f, err := os.Open(filepath.Join(root, securityfsProfiles))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLoaded(io.LimitReader(f, MaxSecurityFSSize))
}

// parseLoaded splits `name (mode)` lines at the last " (", as moby does,
// so names with spaces or parentheses survive.
func parseLoaded(r io.Reader) ([]LoadedProfile, error) {
	var out []LoadedProfile
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		p := LoadedProfile{Name: line}
		if strings.HasSuffix(line, ")") {
			if i := strings.LastIndex(line, " ("); i >= 0 {
				p.Name, p.Mode = line[:i], line[i+2:len(line)-1]
			}
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// ReadStatus gathers the kernel's profiles under root, the profiles of
// containers (when docker is not nil and answers) and the files in the
// profile directory that are not loaded.
func ReadStatus(ctx context.Context, root string, docker *engine.Client) (Status, error) {
	sup := DetectSupport(ctx, root)
	st := Status{Root: root, KernelEnabled: sup.KernelEnabled, SecurityFS: sup.SecurityFS, Loaded: []LoadedProfile{}, OnDisk: []DiskProfile{}}
	loaded := map[string]string{}
	if sup.SecurityFS {
		ps, err := ReadLoaded(root)
		if err != nil {
			return st, fmt.Errorf("reading loaded AppArmor profiles: %w", err)
		}
		st.Loaded = ps
		for _, p := range ps {
			loaded[p.Name] = p.Mode
		}
	}
	disk, err := readDisk(filepath.Join(root, ProfileDir), loaded)
	if err != nil {
		return st, err
	}
	st.OnDisk = disk
	if docker != nil {
		cs, err := containerProfiles(ctx, docker, loaded)
		if err != nil {
			st.DockerError = err.Error()
		}
		st.Containers = cs
	}
	return st, nil
}

// readDisk lists the profile files in dir with the profile names they define.
func readDisk(dir string, loaded map[string]string) ([]DiskProfile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []DiskProfile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading profile directory: %w", err)
	}
	out := []DiskProfile{}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), "~") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		d := DiskProfile{File: path, Names: []string{}}
		f, err := os.Open(path)
		if err != nil {
			d.Problem = err.Error()
			out = append(out, d)
			continue
		}
		ps, err := Parse(path, f)
		f.Close()
		if err != nil {
			d.Problem = err.Error()
		}
		d.Loaded = len(ps) > 0
		for _, p := range ps {
			d.Names = append(d.Names, p.Name)
			d.Mode = p.Mode()
			if _, ok := loaded[p.Name]; !ok {
				d.Loaded = false
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// Containers asks the engine which profile each container runs under (or
// asked for).
func Containers(ctx context.Context, docker *engine.Client) ([]ContainerProfile, error) {
	return containerProfiles(ctx, docker, nil)
}

// containerProfiles asks the engine which profile each container runs under.
func containerProfiles(ctx context.Context, docker *engine.Client, loaded map[string]string) ([]ContainerProfile, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	list, err := docker.ContainerList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := []ContainerProfile{}
	for _, c := range list {
		res, err := docker.ContainerInspect(ctx, c.ID)
		if engine.IsNotFound(err) {
			continue // removed since the list was taken
		}
		if err != nil {
			return out, fmt.Errorf("inspecting container %.12s: %w", c.ID, err)
		}
		ic := res
		cp := ContainerProfile{Container: strings.TrimPrefix(ic.Name, "/"), ID: c.ID, Profile: ic.AppArmorProfile}
		if ic.State != nil {
			cp.State = string(ic.State.Status)
		}
		if ic.HostConfig != nil {
			for _, o := range ic.HostConfig.SecurityOpt {
				if v, ok := strings.CutPrefix(o, "apparmor="); ok {
					cp.Requested = v
				} else if v, ok := strings.CutPrefix(o, "apparmor:"); ok {
					cp.Requested = v
				}
			}
		}
		name := cp.Profile
		if name == "" {
			name = cp.Requested
		}
		_, cp.Loaded = loaded[name]
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Container < out[j].Container })
	return out, nil
}

// MissingProfile reports a container that asks for a profile the kernel does
// not have: it fails to start ("apparmor failed to apply profile"). Docker
// loads docker-default itself on every start, and unconfined is no profile.
func (c ContainerProfile) MissingProfile() bool {
	name := c.Profile
	if name == "" {
		name = c.Requested
	}
	return !c.Loaded && name != "" && name != "unconfined" && name != "docker-default"
}

// Findings are what an operator has to act on: containers whose profile is
// not loaded (high: they cannot start), profile files that do not parse
// (medium) and profile files that are not loaded (low: an AppArmor reload
// or a reboot will not bring them back until they are).
func (st Status) Findings() []report.Finding {
	var out []report.Finding
	for _, c := range st.Containers {
		if c.MissingProfile() {
			name := c.Profile
			if name == "" {
				name = c.Requested
			}
			out = append(out, report.Finding{Rule: RuleContainerProfileNotLoaded, Severity: report.High, Target: c.Container,
				Message: fmt.Sprintf("container %s uses AppArmor profile %q, which is not loaded: it fails to start", c.Container, name),
				Fix:     "load the profile: ctsec apparmor load --write FILE (files under " + ProfileDir + " come back after a reload)"})
		}
	}
	for _, d := range st.OnDisk {
		switch {
		case d.Problem != "":
			out = append(out, report.Finding{Rule: RuleProfileUnreadable, Severity: report.Medium, File: d.File,
				Message: d.Problem, Fix: "fix the file: ctsec apparmor validate " + d.File})
		case !d.Loaded:
			out = append(out, report.Finding{Rule: RuleProfileNotLoaded, Severity: report.Low, File: d.File,
				Message: fmt.Sprintf("profile %s is on disk but not loaded", strings.Join(d.Names, ", ")),
				Fix:     "ctsec apparmor load --write " + d.File})
		}
	}
	return out
}
