package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// How a command is written (docs/cli.md): NewXxxCmd builds the cobra
// command and parses its flags into an xxxOptions; runXxx(ctx, opts, a)
// does the work and returns a report — its result in Data, findings where
// it audits, its own text view in Text — and a.finish renders it in the
// format asked for and sets the exit code. Tests check flags through the
// constructor's runF and behaviour by calling runXxx.

const formatsAnnotation = "ctsec/formats"

// withFormats declares the output formats a command writes; a command that
// declares none writes text and json. --format with another one is refused
// before the command runs, naming the ones it has.
func withFormats(cmd *cobra.Command, fs ...report.Format) *cobra.Command {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[formatsAnnotation] = strings.Join(names, ",")
	return cmd
}

// audit declares a command that reports findings: every format.
func audit(cmd *cobra.Command) *cobra.Command { return withFormats(cmd, report.Formats...) }

// isAudit reports whether cmd is an audit: findings are its result, and
// --fail-on decides its exit code.
func isAudit(cmd *cobra.Command) bool {
	return cmd == nil || slices.Contains(formatsOf(cmd), report.SARIF)
}

func formatsOf(cmd *cobra.Command) []report.Format {
	s, ok := cmd.Annotations[formatsAnnotation]
	if !ok {
		return report.Results
	}
	var fs []report.Format
	for _, n := range strings.Split(s, ",") {
		fs = append(fs, report.Format(n))
	}
	return fs
}

func checkFormat(cmd *cobra.Command, f report.Format) error {
	fs := formatsOf(cmd)
	if slices.Contains(fs, f) {
		return nil
	}
	return usageError(fmt.Errorf("--format %s: %s writes %s", f, cmd.CommandPath(), report.Join(fs)))
}

// groupCmd makes a command that only holds subcommands refuse a mistyped
// one: exit 2 with the closest names, where cobra would print the group's
// help and exit 0. Without arguments it prints its help.
func groupCmd(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	// Flags of the subcommand the user meant must not hide the typo.
	cmd.FParseErrWhitelist.UnknownFlags = true
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return unknownCommand(c, args[0])
	}
	return cmd
}

func unknownCommand(c *cobra.Command, typed string) error {
	msg := fmt.Sprintf("unknown command %q for %q", typed, c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(typed); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", quoteList(prefixAll(c.CommandPath()+" ", s)))
	}
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	msg += fmt.Sprintf(" (commands: %s)", strings.Join(names, ", "))
	return usageError(fmt.Errorf("%s", msg))
}

func prefixAll(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " or ")
}

// deprecatedFlag registers old (and its shorthand, if any) as a hidden
// spelling of the flag named current, kept for a release: it sets the same
// value and queues a one-line note for stderr.
func (a *app) deprecatedFlag(fs *pflag.FlagSet, old, shorthand, current string) {
	f := fs.Lookup(current)
	if f == nil {
		panic("deprecatedFlag: no flag --" + current)
	}
	v := &aliasValue{Value: f.Value, flag: f, note: func() {
		a.note(fmt.Sprintf("ctsec: warning: --%s is deprecated and will be removed; use --%s", old, current))
	}}
	alias := fs.VarPF(v, old, shorthand, "deprecated: use --"+current)
	alias.NoOptDefVal = f.NoOptDefVal
	alias.Hidden = true
}

// aliasValue forwards to the flag it stands for and marks it changed, so
// code asking Changed(current) sees the old spelling too.
type aliasValue struct {
	pflag.Value
	flag *pflag.Flag
	note func()
}

func (v *aliasValue) Set(s string) error {
	v.note()
	v.flag.Changed = true
	return v.Value.Set(s)
}

// carried are the flags a printed next command repeats when the user gave
// them: they say where the work happened (a root, a state directory, a
// Portainer, an engine), and a next step without them would act elsewhere.
var carried = []string{"root", "state-dir", "policy", "profiles-dir", "url", "api-key-file", "ca", "host", "context", "journal-dir"}

// nextCommand is a command line for people to run next — "ctsec PATH ARGS"
// plus the carried flags this run was given and the next command takes —
// shell-quoted so it can be pasted as it is.
func (a *app) nextCommand(path string, args ...string) string {
	cmd := a.cmd
	words := append([]string{"ctsec"}, strings.Fields(path)...)
	if cmd == nil {
		return quoteWords(append(words, args...))
	}
	target, _, err := a.fullTree(cmd).Find(strings.Fields(path))
	if err == nil && target != nil {
		for _, name := range carried {
			f := cmd.Flags().Lookup(name)
			if f == nil || !f.Changed || target.Flags().Lookup(name) == nil && target.InheritedFlags().Lookup(name) == nil {
				continue
			}
			words = append(words, "--"+name, f.Value.String())
		}
	}
	return quoteWords(append(words, args...))
}

