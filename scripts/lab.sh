#!/usr/bin/env bash
# The lab: a Debian VM — Debian's own kernel (AppArmor), systemd as PID 1,
# dockerd — for the tests this machine cannot run (docs/lab.md).
#
#   scripts/lab.sh [--dist bookworm|trixie] build|up|exec -- CMD...|reboot|down|status|test [AREA...]
#
# Run as root. The image is cached outside the checkout; each checkout gets
# its own guests (one per distribution), so several can run at once.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
checkout=$(cd "$here/.." && pwd -P)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

dist=${LAB_DIST:-bookworm}
cache_root=${LAB_CACHE:-/var/cache/ctsec-lab}
state_root=${LAB_STATE:-/var/tmp/ctsec-lab}
lab_mem=${LAB_MEM:-2048}
lab_cpus=${LAB_CPUS:-2}
# The budget for a boot is 90 s (reported when exceeded); the timeout is
# wider, for a machine busy with other work.
boot_budget=90
boot_timeout=${LAB_BOOT_TIMEOUT:-300}
test_timeout=${LAB_TEST_TIMEOUT:-15m}
dists=(bookworm trixie)

usage() {
	cat <<'EOF'
usage: scripts/lab.sh [--dist bookworm|trixie|all] COMMAND [ARGS]

The lab: a Debian guest under QEMU with Debian's kernel (AppArmor), systemd as
PID 1, auditd and dockerd, for ctsec's lab test tier. Needs root.

commands:
  build            build the guest image unless it is cached (/var/cache/ctsec-lab)
  up               boot a fresh guest for this checkout; wait until systemd
                   reports it running; print the boot time
  exec -- CMD...   run CMD in the guest as root: stdout, stderr and the exit
                   code pass through (255: the guest or the channel failed)
  reboot           reboot the guest and wait until it is running again
  down             stop the guest and discard its disk overlay
  status           list the lab guests on this machine (exit 0 when this
                   checkout's is up, 1 when not)
  test [AREA...]   the lab test tier: TestLab* tests of *_lab_test.go files
                   (build tag lab) run in the guest, those of
                   *_labhost_test.go (tag labhost) on this machine against it;
                   AREA selects packages (apparmor, host, seccomp, testenv,
                   cmd/ctsec...); boots a guest unless one is up and stops what
                   it booted; --list shows the areas
  env              this checkout's guest as KEY=VALUE lines (state, ports, logs)
  console          attach to the guest's serial console (needs socat; Ctrl-] leaves)
  clean            remove cached images other than the current ones

In the guest: the checkout at /src (read-only), ../shared at /shared, the
ctsec built from the checkout on PATH, ctsec-test/busybox:latest in dockerd.

environment:
  LAB_DIST          bookworm (default) or trixie; --dist wins
  LAB_ACCEL         auto (default: KVM only where a quick probe boots), tcg, kvm
  LAB_MEM, LAB_CPUS guest memory in MiB (2048), vCPUs (2)
  LAB_BOOT_TIMEOUT  seconds from power-on to "running" (300; the budget is 90)
  LAB_TEST_TIMEOUT  per test binary (15m)
  LAB_RUN           test tier: only tests matching this regexp (^TestLab), e.g.
                    LAB_RUN=TestLabUpdatesTimers scripts/lab.sh test host
  LAB_CACHE         image cache (/var/cache/ctsec-lab)
  LAB_STATE         per-guest state (/var/tmp/ctsec-lab)
  LAB_KEEP_FAILED   keep a failed image build's directory for a look
  LAB_IMAGE         boot this cached image directory instead of the current one
EOF
}

say() { echo "lab: $*" >&2; }
die() {
	echo "lab.sh: $*" >&2
	exit 2
}

# Clean-ups run on any exit, last registered first.
cleanups=()
run_cleanups() {
	local i
	for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" || true; done
	cleanups=()
}
trap run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

. "$here/lab/build.sh"

# ---- instances --------------------------------------------------------------

# Each checkout's guest of each distribution has its own state directory.
set_instance() {
	inst_id=$(printf %s "$checkout" | sha256sum | cut -c1-12)-$dist
	state=$state_root/$inst_id
}

# instance_up: this checkout's guest of $dist runs; loads its image dir.
instance_up() {
	set_instance
	[ -f "$state/qemu.pid" ] || return 1
	local pid
	pid=$(cat "$state/qemu.pid" 2>/dev/null) || return 1
	qemu_is_ours "$pid" "$state" || return 1
	image_dir=$(cat "$state/image")
	return 0
}

# qemu_is_ours PID STATE: PID is a QEMU started for STATE (not a reused pid).
qemu_is_ours() {
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2/qemu.pid"
}

lock_instance() {
	mkdir -p -m 0700 "$state_root"
	exec 8>"$state_root/$inst_id.lock"
	flock -w 1 8 || die "another scripts/lab.sh holds this checkout's $dist guest (starting, stopping or testing it)"
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "needs root (QEMU with 9p shares, mmdebstrap, the image cache)"
}

need_tools() {
	local t missing=()
	for t in qemu-system-x86_64 qemu-img mmdebstrap mkfs.ext4 ssh ssh-keygen go gcc; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing what the lab needs (missing: ${missing[*]})"
	# In a subshell: deps.sh's own EXIT trap (policy-rc.d) runs there.
	(. "$here/deps.sh" && install_deps lab)
}

# ---- the image --------------------------------------------------------------

set_image() {
	image_key=$(lab_key "$dist")
	image_dir=$cache_root/$dist-$image_key
}

ensure_image() {
	image_built=no
	if [ -n "${LAB_IMAGE:-}" ]; then
		image_dir=$LAB_IMAGE
		[ -f "$image_dir/ready" ] || die "LAB_IMAGE=$LAB_IMAGE is not a finished lab image"
		say "using the image $image_dir (LAB_IMAGE), whatever the build files say"
		return 0
	fi
	set_image
	[ -f "$image_dir/ready" ] && return 0
	mkdir -p -m 0700 "$cache_root"
	exec 7>"$image_dir.lock"
	if ! flock -n 7; then
		say "build: another build of $dist-$image_key is under way, waiting for it"
		flock 7
	fi
	[ -f "$image_dir/ready" ] && return 0
	local t0 tmp
	t0=$(now)
	tmp=$image_dir.tmp
	rm -rf "$tmp"
	mkdir -m 0700 "$tmp"
	if [ -n "${LAB_KEEP_FAILED:-}" ]; then
		cleanups+=("stop_qemu '$tmp/provision' quiet; [ ! -d '$tmp' ] || say 'build: kept $tmp (LAB_KEEP_FAILED)'")
	else
		cleanups+=("stop_qemu '$tmp/provision' quiet; rm -rf --one-file-system '$tmp'")
	fi
	say "build: $dist image $image_key is not cached, building it in $cache_root"
	lab_build_image "$dist" "$tmp"
	touch "$tmp/ready"
	mv "$tmp" "$image_dir"
	image_built=$(since "$t0")
	say "build: done in $image_built s"
}

# ---- QEMU -------------------------------------------------------------------

free_port() {
	local p used
	used=$(ss -Htln 2>/dev/null | awk '{ sub(/.*:/, "", $4); print $4 }')
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		grep -qx "$p" <<<"$used" || {
			echo "$p"
			return
		}
	done
	die "no free loopback port found"
}

# accel_args: TCG, unless KVM was asked for or a quick probe shows nested
# KVM really boots here (it hangs at "Booting from ROM" on some hosts).
accel_args() {
	case ${LAB_ACCEL:-auto} in
	tcg) accel=(-accel tcg,thread=multi -cpu max) ;;
	kvm) accel=(-accel kvm -cpu host) ;;
	auto)
		if [ -w /dev/kvm ] && kvm_boots; then
			accel=(-accel kvm -cpu host)
		else
			accel=(-accel tcg,thread=multi -cpu max)
		fi
		;;
	*) die "LAB_ACCEL must be auto, tcg or kvm, not '${LAB_ACCEL}'" ;;
	esac
}

