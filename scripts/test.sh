#!/usr/bin/env bash
# Runs ctsec's whole test suite on a Debian machine: installs what the tests
# need, starts a Docker engine if none answers, then go vet and go test.
# Under CI (CI=true) integration tests may not skip: CTSEC_REQUIRE_INTEGRATION=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

. scripts/deps.sh
install_deps test
start_dockerd

if [ "${CI:-}" = "true" ]; then
	export CTSEC_REQUIRE_INTEGRATION=1
fi

echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 30m "$@" ./...

# No test may depend on the day it runs: under CI the suite runs once more
# with the tests' clock ten years ahead (see README, "No test depends on the
# day it runs").
if [ "${CI:-}" = "true" ] && [ -z "${CTSEC_TEST_NOW:-}" ]; then
	echo "== go test, clock at 2036-12-02"
	CTSEC_TEST_NOW=2036-12-02 go test -count=1 -timeout 30m "$@" ./...
fi
