#!/usr/bin/env bash
# Times `ctsec bench` end to end (process start, snapshot, every check, JSON
# out) against the local engine with N running busybox containers.
#   scripts/bench-perf.sh [N ...]        default: 10 50 200
# Needs root, a Docker engine and busybox-static. The containers are labelled
# ctsec-test=bench-perf-script and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 50 200)
image=ctsec-test/busybox:latest
label=ctsec-test=bench-perf-script

bin=$(mktemp -d)/ctsec
go build -o "$bin" ./cmd/ctsec

if ! docker image inspect "$image" >/dev/null 2>&1; then
	rootfs=$(mktemp -d)
	mkdir -p "$rootfs/bin"
	cp "$(command -v busybox)" "$rootfs/bin/busybox"
	for a in sh sleep; do ln -s busybox "$rootfs/bin/$a"; done
	tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
	rm -rf "$rootfs"
fi

cleanup() { docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null; rm -f "$bin"; }
trap cleanup EXIT

have=0
for n in "${sizes[@]}"; do
	if [ "$n" -gt "$have" ]; then
		seq "$have" $((n - 1)) | xargs -P 8 -I{} docker run -d --label "$label" --network none \
			--name "ctsec-perf-script-{}" "$image" sleep 3600 >/dev/null
		have=$n
	fi
	total=$(docker ps -aq | wc -l)
	"$bin" bench --format json --fail-on none >/dev/null # warm the page cache
	best=
	for _ in 1 2 3; do
		start=$(date +%s%N)
		"$bin" bench --format json --fail-on none >/dev/null
		ms=$(( ($(date +%s%N) - start) / 1000000 ))
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
	done
	echo "containers=$total (running test containers: $n)  ctsec bench: best of 3 = ${best} ms"
done
