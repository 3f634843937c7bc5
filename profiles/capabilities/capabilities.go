// Package capabilities is ctsec's knowledge base of the Linux capabilities
// common images need once every capability is dropped, with the reason and
// sources for each set, embedded from capabilities.yaml.
package capabilities

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed capabilities.yaml
var data []byte

// Entry is what the knowledge base says about one family of images.
type Entry struct {
	Images   []string `yaml:"images"`
	Caps     []string `yaml:"caps"`
	UserCaps []string `yaml:"user_caps"`
	Memory   string   `yaml:"memory"`
	Pids     int64    `yaml:"pids"`
	Writable []string `yaml:"writable"`
	// NoReadOnly says why a read-only root does not work for the image.
	NoReadOnly string   `yaml:"no_read_only"`
	Reason     string   `yaml:"reason"`
	Verified   bool     `yaml:"verified"`
	Sources    []string `yaml:"sources"`
	// Fallback is true for the entry used when no pattern matched.
	Fallback bool `yaml:"-"`
	// Origin is the file the entry comes from ("" for the embedded base).
	Origin string `yaml:"-"`
}

// Base is the parsed knowledge base.
type Base struct {
	Fallback Entry   `yaml:"fallback"`
	Images   []Entry `yaml:"images"`
}

var (
	loadOnce sync.Once
	loaded   *Base
	loadErr  error
)

// Default returns the embedded knowledge base. It is parsed once; the data
// is part of the binary, so an error here is a build defect.
func Default() (*Base, error) {
	loadOnce.Do(func() { loaded, loadErr = Parse(data) })
	return loaded, loadErr
}

// Parse reads a knowledge base and checks every capability name, so a typo
// cannot reach a compose file. Unknown fields are refused.
func Parse(b []byte) (*Base, error) {
	var kb Base
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&kb); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing capability knowledge base: %w", err)
	}
	kb.Fallback.Fallback = true
	all := append([]Entry{kb.Fallback}, kb.Images...)
	for _, e := range all {
		for _, c := range append(append([]string(nil), e.Caps...), e.UserCaps...) {
			if !Known(c) {
				return nil, fmt.Errorf("capability knowledge base: entry %v: unknown capability %q", e.Images, c)
			}
			// Harden replaces Docker's defaults with cap_drop: [ALL] plus
			// these: a capability beyond the defaults would leave the
			// hardened service with more power than before.
			if !DockerDefault(c) {
				return nil, fmt.Errorf("capability knowledge base: entry %v: %s is not in Docker's default set", e.Images, c)
			}
		}
		for _, p := range e.Images {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("capability knowledge base: bad pattern %q: %w", p, err)
			}
		}
		if !e.Fallback && len(e.Images) == 0 {
			return nil, fmt.Errorf("capability knowledge base: an entry without images (reason %q)", e.Reason)
		}
		if _, err := parseSize(e.Memory); e.Memory != "" && err != nil {
			return nil, fmt.Errorf("capability knowledge base: entry %v: memory %q: %w", e.Images, e.Memory, err)
		}
		if e.Pids < 0 {
			return nil, fmt.Errorf("capability knowledge base: entry %v: pids %d", e.Images, e.Pids)
		}
	}
	return &kb, nil
}

func parseSize(s string) (float64, error) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "b")
	if s != "" && strings.ContainsRune("kmgt", rune(s[len(s)-1])) {
		s = s[:len(s)-1]
	}
	return strconv.ParseFloat(s, 64)
}

// MaxFileSize bounds a knowledge base file.
const MaxFileSize = 4 << 20

// LoadFile reads an operator's knowledge base file. It must not be
// writable by others: its entries decide what harden grants.
func LoadFile(p string) (*Base, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading knowledge base: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading knowledge base: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("knowledge base %s: not a regular file", p)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("knowledge base %s: writable by group or others (mode %04o); ctsec trusts only a file its owner alone can change", p, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading knowledge base %s: %w", p, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("knowledge base %s: larger than %d MiB", p, MaxFileSize>>20)
	}
	kb, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	for i := range kb.Images {
		kb.Images[i].Origin = p
	}
	if kb.Fallback.Reason != "" {
		kb.Fallback.Origin = p
	}
	return kb, nil
}

// Extend is the base with extra's entries looked up first, and extra's
// fallback when it has one.
func (kb *Base) Extend(extra *Base) *Base {
	if extra == nil {
		return kb
	}
	out := &Base{Fallback: kb.Fallback, Images: append(append([]Entry(nil), extra.Images...), kb.Images...)}
	if extra.Fallback.Reason != "" {
		out.Fallback = extra.Fallback
		out.Fallback.Fallback = true
	}
	return out
}

