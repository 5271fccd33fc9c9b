#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the net/toe kselftests in a QEMU guest (what `make test` calls after
# the build and the checks).
#
# The kselftest framework is not copied into the repository: it is staged
# under out/ksft from linux-source-6.1 (Makefile, lib.mk, kselftest
# headers, runner), with tools/testing/selftests/net/toe linked in at
# net/toe. C tests are built on the host against the 6.1 uapi headers; the
# guest then runs the standard
#
#	make -C out/ksft/tools/testing/selftests TARGETS=net/toe run_tests
#
# with TOE_MODDIR pointing at the modules to test. The TAP output is
# reduced to one PASS/FAIL/SKIP line per test and, last, "N passed,
# N failed". The exit status is non-zero when a test failed, the guest run
# failed (timeout, kernel splat, lost status) or no test ran.
#
# Environment:
#   TESTS="a.sh b.sh"  run only these tests
#   SKIP_TESTS="c.sh"  and not these (a lane whose kernel cannot run them)
#   KERNEL=VMLINUZ     boot this kernel (scripts/vm.sh --kernel)
#   MODULES=DIR        its modules, DIR/lib/modules/<ver> (vm.sh --modules)
#   TOE_MODDIR=DIR     where toe.ko etc. are, as in the source tree
#                      (default: the repository, i.e. the `make` output)
#   LANE=NAME          name of this run in out/results/counts (stock)
#   TIMEOUT=SECS       guest timeout (default from the settings file)
#   VM_ARGS="..."      more scripts/vm.sh options (e.g. --mem 4096)
#   TOE_KSRC=DIR       unpacked linux-source-6.1 (scripts/deps.sh)
#   TOE_CACHE=DIR      where the uapi headers are built (/var/cache/opentoe)
#   EXPECT_SKIP="d.sh" tests that may skip, whole or in part, on this lane
#
# A test is a KTAP result of the runner; its checks are KTAP subtests
# nested under it (lib.sh's log_test, the harness's TEST cases), counted
# here too. A skip, of a test or of one of its subtests, fails the run
# unless EXPECT_SKIP names the test: a suite that goes green by skipping
# (a module not found, a kernel without a feature a test needs) is a
# failed run.
#
# Results: out/results/tap-LANE.log (the guest's output) and one line
# "LANE PASSED FAILED SKIPPED" in out/results/counts, replaced on each run,
# which .ci/run sums over the lanes.

set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=${OUT:-$TOP/out}
KSRC=${TOE_KSRC:-/var/tmp/opentoe/linux-source-6.1}
LANE=${LANE:-stock}
RESULTS=$OUT/results
STAGE=$OUT/ksft
SELFTESTS=$STAGE/tools/testing/selftests
OURS=$TOP/tools/testing/selftests/net/toe
COLLECTION=net/toe

passed=0
failed=0
skipped=0

mkdir -p "$RESULTS" || exit 1

# record: replace this lane's line in the counts file.
record() {
	local f=$RESULTS/counts

	{
		grep -v "^$LANE " "$f" 2>/dev/null
		echo "$LANE $passed $failed $skipped"
	} > "$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
}

# finish MSG: a setup error; count it as one failure.
bail() {
	echo "run-tests: $*" >&2
	failed=$((failed + 1))
	record
	echo "$passed passed, $failed failed"
	exit 1
}

# --- stage the kselftest tree -----------------------------------------------

[ -f "$KSRC/tools/testing/selftests/lib.mk" ] ||
	bail "no kernel source at $KSRC (scripts/deps.sh unpacks it)"

# stage SRC DST: copy, leaving an identical DST alone (another run may be
# using it).
stage() {
	cmp -s "$1" "$2" && return 0
	mkdir -p "$(dirname "$2")" && cp -p "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}

ksrc_sel=$KSRC/tools/testing/selftests
for f in Makefile lib.mk kselftest.h kselftest_harness.h kselftest_module.h \
	 run_kselftest.sh kselftest/runner.sh kselftest/prefix.pl \
	 kselftest/module.sh; do
	stage "$ksrc_sel/$f" "$SELFTESTS/$f" || bail "cannot stage $f"
done
stage "$KSRC/scripts/subarch.include" "$STAGE/scripts/subarch.include" ||
	bail "cannot stage scripts/subarch.include"

# net/toe is a directory of links to our files, not a link to our
# directory: make resolves `include ../../lib.mk` from the physical
# directory, which must be the staged one. Generated files land there too.
dest=$SELFTESTS/$COLLECTION
[ -L "$dest" ] && rm -f "$dest"
mkdir -p "$dest" || bail "cannot create $dest"
find "$dest" -maxdepth 1 -xtype l -delete
for f in "$OURS"/* "$OURS"/.gitignore; do
	[ -e "$f" ] || continue
	[ "$(readlink "$dest/${f##*/}")" = "$f" ] || ln -sfn "$f" "$dest/${f##*/}"
