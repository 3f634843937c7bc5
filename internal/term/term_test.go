package term

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
)

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  trimmed \n", "trimmed"},
		{"a\nb\r\nc\rd", "a; b; c; d"},
		{"tab\there", "tab here"},
		{"esc \x1b[31mred\x1b[0m", "esc ?[31mred?[0m"},
		{"nel\u0085ls\u2028ps\u2029", "nel; ls; ps"},
		{"bidi \u202eevil\u202c", "bidi ?evil?"},
		{"c1 \u009b31m", "c1 ?31m"},
		{"bad utf8 \xff", "bad utf8 ?"},
		{"naïve ✓", "naïve ✓"},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one two three", 20, []string{"one two three"}},
		{"one two three", 7, []string{"one two", "three"}},
		{"abcdefghij kl", 4, []string{"abcd", "efgh", "ij", "kl"}},
		{"x /a/very/long/path", 8, []string{"x", "/a/very/", "long/pat", "h"}},
	}
	for _, tt := range tests {
		got := Wrap(tt.in, tt.width)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Wrap(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

func TestWidth(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "COLUMNS" {
				return v
			}
			return ""
		}
	}
	var buf bytes.Buffer
	for _, tt := range []struct {
		columns string
		want    int
	}{{"", DefaultWidth}, {"120", 120}, {"abc", DefaultWidth}, {"-3", DefaultWidth}, {"5", 20}} {
		if got := Width(&buf, env(tt.columns)); got != tt.want {
			t.Errorf("COLUMNS=%q: width %d, want %d", tt.columns, got, tt.want)
		}
	}
}

func TestColor(t *testing.T) {
	var buf bytes.Buffer
	noColor := func(k string) (string, bool) { return "", k == "NO_COLOR" }
	none := func(string) (string, bool) { return "", false }
	for _, tt := range []struct {
		mode string
		env  func(string) (string, bool)
		want bool
	}{{"always", noColor, true}, {"never", none, false}, {"auto", none, false}, {"auto", noColor, false}} {
		if got := Color(tt.mode, &buf, tt.env); got != tt.want {
			t.Errorf("Color(%s) on a buffer = %v, want %v", tt.mode, got, tt.want)
		}
	}
}

func render(t *testing.T, width int, header []string, rows ...[]string) string {
	t.Helper()
	var b bytes.Buffer
	tb := NewTable(&b, width)
	if header != nil {
		tb.Header(header...)
	}
	for _, r := range rows {
		tb.Row(r...)
	}
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTableAligned(t *testing.T) {
	got := render(t, 40, []string{"ID", "NAME"}, []string{"1", "web"}, []string{"22", "database"})
	want := "ID  NAME\n1   web\n22  database\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTableWrapsLastColumn(t *testing.T) {
	got := render(t, 44, nil,
		[]string{"high", "rule/a", "the message is long enough that it has to wrap twice over"},
		[]string{"", "", "fix: do it"})
	want := "" +
		"high  rule/a  the message is long enough\n" +
		"              that it has to wrap twice over\n" +
		"              fix: do it\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTableStacksWhenTheLastColumnWouldBeTooNarrow(t *testing.T) {
	got := render(t, 50, nil,
		[]string{"medium", "/etc/a/very/long/path/to/a/file.conf:12", "the message wraps under the row"},
		[]string{"", "", "fix: do it"})
	want := "" +
		"medium  /etc/a/very/long/path/to/a/file.conf:12\n" +
		"    the message wraps under the row\n" +
		"    fix: do it\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestTableStyleKeepsAlignment(t *testing.T) {
	var b bytes.Buffer
	tb := NewTable(&b, 80)
	tb.Style(0, func(c string) string {
		if c == "high" {
			return Red
		}
		return ""
	})
	tb.Row("high", "x")
	tb.Row("info", "y")
	tb.Flush()
	want := Red + "high" + Reset + "  x\ninfo  y\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// checkFits fails when any line is wider than width or holds a control
// character.
func checkFits(t *testing.T, out string, width int) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if Len(l) > width {
			t.Errorf("line of %d columns, limit %d: %q", Len(l), width, l)
		}
		for _, r := range l {
			if unicode.IsControl(r) {
				t.Errorf("control character %U in %q", r, l)
			}
		}
	}
}

func FuzzTable(f *testing.F) {
	f.Add("high", "compose/privileged", "compose.yaml:12:5", "service web: privileged: true\x1b[2J", 40)
	f.Add("", "", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w", "x", 20)
	f.Fuzz(func(t *testing.T, a, b, c, d string, width int) {
		width = 20 + abs(width)%200
		out := render(t, width, nil, []string{a, b, c, d}, []string{"", "", "", d})
		checkFits(t, out, width)
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestTableLineSpansColumns(t *testing.T) {
	var b bytes.Buffer
	tb := NewTable(&b, 40)
	tb.Line("1 Host configuration")
	tb.Row("PASS", "1.1", "ok")
	tb.Line("2 Daemon")
	tb.Row("FAIL", "2.10", "bad")
	tb.Flush()
	want := "1 Host configuration\nPASS  1.1   ok\n2 Daemon\nFAIL  2.10  bad\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestFit(t *testing.T) {
	in := "short\n  + SCMP_ACT_ALLOW: read, write, open, close, stat, fstat\nlast"
	want := "short\n  + SCMP_ACT_ALLOW:\n      read, write, open,\n      close, stat, fstat\nlast"
	if got := Fit(in, 24); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
