# Sourced by scripts/lab.sh: how the lab guest image is built. The image is
# cached under $cache_root/<key>, where <key> hashes the distribution, the
# package list, the mirrors, this file and every file under guest/ — so any
# change here or there builds a new image, and nothing else does.

# What the guest has, for both distributions. Debian's kernel and initrd
# (booted directly by QEMU), systemd as PID 1, AppArmor with its tools,
# auditd, dockerd, and what ctsec's host modules manage. rsyslog: Debian 12's
# fail2ban reads sshd's log from /var/log/auth.log (it fails to start
# without it), and kern.log is one of the logs apparmor review reads.
lab_packages=(
	linux-image-cloud-amd64 initramfs-tools systemd systemd-sysv udev dbus kmod
	apparmor apparmor-utils auditd
	docker.io runc
	openssh-server openssh-client ufw fail2ban python3-systemd unattended-upgrades rsyslog
	nftables iptables iproute2 procps util-linux e2fsprogs
	busybox-static file strace patch systemd-journal-remote
	aide aide-common rkhunter openssl
)

# lab_dist_packages DIST: what one distribution needs besides lab_packages.
lab_dist_packages() {
	case $1 in
	# Debian 13 ships the docker CLI apart from docker.io, and /bin/login
	# (which the serial console's agetty runs) is no longer essential.
	trixie) echo docker-cli login ;;
	esac
}

lab_mirrors() {
	local dist=$1
	echo "deb http://deb.debian.org/debian $dist main"
	echo "deb http://deb.debian.org/debian $dist-updates main"
	echo "deb http://deb.debian.org/debian-security $dist-security main"
}

