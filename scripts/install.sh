#!/usr/bin/env bash
# Builds ctsec, installs it to ${PREFIX:-/usr/local}/bin, and runs its main
# job on this host: `ctsec doctor` (what the host supports) and `ctsec bench`
# (CIS Docker Benchmark) when a Docker engine answers.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
. scripts/deps.sh
install_deps build
prefix="${PREFIX:-/usr/local}"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo dev)
go build -trimpath -ldflags "-X main.version=$rev" -o "$prefix/bin/ctsec" ./cmd/ctsec
echo "installed $prefix/bin/ctsec"
"$prefix/bin/ctsec" version
"$prefix/bin/ctsec" doctor || true
if "$prefix/bin/ctsec" bench --help >/dev/null 2>&1 && docker version >/dev/null 2>&1; then
	"$prefix/bin/ctsec" bench || true
fi
