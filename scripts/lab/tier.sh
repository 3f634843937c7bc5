# Sourced by scripts/lab.sh: the lab test tier (scripts/lab.sh test).
#
# Guest tests: TestLab* functions in *_lab_test.go files (build tag lab),
# compiled here with `go test -c -tags lab`, run in the guest as root from
# /src/<package dir>. Host tests: TestLab* functions in *_labhost_test.go
# files (build tag labhost), run here with `go test -tags labhost` while the
# guest is up; testenv.LabGuest drives it (exec, reboot).

# lab_dirs SUFFIX: package directories with *_SUFFIX_test.go files.
lab_dirs() {
	(cd "$checkout" && find . -path ./.git -prune -o -type f -name "*_$1_test.go" -printf '%h\n') |
		sed 's|^\./||' | LC_ALL=C sort -u
}

# area_match DIR AREA...: DIR is selected by one of the areas (none: all).
area_match() {
	local d=$1 a
	shift
	[ $# -eq 0 ] && return 0
	for a in "$@"; do
		a=${a%/}
		[ "$d" = "$a" ] || [ "${d#"$a"/}" != "$d" ] || [ "${d##*/}" = "$a" ] && return 0
	done
	return 1
}

# The areas a trixie tier runs when `--dist all test` names none: what needs
# Docker 23+ (listenerPath recording) and what AppArmor 4.1 and Linux 6.12
# may change (the loop, the lab's own checks). The host modules are
# Debian 12's job in the default tier: running everything twice under
# emulation would double a tier the issue budgets at 20 minutes.
trixie_areas=(apparmor seccomp/record internal/testenv)

# select_dirs AREA...: guest_dirs and host_dirs for $dist.
select_dirs() {
	local d host=yes
	guest_dirs=() host_dirs=()
	if [ $# -eq 0 ] && [ "$dist" = trixie ] && [ "$all_dists" = yes ]; then
		set -- "${trixie_areas[@]}"
		host=no
	fi
	for d in $(lab_dirs lab); do area_match "$d" "$@" && guest_dirs+=("$d"); done
	if [ $host = yes ]; then
		for d in $(lab_dirs labhost); do area_match "$d" "$@" && host_dirs+=("$d"); done
	fi
	if [ ${#guest_dirs[@]} -eq 0 ] && [ ${#host_dirs[@]} -eq 0 ]; then
		die "test: no lab tests in area $* (scripts/lab.sh test --list)"
	fi
	return 0
}

cmd_test() {
	local list=no areas=() a all_dists=no
	local guest_dirs host_dirs
	[ "$dist" = all ] && all_dists=yes
	for a in "$@"; do
		case "$a" in
		--list) list=yes ;;
		-*) die "test: unknown option $a" ;;
		*) areas+=("$a") ;;
		esac
	done
	if [ $list = yes ]; then
		echo "guest (tag lab):     $(lab_dirs lab | paste -sd' ')"
		echo "host (tag labhost):  $(lab_dirs labhost | paste -sd' ')"
		echo "trixie by default:   ${trixie_areas[*]} (guest side; --dist trixie test AREA runs any area there)"
		return 0
	fi
	local targets=("$dist")
	[ "$dist" = all ] && targets=("${dists[@]}")
	local t
	tier_rc=0 summary=()
	for t in "${targets[@]}"; do
		dist=$t
		[ "$dist" = bookworm ] && dist_flag="" || dist_flag=" --dist $dist"
		select_dirs "${areas[@]}"
		need_root
		need_tools
		tier_one
	done
	say "================ lab tier summary"
	printf '%s\n' "${summary[@]}" | sed 's/^/lab:   /' >&2
	if [ $tier_rc -eq 0 ]; then say "lab tier passed"; else say "lab tier FAILED"; fi
	return $tier_rc
}

# tier_one: the tier for $dist. A failing test sets tier_rc; a failure of the
# harness itself (compile, boot) ends the run.
tier_one() {
	local t0 booted=no d name out t1 line results=() code
	t0=$(now)
	say "================ lab tier: $dist (${guest_dirs[*]} | host: ${host_dirs[*]:-none})"

	# Compile first: a compile error costs no boot.
	local stage
	mkdir -p -m 0700 "$state_root"
	stage=$(mktemp -d "$state_root/tests.XXXXXX")
	cleanups+=("rm -rf '$stage'")
	t1=$(now)
	for d in "${guest_dirs[@]}"; do
		name=${d//\//_}.test
		(cd "$checkout" && go test -c -tags lab -o "$stage/$name" "./$d") ||
			{ say "compiling ./$d with -tags lab failed"; exit 1; }
	done
	if [ ${#guest_dirs[@]} -gt 0 ]; then
		(cd "$checkout" && go vet -tags lab "${guest_dirs[@]/#/./}") || { say "go vet -tags lab failed"; exit 1; }
	fi
	if [ ${#host_dirs[@]} -gt 0 ]; then
		(cd "$checkout" && go vet -tags labhost "${host_dirs[@]/#/./}") || { say "go vet -tags labhost failed"; exit 1; }
	fi
	say "compiled ${#guest_dirs[@]} test binaries in $(since "$t1") s"

	# One tier at a time per guest: a second one would reuse this guest and
	# lose it when this one stops it.
	set_instance
	lock_instance
	local image_note="cached" boot_note="reused the running guest"
	if instance_up; then
		say "using the $dist guest that is already up (it stays up)"
		build_ctsec
	else
		# Boots with up's code, in this process, so its clean-up is ours:
		# the guest is stopped however the tier ends.
		cleanups+=("[ -d '$state' ] && down_instance quiet")
		cmd_up
		booted=yes
		[ "$image_built" = no ] || image_note="built in $image_built s"
		boot_note="booted in $boot_seconds s"
	fi
	rm -rf "$state/share/tests"
	mv "$stage" "$state/share/tests"
	chmod 0755 "$state/share/tests"

	local req=${CTSEC_REQUIRE_INTEGRATION:-} run=${LAB_RUN:-^TestLab}
	for d in "${guest_dirs[@]}"; do
		name=${d//\//_}.test
		out=$state/share/tests/$name.out
		t1=$(now)
		say "---- guest: ./$d"
		set +e
		guest_ssh "cd /src/$(printf %q "$d") && env CTSEC_REQUIRE_INTEGRATION=$(printf %q "$req") /lab/tests/$name -test.run $(printf %q "$run") -test.v -test.count=1 -test.timeout $test_timeout" \
			</dev/null 2>&1 | tee "$out"
		code=${PIPESTATUS[0]}
		set -e
		results+=("$(tier_count "$d" guest "$code" "$out" "$(since "$t1")")")
		case "${results[-1]}" in *FAIL*) tier_rc=1 ;; esac
	done
	for d in "${host_dirs[@]}"; do
		out=$state/share/tests/host_${d//\//_}.out
		t1=$(now)
		say "---- host: ./$d"
		set +e
		(cd "$checkout" && CTSEC_LAB_DIST=$dist go test -tags labhost -count=1 -run "$run" -v -timeout "$test_timeout" "./$d") 2>&1 | tee "$out"
		code=${PIPESTATUS[0]}
		set -e
		results+=("$(tier_count "$d" host "$code" "$out" "$(since "$t1")")")
		case "${results[-1]}" in *FAIL*) tier_rc=1 ;; esac
	done

	if [ $booted = yes ]; then
		down_instance quiet
	fi
	summary+=("$dist: image $image_note, guest $boot_note, tier $(since "$t0") s")
	for line in "${results[@]}"; do summary+=("  $line"); done
}

# tier_count DIR SIDE EXIT OUTPUT SECONDS: one summary line for a test run.
# A run that ran no TestLab test fails: a lab file whose tests are misnamed
# would otherwise pass by running nothing (unless LAB_RUN chose the tests).
tier_count() {
	local d=$1 side=$2 code=$3 out=$4 secs=$5 pass fail skip verdict=ok
	pass=$(grep -c '^--- PASS' "$out" || true)
	fail=$(grep -c '^--- FAIL' "$out" || true)
	skip=$(grep -c '^--- SKIP' "$out" || true)
	[ "$code" -eq 0 ] || verdict=FAIL
	if [ $((pass + fail + skip)) -eq 0 ]; then
		if [ -n "${LAB_RUN:-}" ] && [ "$code" -eq 0 ]; then
			verdict="ok (no test matches LAB_RUN)"
		else
			verdict="FAIL (no TestLab tests ran)"
		fi
	fi
	echo "$side ./$d: $verdict — $pass passed, $fail failed, $skip skipped (${secs} s)"
}
