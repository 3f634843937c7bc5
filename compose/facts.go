package compose

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Facts are what harden knows about the services beyond the file itself.
// They are gathered before planning — the only step that reads other files
// — so the plan is a pure function of the file and the facts.
type Facts struct {
	Services map[string]ServiceFacts
}

// ServiceFacts are the facts about one service.
type ServiceFacts struct {
	// Seccomp is how the file should reference the service's seccomp
	// profile found under Options.ProfilesDir, "" when there is none.
	Seccomp string
	// AppArmor is the name of the service's AppArmor profile found there.
	AppArmor string
}

func (f *Facts) service(name string) ServiceFacts {
	if f == nil {
		return ServiceFacts{}
	}
	return f.Services[name]
}

// gatherFacts finds what the options point to for every service.
func gatherFacts(d *Document, o Options) *Facts {
	f := &Facts{Services: map[string]ServiceFacts{}}
	if o.ProfilesDir == "" {
		return f
	}
	for _, s := range d.Services() {
		f.Services[s.Name] = ServiceFacts{
			Seccomp:  findProfile(d, o.ProfilesDir, o.Pending, SeccompProfileNames(s.Name)...),
			AppArmor: findAppArmor(o.ProfilesDir, s.Name),
		}
	}
	return f
}

var apparmorName = regexp.MustCompile(`(?m)^\s*profile\s+([A-Za-z0-9_.-]+)[\s{]`)

// findProfile returns how the file should reference a seccomp profile found
// under dir: relative to the compose file's directory when inside it.
func findProfile(d *Document, dir string, pending map[string]bool, names ...string) string {
	for _, n := range names {
		p := filepath.Join(dir, n)
		abs, _ := filepath.Abs(p)
		if st, err := os.Stat(p); (err == nil && st.Mode().IsRegular()) || pending[abs] {
			// A file that is not on disk here (a Portainer stack) gets the
			// absolute path, which must then exist on the Docker host.
			if _, err := os.Stat(d.Name); err != nil {
				return abs
			}
			base, _ := filepath.Abs(filepath.Dir(d.Name))
			if rel, err := filepath.Rel(base, abs); err == nil && !strings.HasPrefix(rel, "..") {
				return "./" + filepath.ToSlash(rel)
			}
			return abs
		}
	}
	return ""
}

// SeccompProfileNames are the file names, relative to --profiles DIR, that
// hold a service's seccomp profile, in order of preference: what
// `ctsec profile gen` writes first.
func SeccompProfileNames(service string) []string {
	return []string{service + ".seccomp.json", service + ".json", filepath.Join("seccomp", service+".json")}
}

// findAppArmor reads the profile name from <dir>/<service>.apparmor or
// <dir>/apparmor/<service>; only a name of safe characters is accepted.
func findAppArmor(dir, service string) string {
	for _, n := range []string{service + ".apparmor", filepath.Join("apparmor", service)} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || len(b) > 1<<20 {
			continue
		}
		if m := apparmorName.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return ""
}
