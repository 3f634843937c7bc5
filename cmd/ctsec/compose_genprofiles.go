//go:build !lean

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/safefile"
)

// genComposeProfiles makes, in memory, a seccomp profile for every service
// that has none in dir, exactly as `ctsec profile gen SERVICE --base default`
// would (validated before use). It returns absolute path → content; nothing
// is written here, so a dry run stays dry.
func genComposeProfiles(d *compose.Document, dir string) (map[string][]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, s := range d.Services() {
		if !serviceNameRE().MatchString(s.Name) {
			continue // not a safe file name; it keeps Docker's default profile
		}
		exists := false
		for _, n := range compose.SeccompProfileNames(s.Name) {
			if _, err := os.Stat(filepath.Join(abs, n)); err == nil {
				exists = true
			}
		}
		if exists {
			continue
		}
		g := &seccompGenerator{base: "default"}
		f, err := g.generate(s.Name)
		if err != nil {
			return nil, fmt.Errorf("generating the seccomp profile of service %s: %w", s.Name, err)
		}
		out[filepath.Join(abs, f.File)] = f.data
	}
	return out, nil
}

// writeGenerated writes the generated profiles before the compose file that
// refers to them; a file that appeared meanwhile is left as it is.
func writeGenerated(files map[string][]byte) ([]string, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var written []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := safefile.WriteFile(p, files[p], 0o644); err != nil {
			return written, fmt.Errorf("writing generated profile: %w", err)
		}
		written = append(written, p)
	}
	return written, nil
}

func pendingSet(files map[string][]byte) map[string]bool {
	set := make(map[string]bool, len(files))
	for p := range files {
		set[p] = true
	}
	return set
}
