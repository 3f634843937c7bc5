package textdiff

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ctsec/ctsec/internal/testenv"
	"github.com/ctsec/ctsec/internal/textdiff/difftest"
)

// cases are checked three ways: the exact text wanted (what `diff -u`
// prints for them, dates left out), GNU patch applied to old gives new, and
// the in-test applier (which the fuzz target relies on) agrees with patch.
var cases = []struct {
	name, old, new, want string
}{
	{"equal", "a\nb\n", "a\nb\n", ""},
	{"both empty", "", "", ""},
	{"new file", "", "x\ny\n", "@@ -0,0 +1,2 @@\n+x\n+y\n"},
	{"new file one line", "", "x\n", "@@ -0,0 +1 @@\n+x\n"},
	{"deleted file", "x\ny\n", "", "@@ -1,2 +0,0 @@\n-x\n-y\n"},
	{"change in middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nV\n6\n7\n8\n9\n",
		"@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+V\n 6\n 7\n 8\n"},
	{"insert at start", "a\nb\nc\nd\ne\n", "0\na\nb\nc\nd\ne\n", "@@ -1,3 +1,4 @@\n+0\n a\n b\n c\n"},
	{"append at end", "a\nb\nc\nd\ne\n", "a\nb\nc\nd\ne\nf\n", "@@ -3,3 +3,4 @@\n c\n d\n e\n+f\n"},
	{"pure insertion names the line before", "a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nX\ne\nf\ng\nh\n",
		"@@ -2,6 +2,7 @@\n b\n c\n d\n+X\n e\n f\n g\n"},
	{"six lines apart: one hunk", "x\n1\n2\n3\n4\n5\n6\ny\n", "X\n1\n2\n3\n4\n5\n6\nY\n",
		"@@ -1,8 +1,8 @@\n-x\n+X\n 1\n 2\n 3\n 4\n 5\n 6\n-y\n+Y\n"},
	{"seven lines apart: two hunks", "x\n1\n2\n3\n4\n5\n6\n7\ny\n", "X\n1\n2\n3\n4\n5\n6\n7\nY\n",
		"@@ -1,4 +1,4 @@\n-x\n+X\n 1\n 2\n 3\n@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-y\n+Y\n"},
	{"no newline at end, both", "a\nb", "a\nc", "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"},
	{"newline added at end", "a\nb", "a\nb\n", "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
	{"newline removed at end", "a\nb\n", "a\nb", "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n"},
	{"unchanged last line without newline", "a\nb\nc", "A\nb\nc", "@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n\\ No newline at end of file\n"},
	{"crlf kept", "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n", "@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n"},
	{"crlf to lf is a change", "a\r\nb\r\n", "a\r\nb\n", "@@ -1,2 +1,2 @@\n a\r\n-b\r\n+b\n"},
	{"lone cr stays in the line", "a\rb\n", "a\rc\n", "@@ -1 +1 @@\n-a\rb\n+a\rc\n"},
	{"replace all", "a\nb\n", "c\nd\n", "@@ -1,2 +1,2 @@\n-a\n-b\n+c\n+d\n"},
	{"moved block", "1\n2\n3\nA\nB\n4\n5\n", "A\nB\n1\n2\n3\n4\n5\n", "@@ -1,7 +1,7 @@\n+A\n+B\n 1\n 2\n 3\n-A\n-B\n 4\n 5\n"},
}

func TestUnified(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := Unified("a/f", "b/f", []byte(tt.old), []byte(tt.new))
			want := ""
			if tt.want != "" {
				want = "--- a/f\n+++ b/f\n" + tt.want
			}
			if got != want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, want)
			}
			if got == "" {
				return
			}
			if out := patchFile(t, tt.old, got); out != tt.new {
				t.Errorf("patch gives %q, want %q", out, tt.new)
			}
			if out, err := difftest.Apply(tt.old, got); err != nil || out != tt.new {
				t.Errorf("apply gives %q, %v; want %q", out, err, tt.new)
			}
		})
	}
}

