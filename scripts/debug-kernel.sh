#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) an OpenTOE in-tree kernel: Debian's linux-source-6.1
# with OpenTOE integrated (scripts/intree.sh) and scripts/kernel-base.config
# plus the flavour's fragment, scripts/<flavour>.config, merged onto
# allnoconfig. Flavours:
#
#   debug       (default) KASAN, lockdep, kmemleak, ...: the CI lane
#   perf        CONFIG_TOE=y, no debugging: make bench, in-tree idle cost
#   perf-notoe  the same without CONFIG_TOE: its baseline
#
# Usage: scripts/debug-kernel.sh [--flavour F] [--key | --cached | --force]
#
#   (none)    build unless a result for the current key is cached; print
#               KERNEL=<bzImage>  MODULES=<dir holding lib/modules/<rel>>
#               KRELEASE=<kernel release>
#             on stdout (eval-able); progress goes to stderr
#   --key     print the cache key and exit
#   --cached  print the paths if the current key is cached, else exit 1
#   --force   rebuild even if the key is cached
#
# The result lives outside the clone, in $TOE_CACHE/<flavour>-kernel/<key>/,
# where <key> hashes the two fragments, patches/, the kernel sources of
# this repository (net/toe, drivers/toe, include/net/toe*.h) and the
# version of the linux-source package. The build tree,
# $TOE_CACHE/<debug|perf>-build/<tree>/ (the perf flavours share one), is
# keyed by the linux-source version and patches/ only: a change to our
# sources re-copies just the changed files into it, a change to a fragment
# re-runs Kconfig, and make rebuilds only what they touch.
#
# Environment: TOE_CACHE (default /var/cache/opentoe), TOE_KSRC (the
# pristine unpacked linux-source-6.1, default /var/tmp/opentoe/...),
# JOBS (default nproc).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TOE_CACHE:-/var/cache/opentoe}
KSRC=${TOE_KSRC:-/var/tmp/opentoe/linux-source-6.1}
BASE=$TOP/scripts/kernel-base.config
JOBS=${JOBS:-$(nproc)}
KEEP=3	# results and build trees kept in the cache

die() {
	echo "debug-kernel: error: $*" >&2
	exit 1
}
say() {
	echo "debug-kernel: $*" >&2
}

mode=build
flavour=debug
while [ $# -gt 0 ]; do
	case $1 in
	--flavour)
		[ $# -ge 2 ] || die "--flavour needs a name"
		flavour=$2
		shift
		;;
	--key) mode=key ;;
	--cached) mode=cached ;;
	--force) mode=force ;;
	-h | --help)
		sed -n '3,/^$/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
case $flavour in
debug | perf | perf-notoe) ;;
*) die "unknown flavour $flavour (debug, perf, perf-notoe)" ;;
esac
FRAG=$TOP/scripts/$flavour.config
# The perf flavours differ in one symbol: one build tree serves both.
group=${flavour%%-*}

if [ ! -f "$KSRC/Makefile" ]; then
	"$TOP/scripts/deps.sh" debug >&2 || die "cannot install or unpack linux-source-6.1"
fi
[ -f "$KSRC/Makefile" ] || die "no kernel source at $KSRC (set TOE_KSRC)"

pkgver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || echo none)
kver=$(make -s -C "$KSRC" kernelversion 2>/dev/null) || die "cannot read the version of $KSRC"

# hash_files FILE...: one hash over names and contents, stable across clones.
hash_files() {
	local f
	for f in "$@"; do
		printf '%s\n' "${f#"$TOP"/}"
		cat "$f"
	done | sha256sum | cut -c1-16
}

# The options the selftests need (a kselftest "config" file); the debug
# flavour must provide each of them.
SELFTEST_CONFIG=$TOP/tools/testing/selftests/net/toe/config

