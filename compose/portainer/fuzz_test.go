package portainer_test

import (
	"testing"

	"github.com/ctsec/ctsec/compose/portainer"
)

// FuzzAuditTemplates: an App Templates file is untrusted JSON (downloaded
// from a URL an operator configured); any input gives findings or an error,
// never a panic, and findings name the file and a line inside it.
func FuzzAuditTemplates(f *testing.F) {
	f.Add([]byte(`{"version":"3","templates":[{"type":1,"title":"db","image":"postgres","ports":["5432:5432/tcp"],"privileged":true,"network":"host","volumes":[{"bind":"/var/run/docker.sock","container":"/s"},{"bind":"/etc","container":"/e","readonly":true}]}]}`))
	f.Add([]byte(`{"version":"2","templates":[{"type":2,"title":"s","repository":{"url":"https://g/x","stackfile":"../../etc/passwd"}},null,{"type":3}]}`))
	f.Add([]byte(`{"version":"3","templates":[]}`))
	f.Add([]byte(`{"templates":{"version":1}}`))
	f.Add([]byte("{\"version\":\"3\",\n\"templates\":[1,\"x\",[{}]]}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		fs, err := portainer.AuditTemplates("t.json", src, t.TempDir())
		if err != nil {
			return
		}
		lines := 1
		for _, c := range src {
			if c == '\n' {
				lines++
			}
		}
		for _, fd := range fs {
			if fd.File != "t.json" || fd.Line < 0 || fd.Line > lines {
				t.Fatalf("finding outside the file: %+v", fd)
			}
		}
	})
}