// TestUnifiedMatchesGNUDiff holds the output to `diff -u` itself on the
// cases, beyond the literal wants above.
func TestUnifiedMatchesGNUDiff(t *testing.T) {
	diff := testenv.Tool(t, "diff")
	for _, tt := range cases {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.WriteFile(a, []byte(tt.old), 0o644)
		os.WriteFile(b, []byte(tt.new), 0o644)
		out, _ := exec.Command(diff, "-u", "--label", "a/f", "--label", "b/f", a, b).Output()
		if got := Unified("a/f", "b/f", []byte(tt.old), []byte(tt.new)); got != string(out) {
			t.Errorf("%s: ours:\n%s\ndiff -u:\n%s", tt.name, got, out)
		}
	}
}

// TestRandomEditsApply runs GNU patch on diffs of random edits of a file
// with many repeated lines (the hard case for alignment), with the normal
// cost bound and with a tiny one that forces the give-up path.
func TestRandomEditsApply(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		old := randomText(r, 60)
		new := mutate(r, old)
		for _, bound := range []int{0, 1, 3} {
			d := Render("a/f", "b/f", ops(Lines(old), Lines(new), bound))
			if old == new {
				if d != "" {
					t.Fatalf("diff of equal texts: %q", d)
				}
				continue
			}
			if got := patchFile(t, old, d); got != new {
				t.Fatalf("case %d bound %d: patch gives %q, want %q\n%s", i, bound, got, new, d)
			}
		}
	}
}

// TestShortest checks the edit script against the longest common
// subsequence computed by dynamic programming: below the cost bound the
// diff changes no line it need not.
func TestShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		a, b := Lines(randomText(r, 30)), Lines(randomText(r, 30))
		if edits, want := countEdits(Ops(a, b)), len(a)+len(b)-2*lcs(a, b); edits != want {
			t.Fatalf("%d edits, shortest is %d\na=%q\nb=%q", edits, want, a, b)
		}
	}
}

func TestLines(t *testing.T) {
	for _, s := range []string{"", "a", "a\n", "a\r\nb", "\n\n", "a\nb\n"} {
		if got := strings.Join(Lines(s), ""); got != s {
			t.Errorf("Lines(%q) joins to %q", s, got)
		}
	}
}

func FuzzUnified(f *testing.F) {
	for _, tt := range cases {
		f.Add(tt.old, tt.new, uint8(0))
	}
	f.Add("a\nb\nc\na\nb\n", "b\na\nc\nb\n", uint8(1))
	f.Fuzz(func(t *testing.T, old, new string, bound uint8) {
		d := Render("a", "b", ops(Lines(old), Lines(new), int(bound%4)))
		if (d == "") != (old == new) {
			t.Fatalf("diff %q for %q → %q", d, old, new)
		}
		if got, err := difftest.Apply(old, d); err != nil || got != new {
			t.Fatalf("applying gives %q, %v; want %q\n%s", got, err, new, d)
		}
	})
}

func BenchmarkUnified(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	var big strings.Builder
	for i := range 50_000 {
		fmt.Fprintf(&big, "line %d: %d\n", i, r.IntN(1000))
	}
	old := big.String()
	few := strings.Replace(strings.Replace(old, "line 100:", "LINE 100:", 1), "line 40000:", "x\nline 40000:", 1)
	lines := Lines(old)
	shuffled := append([]string(nil), lines...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	repeats := func(seed uint64) string { // lines drawn from a small set: every line matches somewhere
		r := rand.New(rand.NewPCG(seed, 0))
		var s strings.Builder
		for range 20_000 {
			fmt.Fprintf(&s, "%d\n", r.IntN(20))
		}
		return s.String()
	}
	for _, bc := range []struct {
		name     string
		old, new string
	}{
		{"50k lines, 2 edits", old, few},
		{"50k lines, shuffled", old, strings.Join(shuffled, "")},
		{"50k lines vs unrelated", old, strings.ReplaceAll(old, "line", "LINE")},
		{"20k repeated lines, random", repeats(1), repeats(2)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Unified("a", "b", []byte(bc.old), []byte(bc.new))
			}
		})
	}
}

func randomText(r *rand.Rand, n int) string {
	var s strings.Builder
	for range r.IntN(n) {
		s.WriteString([]string{"a", "b", "c", "}", "", "x\r"}[r.IntN(6)])
		s.WriteByte('\n')
	}
	if r.IntN(4) == 0 {
		s.WriteString("tail")
	}
	return s.String()
}

