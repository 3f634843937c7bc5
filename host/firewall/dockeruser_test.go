package firewall

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/host/hosttest"
	"github.com/ctsec/ctsec/internal/testenv"
)

func TestPlanDockerFilter(t *testing.T) {
	const (
		related = "-A ctsec-docker-user -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
		drop    = "-A ctsec-docker-user -m conntrack --ctstate DNAT -j DROP"
	)
	port := func(p string) string {
		return "-A ctsec-docker-user -p " + p + " -j RETURN"
	}
	base, _ := host.BaselinePolicy()
	tests := []struct {
		name   string
		fw     host.FirewallPolicy
		input  string
		v4, v6 []string
	}{
		{"baseline", base.Firewall, "DROP",
			[]string{related, port("tcp -m conntrack --ctstate DNAT --ctorigdstport 22"), port("tcp -m conntrack --ctstate DNAT --ctorigdstport 80"),
				port("tcp -m conntrack --ctstate DNAT --ctorigdstport 443"), port("tcp -m conntrack --ctstate DNAT --ctorigdstport 5432"), drop},
			[]string{related, port("tcp -m conntrack --ctstate DNAT --ctorigdstport 22"), port("tcp -m conntrack --ctstate DNAT --ctorigdstport 80"),
				port("tcp -m conntrack --ctstate DNAT --ctorigdstport 443"), port("tcp -m conntrack --ctstate DNAT --ctorigdstport 5432"), drop}},
		// Sources go to their own family, in iptables' canonical spelling; a
		// source that does not parse is left out (narrower, never wider).
		{"sources", host.FirewallPolicy{DefaultIncoming: "reject", Docker: true, Allow: []host.PortRule{
			{Port: 53, Proto: "udp", From: []string{"198.51.100.7", "2001:db8::1:0/96", "203.0.113.9/24", "not-an-address"}},
			{Port: 0, Proto: "tcp"}, {Port: 70, Proto: "sctp"}}}, "ACCEPT",
			[]string{related, "-A ctsec-docker-user -s 198.51.100.7/32 -p udp -m conntrack --ctstate DNAT --ctorigdstport 53 -j RETURN",
				"-A ctsec-docker-user -s 203.0.113.0/24 -p udp -m conntrack --ctstate DNAT --ctorigdstport 53 -j RETURN",
				"-A ctsec-docker-user -m conntrack --ctstate DNAT -j REJECT --reject-with icmp-port-unreachable"},
			[]string{related, "-A ctsec-docker-user -s 2001:db8::/96 -p udp -m conntrack --ctstate DNAT --ctorigdstport 53 -j RETURN",
				"-A ctsec-docker-user -m conntrack --ctstate DNAT -j REJECT --reject-with icmp6-port-unreachable"}},
		{"whole address space", host.FirewallPolicy{DefaultIncoming: "deny", Docker: true, Allow: []host.PortRule{{Port: 8080, Proto: "tcp", From: []string{"0.0.0.0/0"}}}}, "",
			[]string{related, port("tcp -m conntrack --ctstate DNAT --ctorigdstport 8080"), drop}, []string{related, drop}},
		{"ufw's default decides", host.FirewallPolicy{Docker: true}, "REJECT",
			[]string{related, "-A ctsec-docker-user -m conntrack --ctstate DNAT -j REJECT --reject-with icmp-port-unreachable"},
			[]string{related, "-A ctsec-docker-user -m conntrack --ctstate DNAT -j REJECT --reject-with icmp6-port-unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := planDockerFilter(tt.fw, tt.input)
			if f == nil {
				t.Fatal("no filter")
			}
			if !reflect.DeepEqual(f.V4, tt.v4) || !reflect.DeepEqual(f.V6, tt.v6) {
				t.Errorf("v4:\n%s\nwant\n%s\nv6:\n%s\nwant\n%s", strings.Join(f.V4, "\n"), strings.Join(tt.v4, "\n"), strings.Join(f.V6, "\n"), strings.Join(tt.v6, "\n"))
			}
		})
	}
	for _, tt := range []struct {
		name  string
		fw    host.FirewallPolicy
		input string
	}{
		{"docker off", host.FirewallPolicy{DefaultIncoming: "deny"}, "DROP"},
		{"incoming allowed", host.FirewallPolicy{DefaultIncoming: "allow", Docker: true}, "DROP"},
		{"ufw accepts", host.FirewallPolicy{Docker: true}, "ACCEPT"},
	} {
		if f := planDockerFilter(tt.fw, tt.input); f != nil {
			t.Errorf("%s: filter %+v, want none", tt.name, f)
		}
	}
}

