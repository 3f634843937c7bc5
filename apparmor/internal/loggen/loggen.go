// Package loggen writes synthetic audit.log text for benchmarks of the
// AppArmor review: the record types of a busy Docker host's auditd
// (SYSCALL, PATH, CWD, PROCTITLE, EXECVE, USER_*, CRED_*, SERVICE_*,
// NETFILTER_CFG, BPF…) around a chosen share of AppArmor AVC and USER_AVC
// records, from 30 profiles over 29 days of timestamps, with increasing
// audit stamps.
//
// The AppArmor records vary the way a real week does: pids, parents,
// commands, owners, masks and ALLOWED/DENIED differ from record to record,
// so nearly every record is a distinct shape (≥ 200,000 per GiB), while
// what a rule depends on — the profile, the path, the capability, the
// socket, the peer — comes from a bounded set per profile: a service
// touches the same files all week. The review's memory should follow that
// bounded set, not the shapes. The output is deterministic for a given
// size, share and seed.
package loggen

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Options shape a log.
type Options struct {
	Size     int64 // bytes, about
	Percent  int   // share of lines that are AppArmor records (default 10)
	Profiles int   // distinct profiles (default 30)
	Days     int   // days the timestamps span (default 29)
	Seed     uint64
	// Start is the first record's epoch (default 1795000000, 2026-11-18).
	Start int64
}

func (o *Options) defaults() {
	if o.Percent <= 0 {
		o.Percent = 10
	}
	if o.Profiles <= 0 {
		o.Profiles = 30
	}
	if o.Days <= 0 {
		o.Days = 29
	}
	if o.Start == 0 {
		o.Start = 1795000000
	}
}

// Data returns about size bytes of log and its line count.
func Data(size int64, percent int) ([]byte, int64) {
	var b strings.Builder
	b.Grow(int(size) + 4096)
	lines, _ := Generate(&b, Options{Size: size, Percent: percent}) // a strings.Builder does not fail
	return []byte(b.String()), lines
}

// Write writes about size bytes with the given share of AppArmor records.
func Write(w io.Writer, size int64, percent int) (int64, error) {
	return Generate(w, Options{Size: size, Percent: percent})
}

// avgLine is the mean length of a generated line, to spread the days over
// the lines a size will take.
const avgLine = 245

// Generate writes a log and returns the number of lines written.
func Generate(w io.Writer, o Options) (int64, error) {
	o.defaults()
	g := newGen(o)
	bw := bufio.NewWriterSize(w, 1<<20)
	var written, lines int64
	total := max(o.Size/avgLine, 1)
	span := float64(o.Days) * 86400
	serial := uint64(1000)
	var buf []byte
	for written < o.Size {
		// time advances evenly over the span, in milliseconds
		t := float64(lines) / float64(total) * span
		sec := o.Start + int64(t)
		ms := int((t - float64(int64(t))) * 1000)
		if g.rnd.IntN(4) != 0 {
			serial++ // some records share an event's serial, as auditd writes them
		}
		buf = buf[:0]
		if g.rnd.IntN(100) < o.Percent {
			buf = g.apparmor(buf, sec, ms, serial)
		} else {
			buf = g.other(buf, sec, ms, serial)
		}
		buf = append(buf, '\n')
		n, err := bw.Write(buf)
		if err != nil {
			return lines, err
		}
		written += int64(n)
		lines++
	}
	return lines, bw.Flush()
}

type profile struct {
	name     string
	comms    []string
	files    []fileRes
	caps     []string
	nets     [][2]string // family, sock_type
	execs    []string
	peers    []string
	unixAddr []string
	procPIDs []int
	signals  []string
}

type fileRes struct {
	path  string
	masks []string
	owner bool // the service owns the file (fsuid == ouid), as it does all week
}

type gen struct {
	rnd      *rand.Rand
	profiles []profile
}

