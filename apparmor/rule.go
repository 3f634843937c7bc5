package apparmor

import (
	"fmt"
	"strings"
)

// Rule is one entry in a profile body. String is the canonical one-line
// rendering (no indentation, with the terminating comma where the syntax has
// one): two rules with the same String are the same rule, which is how
// rules learnt from logs are de-duplicated against a profile.
type Rule interface {
	String() string
	// Validate reports why the rule cannot be rendered safely.
	Validate() error
}

// Qualifiers are the prefixes every rule kind accepts.
type Qualifiers struct {
	Audit bool `json:"audit,omitempty"`
	Deny  bool `json:"deny,omitempty"`
}

// qualifiers gives every rule kind that embeds Qualifiers one accessor.
func (q Qualifiers) qualifiers() Qualifiers { return q }

func (q Qualifiers) prefix() string {
	s := ""
	if q.Audit {
		s += "audit "
	}
	if q.Deny {
		s += "deny "
	}
	return s
}

// Equal reports whether two rules are the same rule.
func Equal(a, b Rule) bool { return a.String() == b.String() }

// IsPolicy reports whether r grants or denies something (comments and blank
// lines do not).
func IsPolicy(r Rule) bool {
	switch r.(type) {
	case Comment, Blank:
		return false
	}
	return true
}

// Comment is a `# text` line kept from a parsed profile or written by ctsec.
// A Trailing comment belongs at the end of the previous rule's line.
type Comment struct {
	Text     string
	Trailing bool
}

func (c Comment) String() string {
	if c.Text == "" {
		return "#"
	}
	return "# " + c.Text
}

// Validate refuses line breaks, which would turn the rest of the text into rules.
func (c Comment) Validate() error {
	if strings.ContainsAny(c.Text, "\n\r\x00") {
		return fmt.Errorf("comment %q spans lines", c.Text)
	}
	return nil
}

// Blank is an empty line kept for readability.
type Blank struct{}

func (Blank) String() string  { return "" }
func (Blank) Validate() error { return nil }

// Include pulls in another file: `include <abstractions/base>` (search
// path) or `include "/abs/path"`. Legacy keeps the `#include` spelling.
type Include struct {
	Path     string
	Quoted   bool // "path" rather than <path>
	IfExists bool
	Legacy   bool
}

func (i Include) String() string {
	s := "include "
	if i.Legacy {
		s = "#include "
	}
	if i.IfExists {
		s += "if exists "
	}
	if i.Quoted {
		return s + `"` + i.Path + `"`
	}
	return s + "<" + i.Path + ">"
}

// Validate keeps the path inside its delimiters.
func (i Include) Validate() error {
	if i.Path == "" {
		return fmt.Errorf("empty include")
	}
	for _, c := range []byte(i.Path) {
		if c < 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' {
			return fmt.Errorf("include path %q contains %q", i.Path, c)
		}
	}
	if i.Quoted && !strings.HasPrefix(i.Path, "/") {
		return fmt.Errorf("quoted include %q is not absolute", i.Path)
	}
	return nil
}

// File is a file rule: `[audit] [deny] [owner] "PATH" PERMS [-> "TARGET"],`.
// A File with no Path is the bare `file,` rule (all file access).
type File struct {
	Qualifiers
	Owner  bool   `json:"owner,omitempty"`
	Path   Path   `json:"-"`
	Perms  string `json:"perms,omitempty"` // access letters from "mrwalk"
	Exec   string `json:"exec,omitempty"`  // exec mode: ix px Px cx Cx ux Ux pix Pix cix Cix pux PUx cux CUx, or x with deny
	Target string `json:"target,omitempty"`
}

// permOrder is the canonical order of access letters.
const permOrder = "mrwalk"

var execModes = map[string]bool{
	"x": true, "ix": true, "px": true, "Px": true, "cx": true, "Cx": true, "ux": true, "Ux": true,
	"pix": true, "Pix": true, "cix": true, "Cix": true, "pux": true, "PUx": true, "cux": true, "CUx": true,
}

// SplitPerms splits a permission word like "rwlkmix" into canonical access
// letters and an exec mode.
func SplitPerms(word string) (perms, exec string, err error) {
	var seen [128]bool
	for i := 0; i < len(word); i++ {
		c := word[i]
		if strings.IndexByte(permOrder, c) >= 0 {
			if seen[c] {
				return "", "", fmt.Errorf("permission %q repeats %q", word, c)
			}
			seen[c] = true
			continue
		}
		if c == 'i' || c == 'p' || c == 'P' || c == 'c' || c == 'C' || c == 'u' || c == 'U' || c == 'x' {
			exec += string(c)
			continue
		}
		return "", "", fmt.Errorf("unknown permission %q in %q", c, word)
	}
	for i := 0; i < len(permOrder); i++ {
		if seen[permOrder[i]] {
			perms += string(permOrder[i])
		}
	}
	if exec != "" {
		exec = canonicalExec(exec)
		if !execModes[exec] {
			return "", "", fmt.Errorf("unknown exec mode in %q", word)
		}
	}
	return perms, exec, nil
}

