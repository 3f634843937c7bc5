package ssh

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/execx"
)

// authKey is one line of an authorized_keys file, read as sshd reads it:
// options, then a key that ssh-keygen accepts.
type authKey struct {
	File    string
	Line    int
	Type    string            // key type as written ("ssh-ed25519")
	Blob    string            // base64
	Options map[string]string // lower-case name → value ("" for flags)
	Problem string            // why sshd would skip or refuse the line, "" when none
}

// keyTypes are what sshkey_read knows, with the signature algorithms a
// client may use for each; PubkeyAcceptedAlgorithms lists signature
// algorithms (an RSA key signs with rsa-sha2-512 or -256).
var keyTypes = map[string][]string{
	"ssh-ed25519":                        {"ssh-ed25519"},
	"ssh-rsa":                            {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"},
	"ssh-dss":                            {"ssh-dss"},
	"ecdsa-sha2-nistp256":                {"ecdsa-sha2-nistp256"},
	"ecdsa-sha2-nistp384":                {"ecdsa-sha2-nistp384"},
	"ecdsa-sha2-nistp521":                {"ecdsa-sha2-nistp521"},
	"sk-ssh-ed25519@openssh.com":         {"sk-ssh-ed25519@openssh.com"},
	"sk-ecdsa-sha2-nistp256@openssh.com": {"sk-ecdsa-sha2-nistp256@openssh.com"},
	"ssh-xmss@openssh.com":               {"ssh-xmss@openssh.com"},
}

// keyOptions are the authorized_keys options sshd 9 knows; any other makes
// it refuse the line ("bad key options").
var keyOptions = map[string]bool{
	"agent-forwarding": false, "cert-authority": false, "command": true, "environment": true, "expiry-time": true,
	"from": true, "no-agent-forwarding": false, "no-port-forwarding": false, "no-pty": false, "no-user-rc": false,
	"no-x11-forwarding": false, "permitlisten": true, "permitopen": true, "port-forwarding": false, "principals": true,
	"pty": false, "no-touch-required": false, "restrict": false, "tunnel": true, "user-rc": false,
	"verify-required": false, "x11-forwarding": false,
}

// parseKeyLine splits one authorized_keys line. A line sshd would skip as
// blank or a comment gives ok=false.
func parseKeyLine(line string) (k authKey, ok bool) {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' {
		return k, false
	}
	f := strings.Fields(s)
	if _, known := keyTypes[f[0]]; !known {
		opts, rest, err := splitKeyOptions(s)
		if err != "" {
			k.Problem = err
			return k, true
		}
		k.Options = opts
		f = strings.Fields(rest)
	}
	if len(f) < 2 {
		k.Problem = "not a public key"
		return k, true
	}
	if _, known := keyTypes[f[0]]; !known {
		k.Problem = "not a public key (unknown key type)"
		return k, true
	}
	k.Type, k.Blob = f[0], f[1]
	return k, true
}

// splitKeyOptions is sshkey_advance_past_options plus sshauthopt_parse:
// options run to the first space outside double quotes, separated by
// commas, each NAME or NAME="VALUE" (\" inside a value).
func splitKeyOptions(s string) (map[string]string, string, string) {
	opts := map[string]string{}
	i := 0
	for {
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		name := strings.ToLower(s[start:i])
		takesValue, known := keyOptions[name]
		if !known {
			return nil, "", "an option sshd does not know, or not a public key"
		}
		val := ""
		if i < len(s) && s[i] == '=' {
			if !takesValue || i+1 >= len(s) || s[i+1] != '"' {
				return nil, "", "bad option syntax"
			}
			i += 2
			var b strings.Builder
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && s[i+1] == '"' {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, "", "unterminated quote in an option"
			}
			i++
			val = b.String()
		} else if takesValue {
			return nil, "", "option " + name + " needs a value"
		}
		opts[name] = val
		if i >= len(s) {
			return nil, "", "options but no key"
		}
		if s[i] == ',' {
			i++
			continue
		}
		return opts, strings.TrimLeft(s[i:], " \t"), ""
	}
}

// readKeys reads every authorized_keys line of a file and has ssh-keygen
// check the keys, in one run: a line it does not list is not a key sshd
// could use.
func readKeys(ctx context.Context, r execx.Runner, file string, data []byte) ([]authKey, error) {
	var keys []authKey
	var batch strings.Builder
	for i, l := range strings.Split(string(data), "\n") {
		k, ok := parseKeyLine(l)
		if !ok {
			continue
		}
		k.File, k.Line = file, i+1
		if k.Problem == "" {
			fmt.Fprintf(&batch, "%s %s ctsec-line-%d\n", k.Type, k.Blob, len(keys))
		}
		keys = append(keys, k)
	}
	if batch.Len() == 0 {
		return keys, nil
	}
	tmp, err := os.CreateTemp("", "ctsec-keys-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	tmp.WriteString(batch.String())
	tmp.Close()
	res, err := r.Run(ctx, "ssh-keygen", "-l", "-f", tmp.Name())
	if err != nil {
		return nil, err
	}
	valid := map[int]bool{}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		f := strings.Fields(l)
		for _, w := range f {
			if n, ok := strings.CutPrefix(w, "ctsec-line-"); ok {
				if i, err := strconv.Atoi(n); err == nil {
					valid[i] = true
				}
			}
		}
	}
	for i := range keys {
		if keys[i].Problem == "" && !valid[i] {
			keys[i].Problem = "not a valid " + keys[i].Type + " key (ssh-keygen -l rejects it)"
		}
	}
	return keys, nil
}

