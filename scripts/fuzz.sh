#!/usr/bin/env bash
# Runs every Go fuzz target in the module, one after another, each for the
# same time. Input minimisation is off (-fuzzminimizetime 0): it once used a
# whole run's time on a slow target. A failing input is written under the
# package's testdata/fuzz/<Target>/ by go test; commit it as a regression seed.
#
#   scripts/fuzz.sh                 # every target, 5 minutes each
#   scripts/fuzz.sh 60s             # every target, 60 s each
#   scripts/fuzz.sh 5m ./seccomp/... ./compose   # only these packages
#   scripts/fuzz.sh --list          # print "package target" and stop
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

time=5m
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi
list=false
if [ "${1:-}" = "--list" ]; then
	list=true
	shift
elif [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+(s|m|h)$ ]]; then
	time=$1
	shift
fi
[ $# -gt 0 ] || set -- ./...

targets=()
for pkg in $(go list "$@"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for t in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		targets+=("$pkg $t")
	done
done
if $list; then
	printf '%s\n' "${targets[@]}"
	exit 0
fi

failed=()
n=0
for entry in "${targets[@]}"; do
	n=$((n + 1))
	read -r pkg t <<<"$entry"
	printf '== [%d/%d] %s %s (%s)\n' "$n" "${#targets[@]}" "$pkg" "$t" "$time"
	if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$time" -fuzzminimizetime 0 "$pkg" 2>&1 | tail -n 3; then
		failed+=("$pkg $t")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	printf 'FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "all ${#targets[@]} fuzz targets ran $time each without a failure"
