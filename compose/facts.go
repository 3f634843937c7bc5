package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ctsec/ctsec/profiles/capabilities"
)

// Facts are what harden knows about the services beyond the file itself:
// what the image says (when it is on the engine), what a trial run
// observed (ctsec compose learn), and what the options point to. They are
// gathered before planning — the only step that reads other files or asks
// an engine — so the plan is a pure function of the file and the facts.
// Learnt facts are written to one reviewable file beside the compose file
// (FactsFile), each with its evidence.
type Facts struct {
	Version  int                     `json:"version"`
	File     string                  `json:"file,omitempty"`   // the compose file they are about
	Engine   string                  `json:"engine,omitempty"` // the engine the images and trials ran on
	Time     time.Time               `json:"time,omitzero"`
	Services map[string]ServiceFacts `json:"services"`
}

// FactsVersion is the facts file format this ctsec writes and reads.
const FactsVersion = 1

// ServiceFacts are the facts about one service.
type ServiceFacts struct {
	// Seccomp is how the file should reference the service's seccomp
	// profile found under Options.ProfilesDir, "" when there is none.
	Seccomp string `json:"-"`
	// AppArmor is the name of the service's AppArmor profile found there.
	AppArmor string `json:"-"`

	Image  *ImageFacts  `json:"image,omitempty"`
	Learnt *LearntFacts `json:"learnt,omitempty"`
	// Failure is why nothing was learnt about the service.
	Failure *Failure `json:"failure,omitempty"`
}

// ImageFacts are what an image's configuration and layers say.
type ImageFacts struct {
	Ref          string   `json:"ref"`
	ID           string   `json:"id"`
	User         string   `json:"user"` // Config.User; "" runs as root
	Entrypoint   []string `json:"entrypoint,omitempty"`
	Cmd          []string `json:"cmd,omitempty"`
	Volumes      []string `json:"volumes,omitempty"`
	ExposedPorts []string `json:"exposed_ports,omitempty"`
	Healthcheck  bool     `json:"healthcheck,omitempty"`
	// Heap is the largest memory setting in the image's environment or
	// command (-Xmx, --max-old-space-size, MAX_HEAP_SIZE…).
	Heap *Heap `json:"heap,omitempty"`
	// FileCaps are files carrying capabilities (security.capability):
	// no-new-privileges, or a capability missing from the bounding set,
	// makes them fail or run without.
	FileCaps []FileCap `json:"file_capabilities,omitempty"`
	// Setuid are setuid/setgid executables; no-new-privileges makes them
	// run without the privilege.
	Setuid []string `json:"setuid,omitempty"`
	// Shipped are files the image holds under /tmp and /run, which a tmpfs
	// there would hide.
	Shipped []string `json:"shipped,omitempty"`
}

// FileCap is one file's capabilities.
type FileCap struct {
	Path      string   `json:"path"`
	Caps      []string `json:"caps"`
	Effective bool     `json:"effective"` // raised at exec: exec fails without them
}

// Heap is a memory setting a limit must exceed.
type Heap struct {
	Bytes    int64  `json:"bytes"`
	Evidence string `json:"evidence"`
}

// LearntFacts are what a trial run observed.
type LearntFacts struct {
	// Healthy says how health was judged ("healthcheck passed", "ran 20s
	// without a restart; port 80 accepted a connection").
	Healthy string `json:"healthy"`
	// Writes are paths the service added or changed in its root
	// filesystem (docker diff), outside its volumes and tmpfs.
	Writes []Write `json:"writes"`
	// MemoryPeak and PidsPeak are the most the service used, with where
	// the numbers come from.
	MemoryPeak     int64  `json:"memory_peak"`
	MemoryEvidence string `json:"memory_evidence"`
	PidsPeak       int64  `json:"pids_peak"`
	PidsEvidence   string `json:"pids_evidence"`
	// Caps are the capabilities it needed after cap_drop: [ALL], found by
	// trials; CapsEvidence is their log.
	Caps         []string `json:"caps"`
	CapsEvidence []string `json:"caps_evidence"`
	// NoNewPrivileges is "works" or "breaks", with the evidence.
	NoNewPrivileges         string `json:"no_new_privileges"`
	NoNewPrivilegesEvidence string `json:"no_new_privileges_evidence"`
	// Seccomp says whether a seccomp recording was made, or why not.
	Seccomp string `json:"seccomp,omitempty"`
}