// ctsecCommand finds "ctsec GROUP VERB" in a finding's fix or a note.
var ctsecCommand = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\bctsec ([a-z]+) ([a-z]+)\b`) })

// carryFlags makes the ctsec commands a domain package wrote into text
// (a finding's fix: "ctsec host apply ssh (writes …)") repeat the carried
// flags this run was given, so they act on the same root and state.
func (a *app) carryFlags(text string) string {
	if a.cmd == nil || !strings.Contains(text, "ctsec ") {
		return text
	}
	return ctsecCommand().ReplaceAllStringFunc(text, func(m string) string {
		words := strings.Fields(m)[1:]
		root := a.fullTree(a.cmd)
		target, rest, err := root.Find(words)
		if err != nil || len(rest) > 0 || target == root {
			return m
		}
		return a.nextCommand(strings.Join(words, " "))
	})
}

func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

var shellSafe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`) })

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe().MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// helpFunc prints a command's help fitted to the width: the long text
// (already written to fit), then usage.
func (a *app) helpFunc(c *cobra.Command, _ []string) {
	text := c.Long
	if text == "" {
		text = c.Short
	}
	w := c.OutOrStdout()
	if text = strings.TrimRight(text, " \n"); text != "" {
		fmt.Fprintln(w, text)
		fmt.Fprintln(w)
	}
	if c.Runnable() || c.HasSubCommands() {
		a.writeUsage(w, c)
	}
}

// writeUsage is cobra's usage with the flag and command lists wrapped to
// the width and the formats the command writes.
func (a *app) writeUsage(w io.Writer, c *cobra.Command) {
	width := a.width()
	fmt.Fprint(w, "Usage:")
	if c.Runnable() && !c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n  %s", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n  %s [command]", c.CommandPath())
	}
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\n\nAliases:\n  %s", c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\n\nExamples:\n%s", c.Example)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n\nAvailable Commands:\n")
		var b strings.Builder
		t := term.NewTable(&b, width)
		t.Indent = "  "
		t.MinWrap = 20
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				t.Row(sub.Name(), sub.Short)
			}
		}
		t.Flush()
		fmt.Fprint(w, strings.TrimRight(b.String(), "\n"))
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprintf(w, "\n\nFlags:\n")
		fmt.Fprint(w, strings.TrimRight(c.LocalFlags().FlagUsagesWrapped(width), " \n"))
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, "\n\nGlobal Flags:\n")
		fmt.Fprint(w, strings.TrimRight(c.InheritedFlags().FlagUsagesWrapped(width), " \n"))
	}
	if c.Runnable() && !c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n\nOutput formats (--format): %s", report.Join(formatsOf(c)))
		writeRulesHelp(w, c, width)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n\nUse \"%s [command] --help\" for more information about a command.", c.CommandPath())
	}
	fmt.Fprintln(w)
}

var unknownFlag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^unknown flag: --([^\s=]+)$`) })

// flagError says which command refused the flag and, for a mistyped one,
// the flag meant.
func flagError(c *cobra.Command, err error) error {
	path := c.CommandPath()
	where := strings.TrimPrefix(path, "ctsec ") // the error line starts "ctsec: "
	m := unknownFlag().FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	best, dist := "", 3
	visit := func(f *pflag.Flag) {
		name := f.Name
		if f.Hidden {
			// an old name stands for its new one
			cur, ok := strings.CutPrefix(f.Usage, "deprecated: use --")
			if !ok {
				return
			}
			name = cur
		}
		if d := levenshtein(m[1], f.Name); d < dist || strings.HasPrefix(f.Name, m[1]) && dist > 1 {
			best, dist = name, min(d, 1)
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	if best != "" {
		return fmt.Errorf("%s: unknown flag --%s; did you mean --%s? (%s --help lists its flags)", where, m[1], best, path)
	}
	return fmt.Errorf("%s: unknown flag --%s (%s --help lists its flags)", where, m[1], path)
}

// levenshtein is the edit distance of a and b.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
