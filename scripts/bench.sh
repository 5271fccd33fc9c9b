#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: native Linux TCP against connections offloaded to toesim on
# the same veth path, in one guest run. Builds tools/toe/bench/toe_bench
# on the host (the guest shares the host's root, so it runs there as is),
# boots the VM with tools/toe/bench/bench.py, then prints the table and
# draws the plot from the results (tools/toe/bench/report.py).
#
# "intree" measures the idle cost of OpenTOE built into the kernel: it
# builds (or takes from the cache) the in-tree kernels of flavours
# perf-notoe and perf (scripts/debug-kernel.sh; a cold build takes about
# 10 minutes per flavour) and boots them in turn, one sample per boot.
#
# Results: out/bench/<timestamp>/{results.json,table.txt,bench.png,console.log}
# and out/bench/latest pointing at them.
#
# Environment:
#   BENCH_QUICK=1        3 runs, smaller transfers, scale 1k and 10k
#   BENCH_RUNS=N         runs per figure (default 5, quick 3)
#   BENCH_SCALE="..."    connection counts of the scale test
#   BENCH_ONLY="..."     a subset of: idle stream rr conn scale intree
#   BENCH_MEM=MB         guest memory (default 8192)
#   BENCH_TIMEOUT=SECS   guest timeout (default 3600)
# See Documentation/networking/toe-bench.rst.

set -u
TOP=$(cd "$(dirname "$0")/.." && pwd -P)
OUT=${OUT:-$TOP/out}
stamp=$(date +%Y%m%d-%H%M%S)
dir=$OUT/bench/$stamp
bin=$OUT/bench/toe_bench

mkdir -p "$dir" || exit 1
gcc -O2 -Wall -Wextra -Werror -pthread -o "$bin" "$TOP/tools/toe/bench/toe_bench.c" ||
	{ echo "bench: cannot build toe_bench" >&2; exit 1; }

BENCH_ONLY=${BENCH_ONLY:-idle stream rr conn scale intree}
envs=()
for v in BENCH_QUICK BENCH_RUNS BENCH_SCALE BENCH_ONLY; do
	[ -n "${!v:-}" ] && envs+=(--env "$v=${!v}")
done

rc=0
# The guest figures, unless "intree" is all that was asked for.
if [ -n "$(echo " $BENCH_ONLY " | sed 's/ intree / /; s/ //g')" ]; then
	"$TOP/scripts/vm.sh" --mem "${BENCH_MEM:-8192}" --timeout "${BENCH_TIMEOUT:-3600}" \
		--log "$dir/console.log" --env "TOE_MODDIR=$TOP" --env "TOE_BENCH_BIN=$bin" \
		"${envs[@]}" -- "python3 tools/toe/bench/bench.py $dir"
	rc=$?
fi
ln -sfn "$stamp" "$OUT/bench/latest"

# intree_run FLAVOUR RUN: one boot of an in-tree kernel, one sample.
declare -A kenv
intree_run() {
	local KERNEL MODULES KRELEASE

	eval "${kenv[$1]}"
	"$TOP/scripts/vm.sh" --mem "${BENCH_MEM:-8192}" --timeout 900 \
		--kernel "$KERNEL" --modules "$MODULES" \
		--log "$dir/intree/console-$1-$2.log" \
		--env "TOE_MODDIR=$MODULES/lib/modules/$KRELEASE/kernel" \
		--env "TOE_BENCH_BIN=$bin" --env "BENCH_INTREE=$1" \
		"${envs[@]}" -- "python3 tools/toe/bench/bench.py $dir/intree/$1-$2"
}

case " $BENCH_ONLY " in
*" intree "*)
	mkdir -p "$dir/intree"
	# Build both first, once: no build may run beside a measurement.
	for f in perf-notoe perf; do
		kenv[$f]=$("$TOP/scripts/debug-kernel.sh" --flavour "$f") ||
			{ echo "bench: cannot build the $f kernel" >&2; rc=1; }
	done
	runs=${BENCH_RUNS:-5}
	case ${BENCH_QUICK:-0} in
	0) ;;
	*) runs=${BENCH_RUNS:-3} ;;
	esac
	# Interleaved, one sample per boot: perf-notoe, perf, perf-notoe, ...
	for i in $(seq "$runs"); do
		for f in perf-notoe perf; do
			[ -n "${kenv[$f]}" ] || continue
			intree_run "$f" "$i" ||
				{ echo "bench: in-tree $f run $i failed" >&2; rc=1; }
		done
	done
	python3 "$TOP/tools/toe/bench/bench.py" --merge-intree "$dir" || rc=1
	;;
esac

if [ -s "$dir/results.json" ]; then
	# The plot needs Debian's matplotlib: prefer the system python3.
	py=python3
	[ -x /usr/bin/python3 ] && py=/usr/bin/python3
	"$py" "$TOP/tools/toe/bench/report.py" "$dir" || rc=1
else
	echo "bench: no results (guest status $rc)" >&2
	[ "$rc" = 0 ] && rc=1
fi
echo "bench: results in $dir" >&2
exit "$rc"
