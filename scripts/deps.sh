# Sourced by install.sh and test.sh: Debian packages and the Docker engine.

# Packages the binary needs to build (cgo against libseccomp).
build_pkgs=(gcc libc6-dev libseccomp-dev pkg-config)
# Packages the tests drive for real: the parsers, daemons and tools ctsec
# verifies its work with.
test_pkgs=(apparmor docker.io runc busybox-static file strace openssh-server
	fail2ban nftables ufw iptables iproute2 procps util-linux patch python3-systemd systemd
	systemd-journal-remote groff-base bash-completion)

install_deps() {
	local want=("${build_pkgs[@]}")
	[ "${1:-}" = test ] && want+=("${test_pkgs[@]}")
	local missing=()
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== installing ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	# policy-rc.d keeps package scripts from starting services (sshd, fail2ban)
	# on the machine: the tests start what they need themselves.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
		$sudo chmod +x /usr/sbin/policy-rc.d
		trap "$sudo rm -f /usr/sbin/policy-rc.d" EXIT
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_dockerd() {
	if docker version >/dev/null 2>&1; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "no Docker engine answers and starting one needs root" >&2
		return 0
	fi
	echo "== starting dockerd (log: /var/log/ctsec-dockerd.log)"
	setsid nohup dockerd >>/var/log/ctsec-dockerd.log 2>&1 </dev/null &
	for _ in $(seq 1 120); do
		docker version >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "dockerd did not answer within 60s; last log lines:" >&2
	tail -n 20 /var/log/ctsec-dockerd.log >&2
	return 1
}