done

# The 6.1 uapi headers for C tests, from the same source, built once. They
# live outside the clone (TOE_CACHE, as the debug kernel does) so that
# `make check`, which scans the whole tree, does not trip over them.
if compgen -G "$OURS/*.c" > /dev/null; then
	hdr=${TOE_CACHE:-/var/cache/opentoe}/ksft-headers
	mkdir -p "$hdr" 2>/dev/null || hdr=$OUT/ksft-headers
	if ! make -s -C "$KSRC" O="$hdr" ARCH=x86 headers \
			> "$RESULTS/headers.log" 2>&1; then
		cat "$RESULTS/headers.log" >&2
		bail "building the 6.1 uapi headers failed"
	fi
	mkdir -p "$STAGE/usr"
	ln -sfn "$hdr/usr/include" "$STAGE/usr/include"
fi

export TOE_TESTS=${TESTS:-}
mapfile -t expected < <(make -s --no-print-directory -C "$dest" \
	COLLECTION=$COLLECTION emit_tests 2>/dev/null | sed -n "s|^$COLLECTION:||p")
if [ -n "${SKIP_TESTS:-}" ]; then
	keep=()
	for t in "${expected[@]}"; do
		case " $SKIP_TESTS " in
		*" $t "*) ;;
		*) keep+=("$t") ;;
		esac
	done
	expected=("${keep[@]}")
	TOE_TESTS="${expected[*]}"
fi
[ ${#expected[@]} -gt 0 ] || bail "no tests selected (TESTS='${TESTS:-}')"
for t in ${TESTS:-}; do
	case " ${expected[*]} " in
	*" $t "*) ;;
	*) bail "no such test: $t" ;;
	esac
done

# Build C tests (TEST_GEN_PROGS) on the host, and toectl, which
# toe_netlink.sh runs from the tree.
if ! make -C "$SELFTESTS" TARGETS=$COLLECTION all > "$RESULTS/build-$LANE.log" 2>&1 ||
   ! make -C "$TOP/tools/toe/toectl" >> "$RESULTS/build-$LANE.log" 2>&1; then
	cat "$RESULTS/build-$LANE.log" >&2
	bail "building the selftests failed"
fi

# --- run them in the guest ----------------------------------------------------

