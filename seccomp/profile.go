package seccomp

import (
	"bytes"
	"encoding/json"
	"sort"
)

// Profile is a seccomp profile in the Docker/moby JSON format: the OCI
// runtime-spec LinuxSeccomp plus moby's archMap and per-rule conditions.
// Field order follows moby's own marshalling so written profiles read like
// Docker's default.json.
type Profile struct {
	DefaultAction    string    `json:"defaultAction"`
	DefaultErrnoRet  *uint     `json:"defaultErrnoRet,omitempty"`
	Architectures    []string  `json:"architectures,omitempty"`
	Flags            []string  `json:"flags,omitempty"`
	ListenerPath     string    `json:"listenerPath,omitempty"`
	ListenerMetadata string    `json:"listenerMetadata,omitempty"`
	ArchMap          []ArchMap `json:"archMap,omitempty"`
	Syscalls         []Rule    `json:"syscalls,omitempty"`

	// File is where the profile was read from (for findings); pos maps JSON
	// paths such as "syscalls[3].action" to where they start in File.
	File string         `json:"-"`
	pos  map[string]Pos `json:"-"`
}

// ArchMap lists the architectures a profile covers on a host whose native
// architecture is Arch (moby expands only the entry for the daemon's arch).
type ArchMap struct {
	Arch      string   `json:"architecture"`
	SubArches []string `json:"subArchitectures"`
}

// Rule is one entry of "syscalls".
type Rule struct {
	Names    []string `json:"names,omitempty"`
	Action   string   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	Args     []Arg    `json:"args,omitempty"`
	// Name is the legacy single-name form (before docker/docker#24510).
	Name     string  `json:"name,omitempty"`
	Comment  string  `json:"comment,omitempty"`
	Includes *Filter `json:"includes,omitempty"`
	Excludes *Filter `json:"excludes,omitempty"`
}

// Arg is an argument condition. For SCMP_CMP_MASKED_EQ, Value is the mask
// and ValueTwo the datum.
type Arg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// Filter is the condition of includes/excludes: architectures (libseccomp
// native names such as amd64), capabilities and a minimum kernel "X.Y".
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

func (f *Filter) empty() bool {
	return f == nil || (len(f.Caps) == 0 && len(f.Arches) == 0 && f.MinKernel == "")
}

// AllNames is the rule's syscall names, legacy "name" included.
func (r Rule) AllNames() []string {
	if r.Name == "" {
		return r.Names
	}
	return append([]string{r.Name}, r.Names...)
}

// PosOf returns where the value at a JSON path starts, if the profile was
// loaded from a file.
func (p *Profile) PosOf(path string) (Pos, bool) {
	pos, ok := p.pos[path]
	return pos, ok
}

// Marshal renders the profile as indented JSON the way moby writes
// default.json (tabs, no HTML escaping, trailing newline).
func (p *Profile) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errnoPtr makes an errno value for the optional fields.
func errnoPtr(v uint) *uint { return &v }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
