package updates

import (
	"strings"

	"github.com/ctsec/ctsec/host"
)

// Timer is the effective [Timer] schedule of a unit.
type Timer struct {
	OnCalendar  []string
	RandomDelay string
	Files       []string
}

// TimerFiles returns the unit file and its drop-ins in systemd's order: the
// unit from the first directory that has it, then drop-ins sorted by name
// (a name in /etc hides the same name in /run and /usr/lib).
func TimerFiles(g host.Globber, unit string) []string {
	dirs := []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}
	var out []string
	for _, d := range dirs {
		if m, _ := g.Glob(d + "/" + unit); len(m) > 0 {
			out = append(out, m[0])
			break
		}
	}
	dropins, _ := host.DropIns(g, dirs, unit+".d/*.conf")
	return append(out, dropins...)
}

// ApplyUnit folds one unit file into the timer: OnCalendar= accumulates and
// an empty assignment resets it; RandomizedDelaySec= last wins.
func (t *Timer) ApplyUnit(file string, data []byte) {
	t.Files = append(t.Files, file)
	section := ""
	for _, raw := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(raw)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if strings.HasPrefix(l, "[") {
			section = strings.Trim(l, "[]")
			continue
		}
		if section != "Timer" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "OnCalendar":
			if v == "" {
				t.OnCalendar = nil
			} else {
				t.OnCalendar = append(t.OnCalendar, v)
			}
		case "RandomizedDelaySec":
			t.RandomDelay = v
		}
	}
}
