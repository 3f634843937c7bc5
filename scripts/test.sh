#!/usr/bin/env bash
# Runs ctsec's whole test suite on a Debian machine: installs what the tests
# need, starts a Docker engine if none answers, then go vet and go test, then
# the lab tier (scripts/lab.sh test in Debian 12 and 13 guests, docs/lab.md).
# Under CI (CI=true) integration tests may not skip: CTSEC_REQUIRE_INTEGRATION=1,
# and the lab tier is mandatory. CTSEC_LAB=0 leaves it out elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

. scripts/deps.sh
install_deps test lab
start_dockerd

if [ "${CI:-}" = "true" ]; then
	export CTSEC_REQUIRE_INTEGRATION=1
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files (gofmt -w them):" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "== go vet"
go vet ./...
echo "== go test"
rc=0
go test -count=1 -timeout 30m "$@" ./... || rc=$?

# No test may depend on the day it runs: under CI the suite runs once more
# with the tests' clock ten years ahead (see README, "No test depends on the
# day it runs").
if [ "${CI:-}" = "true" ] && [ -z "${CTSEC_TEST_NOW:-}" ]; then
	echo "== go test, clock at 2036-12-02"
	CTSEC_TEST_NOW=2036-12-02 go test -count=1 -timeout 30m "$@" ./... || rc=$?
fi

if [ "${CTSEC_LAB:-1}" = 0 ] && [ "${CI:-}" != "true" ]; then
	echo "== lab tier left out (CTSEC_LAB=0)"
else
	echo "== lab tier"
	bash scripts/lab.sh --dist all test || rc=1
fi
exit $rc
