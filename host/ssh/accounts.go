package ssh

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/ctsec/ctsec/host"
)

// account is a user who might log in over SSH.
type account struct {
	Name   string
	UID    int
	Home   string
	Shell  string
	Groups []string
	// Password says whether /etc/shadow holds a usable password hash;
	// ShadowKnown is false when shadow could not be read.
	Password    bool
	ShadowKnown bool
}

func readAccounts(env *host.Env) ([]account, error) {
	passwd, err := env.ReadFile("/etc/passwd")
	if err != nil {
		return nil, err
	}
	shadow := map[string]string{}
	shadowKnown := false
	if b, err := env.ReadFile("/etc/shadow"); err == nil {
		shadowKnown = true
		for _, l := range lines(b) {
			f := strings.Split(l, ":")
			if len(f) >= 2 {
				shadow[f[0]] = f[1]
			}
		}
	}
	groups := map[string][]string{}
	gidName := map[string]string{}
	if b, err := env.ReadFile("/etc/group"); err == nil {
		for _, l := range lines(b) {
			f := strings.Split(l, ":")
			if len(f) < 4 {
				continue
			}
			gidName[f[2]] = f[0]
			for _, m := range strings.Split(f[3], ",") {
				if m != "" {
					groups[m] = append(groups[m], f[0])
				}
			}
		}
	}
	var out []account
	for _, l := range lines(passwd) {
		f := strings.Split(l, ":")
		if len(f) < 7 {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		a := account{Name: f[0], UID: uid, Home: f[5], Shell: f[6], ShadowKnown: shadowKnown}
		if g, ok := gidName[f[3]]; ok {
			a.Groups = append(a.Groups, g)
		}
		a.Groups = append(a.Groups, groups[f[0]]...)
		hash := shadow[f[0]]
		a.Password = hash != "" && !strings.HasPrefix(hash, "!") && !strings.HasPrefix(hash, "*")
		out = append(out, a)
	}
	return out, nil
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// canLogIn is a person's account: a real shell, and root or a regular uid.
func (a account) canLogIn() bool {
	sh := path.Base(a.Shell)
	if a.Shell == "" || sh == "nologin" || sh == "false" || sh == "sync" || sh == "halt" || sh == "shutdown" {
		return false
	}
	return a.UID == 0 || a.UID >= 1000
}

// allowedBy applies AllowUsers/DenyUsers/AllowGroups/DenyGroups and
// PermitRootLogin from an effective configuration.
func (a account) allowedBy(eff Effective) bool {
	if a.UID == 0 && eff.Get("permitrootlogin") == "no" {
		return false
	}
	matchAny := func(pats []string, name string) bool {
		for _, line := range pats {
			for _, p := range strings.Fields(line) {
				p, _, _ = strings.Cut(p, "@")
				if ok, _ := path.Match(p, name); ok {
					return true
				}
			}
		}
		return false
	}
	groupsMatch := func(pats []string) bool {
		for _, g := range a.Groups {
			if matchAny(pats, g) {
				return true
			}
		}
		return false
	}
	if matchAny(eff["denyusers"], a.Name) || groupsMatch(eff["denygroups"]) {
		return false
	}
	if len(eff["allowusers"]) > 0 && !matchAny(eff["allowusers"], a.Name) {
		return false
	}
	if len(eff["allowgroups"]) > 0 && !groupsMatch(eff["allowgroups"]) {
		return false
	}
	return true
}

// usableKey says whether the account has at least one authorized key sshd
// would accept, and why not otherwise.
func usableKey(env *host.Env, a account, eff Effective) (bool, string) {
	files := strings.Fields(eff.Get("authorizedkeysfile"))
	if len(files) == 0 {
		files = []string{".ssh/authorized_keys", ".ssh/authorized_keys2"}
	}
	strict := eff.Get("strictmodes") != "no"
	why := "no authorized_keys entry"
	for _, f := range files {
		f = strings.NewReplacer("%h", a.Home, "%u", a.Name, "%U", strconv.Itoa(a.UID), "%%", "%").Replace(f)
		if f == "none" {
			continue
		}
		if !path.IsAbs(f) {
			f = path.Join(a.Home, f)
		}
		b, err := env.ReadFile(f)
		if err != nil || len(lines(b)) == 0 {
			continue
		}
		if strict {
			if bad := strictModesProblem(env, a, f); bad != "" {
				why = bad
				continue
			}
		}
		return true, ""
	}
	return false, why
}

// strictModesProblem mirrors sshd's StrictModes check: the key file and
// every directory up to the home must belong to the user or root and not
// be writable by group or others.
func strictModesProblem(env *host.Env, a account, file string) string {
	for p := file; ; p = path.Dir(p) {
		st, err := os.Stat(env.Path(p))
		if err != nil {
			return ""
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			if int(sys.Uid) != 0 && int(sys.Uid) != a.UID {
				return p + " is owned by uid " + strconv.Itoa(int(sys.Uid)) + " (StrictModes rejects it)"
			}
		}
		if st.Mode().Perm()&0o022 != 0 {
			return p + " is group- or world-writable (StrictModes rejects it)"
		}
		if p == a.Home || p == "/" || p == "." {
			return ""
		}
	}
}

func pathMatch(pat, name string) (bool, error) { return path.Match(pat, name) }
