package ssh

import (
	"os"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
)

func chmod(p string, m os.FileMode) error { return os.Chmod(p, m) }

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		kw   string
		args []string
		ok   bool
	}{
		{"PasswordAuthentication no", "passwordauthentication", []string{"no"}, true},
		{"  ChallengeResponseAuthentication=no", "kbdinteractiveauthentication", []string{"no"}, true},
		{"Port = 2222", "port", []string{"2222"}, true},
		{`AuthorizedKeysFile ".ssh/my keys" .ssh/b # comment`, "authorizedkeysfile", []string{".ssh/my keys", ".ssh/b"}, true},
		{"# PasswordAuthentication yes", "", nil, false},
		{"", "", nil, false},
	}
	for _, tt := range tests {
		d, ok, err := parseLine(tt.line)
		if err != nil || ok != tt.ok || d.Keyword != tt.kw || strings.Join(d.Args, "|") != strings.Join(tt.args, "|") {
			t.Errorf("parseLine(%q) = %+v %v %v", tt.line, d, ok, err)
		}
	}
	if _, _, err := parseLine(`Banner "unterminated`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestParseIncludeOrderAndMatchScope(t *testing.T) {
	env := hosttest.Root(t)
	hosttest.Write(t, env, MainConfig, "Include sshd_config.d/*.conf\nPermitRootLogin yes\nMatch User bob\n\tInclude /etc/ssh/bob.conf\nPort 2\n")
	hosttest.Write(t, env, "/etc/ssh/sshd_config.d/20-b.conf", "PermitRootLogin no\n")
	hosttest.Write(t, env, "/etc/ssh/sshd_config.d/10-a.conf", "Match User x\nX11Forwarding yes\n")
	hosttest.Write(t, env, "/etc/ssh/bob.conf", "PasswordAuthentication yes\n")
	c, err := Parse(host.Overlay{Env: env}, MainConfig)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := c.First("permitrootlogin")
	if !ok || d.File != "/etc/ssh/sshd_config.d/20-b.conf" {
		t.Errorf("first PermitRootLogin from %+v, want 20-b.conf (included before the main file's line)", d)
	}
	// The Match in 10-a.conf ends with that file.
	if x, ok := c.First("x11forwarding"); ok {
		t.Errorf("X11Forwarding leaked into global context from %s", x.Location())
	}
	if pa, ok := c.First("passwordauthentication"); ok {
		t.Errorf("Include inside Match leaked into global context: %s", pa.Location())
	}
	if len(c.Matches()) != 2 {
		t.Errorf("matches = %d", len(c.Matches()))
	}
	if _, ok := c.IncludesPath(DropIn); !ok {
		t.Error("relative Include not resolved under /etc/ssh")
	}
	if _, err := Parse(host.Overlay{Env: env}, "/etc/ssh/none"); err == nil {
		t.Error("missing file accepted")
	}
	hosttest.Write(t, env, "/etc/ssh/loop.conf", "Include /etc/ssh/loop.conf\n")
	if _, err := Parse(host.Overlay{Env: env}, "/etc/ssh/loop.conf"); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("include loop: %v", err)
	}
}

func TestMatchSpec(t *testing.T) {
	accts := []account{{Name: "carol", Groups: []string{"ops"}}}
	tests := []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"Address", "10.0.0.0/8"}, "user=ctsec-audit,host=audit.invalid,addr=10.0.0.1,laddr=192.0.2.2,lport=22", true},
		{[]string{"User", "!root,deploy*"}, "user=deployx,host=audit.invalid,addr=192.0.2.1,laddr=192.0.2.2,lport=22", true},
		{[]string{"Group", "ops", "LocalPort", "2222"}, "user=carol,host=audit.invalid,addr=192.0.2.1,laddr=192.0.2.2,lport=2222", true},
		{[]string{"Group", "nobodyhere"}, "", false},
		{[]string{"Address"}, "", false},
	}
	for _, tt := range tests {
		got, ok := matchSpec(Directive{Args: tt.args}, accts)
		if got != tt.want || ok != tt.ok {
			t.Errorf("matchSpec(%v) = %q %v, want %q %v", tt.args, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\nMatch User a\n  X11Forwarding yes\n")
	f.Add(`Banner "a \" b" # c` + "\nPort=22\n")
	f.Add("Match\n")
	f.Fuzz(func(t *testing.T, data string) {
		env := hosttest.Root(t)
		hosttest.Write(t, env, MainConfig, data)
		c, err := Parse(host.Overlay{Env: env}, MainConfig)
		if err != nil {
			return
		}
		for _, d := range c.Directives {
			if d.Line < 1 || d.Keyword == "" {
				t.Fatalf("bad directive %+v", d)
			}
		}
	})
}

func BenchmarkParseDebianConfig(b *testing.B) {
	env := hosttest.Root(b, "/etc/ssh/sshd_config")
	hosttest.Write(b, env, "/etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication yes\n")
	ov := host.Overlay{Env: env}
	for b.Loop() {
		if _, err := Parse(ov, MainConfig); err != nil {
			b.Fatal(err)
		}
	}
}