// The block in Debian's own after.init: after the header, before set -e;
// a second splice changes nothing; taking it out gives the template back.
func TestSpliceBlock(t *testing.T) {
	stock, err := os.ReadFile("testdata/after.init")
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := host.BaselinePolicy()
	block, err := renderBlock(planDockerFilter(pol.Firewall, "DROP"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := spliceBlock(stock, block)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, "testdata/after.init.golden", got)
	if again, _ := spliceBlock(got, block); string(again) != string(got) {
		t.Error("a second splice changed the file")
	}
	if out, _ := spliceBlock(got, ""); string(out) != string(stock) {
		t.Errorf("taking the block out does not give the template back:\n%s", out)
	}
	if i, j := strings.Index(string(got), blockBegin), strings.Index(string(got), "\nset -e\n"); i < 0 || j < i {
		t.Errorf("block not before set -e:\n%s", got)
	}
	if out, _ := spliceBlock(nil, block); !strings.HasPrefix(string(out), "#!/bin/sh\n"+blockBegin) {
		t.Errorf("an empty after.init becomes %q", out)
	}
	if out, _ := spliceBlock([]byte("#!/bin/sh"), block); string(out) != "#!/bin/sh\n"+block {
		t.Errorf("a #! line without newline becomes %q", out)
	}
}

func TestFindBlockDamaged(t *testing.T) {
	for _, tt := range []struct {
		text string
		line int
	}{
		{"#!/bin/sh\n" + blockBegin + "\necho\n", 2},
		{"#!/bin/sh\n" + blockEnd + "\n", 2},
		{blockBegin + "\n" + blockEnd + "\n" + blockBegin + "\n" + blockEnd + "\n", 3},
		{blockBegin + "\n" + blockBegin + "\n" + blockEnd + "\n", 2},
		{blockBegin + "\n" + blockEnd + "\n" + blockEnd + "\n", 3},
	} {
		_, _, _, err := findBlock([]byte(tt.text))
		var be *blockError
		if !errors.As(err, &be) || be.Line != tt.line {
			t.Errorf("%q: %v, want an error at line %d", tt.text, err, tt.line)
		}
		if _, err := spliceBlock([]byte(tt.text), ""); err == nil {
			t.Errorf("%q: spliced", tt.text)
		}
	}
}

// afterInitEdit makes the template executable, keeps an executable file's
// own commands, and refuses to wake commands a non-executable file holds.
func TestAfterInitEdit(t *testing.T) {
	pol, _ := host.BaselinePolicy()
	f := planDockerFilter(pol.Firewall, "DROP")
	stock, _ := os.ReadFile("testdata/after.init")
	root := func(content string, mode os.FileMode) *host.Env {
		env := hosttest.Root(t)
		hosttest.Write(t, env, stockAfterInit, string(stock))
		hosttest.Write(t, env, afterInit, content)
		os.Chmod(env.Path(afterInit), mode)
		return env
	}
	env := root(string(stock), 0o640)
	ed, refusal, err := afterInitEdit(env, f)
	if err != nil || refusal != nil || ed == nil || ed.Mode != 0o750 || !strings.Contains(string(ed.New), blockBegin) {
		t.Fatalf("template: edit %+v refusal %+v err %v", ed, refusal, err)
	}
	if !strings.Contains(ed.Diff, "+-A ctsec-docker-user -m conntrack --ctstate DNAT -j DROP") {
		t.Errorf("the diff does not show the rules:\n%s", ed.Diff)
	}
	os.WriteFile(env.Path(afterInit), ed.New, 0o750)
	os.Chmod(env.Path(afterInit), 0o750)
	if ed, _, _ := afterInitEdit(env, f); ed != nil {
		t.Errorf("second edit: %+v", ed)
	}
	// Executable with the admin's own commands: the block goes in, they stay.
	env = root("#!/bin/sh\niptables -I DOCKER-USER -s 10.0.0.0/8 -j RETURN\n", 0o750)
	if ed, refusal, err := afterInitEdit(env, f); err != nil || refusal != nil || !strings.HasSuffix(string(ed.New), "iptables -I DOCKER-USER -s 10.0.0.0/8 -j RETURN\n") {
		t.Errorf("executable: %+v %+v %v", ed, refusal, err)
	}
	// Not executable with commands of its own: refused.
	env = root("#!/bin/sh\nrm -rf /srv/cache\n", 0o640)
	if _, refusal, _ := afterInitEdit(env, f); refusal == nil || refusal.Guard != "firewall-after-init" {
		t.Errorf("dormant commands: refusal %+v", refusal)
	}
	// The block taken out when the policy no longer wants it; nothing to do
	// where there is none.
	env = root(string(spliceOrFatal(t, stock, f)), 0o750)
	if ed, _, _ := afterInitEdit(env, nil); ed == nil || string(ed.New) != string(stock) {
		t.Errorf("removal: %+v", ed)
	}
	env = root(string(stock), 0o640)
	if ed, _, _ := afterInitEdit(env, nil); ed != nil {
		t.Errorf("nothing to remove: %+v", ed)
	}
	env = root(blockBegin+"\n", 0o750)
	if _, _, err := afterInitEdit(env, f); err == nil || !strings.Contains(err.Error(), "/etc/ufw/after.init:1: ") {
		t.Errorf("damaged block: %v", err)
	}
}

func spliceOrFatal(t *testing.T, data []byte, f *dockerFilter) []byte {
	block, err := renderBlock(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := spliceBlock(data, block)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseChains(t *testing.T) {
	out := "#family iptables\n-N ctsec-docker-user\n-A ctsec-docker-user -m conntrack --ctstate DNAT -j DROP\n#first\n-A DOCKER-USER -j ctsec-docker-user\n#family ip6tables\n#off\n"
	cs := parseChains(out)
	want := chains{"iptables": {rules: []string{"-A ctsec-docker-user -m conntrack --ctstate DNAT -j DROP"}, first: true}, "ip6tables": {off: true, rules: nil}}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("got %+v %+v", cs["iptables"], cs["ip6tables"])
	}
	f := &dockerFilter{V4: []string{"-A ctsec-docker-user -m conntrack --ctstate DNAT -j DROP"}}
	if err := checkLoaded(cs, f); err != nil {
		t.Error(err)
	}
	if err := checkLoaded(cs, nil); err == nil {
		t.Error("a loaded chain passed as absent")
	}
	cs["iptables"].first = false
	if err := checkLoaded(cs, f); err == nil || !strings.Contains(err.Error(), "first") {
		t.Errorf("not first: %v", err)
	}
	if err := checkLoaded(parseChains("#family iptables\n#nochain\n#first\n#family ip6tables\n#nochain\n#first\n"), f); err == nil {
		t.Error("no chain passed")
	}
}

// A block damaged after writing fails verification: the chain loaded in
// the private namespace is not the policy's, and every file comes back.
func TestVerifyDockerFilter(t *testing.T) {
	ctx := context.Background()
	env := ufwRoot(t)
	before := hosttest.Snapshot(t, env)
	pol, _ := host.BaselinePolicy()
	e := &host.Engine{Env: env, StateDir: t.TempDir(), Modules: []host.Module{New()}, Clock: testenv.Clock(t)}
	e.Hook = func(point string) {
		if point == "wrote "+afterInit {
			b, _ := os.ReadFile(env.Path(afterInit))
			os.WriteFile(env.Path(afterInit), []byte(strings.Replace(string(b), "--ctorigdstport 5432 -j RETURN", "--ctorigdstport 5433 -j RETURN", 1)), 0o750)
		}
	}
	plan, err := e.Plan(ctx, pol)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(ctx, plan, host.ApplyOptions{})
	var rolled *host.RolledBackError
	if !errors.As(err, &rolled) || !strings.Contains(err.Error(), "not the policy's") {
		t.Fatalf("apply = %v", err)
	}
	if !reflect.DeepEqual(before, hosttest.Snapshot(t, env)) {
		t.Error("files not restored byte for byte")
	}
	if st, _ := os.Stat(env.Path(afterInit)); st.Mode().Perm() != 0o640 {
		t.Errorf("after.init mode %v after rollback, want 0640", st.Mode())
	}
}

func FuzzSpliceBlock(f *testing.F) {
	stock, _ := os.ReadFile("testdata/after.init")
	f.Add(string(stock))
	f.Add("#!/bin/sh\n" + blockBegin + "\nold\n" + blockEnd + "\nexit 0\n")
	f.Add("")
	f.Add("no newline")
	pol, _ := host.BaselinePolicy()
	block, err := renderBlock(planDockerFilter(pol.Firewall, "DROP"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := spliceBlock([]byte(s), block)
		if err != nil {
			if _, _, _, ferr := findBlock([]byte(s)); ferr == nil {
				t.Fatalf("splice failed (%v) where findBlock did not", err)
			}
			return
		}
		start, end, ok, err := findBlock(out)
		if err != nil || !ok || string(out[start:end]) != block {
			t.Fatalf("the block is not found back in %q: %v", out, err)
		}
		if again, _ := spliceBlock(out, block); string(again) != string(out) {
			t.Fatal("not idempotent")
		}
		// Everything but the block is the input's, whatever it was.
		without, _ := spliceBlock(out, "")
		orig, _ := spliceBlock([]byte(s), "")
		if strings.TrimSpace(string(orig)) != "" && string(without) != string(orig) && string(without) != string(orig)+"\n" {
			t.Fatalf("the admin's part changed:\n%q\n%q", orig, without)
		}
	})
}
