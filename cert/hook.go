package cert

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// HookDir is where certbot keeps deploy hooks: it runs every executable
// file there after each successful renewal, with RENEWED_LINEAGE set to
// the renewed certificate's live directory (certbot's documentation,
// "Renewing certificates").
const HookDir = "/etc/letsencrypt/renewal-hooks/deploy"

// hookName admits names that are plain file names.
var hookName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`) })

// HookPath is the host path of the hook NAME.
func HookPath(name string) (string, error) {
	if !hookName().MatchString(name) {
		return "", fmt.Errorf("hook name %q: want letters, digits, '.', '_' or '-' (at most 64)", name)
	}
	return HookDir + "/ctsec-" + name, nil
}

// HookScript is the deploy hook: it acts only when certbot renewed the
// certificate in lineage (certbot runs every hook after any renewal) and
// then runs `self tls deploy --write --cert-dir "$RENEWED_LINEAGE" args…`.
// Every argument is quoted for the shell, so nothing in a flag's value is
// ever run.
func HookScript(name, lineage, self string, args []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n")
	fmt.Fprintf(&b, "# ctsec tls hook %s, written by `ctsec tls hook install`. certbot runs it after\n", name)
	fmt.Fprintf(&b, "# every renewal with RENEWED_LINEAGE set; it acts only for %s.\n", oneLine(lineage))
	fmt.Fprintf(&b, "set -eu\n")
	fmt.Fprintf(&b, "[ \"${RENEWED_LINEAGE:-}\" = %s ] || exit 0\n", shellQuote(lineage))
	words := []string{shellQuote(self), "tls", "deploy", "--write", "--cert-dir", `"$RENEWED_LINEAGE"`}
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	fmt.Fprintf(&b, "exec %s\n", strings.Join(words, " "))
	return []byte(b.String())
}

var shellSafe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`) })

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe().MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// oneLine keeps a comment one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
