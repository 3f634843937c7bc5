package apparmor

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// aggregateFiles reads log files through the streaming reader and merge.
func aggregateFiles(t *testing.T, o RuleOptions, files ...string) []Activity {
	t.Helper()
	acts, _, err := Collect(openInputs(t, files...), ReviewOptions{}, func(string) RuleOptions { return o })
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

func describe(acts []Activity) string {
	var b strings.Builder
	for _, a := range acts {
		b.WriteString(a.Profile + " " + a.Mode + " events=" + itoa(a.Events) + "\n")
		for _, p := range a.Proposals {
			b.WriteString("  " + p.Text + " (" + itoa(p.Events) + ")\n")
		}
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestAggregateMixedSources(t *testing.T) {
	dir := filepath.Join("auditlog", "testdata", "mixed")
	acts := aggregateFiles(t, RuleOptions{},
		filepath.Join(dir, "audit.log"), filepath.Join(dir, "kern.log"), filepath.Join(dir, "journal.json"))
	got := describe(acts)
	want := `ctsec-web complain events=6
  capability net_bind_service, (1)
  dbus (send) bus=system path="/org/freedesktop/DBus" interface="org.freedesktop.DBus" member="Hello" peer=(name="org.freedesktop.DBus", label="unconfined"), (1)
  network inet stream, (1)
  owner "/etc/nginx/nginx.conf" r, (1)
  owner "/var/log/nginx/my access.log" w, (1)
  signal (send) set=(term) peer="ctsec-web", (1)
ctsec-web enforce events=1
  dbus (bind) bus=system name="org.example.Web", (1)
`
	if got != want {
		t.Errorf("aggregation:\n%s\nwant:\n%s", got, want)
	}
}

// hexName is how the kernel logs a value holding a quote, a space, a
// control byte or non-ASCII.
func hexName(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }

// Payloads a process could create as file names to get rules into its own
// profile through the weekly review.
var injectionPaths = []string{
	"/tmp/x\" rw,\n  /** rwlkmix,\n  \"y",
	"/tmp/a}\nprofile evil {\n  /** rwlkmix,\n}\n",
	"/tmp/@{HOME}/**",
	"/tmp/[abc]*?{x,y}^",
	"/tmp/back\\",
	"/tmp/back\\\\\"",
	"/tmp/comma, /etc/shadow r",
	"/tmp/#comment",
	"/tmp/nul\x01\x7fctl\ttab",
	"/tmp/é ünï",
}

func TestProposedRulesAreInert(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	var log strings.Builder
	for i, p := range injectionPaths {
		log.WriteString("type=AVC msg=audit(1795500000.000:" + itoa(i+1) + `): apparmor="ALLOWED" operation="open" class="file" profile="ctsec-inject" name=` +
			hexName(p) + ` pid=1 comm="x" requested_mask="rw" denied_mask="rw" fsuid=0 ouid=1` + "\n")
	}
	// A peer and a D-Bus name from the log that try the same.
	log.WriteString(`type=AVC msg=audit(1795500001.000:100): apparmor="ALLOWED" operation="signal" profile="ctsec-inject" pid=1 comm="x" requested_mask="send" denied_mask="send" signal=term peer=` + hexName("x\" peer=unconfined,\n  /** rw,") + "\n")
	log.WriteString(`type=USER_AVC msg=audit(1795500002.000:101): pid=1 uid=0 msg='apparmor="ALLOWED" operation="dbus_method_call" bus="system" path="/a" interface="b" member="c\"),/**" mask="send" name="d" pid=2 label="ctsec-inject"'` + "\n")
	for _, normalize := range []bool{false, true} {
		f := filepath.Join(t.TempDir(), "inject.log")
		os.WriteFile(f, []byte(log.String()), 0o600)
		acts := aggregateFiles(t, RuleOptions{Normalize: normalize}, f)
		if len(acts) != 1 {
			t.Fatalf("activities: %s", describe(acts))
		}
		p := &Profile{ABI: "abi/3.0", Name: "ctsec-inject", Flags: []string{"complain"}}
		for _, pr := range acts[0].Proposals {
			p.Add(pr.Rule)
		}
		if got := len(acts[0].Proposals); got != len(injectionPaths) {
			t.Errorf("normalize=%v: %d proposals, want %d (one per path; the bad peer and D-Bus member are refused): %s",
				normalize, got, len(injectionPaths), describe(acts))
		}
		text, err := p.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		// Structure: one profile, one rule per line, every rule line a
		// quoted path.
		lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
		if lines[2] != `profile "ctsec-inject" flags=(complain) {` || lines[len(lines)-1] != "}" {
			t.Errorf("profile frame broken:\n%s", text)
		}
		for _, l := range lines[3 : len(lines)-1] {
			if !strings.HasPrefix(l, `  owner "/tmp/`) && !strings.HasPrefix(l, `  "/tmp/`) || !strings.HasSuffix(l, `" rw,`) {
				t.Errorf("unexpected rule line %q", l)
			}
		}
		c := Checker{}
		problems, err := c.Check(context.Background(), text)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) > 0 {
			t.Fatalf("apparmor_parser -QK rejects the proposed profile: %v\n%s", problems, text)
		}
		names, err := c.Names(context.Background(), text)
		if err != nil || len(names) != 1 || names[0] != "ctsec-inject" {
			t.Errorf("apparmor_parser -N = %v, %v; want only ctsec-inject", names, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in     string
		pidVar bool
		want   string
	}{
		{"/proc/1234/status", true, `"/proc/@{pid}/status"`},
		{"/proc/1234/task/1240/stat", false, `"/proc/[0-9]*/task/[0-9]*/stat"`},
		{"/var/lib/app/3f2a9c1e4b5d6a7f8e9d0c1b2a3f4e5d/data", false, `"/var/lib/app/*/data"`},
		{"/run/c/123e4567-e89b-12d3-a456-426614174000/x", false, `"/run/c/*/x"`},
		{"/tmp/upload-20261125093011.tmp", false, `"/tmp/upload-*.tmp"`},
		{"/var/log/app.log.3", false, `"/var/log/app.log.[0-9]*"`},
		{"/etc/nginx/nginx.conf", false, `"/etc/nginx/nginx.conf"`},
		{"/tmp/*{x}/1234567", false, `"/tmp/\*\{x\}/*"`},
		{"/proc/self/fd/12", false, `"/proc/self/fd/12"`},
	}
	for _, tt := range tests {
		if got := pathFor(tt.in, RuleOptions{Normalize: true, PIDVar: tt.pidVar}).String(); got != tt.want {
			t.Errorf("normalize %q = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCovered(t *testing.T) {
	p := &Profile{Name: "x", Rules: []Rule{
		File{Path: Literal("/etc/hosts"), Perms: "rw"},
		Capability{Names: []string{"chown"}},
		Network{Family: "inet"},
		File{Qualifiers: Qualifiers{Deny: true}, Path: Literal("/etc/shadow"), Perms: "r"},
	}}
	yes := []Rule{File{Path: Literal("/etc/hosts"), Perms: "r"}, File{Owner: true, Path: Literal("/etc/hosts"), Perms: "w"},
		Capability{Names: []string{"chown"}}, Network{Family: "inet", Type: "stream"}}
	no := []Rule{File{Path: Literal("/etc/hosts"), Perms: "rk"}, File{Path: Literal("/etc/shadow"), Perms: "r"},
		Capability{Names: []string{"setuid"}}, Network{Family: "inet6"}}
	for _, r := range yes {
		if !Covered(p, r) {
			t.Errorf("%s not covered", r)
		}
	}
	for _, r := range no {
		if Covered(p, r) {
			t.Errorf("%s covered", r)
		}
	}
}

// TestCoveredClasses: bare class rules cover their class (and only it);
// rules narrowed by protocol, qualifier or peer cover only what they name.
// The profile is what 'apparmor gen' writes for a service limited to TCP.
func TestCoveredClasses(t *testing.T) {
	spec := &Spec{Name: "web", Network: SpecNetwork{Protocols: []string{"tcp"}}}
	p, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	p.Rules = append(p.Rules, DBus{}, Raw{Text: "userns,"})
	yes := []Rule{
		Network{Family: "inet", Type: "stream"}, Network{Family: "inet6", Type: "stream"}, Network{Family: "inet", Protocol: "tcp"},
		Unix{Perms: []string{"connect"}, Type: "stream", Addr: "@/tmp/x"},
		DBus{Perms: []string{"send"}, Bus: "system", Member: "Hello"},
		Umount{Point: Literal("/mnt/x/")},
		Capability{Names: []string{"sys_admin"}}, // the template's `capability,`
	}
	no := []Rule{
		// DNS over UDP is not allowed by `network inet tcp,`: taking it as
		// covered would make the review call the profile ready and break
		// name resolution once it enforces.
		Network{Family: "inet", Type: "dgram"}, Network{Family: "inet", Protocol: "udp"}, Network{Family: "inet"},
		Network{Family: "netlink", Type: "raw"},
		Mount{FSTypes: []string{"tmpfs"}, Point: Literal("/mnt/")},
		PivotRoot{NewRoot: Literal("/new/")},
		Signal{Perms: []string{"send"}, Set: []string{"kill"}, Peer: "unconfined"},
		Ptrace{Perms: []string{"read"}, Peer: "unconfined"},
		ChangeProfile{Target: "other"},
	}
	for _, r := range yes {
		if !Covered(p, r) {
			t.Errorf("%s not covered", r)
		}
	}
	for _, r := range no {
		if Covered(p, r) {
			t.Errorf("%s covered", r)
		}
	}
}

// TestProposalsCompile turns every libapparmor test vector and the mixed log
// into proposals, renders one profile per confined profile and has
// apparmor_parser compile each.
func TestProposalsCompile(t *testing.T) {
	testenv.Tool(t, "apparmor_parser")
	ins, _ := filepath.Glob(filepath.Join(testenv.Shared(t, "conformance", "libapparmor-test_multi"), "*.in"))
	mixed, _ := filepath.Glob(filepath.Join("auditlog", "testdata", "mixed", "*"))
	for _, normalize := range []bool{false, true} {
		acts := aggregateFiles(t, RuleOptions{Normalize: normalize, PIDVar: false}, append(ins, mixed...)...)
		profiles := map[string]*Profile{}
		var names []string
		rules := 0
		for _, a := range acts {
			name := ProfileOf(a.Profile) // children's rules compile in their parent as well
			if ValidateName(name) != nil {
				continue
			}
			p := profiles[name]
			if p == nil {
				p = &Profile{Name: name, Flags: []string{"complain"}}
				if len(profiles) == 0 {
					p.ABI = "abi/3.0" // one abi line per file
				}
				profiles[name] = p
				names = append(names, name)
			}
			for _, pr := range a.Proposals {
				rules += p.Add(pr.Rule)
			}
		}
		if len(profiles) < 60 || rules < 70 {
			t.Fatalf("only %d profiles, %d rules built from the vectors", len(profiles), rules)
		}
		var all []byte
		for _, n := range names {
			text, err := profiles[n].Bytes()
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, text...)
			all = append(all, '\n')
		}
		problems, err := Checker{}.Check(context.Background(), all)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) > 0 {
			t.Fatalf("normalize=%v: apparmor_parser rejects proposals: %v", normalize, problems)
		}
		t.Logf("normalize=%v: %d profiles, %d proposed rules compile", normalize, len(profiles), rules)
	}
}

func TestGlobMatches(t *testing.T) {
	tests := []struct {
		glob, path string
		want       bool
	}{
		{"/etc/nginx/**", "/etc/nginx/conf.d/a.conf", true},
		{"/etc/nginx/*", "/etc/nginx/conf.d/a.conf", false},
		{"/etc/nginx/*.conf", "/etc/nginx/a.conf", true},
		{"/srv/{a,b}/x", "/srv/b/x", true},
		{"/srv/{a,b}/x", "/srv/c/x", false},
		{"/dev/tty[0-9]", "/dev/tty5", true},
		{"/dev/tty[^0-9]", "/dev/tty5", false},
		{"/proc/@{pid}/status", "/proc/1/status", false},
		{`/a\*b`, "/a*b", true},
		{`/a\*b`, "/axb", false},
		{"/x?", "/x/", false},
	}
	for _, tt := range tests {
		if got := globMatches(tt.glob, tt.path); got != tt.want {
			t.Errorf("globMatches(%q, %q) = %v", tt.glob, tt.path, got)
		}
	}
}