# kvm_boots: boots the guest kernel under KVM with no root file system; it
# boots when its banner reaches the serial port within 20 s. The answer is
# kept per host kernel.
kvm_boots() {
	local probe=$cache_root/kvm-probe.$(uname -r) log
	if [ ! -f "$probe" ]; then
		log=$(mktemp)
		timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults -no-user-config -display none \
			-no-reboot -serial "file:$log" -kernel "$image_dir/vmlinuz" \
			-append "console=ttyS0 panic=-1" >/dev/null 2>&1 || true
		if grep -q "Linux version" "$log"; then echo yes >"$probe"; else echo no >"$probe"; fi
		rm -f "$log"
		say "KVM probe: $(cat "$probe") (kept in $probe)"
	fi
	[ "$(cat "$probe")" = yes ]
}

# virtiofsd: QEMU 7.2's (bookworm, qemu-system-common) or the standalone one.
virtiofsd_bin() {
	local p
	for p in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	die "no virtiofsd (Debian 12: package qemu-system-common; later: virtiofsd)"
}

# start_shares: one virtiofsd per share (Debian's cloud kernel has virtiofs,
# not 9p); each ends when QEMU disconnects from it.
start_shares() {
	local bin tag dir
	bin=$(virtiofsd_bin)
	stop_shares "$state"
	for tag in "${!shares[@]}"; do
		dir=${shares[$tag]}
		setsid "$bin" "--socket-path=$state/fs-$tag.sock" -o "source=$dir" -o cache=none -o sandbox=namespace \
			</dev/null >"$state/fs-$tag.log" 2>&1 7>&- 8>&- &
		echo $! >"$state/fs-$tag.pid"
	done
	for tag in "${!shares[@]}"; do
		for _ in $(seq 1 50); do
			[ -S "$state/fs-$tag.sock" ] && break
			sleep 0.1
		done
		[ -S "$state/fs-$tag.sock" ] || { cat "$state/fs-$tag.log" >&2; die "virtiofsd for $tag did not start"; }
	done
}

