package apparmor

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLen bounds profile and peer names; the kernel's limit is larger,
// but a longer name is a mistake or an attack.
const MaxNameLen = 255

// ValidateName reports why s cannot be a profile or peer name. A name is
// rendered quoted; characters that would need escaping there, that have
// pattern meaning, or that break the one-name-per-line output of
// `apparmor_parser -N` and securityfs are refused rather than escaped, so the
// name in the file, in the kernel and in the logs is the same string.
func ValidateName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty profile name")
	case len(s) > MaxNameLen:
		return fmt.Errorf("profile name %.20q… is longer than %d bytes", s, MaxNameLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("profile name %q is not valid UTF-8", s)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("profile name %q starts or ends with white space", s)
	case strings.Contains(s, "//"):
		return fmt.Errorf("profile name %q contains // (reserved for child profiles)", s)
	case strings.HasPrefix(s, "@"):
		return fmt.Errorf("profile name %q starts with @", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return fmt.Errorf("profile name %q contains control character %U", s, r)
		}
		if strings.ContainsRune(`"\*?[]{}^,#=()`, r) {
			return fmt.Errorf("profile name %q contains %q", s, r)
		}
	}
	return nil
}

// quoteName renders a validated name.
func quoteName(s string) string { return `"` + s + `"` }