func mutate(r *rand.Rand, s string) string {
	lines := Lines(s)
	for range r.IntN(6) {
		i := r.IntN(len(lines) + 1)
		switch r.IntN(3) {
		case 0:
			lines = append(lines[:i], append([]string{"new\n"}, lines[i:]...)...)
		case 1:
			if i < len(lines) {
				lines = append(lines[:i], lines[i+1:]...)
			}
		default:
			if i < len(lines) {
				lines[i] = "changed\n"
			}
		}
	}
	out := strings.Join(lines, "")
	if r.IntN(4) == 0 {
		out = strings.TrimSuffix(out, "\n")
	}
	return out
}

func countEdits(ops []Op) int {
	n := 0
	for _, o := range ops {
		if o.Kind != Equal {
			n++
		}
	}
	return n
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// patchFile applies diff to a file holding old with GNU patch and returns
// the result.
func patchFile(t *testing.T, old, diff string) string {
	t.Helper()
	patch := testenv.Tool(t, "patch")
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(patch, "--binary", "--batch", "--silent", "-p1", "-d", dir)
	cmd.Stdin = strings.NewReader(diff)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch: %v: %s\n%s", err, out, diff)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err) // patch removes a file that ends up empty
	}
	return string(got)
}

// TestRender covers ops built by a caller that knows its alignment, as
// compose's insertion-only patcher does.
func TestRender(t *testing.T) {
	if got := Render("a", "b", []Op{{Equal, "x\n"}, {Equal, "y"}}); got != "" {
		t.Errorf("no change rendered as %q", got)
	}
	ops := []Op{{Equal, "services:\n"}, {Insert, "  # note\n"}, {Equal, "  web:"}}
	want := "--- a\n+++ b\n@@ -1,2 +1,3 @@\n services:\n+  # note\n   web:\n\\ No newline at end of file\n"
	if got := Render("a", "b", ops); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestQuotedNames: a name with a newline, tab, space, quote or backslash
// is written in C quotes, so that it cannot forge diff lines, and GNU patch
// still finds the file by it.
func TestQuotedNames(t *testing.T) {
	patch := testenv.Tool(t, "patch")
	for _, tt := range []struct{ name, header string }{
		{"plain.yml", "plain.yml"},
		{"my stack.yml", `"my stack.yml"`},
		{"new\nline", `"new\nline"`},
		{"tab\there", `"tab\there"`},
		{`quote"d`, `"quote\"d"`},
		{`back\slash`, `"back\\slash"`},
		{"bell\a", `"bell\a"`},
		{"esc\x1b", `"esc\033"`},
	} {
		d := Unified(tt.name, tt.name, []byte("x\n"), []byte("y\n"))
		want := "--- " + tt.header + "\n+++ " + tt.header + "\n@@ -1 +1 @@\n-x\n+y\n"
		if d != want {
			t.Errorf("%q: got\n%s\nwant\n%s", tt.name, d, want)
			continue
		}
		dir := t.TempDir()
		file := filepath.Join(dir, tt.name)
		os.WriteFile(file, []byte("x\n"), 0o644)
		cmd := exec.Command(patch, "--batch", "--silent", "-p0", "-d", dir)
		cmd.Stdin = strings.NewReader(d)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%q: patch: %v: %s", tt.name, err, out)
			continue
		}
		if got, _ := os.ReadFile(file); string(got) != "y\n" {
			t.Errorf("%q: patched file holds %q", tt.name, got)
		}
	}
}

// FuzzQuoteName: a quoted name is one line, and reads back (Go's string
// syntax includes the C escapes used) to the name.
func FuzzQuoteName(f *testing.F) {
	for _, s := range []string{"a/b.yml", "x\n+++ y", "t\tz", `q"\`, "\x00\x7f", "é ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		q := quoteName(name)
		if strings.ContainsAny(q, "\n\r") {
			t.Fatalf("%q quoted as %q", name, q)
		}
		if q == name || !utf8.ValidString(name) {
			return
		}
		if back, err := strconv.Unquote(q); err != nil || back != name {
			t.Fatalf("%q quoted as %q reads back as %q, %v", name, q, back, err)
		}
	})
}
