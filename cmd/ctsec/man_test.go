package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/spf13/cobra"
)

// Every command gets a man page, and groff reads each one without a
// warning: the pages install.sh installs are real troff, not just files.
func TestManPages(t *testing.T) {
	groff := testenv.Tool(t, "groff")
	dir := t.TempDir()
	if _, errOut, code := ctsec(t, "man", "--dir", dir); code != 0 {
		t.Fatalf("man: exit %d %q", code, errOut)
	}
	var want []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd(&app{}))
	for _, page := range want {
		path := filepath.Join(dir, page)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("no man page %s", page)
			continue
		}
		out, err := exec.Command(groff, "-k", "-man", "-Tutf8", "-ww", "-z", path).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff on %s: %v\n%s", page, err, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ctsec-host-apply.1")); !strings.Contains(string(b), "confirm-within") {
		t.Errorf("ctsec-host-apply.1 lacks its flags:\n%s", b)
	}
}

// The bash completion install.sh installs completes subcommands in a real
// bash with bash-completion loaded.
func TestBashCompletion(t *testing.T) {
	bash := testenv.Tool(t, "bash")
	lib := "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err != nil {
		testenv.Unavailable(t, "%s is missing (Debian package bash-completion)", lib)
	}
	script, _, code := ctsec(t, "completion", "bash")
	if code != 0 {
		t.Fatal("completion bash failed")
	}
	// The completion script asks the binary itself for candidates.
	bin := filepath.Join(t.TempDir(), "ctsec")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building ctsec: %v\n%s", err, out)
	}
	file := writeFile(t, filepath.Join(t.TempDir(), "ctsec.bash"), script)
	cmd := exec.Command(bash, "-c", `source `+lib+`; source `+file+`
COMP_WORDS=(ctsec host ap); COMP_CWORD=2; COMP_LINE="ctsec host ap"; COMP_POINT=${#COMP_LINE}
__start_ctsec ctsec ap host 2>/dev/null; echo "${COMPREPLY[*]}"`)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "apply" {
		t.Errorf("completing 'ctsec host ap': %v %q", err, out)
	}
}
