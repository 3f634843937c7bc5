package ssh

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ctsec/ctsec/host"
)

// account is a user who might log in over SSH, as the root's own
// /etc/passwd, /etc/group and /etc/shadow describe them.
type account struct {
	Name   string
	UID    int
	GID    int
	Home   string
	Shell  string
	Groups []string
	// GIDs are the primary and supplementary groups, for reading files as
	// the user does.
	GIDs []int
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
	groupGIDs := map[string][]int{}
	gidName := map[string]string{}
	if b, err := env.ReadFile("/etc/group"); err == nil {
		for _, l := range lines(b) {
			f := strings.Split(l, ":")
			if len(f) < 4 {
				continue
			}
			gid, err := strconv.Atoi(f[2])
			if err != nil {
				continue
			}
			gidName[f[2]] = f[0]
			for _, m := range strings.Split(f[3], ",") {
				if m != "" {
					groups[m] = append(groups[m], f[0])
					groupGIDs[m] = append(groupGIDs[m], gid)
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
		gid, err := strconv.Atoi(f[3])
		if err != nil {
			continue
		}
		a := account{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6], ShadowKnown: shadowKnown}
		if g, ok := gidName[f[3]]; ok {
			a.Groups = append(a.Groups, g)
		}
		a.Groups = append(a.Groups, groups[f[0]]...)
		a.GIDs = append([]int{gid}, groupGIDs[f[0]]...)
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

func pathMatch(pat, name string) (bool, error) { return path.Match(pat, name) }

// accountNamed is the account of a login name.
func accountNamed(accts []account, name string) (account, bool) {
	for _, a := range accts {
		if a.Name == name {
			return a, true
		}
	}
	return account{}, false
}

// accessDenied applies DenyUsers, AllowUsers, DenyGroups, AllowGroups and
// PermitRootLogin=no as sshd's allowed_user() does for a connection from
// host/addr, and says which rule refuses ("" when none).
func (a account) accessDenied(eff Effective, host string, addr netip.Addr) string {
	if a.UID == 0 && eff.Get("permitrootlogin") == "no" {
		return "PermitRootLogin no"
	}
	for _, line := range eff["denyusers"] {
		for _, p := range strings.Fields(line) {
			if matchUser(a.Name, host, addr, p) {
				return "DenyUsers " + p
			}
		}
	}
	if allow := eff["allowusers"]; len(allow) > 0 {
		ok := false
		for _, line := range allow {
			for _, p := range strings.Fields(line) {
				ok = ok || matchUser(a.Name, host, addr, p)
			}
		}
		if !ok {
			return "AllowUsers " + strings.Join(allow, " ") + " does not admit " + a.Name + " from " + addr.String()
		}
	}
	groupIn := func(lines []string) string {
		for _, line := range lines {
			for _, p := range strings.Fields(line) {
				for _, g := range a.Groups {
					if matchPattern(g, p) {
						return p
					}
				}
			}
		}
		return ""
	}
	if p := groupIn(eff["denygroups"]); p != "" {
		return "DenyGroups " + p
	}
	if allow := eff["allowgroups"]; len(allow) > 0 && groupIn(allow) == "" {
		return "AllowGroups " + strings.Join(allow, " ") + " admits none of " + a.Name + "'s groups"
	}
	return ""
}

// may reports whether the account, by the root's modes, may open a file
// with the wanted permission (4 read, 1 search); root always may.
func (a account) may(st fs.FileInfo, want fs.FileMode) bool {
	if a.UID == 0 {
		return true
	}
	uid, gid := fileOwner(st)
	m := st.Mode().Perm()
	switch {
	case uid == a.UID:
		return m&(want<<6) != 0
	case slices.Contains(a.GIDs, gid):
		return m&(want<<3) != 0
	}
	return m&want != 0
}

func fileOwner(st fs.FileInfo) (uid, gid int) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), int(sys.Gid)
	}
	return -1, -1
}

// readable says why the account cannot read real (a path inside the root
// with no symlinks, as Resolve gives it) the way sshd reads
// authorized_keys — as the user — or "" when it can.
func readable(env *host.Env, a account, hostPath, real string) string {
	root := env.FS().Dir()
	rel := strings.TrimPrefix(strings.TrimPrefix(real, root), "/")
	cur := root
	parts := strings.Split(rel, "/")
	for i, c := range parts {
		st, err := os.Stat(cur)
		if err != nil {
			return err.Error()
		}
		if !a.may(st, 1) {
			return fmt.Sprintf("%s cannot enter %s (mode %04o)", a.Name, env.FS().Join("/"+strings.Join(parts[:i], "/")), st.Mode().Perm())
		}
		cur = filepath.Join(cur, c)
	}
	st, err := os.Stat(real)
	if err != nil {
		return err.Error()
	}
	if !a.may(st, 4) {
		uid, _ := fileOwner(st)
		return fmt.Sprintf("%s is owned by uid %d with mode %04o: sshd reads it as %s, who cannot", hostPath, uid, st.Mode().Perm(), a.Name)
	}
	return ""
}

// strictModes is sshd's StrictModes check (auth_secure_path) on the
// resolved key file: a regular file owned by root or the user and
// writable by nobody else, and so every directory above it up to the
// user's home (or /, for a file outside the home).
func strictModes(env *host.Env, a account, hostPath, real string) string {
	st, err := os.Lstat(real)
	if err != nil {
		return err.Error()
	}
	bad := func(what, p string, st fs.FileInfo) string {
		uid, _ := fileOwner(st)
		if uid != 0 && uid != a.UID {
			return fmt.Sprintf("%s %s is owned by uid %d (StrictModes rejects it)", what, p, uid)
		}
		if st.Mode().Perm()&0o022 != 0 {
			return fmt.Sprintf("%s %s is group- or world-writable (StrictModes rejects it)", what, p)
		}
		return ""
	}
	if !st.Mode().IsRegular() {
		return hostPath + " is not a regular file"
	}
	if why := bad("file", hostPath, st); why != "" {
		return why
	}
	fsys := env.FS()
	home, err := fsys.Resolve(a.Home)
	if err != nil {
		home = ""
	}
	root := fsys.Dir()
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err.Error()
		}
		shown := "/" + strings.TrimPrefix(strings.TrimPrefix(d, root), "/")
		if why := bad("directory", shown, st); why != "" {
			return why
		}
		if d == home || d == root || d == "/" || len(d) < len(root) {
			return ""
		}
	}
}
