package host

import (
	"path"
	"sort"
)

// Globber lists host paths matching a pattern (Overlay is one).
type Globber interface {
	Glob(pattern string) ([]string, error)
}

// DropIns lists the files matching pattern in each of dirs the way systemd
// and `sysctl --system` read drop-in directories: a file name in an earlier
// directory hides the same name in later ones, and the survivors are read in
// name order, whatever directory they are in.
func DropIns(g Globber, dirs []string, pattern string) ([]string, error) {
	byName := map[string]string{}
	for _, d := range dirs {
		files, err := g.Glob(d + "/" + pattern)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if _, ok := byName[path.Base(f)]; !ok {
				byName[path.Base(f)] = f
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, byName[n])
	}
	return out, nil
}