# Inputs of the build tree: what the pristine copy is patched with.
tree_inputs=("$TOP"/patches/*.patch)
# Our kernel sources, as scripts/intree.sh copies them, and the scripts
# that decide how they are put in and built.
mapfile -d '' src_inputs < <(find "$TOP/net/toe" "$TOP/drivers/toe" "$TOP/include" \
	-type f \( -name '*.[ch]' ! -name '*.mod.c' -o -name Kconfig -o -name Makefile -o -name Kbuild \) \
	-print0 | LC_ALL=C sort -z)

tree_key=$(
	{
		echo "linux-source-6.1 $pkgver $kver $(uname -m)"
		hash_files "${tree_inputs[@]}"
	} | sha256sum | cut -c1-16
)
key=$(
	{
		echo "$tree_key"
		hash_files "$BASE" "$FRAG" "$SELFTEST_CONFIG" "${src_inputs[@]}" \
			"$TOP/scripts/debug-kernel.sh" "$TOP/scripts/intree.sh"
	} | sha256sum | cut -c1-16
)

RESULT=$CACHE/$flavour-kernel/$key
BTREE=$CACHE/$group-build/$tree_key

print_result() {
	echo "KERNEL=$RESULT/vmlinuz"
	echo "MODULES=$RESULT/mods"
	echo "KRELEASE=$(cat "$RESULT/kernelrelease")"
}

case $mode in
key)
	echo "$key"
	exit 0
	;;
cached)
	[ -f "$RESULT/.done" ] || exit 1
	print_result
	exit 0
	;;
esac

mkdir -p "$CACHE/$flavour-kernel" "$CACHE/$group-build"

# One build at a time: CI, `make test-debug` and a developer may race.
exec 9>"$CACHE/debug-kernel.lock"
if ! flock -n 9; then
	say "waiting for another kernel build to finish"
	flock 9
fi

if [ "$mode" = build ] && [ -f "$RESULT/.done" ]; then
	say "cached: $RESULT"
	print_result
	exit 0
fi

# prune DIR: keep the $KEEP most recently used entries.
prune() {
	local d
	find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn |
		tail -n +$((KEEP + 1)) | cut -d' ' -f2- | while read -r d; do
		say "pruning $d"
		rm -rf "$d"
	done
}

start=$(date +%s)
LOG=$BTREE.log

if [ ! -f "$BTREE/.opentoe-tree" ]; then
	say "new build tree $BTREE (from $KSRC, linux-source-6.1 $pkgver)"
	rm -rf "$BTREE"
	cp -a "$KSRC" "$BTREE.tmp"
	rm -f "$BTREE.tmp/.opentoe-unpacked"
	mv "$BTREE.tmp" "$BTREE"
	touch "$BTREE/.opentoe-tree"
	: >"$LOG"
fi
touch "$BTREE"

{
	echo "=== $(date -u '+%F %T') $flavour kernel $key (tree $tree_key)"
} >>"$LOG"

"$TOP/scripts/intree.sh" "$BTREE" >>"$LOG" 2>&1 ||
	die "scripts/intree.sh failed on $BTREE; see $LOG"

# allnoconfig + the fragments. Re-run every time: our Kconfig files may
# have changed, and an unchanged .config does not make kbuild rebuild
# anything.
merge_out=$(cd "$BTREE" && scripts/kconfig/merge_config.sh -n "$BASE" "$FRAG" 2>&1) || {
	echo "$merge_out" >>"$LOG"
	die "merge_config.sh failed; see $LOG"
}
echo "$merge_out" >>"$LOG"
# merge_config.sh only warns when a requested value did not make it.
if grep -q '^Value requested for' <<<"$merge_out"; then
	grep -A3 '^Value requested for' <<<"$merge_out" >&2
	die "the $flavour fragments ask for values Kconfig did not accept (missing dependencies?)"
fi

# Every option the selftests need, as the config file asks or built in
# where it asks for a module: else a test would skip, or not run a case,
# on this kernel only.
if [ "$flavour" = debug ]; then
	unmet=
	while IFS='=' read -r opt want; do
		case $opt in CONFIG_*) ;; *) continue ;; esac
		have=$(sed -n "s/^$opt=//p" "$BTREE/.config")
		[ "$have" = "$want" ] || { [ "$want" = m ] && [ "$have" = y ]; } ||
			unmet="$unmet $opt=$want(${have:-unset})"
	done <"$SELFTEST_CONFIG"
	[ -z "$unmet" ] || die "the debug kernel lacks what the selftests need:$unmet"
fi

say "building in $BTREE (make -j$JOBS, nice 10; log: $LOG)"
if ! nice -n 10 make -k -C "$BTREE" -j"$JOBS" LOCALVERSION= bzImage modules >>"$LOG" 2>&1; then
	grep -E 'error|Error' "$LOG" | tail -n 20 >&2
	die "kernel build failed; see $LOG"
fi

rel=$(make -s -C "$BTREE" LOCALVERSION= kernelrelease)
stage=$RESULT.tmp
rm -rf "$stage"
mkdir -p "$stage/mods"
make -C "$BTREE" LOCALVERSION= INSTALL_MOD_PATH="$stage/mods" modules_install >>"$LOG" 2>&1 ||
	die "modules_install failed; see $LOG"
# The build/source links point into the build tree, which may be pruned.
rm -f "$stage/mods/lib/modules/$rel/build" "$stage/mods/lib/modules/$rel/source"
cp "$BTREE/arch/x86/boot/bzImage" "$stage/vmlinuz"
cp "$BTREE/.config" "$stage/config"
cp "$BTREE/System.map" "$stage/System.map"
echo "$rel" >"$stage/kernelrelease"
end=$(date +%s)
echo "$((end - start))" >"$stage/build-seconds"
touch "$stage/.done"
rm -rf "$RESULT"
mv "$stage" "$RESULT"
echo "=== built $rel in $((end - start))s" >>"$LOG"
say "built $rel in $((end - start))s"

prune "$CACHE/$flavour-kernel"
prune "$CACHE/$group-build"
# Logs of pruned trees.
for l in "$CACHE/$group"-build/*.log; do
	[ -d "${l%.log}" ] || rm -f "$l"
done

print_result
