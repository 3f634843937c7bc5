# Sourced by install.sh and lab.sh: builds ctsec as it is installed.
#
# build_pair PREFIX VERSION [GO BUILD FLAGS...] writes
#   PREFIX/bin/ctsec                    the lean build (-tags lean): every
#                                       command but compose, portainer and man,
#                                       without the libraries that made each
#                                       start-up slow, linked statically (no
#                                       dynamic loader at start-up; Go's own
#                                       user and DNS lookups) (docs/startup.md);
#   PREFIX/libexec/ctsec/ctsec-compose  the default build, which the lean one
#                                       runs for compose, portainer and man.
# `go build ./cmd/ctsec` alone gives the default build, which does everything.
# static_tags and static_ldflags are the lean build's static link, for
# anything timed beside it (scripts/seccomp-perf.sh).
static_tags=osusergo,netgo
static_ldflags="-linkmode external -extldflags -static"
build_pair() {
	local prefix=$1 version=$2
	shift 2
	mkdir -p "$prefix/bin" "$prefix/libexec/ctsec"
	go build "$@" -ldflags "-X main.version=$version" -o "$prefix/libexec/ctsec/ctsec-compose" ./cmd/ctsec &&
		go build "$@" -tags "lean,$static_tags" -ldflags "$static_ldflags -X main.version=$version" \
			-o "$prefix/bin/ctsec" ./cmd/ctsec &&
		# The lean build refuses a helper that others may write (umask 002).
		chmod 0755 "$prefix/bin/ctsec" "$prefix/libexec/ctsec/ctsec-compose"
}