# stop_shares STATE: ends STATE's virtiofsd processes still running, by pid.
stop_shares() {
	local f pid
	for f in "$1"/fs-*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--socket-path=$1/fs-"; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
		rm -f "$f" "${f%.pid}.sock"
	done
}

# start_qemu: starts the guest for $state on $disk ($disk_format).
start_qemu() {
	local shared err tag
	accel_args
	shared=${CTSEC_SHARED:-$checkout/../shared}
	case "$checkout$state" in *,*) die "paths with a comma cannot be shared with QEMU: $checkout" ;; esac
	declare -gA shares=([src]=$checkout [lab]=$state/share)
	if [ -d "$shared" ]; then
		shares[shared]=$(cd "$shared" && pwd -P)
	else
		say "warning: no shared test data at $shared: /shared stays empty in the guest"
	fi
	local cache=unsafe
	[ "$disk_format" = raw ] && cache=writeback
	# Emulated vCPUs look unsynchronised to the kernel, which then falls back
	# to the HPET: every clock read an emulated device access. QEMU's TSC is
	# one clock for all vCPUs, so it is safe to trust (and far cheaper).
	local kernel_args="tsc=reliable"
	[ "${accel[1]%%,*}" = kvm ] && kernel_args=""
	for _ in 1 2 3 4 5; do
		ssh_port=$(free_port)
		net0_port=$(free_port)
		start_shares
		local args=(
			-name "ctsec-lab-$dist" -machine q35 "${accel[@]}" -smp "$lab_cpus" -m "$lab_mem"
			-object "memory-backend-memfd,id=mem,size=${lab_mem}M,share=on" -numa node,memdev=mem
			-nodefaults -no-user-config -display none
			-kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img"
			-append "root=/dev/vda rw console=ttyS0 $kernel_args ${LAB_APPEND:-}"
			-drive "file=$disk,format=$disk_format,if=virtio,cache=$cache,discard=unmap"
			-netdev "user,id=lab,restrict=on,hostfwd=tcp:127.0.0.1:$ssh_port-:22"
			-device "virtio-net-pci,netdev=lab,mac=52:54:00:4c:41:01,romfile="
			-netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$net0_port-:22"
			-device "virtio-net-pci,netdev=net0,mac=52:54:00:4c:41:02,romfile="
			-device virtio-rng-pci
			-chardev "socket,id=ser0,path=$state/serial.sock,server=on,wait=off,logfile=$state/serial.log"
			-serial chardev:ser0
			-pidfile "$state/qemu.pid" -daemonize
		)
		for tag in "${!shares[@]}"; do
			args+=(-chardev "socket,id=fs-$tag,path=$state/fs-$tag.sock" -device "vhost-user-fs-pci,chardev=fs-$tag,tag=$tag")
		done
		rm -f "$state/serial.log"
		# The lock descriptors (7, 8) stay with this script: a daemon that
		# inherited one would hold the lock for the guest's whole life.
		if qemu-system-x86_64 "${args[@]}" 2>"$state/qemu.err" 7>&- 8>&-; then
			echo "$ssh_port" >"$state/ssh_port"
			echo "$net0_port" >"$state/net0_port"
			return 0
		fi
		err=$(cat "$state/qemu.err")
		case "$err" in
		*"host forwarding"* | *"in use"*) continue ;;
		esac
		echo "$err" >&2
		stop_shares "$state"
		return 1
	done
	echo "QEMU could not forward a loopback port after 5 tries: $err" >&2
	stop_shares "$state"
	return 1
}