# lab_key DIST: the cache key of DIST's image.
lab_key() {
	local dist=$1
	{
		echo "dist $dist"
		lab_mirrors "$dist"
		printf 'package %s\n' "${lab_packages[@]}" $(lab_dist_packages "$dist")
		sha256sum "$here/lab/build.sh" | cut -d' ' -f1
		(cd "$here/lab/guest" && find . -type f -printf '%p %m\n' | LC_ALL=C sort &&
			find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

# lab_build_image DIST DIR: builds DIST's image into the empty directory DIR
# (base.qcow2, vmlinuz, initrd.img, the exec channel's keys, versions).
lab_build_image() {
	local dist=$1 dir=$2 root t0 t
	root=$dir/root
	t0=$(date +%s)

	local mirrors=() packages=("${lab_packages[@]}")
	mapfile -t mirrors < <(lab_mirrors "$dist")
	packages+=($(lab_dist_packages "$dist"))
	say "build: mmdebstrap $dist (${#packages[@]} packages and their dependencies)"
	# Documentation, manual pages and translations are left out: smaller,
	# faster, and no test reads them. The initrd's module list is there
	# before the kernel is installed, so its initrd is made once, small; the
	# guest's own files (units, the exec channel's sshd, fstab) go in last.
	# mmdebstrap's hooks run with /proc and /dev mounted in the root.
	local guest=$here/lab/guest
	mmdebstrap --quiet --mode=root --variant=apt --format=directory \
		--include="$(IFS=,; echo "${packages[*]}")" \
		--aptopt='Acquire::Retries "3"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-include=/usr/share/locale/locale.alias' \
		--setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"' \
		--setup-hook="cp '$guest/etc/initramfs-tools/conf.d/ctsec-lab' \"\$1/etc/initramfs-tools/conf.d/\"" \
		--setup-hook="cp '$guest/usr/share/initramfs-tools/modules.d/ctsec-lab' \"\$1/usr/share/initramfs-tools/modules.d/\"" \
		--customize-hook="cp -a '$guest/.' \"\$1/\"" \
		--customize-hook='chroot "$1" systemctl enable --quiet ctsec-lab-net.service ctsec-lab-sshd.socket docker.service auditd.service' \
		--customize-hook='chroot "$1" usermod -p "*" root' \
		"$dist" "$root" "${mirrors[@]}" >"$dir/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$dir/mmdebstrap.log" >&2; die "build: mmdebstrap $dist failed (log: $dir/mmdebstrap.log)"; }
	t=$(date +%s); say "build: root filesystem in $((t - t0)) s"

	mkdir -p "$root/src" "$root/shared" "$root/lab"
	echo "$dist" >"$root/etc/ctsec-lab/dist"
	ln -sf /lab/bin/ctsec "$root/usr/local/bin/ctsec"

	# The exec channel's keys, made for this image: the client key stays in
	# the cache (0700, root), the guest knows only its public half.
	ssh-keygen -q -t ed25519 -N '' -C "ctsec-lab-$dist" -f "$dir/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C "ctsec-lab-$dist-host" -f "$root/etc/ctsec-lab/ssh_host_ed25519_key"
	install -m 0644 "$dir/id_ed25519.pub" "$root/etc/ctsec-lab/authorized_keys"
	echo "ctsec-lab $(cut -d' ' -f1,2 "$root/etc/ctsec-lab/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"

	# Root has no password (usermod -p "*" above), yet is not "locked" ('!'):
	# without PAM, sshd refuses even keys to a locked account.

	local kernel initrd
	kernel=$(readlink -f "$root/vmlinuz")
	initrd=$(readlink -f "$root/initrd.img")
	[ -f "$kernel" ] && [ -f "$initrd" ] || die "build: no kernel or initrd in the $dist root"
	cp "$kernel" "$dir/vmlinuz"
	cp "$initrd" "$dir/initrd.img"

	# A raw ext4 image straight from the directory (no loop devices), 8 GiB
	# sparse: Docker's images and the tests' files go to each guest's overlay.
	mkfs.ext4 -q -F -L ctsec-lab -E root_owner=0:0 -d "$root" "$dir/base.raw" 8G >/dev/null ||
		die "build: mkfs.ext4 failed"
	rm -rf "$root"
	t=$(date +%s); say "build: disk image in $((t - t0)) s"

	# One boot to finish what needs the running system: the busybox image in
	# dockerd, AppArmor's policy cache, Docker's first start. Every later guest
	# starts from this state.
	lab_provision "$dist" "$dir"
	t=$(date +%s); say "build: provisioned in $((t - t0)) s"

	qemu-img convert -O qcow2 "$dir/base.raw" "$dir/base.qcow2"
	rm -f "$dir/base.raw"
	t=$(date +%s); say "build: $dist image ready in $((t - t0)) s ($(du -sh "$dir" | cut -f1))"
}

# lab_provision DIST DIR: boots base.raw once, writable, and prepares it.
lab_provision() {
	local dist=$1 dir=$2
	# What boot_guest and guest_ssh read, for this boot only.
	local image_dir=$dir disk=$dir/base.raw disk_format=raw state=$dir/provision
	mkdir -p "$state/share/bin"
	boot_timeout=${LAB_BUILD_BOOT_TIMEOUT:-300} boot_guest || die "build: the $dist guest did not come up (serial log: $state/serial.log)"
	guest_ssh /usr/local/lib/ctsec-lab/busybox-image || die "build: importing the busybox image failed"
	guest_ssh 'dpkg-query -W -f="\${Package} \${Version}\n" linux-image-cloud-amd64 "linux-image-*-cloud-amd64" systemd apparmor docker.io runc openssh-server ufw fail2ban auditd 2>/dev/null; uname -r | sed "s/^/kernel /"' >"$dir/versions" ||
		die "build: reading the guest's versions failed"
	# Start every guest with empty logs, then power off cleanly.
	guest_ssh ': >/var/log/audit/audit.log; journalctl --rotate >/dev/null 2>&1; journalctl --vacuum-files=1 >/dev/null 2>&1; sync' || true
	guest_ssh 'systemctl poweroff' >/dev/null 2>&1 || true
	wait_qemu_exit 60 || die "build: the $dist guest did not power off"
	rm -rf "$state"
}