// Write is one path written at run time.
type Write struct {
	Path string `json:"path"`
	Kind string `json:"kind"`          // A added, C changed, D deleted (docker diff)
	Dir  bool   `json:"dir,omitempty"` // a directory (docker diff does not say; learn asks)
}

// Failure is why a service was not learnt or did not verify.
type Failure struct {
	Reason   string   `json:"reason"`
	ExitCode int      `json:"exit_code,omitempty"`
	Logs     []string `json:"logs,omitempty"`
}

// FactsFile is where learn writes the facts of a compose file, and where
// harden looks for them: beside it, named after it.
func FactsFile(composeFile string) string { return composeFile + ".facts.json" }

// MaxFactsSize bounds a facts file.
const MaxFactsSize = 16 << 20

// ReadFacts reads a facts file; a missing file is no facts and no error.
func ReadFacts(path string) (*Facts, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading facts: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("reading facts %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFactsSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading facts %s: %w", path, err)
	}
	if len(b) > MaxFactsSize {
		return nil, fmt.Errorf("facts %s: larger than %d MiB", path, MaxFactsSize>>20)
	}
	return ParseFacts(path, b)
}

// ParseFacts decodes a facts file strictly: unknown fields and another
// version are refused, so a typo cannot pass for a fact.
func ParseFacts(name string, b []byte) (*Facts, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Facts
	if err := dec.Decode(&f); err != nil {
		return nil, &ParseError{File: name, Line: jsonLine(b, err), Msg: "not a ctsec facts file: " + err.Error()}
	}
	if dec.More() {
		return nil, &ParseError{File: name, Msg: "not a ctsec facts file: data after the object"}
	}
	if f.Version != FactsVersion {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("facts version %d; this ctsec reads version %d", f.Version, FactsVersion)}
	}
	for svc, sf := range f.Services {
		for _, c := range append(learntCaps(sf.Learnt), fileCaps(sf.Image)...) {
			if !capabilities.Known(c) {
				return nil, &ParseError{File: name, Msg: fmt.Sprintf("service %s: unknown capability %q", svc, c)}
			}
		}
	}
	return &f, nil
}

func learntCaps(l *LearntFacts) []string {
	if l == nil {
		return nil
	}
	return l.Caps
}

func fileCaps(i *ImageFacts) []string {
	if i == nil {
		return nil
	}
	var out []string
	for _, fc := range i.FileCaps {
		out = append(out, fc.Caps...)
	}
	return out
}

// jsonLine is the line of a JSON decoding error, 0 when unknown.
func jsonLine(b []byte, err error) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return 0
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// Marshal renders facts as the indented JSON learn writes.
func (f *Facts) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (f *Facts) service(name string) ServiceFacts {
	if f == nil {
		return ServiceFacts{}
	}
	return f.Services[name]
}

// gatherFacts joins the facts given (Options.Facts) with what the options
// point to for every service.
func gatherFacts(d *Document, o Options) *Facts {
	f := &Facts{Version: FactsVersion, Services: map[string]ServiceFacts{}}
	if o.Facts != nil {
		for name, sf := range o.Facts.Services {
			f.Services[name] = sf
		}
	}
	if o.ProfilesDir == "" {
		return f
	}
	for _, s := range d.Services() {
		sf := f.Services[s.Name]
		sf.Seccomp = findProfile(d, o.ProfilesDir, o.Pending, SeccompProfileNames(s.Name)...)
		sf.AppArmor = findAppArmor(o.ProfilesDir, s.Name)
		f.Services[s.Name] = sf
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