# stop_qemu STATE [quiet]: stops the QEMU of STATE, by its pid only.
stop_qemu() {
	local st=$1 pid
	[ -S "$st/ssh.ctl" ] && ssh -o ControlPath="$st/ssh.ctl" -O exit "$ssh_host" >/dev/null 2>&1
	pid=$(cat "$st/qemu.pid" 2>/dev/null) || { stop_shares "$st"; return 0; }
	qemu_is_ours "$pid" "$st" || { stop_shares "$st"; return 0; }
	[ "${2:-}" = quiet ] || say "stopping the guest (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		qemu_is_ours "$pid" "$st" || { stop_shares "$st"; return 0; }
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	stop_shares "$st"
}

# wait_qemu_exit SECONDS: the guest powered itself off.
wait_qemu_exit() {
	local pid
	pid=$(cat "$state/qemu.pid" 2>/dev/null) || return 0
	for _ in $(seq 1 $(($1 * 5))); do
		qemu_is_ours "$pid" "$state" || return 0
		sleep 0.2
	done
	return 1
}

# ---- the exec channel -------------------------------------------------------

# ssh into the guest's exec channel: key and host key made for this image,
# through the loopback port QEMU forwards to the guest's ctsec-lab namespace.
# One master connection per guest (start_master) carries the sessions: each
# new connection costs the guest's emulated CPU seconds. Without it, ssh
# connects directly. ssh_argv [CONNECT-TIMEOUT] sets ssh_cmd; the host,
# $ssh_host, goes last.
ssh_host=root@127.0.0.1
ssh_argv() {
	ssh_cmd=(ssh -F /dev/null -p "$(cat "$state/ssh_port")" -i "$image_dir/id_ed25519"
		-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none
		-o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$image_dir/known_hosts" -o HostKeyAlias=ctsec-lab
		-o "ConnectTimeout=${1:-30}" -o ServerAliveInterval=15 -o ServerAliveCountMax=8
		-o LogLevel=ERROR -o "ControlPath=$state/ssh.ctl")
}

# start_master: the master connection, in the background, its output to
# /dev/null (a caller's pipe held open would never see EOF); it ends with
# the guest's sshd (down, reboot).
start_master() {
	ssh_argv
	"${ssh_cmd[@]}" -o ControlMaster=yes -o ControlPersist=no -f -N "$ssh_host" </dev/null >/dev/null 2>&1 7>&- 8>&- ||
		say "warning: no ssh master connection; every exec connects anew"
}

# guest_ssh COMMAND-STRING: run by the guest's root shell (bash).
guest_ssh() {
	ssh_argv
	"${ssh_cmd[@]}" -o ControlMaster=no "$ssh_host" "$@"
}

