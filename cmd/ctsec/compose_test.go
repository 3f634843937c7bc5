package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/safefile"
	"github.com/ctsec/ctsec/internal/testenv"
)

func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestComposeAudit(t *testing.T) {
	out, errOut, code := ctsec(t, "compose", "audit", "--format", "json", "../../compose/testdata/harden/unconfined.yml")
	if code != 1 {
		t.Fatalf("exit = %d (critical findings, --fail-on high), stderr %q", code, errOut)
	}
	var r struct {
		Findings []struct {
			Rule, Severity, File string
			Line                 int
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, f := range r.Findings {
		rules[f.Rule] = true
		if f.File == "" || f.Line == 0 {
			t.Errorf("finding without position: %+v", f)
		}
	}
	for _, want := range []string{"compose/docker-socket", "compose/unconfined", "compose/db-port-exposed", "compose/dangerous-cap"} {
		if !rules[want] {
			t.Errorf("no %s finding", want)
		}
	}
	if _, _, code := ctsec(t, "compose", "audit", "--fail-on", "none", "../../compose/testdata/harden/unconfined.yml"); code != 0 {
		t.Errorf("--fail-on none: exit %d", code)
	}
}

func TestComposeHardenFlow(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	file := copyFile(t, "../../compose/testdata/harden/features.yml", dir)
	orig, _ := os.ReadFile(file)

	out, errOut, code := ctsec(t, "compose", "harden", file)
	if code != 0 || !strings.HasPrefix(out, "--- "+file+"\n") || !strings.Contains(out, "+    cap_drop:") {
		t.Fatalf("diff run: exit %d, out %q, err %q", code, out, errOut)
	}
	if now, _ := os.ReadFile(file); string(now) != string(orig) {
		t.Fatal("dry run changed the file")
	}
	if !strings.Contains(errOut, "privileged: true kept") {
		t.Errorf("privileged not reported: %q", errOut)
	}

	outFile := filepath.Join(dir, "out.yml")
	if _, errOut, code := ctsec(t, "compose", "harden", "-o", outFile, "--state-dir", state, file); code != 0 {
		t.Fatalf("-o: exit %d %q", code, errOut)
	}
	_, errOut, code = ctsec(t, "compose", "harden", "--write", "--state-dir", state, file)
	if code != 0 || !strings.Contains(errOut, "wrote") {
		t.Fatalf("--write: exit %d %q", code, errOut)
	}
	written, _ := os.ReadFile(file)
	viaO, _ := os.ReadFile(outFile)
	if string(written) == string(orig) || string(written) != string(viaO) {
		t.Fatal("--write and -o disagree or nothing was written")
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode not kept: %v", fi.Mode())
	}
	backups, _ := filepath.Glob(filepath.Join(state, "backups", "*", "*-features.yml"))
	found := false
	for _, b := range backups {
		if data, _ := os.ReadFile(b); string(data) == string(orig) {
			found = true
		}
	}
	if !found {
		t.Errorf("no backup of the original in %s", state)
	}
	out, errOut, code = ctsec(t, "compose", "harden", "--write", "--state-dir", state, file)
	if code != 0 || out != "" || !strings.Contains(errOut, "nothing to change") {
		t.Errorf("second run: exit %d out %q err %q", code, out, errOut)
	}

	out, _, code = ctsec(t, "compose", "harden", "--format", "json", "--level", "strict", "../../compose/testdata/harden/crlf.yml")
	var r struct {
		Data struct {
			Changed bool
			Changes []struct{ Service, Rule, Field string }
			Diff    string
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || !r.Data.Changed || len(r.Data.Changes) == 0 || !strings.Contains(r.Data.Diff, "read_only: true\r\n") {
		t.Errorf("json: exit %d %q", code, out)
	}
}

func TestComposeBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = n
	}
	big := filepath.Join(dir, "big.yml")
	f, _ := os.Create(big)
	f.Truncate(50 << 20)
	f.Close()
	tests := []struct {
		name, file, want string
	}{
		{"invalid yaml", write("invalid.yml", "services:\n  web:\n    image: nginx\n   bad: [\n"), "invalid.yml:"},
		{"not compose", write("pod.yml", "apiVersion: v1\nkind: Pod\n"), "pod.yml"},
		{"50 MB", big, "larger than"},
		{"billion laughs", write("bomb.yml", bomb), "bomb.yml"},
		{"missing", filepath.Join(dir, "nope.yml"), "no such file"},
		{"NUL", write("nul.yml", "services:\n  web:\n    image: nginx\x00\n"), "nul.yml:3:17: NUL byte"},
		{"not UTF-8", write("latin1.yml", "services:\n  web:\n    image: caf\xe9\n"), "latin1.yml:3:15: not UTF-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.file)
			for _, args := range [][]string{{"compose", "audit", tt.file}, {"compose", "harden", "--write", "--state-dir", t.TempDir(), tt.file}} {
				out, errOut, code := ctsec(t, args...)
				if code != 2 {
					t.Errorf("%v: exit %d, want 2", args[:2], code)
				}
				if !strings.Contains(errOut, tt.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "ctsec: ") {
					t.Errorf("%v: stderr %q, want one line with %q", args[:2], errOut, tt.want)
				}
				if out != "" {
					t.Errorf("%v: stdout %q", args[:2], out)
				}
			}
			if after, _ := os.ReadFile(tt.file); string(after) != string(before) {
				t.Error("bad input file was changed")
			}
		})
	}
	if _, errOut, code := ctsec(t, "compose", "harden", "--only", "cap-dorp", "../../compose/testdata/harden/crlf.yml"); code != 2 || !strings.Contains(errOut, "unknown harden rule") {
		t.Errorf("--only typo: exit %d %q", code, errOut)
	}
	if _, _, code := ctsec(t, "compose", "harden", "--level", "paranoid", "../../compose/testdata/harden/crlf.yml"); code != 2 {
		t.Errorf("--policy typo: exit %d", code)
	}
}

func TestComposeHardenGenProfiles(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	file := copyFile(t, "../../compose/testdata/run/compose.yml", dir)
	profiles := filepath.Join(dir, "profiles")
	os.Mkdir(profiles, 0o755)
	want := filepath.Join(profiles, "app.seccomp.json")

	out, errOut, code := ctsec(t, "compose", "harden", "--gen-profiles", "--profiles-dir", profiles, file)
	if code != 0 || !strings.Contains(out, "+      - seccomp=./profiles/app.seccomp.json") || !strings.Contains(errOut, "would write seccomp profile") {
		t.Fatalf("dry run: exit %d out %q err %q", code, out, errOut)
	}
	if _, err := os.Stat(want); err == nil {
		t.Fatal("dry run wrote a profile")
	}
	if _, errOut, code := ctsec(t, "compose", "harden", "--gen-profiles", "--profiles-dir", profiles, "--write", "--state-dir", state, file); code != 0 {
		t.Fatalf("--write: exit %d %q", code, errOut)
	}
	// The generated profile is what `ctsec seccomp validate` accepts.
	if _, errOut, code := ctsec(t, "seccomp", "validate", want); code != 0 {
		t.Errorf("generated profile does not validate: exit %d %q", code, errOut)
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "seccomp=./profiles/app.seccomp.json") {
		t.Errorf("compose file does not refer to the profile:\n%s", b)
	}
	out, errOut, code = ctsec(t, "compose", "harden", "--gen-profiles", "--profiles-dir", profiles, file)
	if code != 0 || out != "" || strings.Contains(errOut, "would write") {
		t.Errorf("second run: exit %d out %q err %q", code, out, errOut)
	}
	if _, errOut, code := ctsec(t, "compose", "harden", "--gen-profiles", file); code != 2 || !strings.Contains(errOut, "--profiles") {
		t.Errorf("--gen-profiles without --profiles: exit %d %q", code, errOut)
	}
}

// TestComposeRollback: a --write is undone byte for byte, a file made by -o
// is removed, the rollback itself is backed up, and ids of other jobs or
// unknown ids are refused with one line and exit 2.
func TestComposeRollback(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	file := copyFile(t, "../../compose/testdata/harden/features.yml", dir)
	orig, _ := os.ReadFile(file)
	outFile := filepath.Join(dir, "out.yml")
	if _, errOut, code := ctsec(t, "compose", "harden", "-o", outFile, "--state-dir", state, file); code != 0 {
		t.Fatalf("-o: exit %d %q", code, errOut)
	}
	if _, errOut, code := ctsec(t, "compose", "harden", "--write", "--state-dir", state, file); code != 0 {
		t.Fatalf("--write: exit %d %q", code, errOut)
	}
	hardened, _ := os.ReadFile(file)
	out, _, code := ctsec(t, "compose", "rollback", "--state-dir", state, "--format", "json")
	var list struct {
		Data struct {
			Changes []struct {
				ID    string
				Files []string
			}
		}
	}
	json.Unmarshal([]byte(out), &list)
	idOf := map[string]string{}
	for _, c := range list.Data.Changes {
		if len(c.Files) == 1 {
			idOf[c.Files[0]] = c.ID
		}
	}
	if code != 0 || len(idOf) != 2 || idOf[file] == "" || idOf[outFile] == "" {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	// The text listing names both changes too.
	if text, _, _ := ctsec(t, "compose", "rollback", "--state-dir", state); !strings.Contains(text, idOf[file]) || !strings.Contains(text, idOf[outFile]) {
		t.Errorf("text listing:\n%s", text)
	}
	out, errOut, code := ctsec(t, "compose", "rollback", "--state-dir", state, idOf[file])
	if now, _ := os.ReadFile(file); code != 0 || string(now) != string(orig) {
		t.Fatalf("rollback of --write: exit %d %q; file restored = %v", code, errOut, string(now) == string(orig))
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode not restored: %v", fi.Mode())
	}
	undo := regexp.MustCompile(`backup (\S+);`).FindStringSubmatch(out)
	if undo == nil || !strings.Contains(flat(out), "undo with: ctsec compose rollback --state-dir "+state+" "+undo[1]) {
		t.Fatalf("no backup of the pre-rollback state named, or no command to undo it: %q", out)
	}
	if _, _, code := ctsec(t, "compose", "rollback", "--state-dir", state, undo[1]); code != 0 {
		t.Fatalf("rollback of the rollback: exit %d", code)
	}
	if now, _ := os.ReadFile(file); string(now) != string(hardened) {
		t.Error("rolling back the rollback did not give the hardened file back")
	}
	if _, _, code := ctsec(t, "compose", "rollback", "--state-dir", state, idOf[outFile]); code != 0 {
		t.Fatalf("rollback of -o: exit %d", code)
	}
	if _, err := os.Stat(outFile); !os.IsNotExist(err) {
		t.Errorf("file made by -o still there: %v", err)
	}

	// Another job's backup and unknown ids.
	other := &safefile.Store{Dir: state, Clock: testenv.Clock(t)}
	ch, _ := other.NewChange("host apply")
	ch.Save(filepath.Join(dir, "x"))
	for _, id := range []string{ch.ID(), "nope", "../x"} {
		_, errOut, code := ctsec(t, "compose", "rollback", "--state-dir", state, id)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%s: exit %d %q, want exit 2 and one line", id, code, errOut)
		}
	}
}

// TestComposeHardenRefusedLeavesNoBackup: a harden whose write is refused
// (the target is a directory, or a symlink) exits 2 and leaves no change
// directory behind: an empty backup would be listed by rollback as a change
// that never happened (issue 18.8).
func TestComposeHardenRefusedLeavesNoBackup(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	file := copyFile(t, "../../compose/testdata/harden/features.yml", dir)
	link := filepath.Join(dir, "link.yml")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-o", t.TempDir(), file},
		{"--write", link},
	} {
		_, errOut, code := ctsec(t, append([]string{"compose", "harden", "--state-dir", state}, args...)...)
		if code != 2 || !strings.Contains(errOut, "not a regular file") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
		entries, _ := os.ReadDir(filepath.Join(state, "backups"))
		if len(entries) != 0 {
			t.Errorf("%v: refused harden left %d backup directories", args, len(entries))
		}
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "services:") || strings.Contains(string(b), "cap_drop:\n      - ALL\n    # ctsec") {
		t.Error("the symlinked file changed")
	}
}
