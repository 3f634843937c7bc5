#!/usr/bin/env bash
# Times `ctsec seccomp validate` (strict load, names per architecture, one
# compile of the program runc loads) of Docker's default against the anchor:
# libseccomp compiling the same rules and exporting the BPF, in C
# (seccomp/testdata/anchor/export.c; the rules are TestAnchorRules' golden).
# Whole processes, start-up included, paired runs with farm-bench.
#   scripts/seccomp-perf.sh [RUNS]     default 20
# Goal (issue 17): ctsec within 1.3x the anchor.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
runs=${1:-20}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/ctsec" ./cmd/ctsec
cc -O2 -o "$dir/export" seccomp/testdata/anchor/export.c $(pkg-config --cflags --libs libseccomp)
rules=seccomp/testdata/anchor/default-amd64.rules
for pair in "1.1.5 1" "1.2 2"; do
	set -- $pair
	echo "== runc $1 layout (libseccomp optimize $2)"
	farm-bench -n "$runs" --vs "$dir/export $rules $2" -- \
		"$dir/ctsec" seccomp validate --runc "$1" --arch amd64 --format json default
done
echo "== runc detected from runc --version (one more process)"
farm-bench -n "$runs" --vs "$dir/export $rules 1" -- "$dir/ctsec" seccomp validate --arch amd64 --format json default
echo "== start-up alone: ctsec version against the anchor"
farm-bench -n "$runs" --vs "$dir/export $rules 1" -- "$dir/ctsec" version