# settle_timers: the image's timer stamps date from its build, so every
# boot of an image older than a day would catch up Persistent= timers
# (dailyaidecheck, apt-daily-upgrade, ...) at a random moment of the tier,
# beside the tests, and leave the guest degraded when they fail offline.
# A lab guest is a fresh machine: its timers count from now.
settle_timers() {
	guest_ssh 'cd /var/lib/systemd/timers 2>/dev/null || exit 0
for s in stamp-*.timer; do
	[ -e "$s" ] || continue
	t=${s#stamp-}
	touch "$s" && systemctl try-restart "$t"
	systemctl reset-failed "${t%.timer}.service" 2>/dev/null
done' </dev/null >/dev/null 2>&1 || say "warning: could not reset the guest's timer stamps"
}

# boot_guest: starts QEMU for $state on $disk and waits, within
# $boot_timeout, for the exec channel and for systemd to finish booting.
boot_guest() {
	local t0 deadline left pid sys failed
	mkdir -p "$state/share/bin" "$state/share/tests"
	t0=$(now)
	start_qemu || return 1
	deadline=$((${EPOCHSECONDS} + boot_timeout))
	pid=$(cat "$state/qemu.pid")
	# A new connection takes seconds of the guest's emulated CPU while it
	# boots: a short timeout would only pile up half-made connections.
	ssh_argv 30
	until "${ssh_cmd[@]}" -o ControlMaster=no "$ssh_host" true 2>/dev/null </dev/null; do
		if ! qemu_is_ours "$pid" "$state"; then
			boot_failed "QEMU exited during boot"
			return 1
		fi
		if [ "$EPOCHSECONDS" -ge "$deadline" ]; then
			boot_failed "no answer on the exec channel within ${boot_timeout} s"
			return 1
		fi
		sleep 1
	done
	start_master
	left=$((deadline - EPOCHSECONDS))
	[ "$left" -gt 5 ] || left=5
	ssh_argv
	sys=$(timeout "$left" "${ssh_cmd[@]}" -o ControlMaster=no "$ssh_host" 'systemctl is-system-running --wait' </dev/null 2>/dev/null) || true
	boot_seconds=$(since "$t0")
	case "$sys" in
	running) say "$dist guest running after $boot_seconds s ($(guest_ssh 'uname -r' </dev/null))" ;;
	degraded)
		failed=$(guest_ssh 'systemctl --failed --no-legend --plain | cut -d" " -f1 | paste -sd" "' </dev/null)
		say "$dist guest degraded after $boot_seconds s; failed units: $failed"
		say "  (scripts/lab.sh exec -- systemctl status $failed)"
		;;
	*)
		boot_failed "systemd did not finish booting within ${boot_timeout} s (state: ${sys:-no answer})"
		return 1
		;;
	esac
	guest_ssh 'systemd-analyze time 2>/dev/null | head -n1' </dev/null | sed 's/^/lab:   /' >&2 || true
	settle_timers
	if awk -v s="$boot_seconds" -v b="$boot_budget" 'BEGIN { exit !(s > b) }'; then
		say "warning: the boot took longer than its ${boot_budget} s budget (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	fi
	return 0
}

boot_failed() {
	say "boot failed: $1"
	if [ -s "$state/serial.log" ]; then
		say "last lines of the serial console ($state/serial.log):"
		tail -n 60 "$state/serial.log" | sed 's/^/  | /' >&2
	fi
	[ -s "$state/qemu.err" ] && sed 's/^/  qemu: /' "$state/qemu.err" >&2
	return 0
}

# ---- commands ---------------------------------------------------------------

