package host

import (
	"path/filepath"
	"reflect"
	"testing"
)

type fakeGlob map[string][]string

func (f fakeGlob) Glob(p string) ([]string, error) { return f[p], nil }

func TestDropIns(t *testing.T) {
	g := fakeGlob{
		"/etc/d/*.conf": {"/etc/d/10-a.conf", "/etc/d/50-b.conf"},
		"/run/d/*.conf": {"/run/d/50-b.conf", "/run/d/20-c.conf"},
		"/usr/d/*.conf": {"/usr/d/05-z.conf", "/usr/d/10-a.conf"},
	}
	got, err := DropIns(g, []string{"/etc/d", "/run/d", "/usr/d"}, "*.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/d/05-z.conf", "/etc/d/10-a.conf", "/run/d/20-c.conf", "/etc/d/50-b.conf"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DropIns = %v, want %v", got, want)
	}
	if got, _ := DropIns(g, []string{filepath.Join("/", "none")}, "*.conf"); len(got) != 0 {
		t.Errorf("no files: %v", got)
	}
}
