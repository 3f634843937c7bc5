#!/usr/bin/env bash
# Times `ctsec seccomp validate` (strict load, names per architecture, one
# compile of the program runc loads) of Docker's default against the anchor:
# libseccomp compiling the same rules and exporting the BPF, in C
# (seccomp/testdata/anchor/export.c; the rules are TestAnchorRules' golden).
# Whole processes, start-up included: ctsec as installed (the lean build of
# scripts/build.sh), each run's CPU time (perf stat's task-clock), ctsec and
# the anchor run in turn so the ratio holds while the machine drifts; prints
# the medians and the median of the pairs' ratios. The last lines put the
# same work done by a bare Go program (seccomp/testdata/anchor/goexport)
# beside both: what a Go process costs before ctsec does anything of its own.
#   scripts/seccomp-perf.sh [RUNS]     default 40
# Needs perf (Debian: linux-perf). Goal (issue 17): ctsec within 1.3x the anchor.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v perf >/dev/null || { echo "seccomp-perf.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
runs=${1:-40}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. scripts/build.sh
build_pair "$dir" perf
ctsec=$dir/bin/ctsec
cc -O2 -o "$dir/export" seccomp/testdata/anchor/export.c $(pkg-config --cflags --libs libseccomp)
# The floor of any Go program that compiles with libseccomp: export.c in Go,
# linked as the lean build is (static, cgo).
go build -tags "$static_tags" -ldflags "$static_ldflags" -o "$dir/goexport" ./seccomp/testdata/anchor/goexport
rules=seccomp/testdata/anchor/default-amd64.rules

# cpu_ms CMD...: the task-clock of one run, in ms.
cpu_ms() {
	perf stat -x, -e task-clock -o "$dir/stat" -- "$@" >/dev/null 2>&1 || true
	awk -F, '$3 == "task-clock" || $4 == "task-clock" {print $1; exit}' "$dir/stat"
}

# paired NAME -- A... -- B...: runs A and B in turn and prints the medians.
paired() {
	local name=$1 a=() b=()
	shift 2
	while [ "$1" != "--" ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	cpu_ms "${a[@]}" >/dev/null; cpu_ms "${b[@]}" >/dev/null # warm the page cache
	: >"$dir/pairs"
	for _ in $(seq "$runs"); do
		echo "$(cpu_ms "${a[@]}") $(cpu_ms "${b[@]}")" >>"$dir/pairs"
	done
	median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
	printf '%-58s %-8s %6.2f ms  %-8s %6.2f ms  ratio %.2fx\n' "$name" \
		"${a[0]##*/}" "$(awk '{print $1}' "$dir/pairs" | median)" \
		"${b[0]##*/}" "$(awk '{print $2}' "$dir/pairs" | median)" \
		"$(awk '$2 > 0 {print $1/$2}' "$dir/pairs" | median)"
}

paired "validate, runc 1.1.5 layout (libseccomp optimize 1)" -- \
	"$ctsec" seccomp validate --runc 1.1.5 --arch amd64 --format json default -- "$dir/export" "$rules" 1
paired "validate, runc 1.2 layout (libseccomp optimize 2)" -- \
	"$ctsec" seccomp validate --runc 1.2 --arch amd64 --format json default -- "$dir/export" "$rules" 2
paired "validate, runc detected (runc --version: one more process)" -- \
	"$ctsec" seccomp validate --arch amd64 --format json default -- "$dir/export" "$rules" 1
paired "start-up alone: ctsec version" -- "$ctsec" version -- "$dir/export" "$rules" 1
paired "the Go floor: goexport (Go + libseccomp, nothing else)" -- \
	"$dir/goexport" "$rules" 1 -- "$dir/export" "$rules" 1
paired "validate, runc 1.1.5 layout, against the Go floor" -- \
	"$ctsec" seccomp validate --runc 1.1.5 --arch amd64 --format json default -- "$dir/goexport" "$rules" 1