cmd_build() {
	[ $# -eq 0 ] || die "build takes no arguments"
	need_root
	need_tools
	ensure_image
	if [ "$image_built" = no ]; then
		say "$dist image cached: $image_dir"
	fi
	sed 's/^/lab:   /' "$image_dir/versions" >&2
}

cmd_up() {
	[ $# -eq 0 ] || die "up takes no arguments"
	need_root
	need_tools
	set_instance
	if instance_up; then
		die "this checkout's $dist guest is already up (pid $(cat "$state/qemu.pid")); scripts/lab.sh down first"
	fi
	lock_instance
	ensure_image
	rm -rf "$state"
	mkdir -p "$state_root"
	mkdir -m 0700 "$state"
	mkdir -p "$state/share/bin" "$state/share/tests"
	echo "$checkout" >"$state/checkout"
	echo "$dist" >"$state/dist"
	echo "$image_dir" >"$state/image"
	up_ok=no
	cleanups+=("[ \$up_ok = yes ] || down_instance quiet")
	build_ctsec
	qemu-img create -q -f qcow2 -F qcow2 -b "$image_dir/base.qcow2" "$state/overlay.qcow2"
	disk=$state/overlay.qcow2 disk_format=qcow2
	say "booting a fresh $dist guest ($(accel_args; echo "${accel[1]%%,*}"), ${lab_cpus} vCPUs, ${lab_mem} MiB)"
	boot_guest || exit 1
	up_ok=yes
	echo "$boot_seconds" >"$state/boot_seconds"
	say "up: scripts/lab.sh${dist_flag} exec -- CMD...; scripts/lab.sh${dist_flag} down"
}

# build_ctsec: the ctsec of this checkout, for the guest's PATH, in the
# layout scripts/install.sh installs (/lab/bin/ctsec, the lean build, and
# /lab/libexec/ctsec/ctsec-compose).
build_ctsec() {
	local rev t0
	t0=$(now)
	rev=$(git -C "$checkout" rev-parse --short HEAD 2>/dev/null || echo dev)
	(cd "$checkout" && . scripts/build.sh && build_pair "$state/share" "lab-$rev") ||
		die "building ctsec for the guest failed"
	say "built ctsec ($rev) for the guest in $(since "$t0") s"
}

cmd_exec() {
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || die "exec needs a command: scripts/lab.sh exec -- CMD [ARGS...]"
	if ! instance_up; then
		echo "lab.sh: no $dist guest is up for $checkout (scripts/lab.sh${dist_flag} up)" >&2
		exit 255
	fi
	ssh_argv
	exec "${ssh_cmd[@]}" -o ControlMaster=no "$ssh_host" "$(printf '%q ' "$@")"
}

cmd_reboot() {
	[ $# -eq 0 ] || die "reboot takes no arguments"
	instance_up || die "no $dist guest is up for $checkout (scripts/lab.sh${dist_flag} up)"
	local old new t0 deadline sys
	t0=$(now)
	old=$(guest_ssh 'cat /proc/sys/kernel/random/boot_id' </dev/null) || die "reboot: the guest does not answer"
	guest_ssh 'systemctl reboot' </dev/null >/dev/null 2>&1 || true
	deadline=$((EPOCHSECONDS + boot_timeout + 30))
	ssh -o ControlPath="$state/ssh.ctl" -O exit "$ssh_host" >/dev/null 2>&1 || true
	ssh_argv 30
	while :; do
		new=$("${ssh_cmd[@]}" -o ControlMaster=no "$ssh_host" 'cat /proc/sys/kernel/random/boot_id' </dev/null 2>/dev/null) || new=
		[ -n "$new" ] && [ "$new" != "$old" ] && break
		[ "$EPOCHSECONDS" -lt "$deadline" ] || {
			boot_failed "the guest did not come back within $((boot_timeout + 30)) s"
			exit 1
		}
		sleep 1
	done
	start_master
	ssh_argv
	local left=$((deadline - EPOCHSECONDS))
	[ "$left" -gt 10 ] || left=10
	sys=$(timeout "$left" "${ssh_cmd[@]}" -o ControlMaster=no "$ssh_host" 'systemctl is-system-running --wait' </dev/null 2>/dev/null) || true
	say "rebooted: ${sys:-not running} after $(since "$t0") s"
	case "$sys" in running | degraded) ;; *) exit 1 ;; esac
	settle_timers
}

cmd_down() {
	[ $# -eq 0 ] || die "down takes no arguments"
	need_root
	set_instance
	if [ ! -d "$state" ]; then
		say "no $dist guest for this checkout"
		return 0
	fi
	lock_instance
	down_instance
}

down_instance() {
	set_instance
	stop_qemu "$state" "${1:-}"
	if [ -f "$state/serial.log" ]; then
		cp "$state/serial.log" "$state_root/$inst_id.last-serial.log" 2>/dev/null || true
	fi
	rm -rf "$state"
	[ "${1:-}" = quiet ] || say "down: $dist guest of $checkout stopped (its last serial log: $state_root/$inst_id.last-serial.log)"
}

cmd_status() {
	[ $# -eq 0 ] || die "status takes no arguments"
	local d found=no mine=1 pid up
	for d in "$state_root"/*/; do
		[ -f "$d/qemu.pid" ] || continue
		found=yes
		pid=$(cat "$d/qemu.pid")
		up=down
		qemu_is_ours "$pid" "${d%/}" && up="up (pid $pid)"
		printf '%-22s %-8s %-16s ssh 127.0.0.1:%s  %s\n' "$(basename "$d")" "$(cat "$d/dist")" "$up" \
			"$(cat "$d/ssh_port" 2>/dev/null)" "$(cat "$d/checkout")"
	done
	[ $found = yes ] || echo "no lab guests on this machine"
	instance_up && mine=0
	return $mine
}

# env: this checkout's guest as KEY=VALUE lines, for testenv.LabGuest and
# scripts; exit 1 when it is not up.
cmd_env() {
	[ $# -eq 0 ] || die "env takes no arguments"
	instance_up || return 1
	echo "LAB_DIST=$dist"
	echo "LAB_STATE=$state"
	echo "LAB_IMAGE=$image_dir"
	echo "LAB_SSH=127.0.0.1:$(cat "$state/ssh_port")"
	echo "LAB_NET0_SSH=127.0.0.1:$(cat "$state/net0_port")"
	echo "LAB_SERIAL_LOG=$state/serial.log"
}

cmd_console() {
	instance_up || die "no $dist guest is up for $checkout"
	command -v socat >/dev/null || die "console needs socat (apt-get install socat); the log is $state/serial.log"
	echo "serial console of the $dist guest; Ctrl-] leaves" >&2
	exec socat -,raw,echo=0,escape=0x1d "UNIX-CONNECT:$state/serial.sock"
}

cmd_clean() {
	need_root
	local keep=() d k
	for k in "${dists[@]}"; do keep+=("$cache_root/$k-$(dist=$k lab_key "$k")"); done
	for d in "$state_root"/*/image; do [ -f "$d" ] && keep+=("$(cat "$d")"); done
	for d in "$cache_root"/*/; do
		d=${d%/}
		[ -d "$d" ] || continue
		printf '%s\n' "${keep[@]}" | grep -qxF "$d" && continue
		say "removing $d"
		rm -rf "$d" "$d.lock"
	done
}

. "$here/lab/tier.sh"

# ---- main -------------------------------------------------------------------

dist_flag=""
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help | help)
		usage
		exit 0
		;;
	--dist)
		[ $# -ge 2 ] || die "--dist needs a value: bookworm, trixie or all"
		dist=$2
		shift 2
		;;
	--dist=*)
		dist=${1#--dist=}
		shift
		;;
	-*) die "unknown option $1 (scripts/lab.sh --help)" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || {
	usage >&2
	exit 2
}
case "$dist" in
bookworm | trixie) ;;
all) [ "$1" = test ] || [ "$1" = build ] || die "--dist all is for test and build only" ;;
*) die "unknown distribution '$dist': bookworm or trixie" ;;
esac
[ "$dist" = bookworm ] || dist_flag=" --dist $dist"
command=$1
shift
case "$command" in
build)
	if [ "$dist" = all ]; then
		for dist in "${dists[@]}"; do cmd_build "$@"; done
	else
		cmd_build "$@"
	fi
	;;
up) cmd_up "$@" ;;
exec) cmd_exec "$@" ;;
reboot) cmd_reboot "$@" ;;
down) cmd_down "$@" ;;
status) cmd_status "$@" ;;
test) cmd_test "$@" ;;
console) cmd_console "$@" ;;
env) cmd_env "$@" ;;
clean) cmd_clean "$@" ;;
*) die "unknown command '$command' (scripts/lab.sh --help)" ;;
esac
