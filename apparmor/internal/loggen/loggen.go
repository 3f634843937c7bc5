// Package loggen writes synthetic audit.log text for benchmarks: realistic
// auditd record shapes, a chosen share of AppArmor AVC records, increasing
// audit stamps. The output is deterministic for a given size and share.
package loggen

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

var other = []string{
	`type=SYSCALL msg=audit(%d.%03d:%d): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd2c1e9e10 a2=80000 a3=0 items=1 ppid=1021 pid=%d auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="containerd-shim" exe="/usr/bin/containerd-shim-runc-v2" subj=unconfined key="docker"`,
	`type=CWD msg=audit(%d.%03d:%d): cwd="/run/containerd/io.containerd.runtime.v2.task/moby/%d"`,
	`type=PATH msg=audit(%d.%03d:%d): item=0 name="/var/lib/docker/overlay2/3f2a9c1e4b5d6a7f/merged/etc/hosts" inode=%d dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
	`type=PROCTITLE msg=audit(%d.%03d:%d): proctitle=2F7573722F62696E2F636F6E7461696E6572642D7368696D2D72756E632D7632002D6E616D657370616365006D6F6279%d`,
	`type=USER_ACCT msg=audit(%d.%03d:%d): pid=%d uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='op=PAM:accounting grantors=pam_permit acct="root" exe="/usr/sbin/cron" hostname=? addr=? terminal=cron res=success'`,
	`type=SERVICE_START msg=audit(%d.%03d:%d): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='unit=docker-%d.scope comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'`,
}

var avc = []string{
	`type=AVC msg=audit(%d.%03d:%d): apparmor="ALLOWED" operation="open" class="file" profile="ctsec-web-%d" name="/var/lib/nginx/cache/%02x/file.dat" pid=%d comm="nginx" requested_mask="r" denied_mask="r" fsuid=33 ouid=33`,
	`type=AVC msg=audit(%d.%03d:%d): apparmor="ALLOWED" operation="open" class="file" profile="ctsec-db-%d" name=2F7661722F6C69622F706F737467726573716C2F6D792064617461 pid=%d comm="postgres" requested_mask="wc" denied_mask="wc" fsuid=999 ouid=999`,
	`type=AVC msg=audit(%d.%03d:%d): apparmor="ALLOWED" operation="capable" class="cap" profile="ctsec-web-%d" pid=%d comm="nginx" capability=10  capname="net_bind_service"`,
	`type=AVC msg=audit(%d.%03d:%d): apparmor="ALLOWED" operation="connect" class="net" profile="ctsec-api-%d" pid=%d comm="api" family="inet" sock_type="stream" protocol=6 requested="connect" denied="connect"`,
	`type=AVC msg=audit(%d.%03d:%d): apparmor="DENIED" operation="open" class="file" profile="ctsec-api-%d" name="/proc/%d/status" pid=4242 comm="api" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
}

// Data returns about size bytes of log and its line count.
func Data(size int64, percent int) ([]byte, int64) {
	var b strings.Builder
	b.Grow(int(size) + 512)
	lines, _ := Write(&b, size, percent) // a strings.Builder does not fail
	return []byte(b.String()), lines
}

// Write writes about size bytes; every (100/percent)th line is an AppArmor
// event. It returns the number of lines written.
func Write(w io.Writer, size int64, percent int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var written, lines int64
	epoch, serial := int64(1795000000), int64(1)
	every := 100 / max(percent, 1)
	for written < size {
		ms := serial % 1000
		if serial%1000 == 0 {
			epoch++
		}
		var line string
		if lines%int64(every) == 0 {
			f := avc[(lines/int64(every))%int64(len(avc))]
			n := serial % 97
			if strings.Contains(f, "%02x") {
				line = fmt.Sprintf(f, epoch, ms, serial, n%7, n, 1000+n)
			} else {
				line = fmt.Sprintf(f, epoch, ms, serial, n%7, 1000+n)
			}
		} else {
			f := other[lines%int64(len(other))]
			line = fmt.Sprintf(f, epoch, ms, serial, 1000+serial%50000)
		}
		if lines%4 == 3 {
			serial++
		}
		n, err := bw.WriteString(line + "\n")
		if err != nil {
			return lines, err
		}
		written += int64(n)
		lines++
	}
	return lines, bw.Flush()
}