// verdict says whether a key lets this connection in, and why not.
func (k authKey) verdict(eff Effective, conn connSpec, now time.Time, root bool) string {
	if k.Problem != "" {
		return k.Problem
	}
	if _, ca := k.Options["cert-authority"]; ca {
		return "a cert-authority line: logins need a certificate, which ctsec cannot check"
	}
	if from, ok := k.Options["from"]; ok && matchHostAndIP(conn.host, conn.addr, from) != 1 {
		return fmt.Sprintf(`from="%s" does not admit %s`, from, conn.addr)
	}
	if exp, ok := k.Options["expiry-time"]; ok {
		t, err := parseExpiry(exp)
		if err != nil {
			return "expiry-time " + strconv.Quote(exp) + " is not YYYYMMDD[HHMM[SS]] (sshd refuses the line)"
		}
		if !now.Before(t) {
			return "expired (expiry-time " + exp + ")"
		}
	}
	accepted := eff.Get("pubkeyacceptedalgorithms")
	ok := false
	for _, alg := range keyTypes[k.Type] {
		ok = ok || matchPatternList(alg, accepted, false) == 1
	}
	if !ok {
		return fmt.Sprintf("a %s key, and PubkeyAcceptedAlgorithms (%s) accepts no signature it can make", k.Type, short(accepted))
	}
	_, forced := k.Options["command"]
	if root && eff.Get("permitrootlogin") == "forced-commands-only" && !forced {
		return "PermitRootLogin forced-commands-only and the key has no command="
	}
	if forced {
		return "command= forces a command: no shell to administer the host from"
	}
	_, restrict := k.Options["restrict"]
	_, noPTY := k.Options["no-pty"]
	_, pty := k.Options["pty"]
	if (restrict || noPTY) && !pty {
		return "restrict/no-pty: the login gets no terminal"
	}
	return ""
}

// parseExpiry reads expiry-time as sshd does: local time YYYYMMDD,
// YYYYMMDDHHMM or YYYYMMDDHHMMSS, or UTC with a trailing Z.
func parseExpiry(s string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(s, "Z") {
		loc, s = time.UTC, s[:len(s)-1]
	}
	for _, layout := range []string{"20060102", "200601021504", "20060102150405"} {
		if len(s) == len(layout) {
			return time.ParseInLocation(layout, s, loc)
		}
	}
	return time.Time{}, fmt.Errorf("bad expiry-time")
}

// keyFiles are the AuthorizedKeysFile entries of an effective config for
// an account, expanded as sshd does (%h, %u, %U, %%; relative to home).
func keyFiles(eff Effective, a account) []string {
	var out []string
	for _, f := range strings.Fields(eff.Get("authorizedkeysfile")) {
		if strings.EqualFold(f, "none") {
			continue
		}
		f = expandTokens(f, a)
		if !filepath.IsAbs(f) {
			f = filepath.Join(a.Home, f)
		}
		out = append(out, filepath.Clean(f))
	}
	return out
}

func expandTokens(s string, a account) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'h':
			b.WriteString(a.Home)
		case 'u':
			b.WriteString(a.Name)
		case 'U':
			b.WriteString(strconv.Itoa(a.UID))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// usableKeys says whether the account has a key that lets this connection
// in under eff, and else why not (one reason per file or line).
func usableKeys(ctx context.Context, env *host.Env, a account, eff Effective, conn connSpec) (ok bool, why []string) {
	files := keyFiles(eff, a)
	if len(files) == 0 {
		return false, []string{"AuthorizedKeysFile none"}
	}
	now := clock.Or(env.Clock).Now()
	strict := eff.Get("strictmodes") != "no"
	var missing []string
	defer func() {
		if !ok && len(missing) > 0 {
			why = append(why, "no "+strings.Join(missing, " nor ")+" (AuthorizedKeysFile)")
		}
	}()
	for _, f := range files {
		real, err := env.FS().Resolve(f)
		if err == nil {
			_, err = os.Stat(real)
		}
		if host.IsNotExist(err) {
			missing = append(missing, f)
			continue
		}
		if err != nil {
			why = append(why, shortErr(err))
			continue
		}
		if w := readable(env, a, f, real); w != "" {
			why = append(why, w)
			continue
		}
		if strict {
			if w := strictModes(env, a, f, real); w != "" {
				why = append(why, w)
				continue
			}
		}
		data, err := env.ReadFile(f)
		if err != nil {
			why = append(why, shortErr(err))
			continue
		}
		keys, err := readKeys(ctx, env.Runner, f, data)
		if err != nil {
			why = append(why, fmt.Sprintf("checking %s with ssh-keygen: %v", f, err))
			continue
		}
		if len(keys) == 0 {
			why = append(why, f+" holds no key")
		}
		for _, k := range keys {
			w := k.verdict(eff, conn, now, a.UID == 0)
			if w == "" {
				return true, nil
			}
			why = append(why, fmt.Sprintf("%s:%d: %s", k.File, k.Line, w))
		}
	}
	return false, why
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// connSpec is a connection sshd -T -C evaluates: who, from where, to
// which local address and port.
type connSpec struct {
	user  string
	host  string
	addr  netip.Addr
	laddr netip.Addr
	lport int
}

func (c connSpec) String() string {
	return fmt.Sprintf("user=%s,host=%s,addr=%s,laddr=%s,lport=%d", c.user, c.host, c.addr, c.laddr, c.lport)
}
