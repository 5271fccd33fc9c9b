#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Put OpenTOE into a Linux 6.1 source tree, so it builds as part of the
# kernel (CONFIG_TOE, CONFIG_TOE_DRIVERS, CONFIG_TOESIM):
#
#   1. copy the framework and driver sources from this repository
#      (include/net/toe*.h, include/trace/events/toe.h,
#      include/uapi/linux/toe.h, net/toe/, drivers/toe/), its selftests
#      (tools/testing/selftests/net/toe/) and its documents (the .rst
#      pages, the sysfs ABI, the netlink spec); the same files build out of
#      tree, there is no in-tree fork;
#   2. apply the patch series in patches/ (git format-patch files): the
#      Kconfig/Makefile wiring, the TCP hook in tcp_set_state(), and the
#      documentation indexes, selftests Makefile and MAINTAINERS entry.
#
# Usage: scripts/intree.sh [--check] SRC_TREE
#
#   --check   change nothing; report the state of each patch and whether
#             the copied sources are current. Exit 0 only if the tree is
#             fully integrated.
#
# Safe to re-run: sources are copied only when their content differs (so
# an incremental kernel build recompiles only what changed), stale files
# are removed, and patches that are already applied are skipped. A patch
# that neither applies nor is already applied stops the script with an
# error and leaves the tree as it was before that patch.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
PATCHES=$TOP/patches

die() {
	echo "intree: error: $*" >&2
	exit 1
}

check=0
case ${1:-} in
--check)
	check=1
	shift
	;;
-h | --help)
	sed -n '3,/^$/s/^# \{0,1\}//p' "$0"
	exit 0
	;;
esac
[ $# -eq 1 ] || die "usage: $0 [--check] SRC_TREE"
SRC=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"

# A Linux 6.1 tree, not this repository and not some other directory.
if [ ! -f "$SRC/Makefile" ] || [ ! -f "$SRC/net/ipv4/tcp.c" ] || [ ! -f "$SRC/net/Kconfig" ]; then
	die "$SRC is not a Linux source tree"
fi
ver=$(sed -n 's/^VERSION = //p;s/^PATCHLEVEL = //p' "$SRC/Makefile" | paste -sd.)
[ "$ver" = 6.1 ] || die "$SRC is Linux $ver; the patches in patches/ are for 6.1"
[ "$SRC" != "$TOP" ] || die "SRC_TREE is this repository"
[ -f "$TOP/include/net/toe_hook.h" ] || die "$TOP/include/net/toe_hook.h is missing"
compgen -G "$PATCHES/*.patch" >/dev/null || die "no patches in $PATCHES"

# Files that make up the sources of a directory (not build products).
is_source() {
	case $1 in
	*.mod.c) return 1 ;;
	*.c | *.h | Kconfig | Makefile | Kbuild) return 0 ;;
	esac
	return 1
}

stale=0
# sync_file SRC_FILE DST_FILE: copy when the content differs.
sync_file() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	stale=1
	if [ $check = 1 ]; then
		echo "intree: out of date: ${2#"$SRC"/}"
		return 0
	fi
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2"
	echo "intree: copied ${2#"$SRC"/}"
}

# The files of the selftests directory: scripts, programs, the kselftest
# files; not what building them produces (toe_diff, __pycache__).
is_selftest() {
	case $1 in
	*.sh | *.py | *.c | *.h | Makefile | settings | config | .gitignore) return 0 ;;
	esac
	return 1
}

# sync_dir DIR [PREDICATE]: make SRC/DIR hold exactly the files of TOP/DIR
# that PREDICATE (default is_source) accepts.
sync_dir() {
	local d=$1 pred=${2:-is_source} f rel

	while IFS= read -r -d '' f; do
		rel=${f#"$TOP"/}
		if "$pred" "$(basename "$f")"; then
			sync_file "$f" "$SRC/$rel"
		fi
	done < <(find "$TOP/$d" -type f ! -path '*/__pycache__/*' -print0)

	[ -d "$SRC/$d" ] || return 0
	while IFS= read -r -d '' f; do
		rel=${f#"$SRC"/}
		"$pred" "$(basename "$f")" || continue
		[ -e "$TOP/$rel" ] && continue
		stale=1
		if [ $check = 1 ]; then
			echo "intree: stale: $rel"
		else
			rm -f "$f"
			echo "intree: removed $rel"
		fi
	done < <(find "$SRC/$d" -type f -print0)
}

for h in "$TOP"/include/net/toe*.h; do
	sync_file "$h" "$SRC/include/net/$(basename "$h")"
done
sync_file "$TOP/include/trace/events/toe.h" "$SRC/include/trace/events/toe.h"
sync_file "$TOP/include/uapi/linux/toe.h" "$SRC/include/uapi/linux/toe.h"
sync_dir net/toe
sync_dir drivers/toe
sync_dir tools/testing/selftests/net/toe is_selftest
for f in Documentation/networking/toe.rst Documentation/networking/toe-build.rst \
	 Documentation/networking/toe-bench.rst Documentation/driver-api/toe.rst \
	 Documentation/ABI/testing/sysfs-class-toe Documentation/netlink/specs/toe.yaml; do
	sync_file "$TOP/$f" "$SRC/$f"
done

# Apply the series in order. A patch is "applied" when its reverse
# applies cleanly; "pending" when it applies forward; anything else means
# the tree differs from what the series was made against.
pending=0
for p in "$PATCHES"/*.patch; do
	name=$(basename "$p")
	if patch -d "$SRC" -p1 -R -s -f --dry-run <"$p" >/dev/null 2>&1; then
		echo "intree: already applied: $name"
	elif patch -d "$SRC" -p1 -N -s -F0 --dry-run <"$p" >/dev/null 2>&1; then
		pending=1
		if [ $check = 1 ]; then
			echo "intree: not applied: $name"
			continue
		fi
		patch -d "$SRC" -p1 -N -s -F0 --no-backup-if-mismatch <"$p" ||
			die "applying $name failed"
		echo "intree: applied: $name"
	else
		echo "intree: $name neither applies nor is applied to $SRC:" >&2
		patch -d "$SRC" -p1 -N -F0 --dry-run <"$p" >&2 || true
		die "refusing to continue; is $SRC a pristine or already integrated 6.1 tree?"
	fi
done

if [ $check = 1 ]; then
	if [ $pending = 0 ] && [ $stale = 0 ]; then
		echo "intree: $SRC is integrated and current"
		exit 0
	fi
	exit 1
fi
echo "intree: $SRC is ready: enable CONFIG_TOE (y or m), CONFIG_TOE_DRIVERS and CONFIG_TOESIM"