// canonicalExec orders exec letters as the parser documents them (pix, PUx…).
func canonicalExec(e string) string {
	var head, mid string
	for _, c := range e {
		switch c {
		case 'p', 'P', 'c', 'C':
			head += string(c)
		case 'i', 'u', 'U':
			mid += string(c)
		}
	}
	if head != "" && mid == "u" && strings.ContainsAny(head, "PC") {
		mid = "U"
	}
	if strings.Count(e, "x") != 1 {
		return "?"
	}
	return head + mid + "x"
}

func (f File) String() string {
	if f.Path.IsZero() && f.Perms == "" && f.Exec == "" {
		return f.prefix() + "file,"
	}
	s := f.prefix()
	if f.Owner {
		s += "owner "
	}
	s += f.Path.String() + " " + f.Perms + f.Exec
	if f.Target != "" {
		s += " -> " + quoteName(f.Target)
	}
	return s + ","
}

// Validate checks the path, the permission letters and the exec mode.
func (f File) Validate() error {
	if f.Path.IsZero() && f.Perms == "" && f.Exec == "" {
		if f.Owner || f.Target != "" {
			return fmt.Errorf("bare file rule with owner or target")
		}
		return nil
	}
	if err := f.Path.Validate(); err != nil {
		return err
	}
	if f.Perms == "" && f.Exec == "" {
		return fmt.Errorf("file rule for %s has no permissions", f.Path)
	}
	perms, exec, err := SplitPerms(f.Perms + f.Exec)
	if err != nil {
		return fmt.Errorf("file rule for %s: %w", f.Path, err)
	}
	if perms != f.Perms || exec != f.Exec {
		return fmt.Errorf("file rule for %s: permissions %q not in canonical form %q", f.Path, f.Perms+f.Exec, perms+exec)
	}
	if strings.Contains(perms, "w") && strings.Contains(perms, "a") {
		return fmt.Errorf("file rule for %s: w and a conflict", f.Path)
	}
	if exec == "x" && !f.Deny {
		return fmt.Errorf("file rule for %s: bare x needs deny (use ix, px, cx or ux)", f.Path)
	}
	if exec != "x" && exec != "" && f.Deny {
		return fmt.Errorf("file rule for %s: deny takes bare x, not %s", f.Path, exec)
	}
	if f.Target != "" {
		if !strings.ContainsAny(exec, "pPcC") {
			return fmt.Errorf("file rule for %s: a target needs px or cx", f.Path)
		}
		if err := ValidateName(f.Target); err != nil {
			return fmt.Errorf("exec target: %w", err)
		}
	}
	return nil
}

// Capability is `capability [NAME...],`; no names means all.
type Capability struct {
	Qualifiers
	Names []string `json:"names,omitempty"`
}

func (c Capability) String() string {
	if len(c.Names) == 0 {
		return c.prefix() + "capability,"
	}
	return c.prefix() + "capability " + strings.Join(c.Names, " ") + ","
}

// Validate accepts the capability names Linux defines.
func (c Capability) Validate() error {
	for _, n := range c.Names {
		if !Capabilities[n] {
			return fmt.Errorf("unknown capability %q", n)
		}
	}
	return nil
}

// Capabilities are the names `capability` rules accept (capabilities(7),
// lower case, without the CAP_ prefix).
var Capabilities = setOf("chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
	"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot",
	"sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap", "mac_override",
	"mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
	"checkpoint_restore")

