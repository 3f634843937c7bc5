package compose

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Service is one service of the compose-go model (merges resolved,
// ${VAR} kept as text) with where it is written.
type Service struct {
	Name string
	M    map[string]any
	Line int
}

// Services returns the model's services in file order.
func (d *Document) Services() []Service {
	if d.services == nil {
		d.services = d.listServices()
	}
	return d.services
}

func (d *Document) listServices() []Service {
	svcs, _ := d.Model["services"].(map[string]any)
	out := make([]Service, 0, len(svcs))
	for name, v := range svcs {
		m, _ := v.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		line, _ := d.Locate("services", name)
		out = append(out, Service{Name: name, M: m, Line: line})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// get walks nested maps.
func get(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func has(m map[string]any, path ...string) bool {
	v, ok := get(m, path...)
	return ok && v != nil
}

// str renders a scalar model value as text.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, str(x))
	}
	return out
}

// truth is a tri-state reading of a boolean field: a ${VAR} value cannot be
// known until deploy time.
type truth int

const (
	isFalse truth = iota
	isTrue
	isVariable
)

func boolOf(v any) truth {
	switch x := v.(type) {
	case bool:
		if x {
			return isTrue
		}
	case string:
		if strings.Contains(x, "$") {
			return isVariable
		}
		if b, err := strconv.ParseBool(x); err == nil && b {
			return isTrue
		}
	}
	return isFalse
}

func isVar(s string) bool {
	return strings.Contains(s, "${") || strings.Contains(s, "$") && !strings.Contains(s, "$$")
}

// upperCaps normalises capability names: "cap_sys_admin" → "SYS_ADMIN".
func upperCaps(l []string) []string {
	out := make([]string, len(l))
	for i, c := range l {
		out[i] = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
	}
	return out
}

func containsFold(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ServiceImage is a service's image as the file names it, resolved through
// the document's environment; ok is false when there is none or it does not
// resolve.
func (d *Document) ServiceImage(name string) (string, bool) {
	for _, s := range d.Services() {
		if s.Name == name {
			img := str(s.M["image"])
			if img == "" {
				return "", false
			}
			return d.resolve(img)
		}
	}
	return "", false
}