settings_timeout=$(sed -n 's/^timeout=//p' "$OURS/settings" 2>/dev/null)
timeout=${TIMEOUT:-$((300 + ${#expected[@]} * ${settings_timeout:-45}))}

vmopts=(--timeout "$timeout" --env "TOE_MODDIR=${TOE_MODDIR:-$TOP}")
[ -n "$TOE_TESTS" ] && vmopts+=(--env "TOE_TESTS=$TOE_TESTS")
[ -n "${KERNEL:-}" ] && vmopts+=(--kernel "$KERNEL")
[ -n "${MODULES:-}" ] && vmopts+=(--modules "$MODULES")
# shellcheck disable=SC2206 # VM_ARGS is a list of options
[ -n "${VM_ARGS:-}" ] && vmopts+=(${VM_ARGS})

tap=$RESULTS/tap-$LANE.log
steps=$RESULTS/steps-$LANE.log
echo "run-tests: $LANE: ${expected[*]}"
# timed: the guest's output as it comes, and after each test's result
# how long it took, for keeping the lanes inside CI's budget; each step's
# (a lib.sh TEST line, a harness case) seconds go to $steps.
timed() {
	local line start=$SECONDS step=$SECONDS

	: > "$steps"
	while IFS= read -r line; do
		printf '%s\n' "$line"
		line=${line%$'\r'}
		case $line in
		"# selftests: "*) start=$SECONDS step=$SECONDS ;;
		"ok "*" selftests: "* | "not ok "*" selftests: "*)
			echo "run-tests: ${line#*selftests: } took $((SECONDS - start)) s" ;;
		"# TEST: "* | "# ok "* | "# not ok "*)
			printf '%4d s %s\n' $((SECONDS - step)) "$line" >> "$steps"
			step=$SECONDS ;;
		esac
	done
}

"$TOP/scripts/vm.sh" "${vmopts[@]}" -- \
	make -C "$SELFTESTS" TARGETS=$COLLECTION run_tests | tee "$tap" | timed
vmrc=${PIPESTATUS[0]}

# --- results --------------------------------------------------------------------

# Per test: its result, its subtests ("ok not-ok skip"), and the first
# skipped subtest's line or the reason lib.sh's skip printed.
declare -A result subtests subskip skipwhy
sub_re='^# (not )?ok [0-9]+ (.*)$'
cur=
while IFS= read -r line; do
	line=${line%$'\r'}
	if [[ $line =~ ^#\ selftests:\ ([^:]+):\ ([^ ]+)$ ]]; then
		cur=
		[ "${BASH_REMATCH[1]}" = "$COLLECTION" ] && cur=${BASH_REMATCH[2]}
		[ -n "$cur" ] && subtests[$cur]="0 0 0"
	elif [[ $line =~ ^(not\ )?ok\ [0-9]+\ selftests:\ ([^:]+):\ ([^ ]+)(\ #\ (.*))?$ ]]; then
		cur=
		[ "${BASH_REMATCH[2]}" = "$COLLECTION" ] || continue
		name=${BASH_REMATCH[3]}
		directive=${BASH_REMATCH[5]}
		if [ -n "${BASH_REMATCH[1]}" ]; then
			result[$name]="FAIL${directive:+ $directive}"
		elif [[ $directive == SKIP* ]]; then
			result[$name]="SKIP ${skipwhy[$name]:-$directive}"
		else
			result[$name]=PASS
		fi
	elif [ -n "$cur" ] && [[ $line =~ ^#\ SKIP:\ (.*)$ ]]; then
		skipwhy[$cur]=${BASH_REMATCH[1]}
	elif [ -n "$cur" ] && [[ $line =~ $sub_re ]]; then
		read -r sp sf ss <<< "${subtests[$cur]}"
		if [ -n "${BASH_REMATCH[1]}" ]; then
			sf=$((sf + 1))
		elif [[ ${BASH_REMATCH[2]} =~ \ \#\ SKIP ]]; then
			ss=$((ss + 1))
			: "${subskip[$cur]:=${BASH_REMATCH[2]}}"
		else
			sp=$((sp + 1))
		fi
		subtests[$cur]="$sp $sf $ss"
	fi
done < "$tap"

# skip_expected TEST: the lane expects TEST to skip, whole or in part.
skip_expected() {
	case " ${EXPECT_SKIP:-} " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

echo
sub_total="0 0 0"
for t in "${expected[@]}"; do
	r=${result[$t]:-FAIL no result}
	read -r sp sf ss <<< "${subtests[$t]:-0 0 0}"
	read -r tp tf ts <<< "$sub_total"
	sub_total="$((tp + sp)) $((tf + sf)) $((ts + ss))"
	if [ "${r%% *}" = PASS ] && [ "$ss" -gt 0 ] && ! skip_expected "$t"; then
		r="FAIL unexpected skip: ${subskip[$t]}"
	elif [ "${r%% *}" = SKIP ] && ! skip_expected "$t"; then
		r="FAIL unexpected skip: ${r#SKIP }"
	fi
	# "FAIL exit=1" -> "FAIL name (exit=1)"
	detail=${r#* }
	[ "$detail" = "$r" ] && detail=
	subs=
	[ $((sp + sf + ss)) -eq 0 ] || subs="$sp ok, $sf not ok, $ss skipped"
	echo "${r%% *} $t${detail:+ ($detail)}${subs:+: $subs}"
	case $r in
	PASS)	passed=$((passed + 1)) ;;
	SKIP*)	skipped=$((skipped + 1)) ;;
	*)	failed=$((failed + 1)) ;;
	esac
done
read -r tp tf ts <<< "$sub_total"
echo "run-tests: $LANE: subtests: $tp ok, $tf not ok, $ts skipped"

case $vmrc in
0)	;;
3)	echo "FAIL vm: kernel splat in the console log (see above)" ;;
124)	echo "FAIL vm: guest timed out after ${timeout}s" ;;
*)	echo "FAIL vm: guest run failed with status $vmrc" ;;
esac
[ "$vmrc" -eq 0 ] || failed=$((failed + 1))

rc=0
if [ $((passed + failed)) -eq 0 ]; then
	echo "run-tests: no test ran"
	rc=1
fi
[ "$failed" -eq 0 ] || rc=1
record
echo "$skipped skipped"
echo "$passed passed, $failed failed"
exit $rc