var (
	services = []string{"web", "api", "db", "cache", "queue", "worker", "auth", "mail", "search", "proxy"}
	comms    = []string{"nginx", "php-fpm", "postgres", "redis-server", "node", "python3", "java", "sh", "busybox", "gunicorn",
		"celery", "sidekiq", "ruby", "cat", "ls", "curl", "wget", "tar", "gzip", "cron", "logrotate", "envoy", "haproxy", ".NET TP Worker"}
	dirs = []string{"/etc", "/var/lib/app", "/var/cache/app", "/srv/data", "/usr/share/app", "/run", "/tmp", "/var/log/app",
		"/opt/app/lib", "/home/app", "/usr/lib/x86_64-linux-gnu", "/var/spool/app", "/data/uploads", "/etc/ssl/certs"}
	leaf = []string{"config.yml", "app.conf", "cache.db", "index.html", "session", "lock", "pid", "secrets.json", "my data",
		"access.log", "error.log", "libssl.so.3", "libc.so.6", "ld.so.cache", "hosts", "resolv.conf", "passwd", "group",
		"nsswitch.conf", "localtime", "upload.tmp", "queue.dat", "dump.rdb", "pg_hba.conf", "report 2026.pdf"}
	masks = []string{"r", "r", "r", "w", "rw", "wc", "c", "d", "k", "rk", "m", "mr", "l", "a", "wd", "x"}
	caps  = []string{"chown", "dac_override", "fowner", "setuid", "setgid", "net_bind_service", "kill", "sys_chroot",
		"net_raw", "sys_ptrace", "audit_write", "sys_resource", "ipc_lock", "sys_nice"}
	nets = [][2]string{{"inet", "stream"}, {"inet", "dgram"}, {"inet6", "stream"}, {"inet6", "dgram"}, {"netlink", "raw"},
		{"inet", "raw"}, {"packet", "raw"}}
	execs   = []string{"/bin/sh", "/bin/busybox", "/usr/bin/env", "/usr/local/bin/entrypoint.sh", "/usr/bin/python3", "/usr/bin/curl"}
	signals = []string{"term", "kill", "hup", "usr1", "chld", "int", "rtmin+3"}
	ops     = map[byte][]string{'r': {"open", "file_perm", "getattr"}, 'w': {"open", "file_perm", "truncate"}, 'c': {"mknod", "open"},
		'd': {"unlink", "rmdir"}, 'k': {"file_lock"}, 'm': {"file_mmap"}, 'l': {"link"}, 'a': {"open"}, 'x': {"exec"}}
)

func newGen(o Options) *gen {
	rnd := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	g := &gen{rnd: rnd}
	for i := range o.Profiles {
		p := profile{name: fmt.Sprintf("ctsec-%s-%d", services[i%len(services)], i/len(services))}
		for range 3 + rnd.IntN(4) {
			p.comms = append(p.comms, comms[rnd.IntN(len(comms))])
		}
		// a bounded set of resources per profile: what a service touches all week
		for range 60 + rnd.IntN(80) {
			f := fileRes{path: dirs[rnd.IntN(len(dirs))] + "/" + leaf[rnd.IntN(len(leaf))]}
			if rnd.IntN(3) == 0 {
				f.path = fmt.Sprintf("%s/%02x/%s", dirs[rnd.IntN(len(dirs))], rnd.IntN(256), leaf[rnd.IntN(len(leaf))])
			}
			for range 1 + rnd.IntN(3) {
				f.masks = append(f.masks, masks[rnd.IntN(len(masks))])
			}
			f.owner = rnd.IntN(3) != 0
			p.files = append(p.files, f)
		}
		for range 2 + rnd.IntN(5) {
			p.caps = append(p.caps, caps[rnd.IntN(len(caps))])
		}
		for range 1 + rnd.IntN(3) {
			p.nets = append(p.nets, nets[rnd.IntN(len(nets))])
		}
		for range 1 + rnd.IntN(3) {
			p.execs = append(p.execs, execs[rnd.IntN(len(execs))])
		}
		p.peers = []string{"unconfined", p.name}
		p.signals = []string{signals[rnd.IntN(len(signals))], signals[rnd.IntN(len(signals))]}
		for j := range 1 + rnd.IntN(3) {
			p.unixAddr = append(p.unixAddr, fmt.Sprintf("@/tmp/.%s-%d", p.name, j), "/run/app.sock", "none")
		}
		// processes come and go, but a month of one service sees a few
		// dozen under /proc (restarts, workers)
		for range 2 + rnd.IntN(4) {
			p.procPIDs = append(p.procPIDs, 1+rnd.IntN(4_000_000))
		}
		g.profiles = append(g.profiles, p)
	}
	return g
}

func (g *gen) pick(s []string) string { return s[g.rnd.IntN(len(s))] }