// Lookup returns the entry for an image reference such as
// "docker.io/library/postgres:16@sha256:…". Unknown or unresolvable images
// (a ${VAR} name, a build without image) get the conservative fallback.
func (kb *Base) Lookup(image string) Entry {
	name := ImageName(image)
	if name != "" && !strings.Contains(name, "$") {
		last := path.Base(name)
		for _, e := range kb.Images {
			for _, p := range e.Images {
				if ok, _ := path.Match(p, name); ok {
					return e
				}
				if ok, _ := path.Match(p, last); ok {
					return e
				}
			}
		}
	}
	return kb.Fallback
}

// ImageName strips registry, the "library/" namespace, tag and digest:
// "registry:5000/library/nginx:1.27" → "nginx".
func ImageName(ref string) string {
	ref = strings.TrimSpace(strings.ToLower(ref))
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	// The tag starts at the first ":" after the last "/" (a registry port
	// comes before it); a tag may hold ${VAR:-default} with more colons.
	if i := strings.IndexByte(ref[strings.LastIndexByte(ref, '/')+1:], ':'); i >= 0 {
		ref = ref[:strings.LastIndexByte(ref, '/')+1+i]
	}
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		first := ref[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			ref = ref[i+1:]
		}
	}
	return strings.TrimPrefix(ref, "library/")
}

// Known reports whether name is a Linux capability Docker accepts (without
// the CAP_ prefix), or ALL.
func Known(name string) bool {
	_, ok := known[strings.TrimPrefix(strings.ToUpper(name), "CAP_")]
	return ok
}

// Dangerous returns why adding the capability matters, or "" when it is not
// one ctsec flags.
func Dangerous(name string) string {
	return dangerous[strings.TrimPrefix(strings.ToUpper(name), "CAP_")]
}

// DockerDefault reports whether Docker grants the capability to a container
// by default (moby oci/caps/defaults.go).
func DockerDefault(name string) bool {
	_, ok := defaults[strings.TrimPrefix(strings.ToUpper(name), "CAP_")]
	return ok
}

var known, defaults = map[string]struct{}{}, map[string]struct{}{}

func init() {
	for _, c := range strings.Fields(`ALL AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE
		CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE
		MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP
		SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE
		SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM`) {
		known[c] = struct{}{}
	}
	for _, c := range strings.Fields(`CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP
		SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE`) {
		defaults[c] = struct{}{}
	}
}

// dangerous lists capabilities that hand a container a route to the host
// or to other containers (OWASP Docker cheat sheet, KICS, DockSec).
var dangerous = map[string]string{
	"ALL":             "every capability: equivalent to most of --privileged",
	"SYS_ADMIN":       "mount, namespaces, many kernel interfaces: the classic container escape",
	"SYS_MODULE":      "load kernel modules: full host compromise",
	"SYS_PTRACE":      "trace and inject into other processes",
	"SYS_RAWIO":       "raw I/O ports and /dev/mem",
	"SYS_BOOT":        "reboot the host",
	"SYS_TIME":        "change the host clock",
	"NET_ADMIN":       "reconfigure interfaces, routes and firewall of the network namespace",
	"DAC_READ_SEARCH": "open_by_handle_at: read any host file through a bind mount (shocker)",
	"BPF":             "load BPF programs",
	"PERFMON":         "perf events: kernel information leaks",
	"MAC_ADMIN":       "change the LSM (AppArmor/SELinux) policy",
	"MAC_OVERRIDE":    "bypass the LSM policy",
	"SYSLOG":          "read kernel logs and addresses",
	"LINUX_IMMUTABLE": "change immutable file attributes",
}

// byNumber are the capabilities in the kernel's numbering
// (include/uapi/linux/capability.h), as file capabilities store them.
var byNumber = strings.Fields(`CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
	LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO
	SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD
	LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
	PERFMON BPF CHECKPOINT_RESTORE`)

// FromMask names the capabilities set in a kernel capability mask (bit n
// is capability n); bits past the ones known are named by number.
func FromMask(mask uint64) []string {
	var out []string
	for n := 0; n < 64; n++ {
		if mask&(1<<n) == 0 {
			continue
		}
		if n < len(byNumber) {
			out = append(out, byNumber[n])
		} else {
			out = append(out, fmt.Sprintf("CAP_%d", n))
		}
	}
	return out
}

// DockerDefaults is Docker's default set, in moby's order.
func DockerDefaults() []string {
	return []string{"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
		"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}
}
