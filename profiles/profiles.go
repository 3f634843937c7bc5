// Package profiles holds ctsec's built-in data: seccomp profiles generated
// from the pinned moby/profiles module (go generate) and embedded here.
package profiles

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:generate go run ./internal/cmd/gen-seccomp

//go:embed seccomp/*.json
var seccompFS embed.FS

// Built-in seccomp profiles:
//   - default: Docker's default profile (moby/profiles/seccomp v0.2.3);
//   - strict:  the default minus the dangerous, capability-gated groups;
//   - runtime: what runc needs to start a container and its shell needs to
//     fork, wait and pipe: the base for allow-lists.
var seccompDoc = map[string]string{
	"default": "Docker's default profile, generated from github.com/moby/profiles/seccomp v0.2.3",
	"strict":  "Docker's default minus the dangerous groups (capability-gated syscalls, ptrace, socketcall)",
	"runtime": "only what runc needs to start a container and a shell needs to fork, wait and pipe (a base for allow-list profiles)",
}

// SeccompNames lists the built-in seccomp profiles.
func SeccompNames() []string {
	names := make([]string, 0, len(seccompDoc))
	for n := range seccompDoc {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SeccompDoc is the one-line description of a built-in profile.
func SeccompDoc(name string) string { return seccompDoc[name] }

// Seccomp returns a built-in seccomp profile's JSON.
func Seccomp(name string) ([]byte, error) {
	if _, ok := seccompDoc[name]; !ok {
		return nil, fmt.Errorf("no built-in seccomp profile %q (have %s)", name, strings.Join(SeccompNames(), ", "))
	}
	return seccompFS.ReadFile("seccomp/" + name + ".json")
}