// value writes a string the way the kernel's audit_log_untrustedstring
// does: quoted, or as uppercase hex when it holds a space, a quote or a
// byte outside printable ASCII.
func value(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c == '"' || c >= 0x7f {
			return append(buf, strings.ToUpper(hex.EncodeToString([]byte(s)))...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

func head(buf []byte, typ string, sec int64, ms int, serial uint64) []byte {
	return fmt.Appendf(buf, "type=%s msg=audit(%d.%03d:%d): ", typ, sec, ms, serial)
}

// apparmor writes one AppArmor record of a random profile.
func (g *gen) apparmor(buf []byte, sec int64, ms int, serial uint64) []byte {
	p := &g.profiles[g.rnd.IntN(len(g.profiles))]
	kind := `"ALLOWED"`
	if g.rnd.IntN(12) == 0 {
		kind = `"DENIED"`
	}
	label := p.name
	exe := ""
	if g.rnd.IntN(8) == 0 { // a program run without an exec rule, in complain mode's null child
		exe = g.pick(p.execs)
		label = p.name + "//null-" + exe
	}
	pid := 1 + g.rnd.IntN(4_000_000)
	comm := g.pick(p.comms)
	if g.rnd.IntN(100) == 0 {
		return g.dbus(buf, sec, ms, serial, p, kind, pid)
	}
	buf = head(buf, "AVC", sec, ms, serial)
	buf = append(buf, "apparmor="...)
	buf = append(buf, kind...)
	r := g.rnd.IntN(100)
	switch {
	case r < 70:
		files := p.files
		if exe != "" {
			files = files[:10] // an exec'd helper touches a few of the service's files
		}
		f := files[g.rnd.IntN(len(files))]
		mask := g.pick(f.masks)
		op := g.pick(ops[mask[0]])
		name, owner := f.path, f.owner
		if g.rnd.IntN(10) == 0 {
			// a process reads its own /proc entries
			name, owner = fmt.Sprintf("/proc/%d/%s", p.procPIDs[g.rnd.IntN(len(p.procPIDs))], g.pick([]string{"status", "stat", "cmdline", "fd/", "mountinfo"})), true
		}
		buf = fmt.Appendf(buf, ` operation="%s" class="file" profile=`, op)
		buf = value(buf, label)
		buf = append(buf, " name="...)
		buf = value(buf, name)
		buf = fmt.Appendf(buf, " pid=%d comm=", pid)
		buf = value(buf, comm)
		uid := g.pick([]string{"0", "33", "999", "1000", "101"})
		ouid := uid
		if !owner {
			ouid = "4294967295" // not the process's own file
		}
		buf = fmt.Appendf(buf, ` requested_mask="%s" denied_mask="%s" fsuid=%s ouid=%s`, mask, mask, uid, ouid)
		if mask == "x" {
			target := p.name + "//null-" + name
			buf = append(buf, " target="...)
			buf = value(buf, target)
		}
	case r < 80:
		c := g.pick(p.caps)
		buf = fmt.Appendf(buf, ` operation="capable" class="cap" profile=`)
		buf = value(buf, label)
		buf = fmt.Appendf(buf, " pid=%d comm=", pid)
		buf = value(buf, comm)
		buf = fmt.Appendf(buf, ` capability=%d  capname="%s"`, g.rnd.IntN(41), c)
	case r < 90:
		n := p.nets[g.rnd.IntN(len(p.nets))]
		op := g.pick([]string{"create", "connect", "sendmsg", "recvmsg", "bind", "setsockopt"})
		buf = fmt.Appendf(buf, ` operation="%s" class="net" profile=`, op)
		buf = value(buf, label)
		buf = fmt.Appendf(buf, " pid=%d comm=", pid)
		buf = value(buf, comm)
		buf = fmt.Appendf(buf, ` family="%s" sock_type="%s" protocol=%d requested="%s" denied="%s"`, n[0], n[1], g.rnd.IntN(18), op, op)
	case r < 95:
		i := g.rnd.IntN(len(p.unixAddr))
		addr := p.unixAddr[i]
		op := []string{"connect", "send"}[g.rnd.IntN(2)]
		buf = fmt.Appendf(buf, ` operation="%s" class="net" profile=`, op)
		buf = value(buf, label)
		buf = fmt.Appendf(buf, " pid=%d comm=", pid)
		buf = value(buf, comm)
		buf = fmt.Appendf(buf, ` family="unix" sock_type="%s" protocol=0 requested="%s" denied="%s" addr=none peer_addr=`,
			[]string{"stream", "dgram"}[i%2], op, op)
		buf = value(buf, addr)
	case r < 98:
		buf = fmt.Appendf(buf, ` operation="signal" class="signal" profile=`)
		buf = value(buf, label)
		buf = fmt.Appendf(buf, " pid=%d comm=", pid)
		buf = value(buf, comm)
		mask := g.pick([]string{"send", "receive"})
		buf = fmt.Appendf(buf, ` requested_mask="%s" denied_mask="%s" signal=%s peer=`, mask, mask, g.pick(p.signals))
		buf = value(buf, g.pick(p.peers))
	default:
		buf = fmt.Appendf(buf, ` operation="ptrace" class="ptrace" profile=`)
		buf = value(buf, label)
		buf = fmt.Appendf(buf, " pid=%d comm=", pid)
		buf = value(buf, comm)
		mask := g.pick([]string{"read", "trace", "readby"})
		buf = fmt.Appendf(buf, ` requested_mask="%s" denied_mask="%s" peer=`, mask, mask)
		buf = value(buf, g.pick(p.peers))
	}
	return buf
}

func (g *gen) dbus(buf []byte, sec int64, ms int, serial uint64, p *profile, kind string, pid int) []byte {
	buf = head(buf, "USER_AVC", sec, ms, serial)
	member := g.pick([]string{"Hello", "GetNameOwner", "AddMatch", "RequestName"})
	return fmt.Appendf(buf, `pid=1021 uid=101 auid=4294967295 ses=4294967295 subj=unconfined msg='apparmor=%s operation="dbus_method_call"  bus="system" path="/org/freedesktop/DBus" interface="org.freedesktop.DBus" member="%s" mask="send" name="org.freedesktop.DBus" pid=%d label="%s" peer_pid=1021 peer_label="unconfined"  exe="/usr/bin/dbus-daemon" sauid=101 hostname=? addr=? terminal=?'`,
		kind, member, pid, p.name)
}

// other writes one record of the kinds that fill a Docker host's audit.log.
func (g *gen) other(buf []byte, sec int64, ms int, serial uint64) []byte {
	pid := 1 + g.rnd.IntN(4_000_000)
	switch r := g.rnd.IntN(100); {
	case r < 30:
		buf = head(buf, "SYSCALL", sec, ms, serial)
		return fmt.Appendf(buf, `arch=c000003e syscall=%d success=%s exit=%d a0=%x a1=%x a2=%x a3=0 items=%d ppid=%d pid=%d auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="%s" exe="/usr/bin/%s" subj=unconfined key="docker"`,
			g.rnd.IntN(330), g.pick([]string{"yes", "no"}), g.rnd.IntN(64), g.rnd.Uint32(), g.rnd.Uint64()>>16, g.rnd.IntN(1<<20), g.rnd.IntN(3), g.rnd.IntN(1<<22), pid,
			g.pick([]string{"containerd-shim", "dockerd", "runc", "containerd"}), g.pick([]string{"containerd-shim-runc-v2", "dockerd", "runc", "containerd"}))
	case r < 50:
		buf = head(buf, "PATH", sec, ms, serial)
		return fmt.Appendf(buf, `item=%d name="/var/lib/docker/overlay2/%016x/merged/%s" inode=%d dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
			g.rnd.IntN(2), g.rnd.Uint64(), g.pick(leaf), g.rnd.IntN(1<<24))
	case r < 62:
		buf = head(buf, "PROCTITLE", sec, ms, serial)
		title := fmt.Sprintf("/usr/bin/containerd-shim-runc-v2\x00-namespace\x00moby\x00-id\x00%016x%016x", g.rnd.Uint64(), g.rnd.Uint64())
		return append(append(buf, "proctitle="...), strings.ToUpper(hex.EncodeToString([]byte(title)))...)
	case r < 70:
		buf = head(buf, "CWD", sec, ms, serial)
		return fmt.Appendf(buf, `cwd="/run/containerd/io.containerd.runtime.v2.task/moby/%016x"`, g.rnd.Uint64())
	case r < 76:
		buf = head(buf, "EXECVE", sec, ms, serial)
		return fmt.Appendf(buf, `argc=3 a0="runc" a1="--root" a2="/var/run/docker/runtime-runc/moby/%016x"`, g.rnd.Uint64())
	case r < 90:
		typ := g.pick([]string{"USER_ACCT", "USER_START", "USER_END", "CRED_ACQ", "CRED_DISP", "USER_AUTH", "USER_CMD"})
		buf = head(buf, typ, sec, ms, serial)
		return fmt.Appendf(buf, `pid=%d uid=0 auid=%d ses=%d subj=unconfined msg='op=PAM:%s grantors=pam_permit,pam_unix acct="%s" exe="/usr/sbin/%s" hostname=? addr=? terminal=%s res=success'`,
			pid, []int{0, 1000, 4294967295}[g.rnd.IntN(3)], g.rnd.IntN(5000), g.pick([]string{"accounting", "session_open", "session_close", "setcred", "authentication"}),
			g.pick([]string{"root", "deploy", "backup"}), g.pick([]string{"cron", "sshd", "sudo"}), g.pick([]string{"cron", "ssh", "pts/0"}))
	case r < 95:
		buf = head(buf, g.pick([]string{"SERVICE_START", "SERVICE_STOP"}), sec, ms, serial)
		return fmt.Appendf(buf, `pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='unit=docker-%016x.scope comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'`, g.rnd.Uint64())
	case r < 98:
		buf = head(buf, "NETFILTER_CFG", sec, ms, serial)
		return fmt.Appendf(buf, `table=filter family=2 entries=%d op=xt_replace pid=%d subj=unconfined comm="iptables"`, g.rnd.IntN(200), pid)
	default:
		buf = head(buf, "BPF", sec, ms, serial)
		return fmt.Appendf(buf, `prog-id=%d op=%s`, g.rnd.IntN(1<<16), g.pick([]string{"LOAD", "UNLOAD"}))
	}
}
