#!/usr/bin/env bash
# Builds ctsec, installs it to ${PREFIX:-/usr/local}/bin, and runs its main
# job on this host: `ctsec doctor` (what the host supports) and `ctsec bench`
# (CIS Docker Benchmark) when a Docker engine answers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
. scripts/deps.sh
. scripts/build.sh
install_deps build
prefix="${PREFIX:-/usr/local}"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo dev)
build_pair "$prefix" "$rev" -trimpath
echo "installed $prefix/bin/ctsec and $prefix/libexec/ctsec/ctsec-compose (compose, portainer, man)"
# Man pages (one per command, from the same text as --help) and shell
# completion, where man, bash-completion, zsh and fish look under $prefix.
"$prefix/bin/ctsec" man --dir "$prefix/share/man/man1" >/dev/null
mkdir -p "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
	"$prefix/share/fish/vendor_completions.d"
"$prefix/bin/ctsec" completion bash >"$prefix/share/bash-completion/completions/ctsec"
"$prefix/bin/ctsec" completion zsh >"$prefix/share/zsh/site-functions/_ctsec"
"$prefix/bin/ctsec" completion fish >"$prefix/share/fish/vendor_completions.d/ctsec.fish"
echo "installed man pages in $prefix/share/man/man1 (man ctsec, man ctsec-host-apply) and bash, zsh and fish completion"
"$prefix/bin/ctsec" version
"$prefix/bin/ctsec" doctor || true
if "$prefix/bin/ctsec" bench --help >/dev/null 2>&1 && docker version >/dev/null 2>&1; then
	"$prefix/bin/ctsec" bench || true
fi
