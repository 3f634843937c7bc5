package ssh

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/testenv"
)

// client is where the operator alice is connected from in these tests.
const (
	clientIP      = "203.0.113.7"
	sshConnection = clientIP + " 50022 192.0.2.1 22"
)

// keyPair makes a real key with ssh-keygen and returns its public line.
func keyPair(t *testing.T, kind string) string {
	t.Helper()
	testenv.Tool(t, "ssh-keygen")
	p := filepath.Join(t.TempDir(), "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "alice@laptop", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	b, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// operatorRoot is sshRoot with alice connected over SSH, holding a real
// ed25519 key; keys replaces her authorized_keys when not empty.
func operatorRoot(t *testing.T, keys string) *host.Env {
	env := sshRoot(t, false)
	env.SSHConnection = sshConnection
	env.Clock = testenv.Clock(t)
	if keys == "" {
		keys = keyPair(t, "ed25519") + "\n"
	}
	hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", keys)
	return env
}

func sshKeysRefusals(t *testing.T, env *host.Env, pol *host.Policy) []host.Refusal {
	t.Helper()
	mp, err := New().Plan(context.Background(), env, pol)
	if err != nil {
		t.Fatal(err)
	}
	var out []host.Refusal
	for _, r := range mp.Refusals {
		if r.Guard == "ssh-keys" || r.Guard == "ssh-connection" {
			out = append(out, r)
		}
	}
	return out
}

func appendMain(t *testing.T, env *host.Env, text string) {
	hosttest.Write(t, env, MainConfig, hosttest.Read(t, env, MainConfig)+text)
}

// Every scenario that passed `host plan ssh` with exit 0 although sshd
// would then shut alice out (passwords going off): each is refused now,
// with the reason sshd's own evaluation of her connection gives.
func TestLockoutScenariosRefused(t *testing.T) {
	ed := ""
	tests := []struct {
		name   string
		setup  func(t *testing.T, env *host.Env, pol *host.Policy)
		reason string
	}{
		{"Match User with a missing AuthorizedKeysFile", func(t *testing.T, env *host.Env, _ *host.Policy) {
			appendMain(t, env, "Match User alice\n\tAuthorizedKeysFile /etc/ssh/keys/%u\n")
		}, "no /etc/ssh/keys/alice"},
		{"Match User with PubkeyAuthentication no", func(t *testing.T, env *host.Env, _ *host.Policy) {
			appendMain(t, env, "Match User alice\n\tPubkeyAuthentication no\n")
		}, "PubkeyAuthentication no"},
		{"Match Group (the root's own groups) with PubkeyAuthentication no", func(t *testing.T, env *host.Env, _ *host.Policy) {
			appendMain(t, env, "Match Group admins\n\tPubkeyAuthentication no\n")
		}, "PubkeyAuthentication no"},
		{"Match Address of the client with AuthenticationMethods password", func(t *testing.T, env *host.Env, _ *host.Policy) {
			appendMain(t, env, "Match Address "+clientIP+"\n\tAuthenticationMethods password\n")
		}, "password: PasswordAuthentication no"},
		{"PubkeyAuthentication no at the top, the policy leaving it unset", func(t *testing.T, env *host.Env, pol *host.Policy) {
			delete(pol.SSH.Settings, "PubkeyAuthentication")
			hosttest.Write(t, env, MainConfig, "PubkeyAuthentication no\n"+hosttest.Read(t, env, MainConfig))
		}, "PubkeyAuthentication no"},
		{"an authorized_keys line that is not a key", func(t *testing.T, env *host.Env, _ *host.Policy) {
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", "this is not a key\n")
		}, "authorized_keys:1: an option sshd does not know, or not a public key"},
		{"a key restricted with from= to another address", func(t *testing.T, env *host.Env, _ *host.Policy) {
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", `from="10.9.9.9" `+ed+"\n")
		}, `from="10.9.9.9" does not admit ` + clientIP},
		{"PubkeyAcceptedAlgorithms without the key's type", func(t *testing.T, env *host.Env, _ *host.Policy) {
			hosttest.Write(t, env, MainConfig, "PubkeyAcceptedAlgorithms rsa-sha2-512\n"+hosttest.Read(t, env, MainConfig))
		}, "a ssh-ed25519 key, and PubkeyAcceptedAlgorithms (rsa-sha2-512) accepts no signature it can make"},
		{"AllowUsers with a host part that is not the client", func(t *testing.T, env *host.Env, _ *host.Policy) {
			appendMain(t, env, "AllowUsers alice@10.9.9.9\n")
		}, "AllowUsers alice@10.9.9.9 does not admit alice from " + clientIP},
		{"authorized_keys owned by root with mode 600", func(t *testing.T, env *host.Env, _ *host.Policy) {
			os.Chmod(env.Path("/home/alice/.ssh/authorized_keys"), 0o600)
		}, "sshd reads it as alice, who cannot"},
		{"a key whose command= leaves no shell", func(t *testing.T, env *host.Env, _ *host.Policy) {
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", `command="/usr/bin/backup" `+ed+"\n")
		}, "command= forces a command"},
		{"a key whose expiry-time has passed", func(t *testing.T, env *host.Env, _ *host.Policy) {
			past := testenv.Now(t).AddDate(0, 0, -1).UTC().Format("20060102") + "Z"
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", `expiry-time="`+past+`" `+ed+"\n")
		}, "expired (expiry-time "},
		{"SSH_CONNECTION that cannot be read", func(t *testing.T, env *host.Env, _ *host.Policy) {
			env.SSHConnection = "garbage"
		}, "SSH_CONNECTION \"garbage\" is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := operatorRoot(t, "")
			ed = strings.TrimSpace(hosttest.Read(t, env, "/home/alice/.ssh/authorized_keys"))
			pol := baseline(t)
			if r := sshKeysRefusals(t, env, pol); len(r) != 0 {
				t.Fatalf("refused before the scenario: %+v", r)
			}
			tt.setup(t, env, pol)
			r := sshKeysRefusals(t, env, pol)
			if len(r) == 0 {
				t.Fatal("not refused")
			}
			all := ""
			for _, x := range r {
				all += x.Reason + "\n"
			}
			if !strings.Contains(all, tt.reason) {
				t.Errorf("refusal does not say %q:\n%s", tt.reason, all)
			}
		})
	}
}

// The same options and rules admit alice when they name her real
// connection: the guard follows sshd, it does not just dislike options.
func TestLoginAdmittedOnTheRealConnection(t *testing.T) {
	rsa := keyPair(t, "rsa")
	tests := []struct {
		name  string
		setup func(t *testing.T, env *host.Env)
	}{
		{"from= naming the client's network", func(t *testing.T, env *host.Env) {
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", `from="!10.9.9.9,203.0.113.0/24",no-agent-forwarding `+rsa+"\n")
		}},
		{"AllowUsers with the client as host part", func(t *testing.T, env *host.Env) {
			appendMain(t, env, "AllowUsers root alice@"+clientIP+"\n")
		}},
		{"an RSA key under PubkeyAcceptedAlgorithms rsa-sha2-512", func(t *testing.T, env *host.Env) {
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", rsa+"\n")
			hosttest.Write(t, env, MainConfig, "PubkeyAcceptedAlgorithms rsa-sha2-512\n"+hosttest.Read(t, env, MainConfig))
		}},
		{"a second file with a good key after a missing one", func(t *testing.T, env *host.Env) {
			appendMain(t, env, "Match User alice\n\tAuthorizedKeysFile /etc/ssh/keys/%u .ssh/authorized_keys\n")
		}},
		{"Match Address of another network re-enables nothing for alice", func(t *testing.T, env *host.Env) {
			appendMain(t, env, "Match Address 10.0.0.0/8\n\tPubkeyAuthentication no\n")
		}},
		{"an expiry-time still ahead", func(t *testing.T, env *host.Env) {
			ahead := testenv.Now(t).AddDate(0, 0, 1).UTC().Format("20060102") + "Z"
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", `expiry-time="`+ahead+`" `+rsa+"\n")
		}},
		{"a bad line before a good key", func(t *testing.T, env *host.Env) {
			hosttest.Write(t, env, "/home/alice/.ssh/authorized_keys", "garbage\n# comment\n\n"+rsa+"\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := operatorRoot(t, "")
			tt.setup(t, env)
			if r := sshKeysRefusals(t, env, baseline(t)); len(r) != 0 {
				t.Errorf("refused: %+v", r)
			}
		})
	}
}

func TestParseKeyLine(t *testing.T) {
	tests := []struct {
		line, typ, problem string
		opts               map[string]string
	}{
		{`ssh-ed25519 AAAA c`, "ssh-ed25519", "", nil},
		{`from="10.0.0.0/8,!10.1.1.1",restrict,pty ssh-rsa AAAA c`, "ssh-rsa", "", map[string]string{"from": "10.0.0.0/8,!10.1.1.1", "restrict": "", "pty": ""}},
		{`command="echo \"a b\"" ssh-ed25519 AAAA`, "ssh-ed25519", "", map[string]string{"command": `echo "a b"`}},
		{`from="x ssh-ed25519 AAAA`, "", "unterminated quote in an option", nil},
		{`frob ssh-ed25519 AAAA`, "", "an option sshd does not know, or not a public key", nil},
		{`restrict`, "", "options but no key", nil},
		{`no-pty ssh-ed448 AAAA`, "", "not a public key (unknown key type)", nil},
	}
	for _, tt := range tests {
		k, ok := parseKeyLine(tt.line)
		if !ok || k.Type != tt.typ || k.Problem != tt.problem {
			t.Errorf("parseKeyLine(%q) = %+v", tt.line, k)
		}
		for n, v := range tt.opts {
			if k.Options[n] != v {
				t.Errorf("parseKeyLine(%q) option %s = %q, want %q", tt.line, n, k.Options[n], v)
			}
		}
	}
	if _, ok := parseKeyLine("  # comment"); ok {
		t.Error("a comment is a line")
	}
}

// FuzzParseKeyLine: any authorized_keys line parses without panicking,
// and a line without a problem always has a known key type and a blob.
func FuzzParseKeyLine(f *testing.F) {
	for _, s := range []string{`ssh-ed25519 AAAA c`, `from="10.0.0.0/8,!10.1.1.1",restrict,pty ssh-rsa AAAA c`, `command="echo \"a b\"" ssh-ed25519 AAAA`, `from="x`, `restrict,`, `expiry-time="20300101" ssh-ed25519 A`, "\"\t,=", `environment="A=B",no-pty,cert-authority ecdsa-sha2-nistp256 AAAA`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		k, ok := parseKeyLine(line)
		if !ok || k.Problem != "" {
			return
		}
		if _, known := keyTypes[k.Type]; !known || k.Blob == "" {
			t.Fatalf("parseKeyLine(%q) = %+v without a problem", line, k)
		}
		for n := range k.Options {
			if _, known := keyOptions[n]; !known {
				t.Fatalf("parseKeyLine(%q) accepted option %q", line, n)
			}
		}
	})
}

// FuzzRewriteMatchGroups: the staged copy keeps every line where it was
// (sshd's messages name lines), and no Match line keeps a Group criterion
// sshd would resolve through this machine's groups.
func FuzzRewriteMatchGroups(f *testing.F) {
	for _, s := range []string{"Match Group admins\n  X11Forwarding no\n", "Match User a Group b,!c Address 10.0.0.0/8\n", "Match all\nMatch Group\n", "match group \"x y\"\n", "Match Group a Group b"} {
		f.Add(s)
	}
	accts := []account{{Name: "alice", Groups: []string{"alice", "admins"}}, {Name: "bob", Groups: []string{"b"}}}
	f.Fuzz(func(t *testing.T, s string) {
		out := string(rewriteMatchGroups([]byte(s), accts))
		if strings.Count(out, "\n") != strings.Count(s, "\n") {
			t.Fatalf("lines moved: %q → %q", s, out)
		}
		for _, l := range strings.Split(out, "\n") {
			d, ok, err := parseLine(l)
			if err != nil || !ok || d.Keyword != "match" {
				continue
			}
			for i := 0; i+1 < len(d.Args); i++ {
				if strings.EqualFold(d.Args[i], "group") {
					t.Fatalf("Group criterion left in %q (from %q)", l, s)
				}
				if !strings.EqualFold(d.Args[i], "all") {
					i++
				}
			}
		}
	})
}
