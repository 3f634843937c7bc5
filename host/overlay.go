package host

import (
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Overlay reads host files under the root with planned content laid over
// them, so parsers and real tools can see a configuration before it is
// written. A nil value in Files hides a file (a planned removal).
type Overlay struct {
	Env   *Env
	Files map[string][]byte
}

// ReadFile reads a host path, planned content first.
func (o Overlay) ReadFile(p string) ([]byte, error) {
	if b, ok := o.Files[p]; ok {
		if b == nil {
			return nil, &notExistError{p}
		}
		return b, nil
	}
	return o.Env.ReadFile(p)
}

// Glob expands a host pattern under the root, including planned files, in
// lexical order.
func (o Overlay) Glob(pattern string) ([]string, error) {
	matches, err := o.Env.FS().Glob(pattern)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, hp := range matches {
		if b, ok := o.Files[hp]; ok && b == nil {
			continue
		}
		seen[hp] = true
		out = append(out, hp)
	}
	for p, b := range o.Files {
		if b == nil || seen[p] {
			continue
		}
		if strings.HasPrefix(path.Base(p), ".") && !strings.HasPrefix(path.Base(pattern), ".") {
			continue
		}
		if ok, _ := filepath.Match(pattern, p); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

type notExistError struct{ path string }

func (e *notExistError) Error() string        { return e.path + ": removed by the plan" }
func (e *notExistError) Is(target error) bool { return target == fs.ErrNotExist }