// Network is `network [FAMILY] [TYPE] [PROTOCOL],`.
type Network struct {
	Qualifiers
	Family   string `json:"family,omitempty"`
	Type     string `json:"type,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

func (n Network) String() string {
	s := n.prefix() + "network"
	for _, f := range []string{n.Family, n.Type, n.Protocol} {
		if f != "" {
			s += " " + f
		}
	}
	return s + ","
}

// Validate accepts the family, type and protocol keywords apparmor.d(5) lists.
func (n Network) Validate() error {
	if n.Family != "" && !NetworkFamilies[n.Family] {
		return fmt.Errorf("unknown network family %q", n.Family)
	}
	if n.Type != "" && !NetworkTypes[n.Type] {
		return fmt.Errorf("unknown network type %q", n.Type)
	}
	if n.Protocol != "" && !NetworkProtocols[n.Protocol] {
		return fmt.Errorf("unknown network protocol %q", n.Protocol)
	}
	return nil
}

// NetworkFamilies, NetworkTypes and NetworkProtocols are the network rule
// keywords (apparmor.d(5)).
var (
	NetworkFamilies = setOf("unix", "inet", "ax25", "ipx", "appletalk", "netrom", "bridge",
		"atmpvc", "x25", "inet6", "rose", "netbeui", "security", "key", "netlink", "packet", "ash",
		"econet", "atmsvc", "rds", "sna", "irda", "pppox", "wanpipe", "llc", "ib", "mpls", "can",
		"tipc", "bluetooth", "iucv", "rxrpc", "isdn", "phonet", "ieee802154", "caif", "alg", "nfc",
		"vsock", "kcm", "qipcrtr", "smc", "xdp", "mctp")
	NetworkTypes     = setOf("stream", "dgram", "seqpacket", "rdm", "raw", "packet")
	NetworkProtocols = setOf("tcp", "udp", "icmp")
)

// Signal is `signal [(PERMS)] [set=(SIGNALS)] [peer="NAME"],`.
type Signal struct {
	Qualifiers
	Perms []string `json:"perms,omitempty"` // send, receive
	Set   []string `json:"set,omitempty"`
	Peer  string   `json:"peer,omitempty"`
}

func (s Signal) String() string {
	out := s.prefix() + "signal" + parenList(s.Perms)
	if len(s.Set) > 0 {
		out += " set=" + strings.TrimPrefix(parenList(s.Set), " ")
	}
	return out + peerClause(s.Peer) + ","
}

// Validate accepts send/receive and the signal names of apparmor.d(5).
func (s Signal) Validate() error {
	if err := checkWords("signal permission", s.Perms, setOf("send", "receive", "r", "w", "rw")); err != nil {
		return err
	}
	if err := checkWords("signal", s.Set, signalNames); err != nil {
		return err
	}
	return checkPeer(s.Peer)
}

var signalNames = setOf("hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1",
	"segv", "usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop", "stp", "ttin", "ttou",
	"urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "io", "pwr", "sys", "emt", "exists")

// Ptrace is `ptrace [(PERMS)] [peer="NAME"],`.
type Ptrace struct {
	Qualifiers
	Perms []string `json:"perms,omitempty"` // trace, tracedby, read, readby
	Peer  string   `json:"peer,omitempty"`
}

func (p Ptrace) String() string {
	return p.prefix() + "ptrace" + parenList(p.Perms) + peerClause(p.Peer) + ","
}

// Validate accepts the ptrace permissions of apparmor.d(5).
func (p Ptrace) Validate() error {
	if err := checkWords("ptrace permission", p.Perms, setOf("trace", "tracedby", "read", "readby", "r", "w", "rw")); err != nil {
		return err
	}
	return checkPeer(p.Peer)
}

// Mount is `mount [fstype=(TYPES)] [options=(OPTS)] ["SOURCE"] [-> "MOUNTPOINT"],`.
// Source may be a device or a word such as "tmpfs"; it need not be absolute.
type Mount struct {
	Qualifiers
	FSTypes []string `json:"fstypes,omitempty"`
	Options []string `json:"options,omitempty"`
	Source  Path     `json:"-"`
	Point   Path     `json:"-"`
}

func (m Mount) String() string {
	s := m.prefix() + "mount"
	if len(m.FSTypes) > 0 {
		s += " fstype=" + strings.TrimPrefix(parenList(m.FSTypes), " ")
	}
	if len(m.Options) > 0 {
		s += " options=" + strings.TrimPrefix(parenList(m.Options), " ")
	}
	if !m.Source.IsZero() {
		s += " " + m.Source.String()
	}
	if !m.Point.IsZero() {
		s += " -> " + m.Point.String()
	}
	return s + ","
}

// Validate checks the words and paths.
func (m Mount) Validate() error {
	if err := checkWords("fstype", m.FSTypes, nil); err != nil {
		return err
	}
	if err := checkWords("mount option", m.Options, mountOptions); err != nil {
		return err
	}
	if !m.Source.IsZero() {
		if err := m.Source.validate(false); err != nil {
			return fmt.Errorf("mount source: %w", err)
		}
	}
	if !m.Point.IsZero() {
		if err := m.Point.Validate(); err != nil {
			return fmt.Errorf("mount point: %w", err)
		}
	}
	return nil
}

var mountOptions = setOf("ro", "r", "read-only", "rw", "w", "suid", "nosuid", "dev", "nodev",
	"exec", "noexec", "sync", "async", "remount", "mand", "nomand", "dirsync", "atime", "noatime",
	"diratime", "nodiratime", "bind", "B", "move", "M", "rbind", "R", "verbose", "silent", "loud",
	"acl", "noacl", "unbindable", "make-unbindable", "runbindable", "make-runbindable", "private",
	"make-private", "rprivate", "make-rprivate", "slave", "make-slave", "rslave", "make-rslave",
	"shared", "make-shared", "rshared", "make-rshared", "relatime", "norelatime", "iversion",
	"noiversion", "strictatime", "nostrictatime", "lazytime", "nolazytime", "user", "nouser")

// Umount is `umount ["MOUNTPOINT"],`.
type Umount struct {
	Qualifiers
	Point Path `json:"-"`
}

func (u Umount) String() string {
	s := u.prefix() + "umount"
	if !u.Point.IsZero() {
		s += " " + u.Point.String()
	}
	return s + ","
}

// Validate checks the mount point.
func (u Umount) Validate() error {
	if u.Point.IsZero() {
		return nil
	}
	return u.Point.Validate()
}

// PivotRoot is `pivot_root [oldroot="OLD"] ["NEW"] [-> "PROFILE"],`.
type PivotRoot struct {
	Qualifiers
	OldRoot Path   `json:"-"`
	NewRoot Path   `json:"-"`
	Target  string `json:"target,omitempty"`
}

func (p PivotRoot) String() string {
	s := p.prefix() + "pivot_root"
	if !p.OldRoot.IsZero() {
		s += " oldroot=" + p.OldRoot.String()
	}
	if !p.NewRoot.IsZero() {
		s += " " + p.NewRoot.String()
	}
	if p.Target != "" {
		s += " -> " + quoteName(p.Target)
	}
	return s + ","
}

// Validate checks paths and the target profile name.
func (p PivotRoot) Validate() error {
	for _, x := range []Path{p.OldRoot, p.NewRoot} {
		if !x.IsZero() {
			if err := x.Validate(); err != nil {
				return fmt.Errorf("pivot_root: %w", err)
			}
		}
	}
	if p.Target != "" {
		return ValidateName(p.Target)
	}
	return nil
}

// Unix is `unix [(PERMS)] [type=TYPE] [addr="ADDR"] [peer=(label="L",addr="A")],`.
// Addresses are matched literally (escaped) like literal paths; abstract
// socket names start with @.
type Unix struct {
	Qualifiers
	Perms     []string `json:"perms,omitempty"`
	Type      string   `json:"type,omitempty"`
	Addr      string   `json:"addr,omitempty"`
	PeerLabel string   `json:"peer_label,omitempty"`
	PeerAddr  string   `json:"peer_addr,omitempty"`
}

func (u Unix) String() string {
	s := u.prefix() + "unix" + parenList(u.Perms)
	if u.Type != "" {
		s += " type=" + u.Type
	}
	if u.Addr != "" {
		s += " addr=" + quoteLiteral(u.Addr)
	}
	var peer []string
	if u.PeerLabel != "" {
		peer = append(peer, "label="+quoteName(u.PeerLabel))
	}
	if u.PeerAddr != "" {
		peer = append(peer, "addr="+quoteLiteral(u.PeerAddr))
	}
	if len(peer) > 0 {
		s += " peer=(" + strings.Join(peer, ",") + ")"
	}
	return s + ","
}

// Validate checks the keywords, the addresses and the peer label.
func (u Unix) Validate() error {
	if err := checkWords("unix permission", u.Perms, setOf("create", "bind", "listen", "accept",
		"connect", "shutdown", "getattr", "setattr", "getopt", "setopt", "send", "receive", "r", "w", "rw")); err != nil {
		return err
	}
	if u.Type != "" && !setOf("stream", "dgram", "seqpacket")[u.Type] {
		return fmt.Errorf("unknown unix socket type %q", u.Type)
	}
	for _, a := range []string{u.Addr, u.PeerAddr} {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("unix address %q contains a NUL byte", a)
		}
	}
	if u.PeerLabel != "" {
		return ValidateName(u.PeerLabel)
	}
	return nil
}

// ChangeProfile is `change_profile ["EXEC"] [-> "PROFILE"],`.
type ChangeProfile struct {
	Qualifiers
	Exec   Path   `json:"-"`
	Target string `json:"target,omitempty"`
}

func (c ChangeProfile) String() string {
	s := c.prefix() + "change_profile"
	if !c.Exec.IsZero() {
		s += " " + c.Exec.String()
	}
	if c.Target != "" {
		s += " -> " + quoteName(c.Target)
	}
	return s + ","
}

// Validate checks the exec path and the target name.
func (c ChangeProfile) Validate() error {
	if !c.Exec.IsZero() {
		if err := c.Exec.Validate(); err != nil {
			return fmt.Errorf("change_profile: %w", err)
		}
	}
	if c.Target != "" {
		return ValidateName(c.Target)
	}
	return nil
}

// DBus is `dbus [(PERMS)] [bus=BUS] [path="P"] [interface="I"] [member="M"]
// [name="N" | peer=(name="N", label="L")],`.
// Every value must follow the D-Bus naming grammar (which has no quotes,
// spaces or pattern characters), so nothing from a log can change the rule's
// shape; a value outside it makes the rule invalid rather than escaped. A
// parsed rule whose values are patterns stays verbatim (Raw).
type DBus struct {
	Qualifiers
	Perms     []string `json:"perms,omitempty"` // send, receive, bind, eavesdrop
	Bus       string   `json:"bus,omitempty"`
	Path      string   `json:"path,omitempty"`
	Interface string   `json:"interface,omitempty"`
	Member    string   `json:"member,omitempty"`
	Name      string   `json:"name,omitempty"`
	PeerLabel string   `json:"peer_label,omitempty"`
}

func (d DBus) String() string {
	s := d.prefix() + "dbus" + parenList(d.Perms)
	if d.Bus != "" {
		s += " bus=" + d.Bus
	}
	if d.Path != "" {
		s += ` path="` + d.Path + `"`
	}
	if d.Interface != "" {
		s += ` interface="` + d.Interface + `"`
	}
	if d.Member != "" {
		s += ` member="` + d.Member + `"`
	}
	if d.Name != "" && !d.isBind() {
		s += ` peer=(name="` + d.Name + `"`
		if d.PeerLabel != "" {
			s += `, label="` + d.PeerLabel + `"`
		}
		s += ")"
	} else if d.Name != "" {
		s += ` name="` + d.Name + `"`
	} else if d.PeerLabel != "" {
		s += ` peer=(label="` + d.PeerLabel + `")`
	}
	return s + ","
}

func (d DBus) isBind() bool { return len(d.Perms) == 1 && d.Perms[0] == "bind" }

// Validate holds every value to the D-Bus grammar.
func (d DBus) Validate() error {
	if err := checkWords("dbus permission", d.Perms, setOf("send", "receive", "bind", "eavesdrop", "r", "w", "rw")); err != nil {
		return err
	}
	if d.Bus != "" && !isIdent(d.Bus) {
		return fmt.Errorf("dbus bus %q is not a plain word", d.Bus)
	}
	if d.Path != "" && !dbusChars(d.Path, "/_", true) {
		return fmt.Errorf("dbus path %q is not a D-Bus object path", d.Path)
	}
	for what, v := range map[string]string{"interface": d.Interface, "member": d.Member, "name": d.Name} {
		if v != "" && !dbusChars(v, "._-:", false) {
			return fmt.Errorf("dbus %s %q is not a D-Bus name", what, v)
		}
	}
	if d.PeerLabel != "" {
		return checkPeer(d.PeerLabel)
	}
	return nil
}

// dbusChars accepts ASCII letters, digits and the given punctuation.
func dbusChars(s, punct string, slash bool) bool {
	if len(s) > 255 || (slash && !strings.HasPrefix(s, "/")) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return false
		}
	}
	return true
}

func parenList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	default:
		return " (" + strings.Join(words, ",") + ")"
	}
}

func peerClause(peer string) string {
	if peer == "" {
		return ""
	}
	return " peer=" + quoteName(peer)
}

func checkPeer(peer string) error {
	if peer == "" {
		return nil
	}
	if err := ValidateName(peer); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	return nil
}

// checkWords accepts words from allowed (any identifier when allowed is nil).
func checkWords(what string, words []string, allowed map[string]bool) error {
	for _, w := range words {
		if allowed != nil {
			if !allowed[w] {
				return fmt.Errorf("unknown %s %q", what, w)
			}
			continue
		}
		if !isIdent(w) {
			return fmt.Errorf("%s %q is not a plain word", what, w)
		}
	}
	return nil
}

func isIdent(w string) bool {
	if w == "" {
		return false
	}
	for _, c := range []byte(w) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
