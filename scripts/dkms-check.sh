#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS packaging of OpenTOE (dkms.conf) and its proof.
#
#   scripts/dkms-check.sh install [KVER]   what `make dkms` runs: copy the
#       module sources to /usr/src/opentoe-<ver>, then dkms add, build and
#       install them for KVER (default: scripts/kver.sh, the newest Debian
#       6.1 kernel; the host may run another kernel, so always -k)
#   scripts/dkms-check.sh remove           dkms remove opentoe/<ver> --all and
#       delete /usr/src/opentoe-<ver>
#   scripts/dkms-check.sh [check]          install, then boot that kernel in a
#       QEMU guest (scripts/vm.sh), modprobe toe and toesim from
#       /lib/modules/KVER/updates/dkms (the host root over 9p), check they
#       loaded, carry DKMS's signature, and unload; remove the DKMS install
#       at the end, whatever happened
#   scripts/dkms-check.sh sources DST      copy the files DKMS builds from
#       to DST (debian/rules installs the package's /usr/src with it)
#   scripts/dkms-check.sh deb              build the Debian package
#       opentoe-dkms (debian/) into out/deb/, from a copy of the tree
#   scripts/dkms-check.sh deb-check        build it, install it with apt
#       (DKMS builds and signs the modules in its postinst), check as
#       above in a guest, and purge it at the end, whatever happened
#
# Installing replaces an earlier install of the same version, so the
# sources in /usr/src are always those of this tree. Modules are only ever
# loaded inside the guest (the --guest mode refuses to run elsewhere).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
NAME=opentoe
VER=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$TOP/dkms.conf")
USRSRC=/usr/src/$NAME-$VER
MODULES="toe toesim"

die() {
	echo "dkms-check: error: $*" >&2
	exit 1
}
say() {
	echo "dkms-check: $*" >&2
}

[ -n "$VER" ] || die "no PACKAGE_VERSION in $TOP/dkms.conf"

# The files DKMS needs to build the modules: kbuild files and sources.
copy_sources() {
	local dst=$1 f

	mkdir -p "$dst"
	cp "$TOP/dkms.conf" "$TOP/Kbuild" "$TOP/LICENSE" "$dst/"
	(
		cd "$TOP"
		find include -type f -name 'toe*.h' -print0
		find net/toe drivers/toe -type f \( -name '*.[ch]' ! -name '*.mod.c' \
			-o -name Kconfig -o -name Makefile -o -name Kbuild \) -print0
	) | while IFS= read -r -d '' f; do
		mkdir -p "$dst/$(dirname "$f")"
		cp "$TOP/$f" "$dst/$f"
	done
}

do_remove() {
	if dkms status -m "$NAME" -v "$VER" 2>/dev/null | grep -q .; then
		say "dkms remove $NAME/$VER --all"
		dkms remove -m "$NAME" -v "$VER" --all >&2 ||
			die "dkms remove $NAME/$VER failed"
	fi
	rm -rf "$USRSRC"
}

do_install() {
	local kver=${1:-} log

	[ "$(id -u)" = 0 ] || die "must run as root (dkms, /usr/src)"
	command -v dkms >/dev/null || die "dkms is not installed (scripts/deps.sh)"
	if [ -z "$kver" ]; then
		kver=$("$TOP/scripts/kver.sh") || die "no Debian 6.1 kernel with headers (scripts/kver.sh)"
	fi
	[ -d "/lib/modules/$kver/build" ] || die "no headers for $kver (/lib/modules/$kver/build)"

	do_remove
	say "installing sources in $USRSRC"
	copy_sources "$USRSRC"

	dkms add -m "$NAME" -v "$VER" >&2 || die "dkms add $NAME/$VER failed"
	if ! dkms build -m "$NAME" -v "$VER" -k "$kver" >&2; then
		log=/var/lib/dkms/$NAME/$VER/build/make.log
		[ -r "$log" ] && tail -n 30 "$log" >&2
		die "dkms build $NAME/$VER for $kver failed (log: $log)"
	fi
	# dkms install also runs depmod for $kver, so modprobe finds them.
	dkms install -m "$NAME" -v "$VER" -k "$kver" >&2 ||
		die "dkms install $NAME/$VER for $kver failed"

	local m
	for m in $MODULES; do
		compgen -G "/lib/modules/$kver/updates/dkms/$m.ko*" >/dev/null ||
			die "$m.ko is not in /lib/modules/$kver/updates/dkms"
		grep -q "^updates/dkms/$m.ko" "/lib/modules/$kver/modules.dep" ||
			die "$m.ko is not in /lib/modules/$kver/modules.dep"
	done
	dkms status -m "$NAME" -v "$VER" >&2
	echo "$kver"
}

# In the guest: load, check, unload. Modules come from the host's
# /lib/modules over 9p, as DKMS installed them.
do_guest() {
	local kver m path rc=0

	if [ "${TOE_VM:-}" != 1 ] || ! grep -qs 'opentoe.run=' /proc/cmdline; then
		die "--guest only runs inside the scripts/vm.sh guest"
	fi
	kver=$(uname -r)
	echo "dkms-check: guest kernel $kver"
	for m in $MODULES; do
		path=$(modinfo -n "$m" 2>/dev/null) || {
			echo "FAIL: modinfo finds no $m for $kver"
			rc=1
			continue
		}
		case $path in
		"/lib/modules/$kver/updates/dkms/"*) echo "ok: $m -> $path" ;;
		*)
			echo "FAIL: $m resolves to $path, not updates/dkms"
			rc=1
			;;
		esac
	done
	[ $rc = 0 ] || return 1

	# Signed with DKMS's machine owner key (/var/lib/dkms/mok.pub), the
	# key a Secure Boot machine enrols with mokutil --import.
	for m in $MODULES; do
		if [ -n "$(modinfo -F signer "$m" 2>/dev/null)" ]; then
			echo "ok: $m signed by '$(modinfo -F signer "$m")'"
		else
			echo "FAIL: $m carries no signature"
			rc=1
		fi
	done
	[ $rc = 0 ] || return 1

	# By name, through the modules.dep that dkms install's depmod wrote.
	# shellcheck disable=SC2086 # a list of names
	if ! modprobe -a $MODULES; then
		echo "FAIL: modprobe -a $MODULES"
		return 1
	fi
	for m in $MODULES; do
		if grep -q "^$m " /proc/modules; then
			echo "ok: $m loaded (taint: $(cat /sys/module/"$m"/taint 2>/dev/null))"
		else
			echo "FAIL: $m not in /proc/modules"
			rc=1
		fi
	done
	if ! modprobe -r toesim toe; then
		echo "FAIL: modprobe -r toesim toe"
		return 1
	fi
	for m in $MODULES; do
		if grep -q "^$m " /proc/modules; then
			echo "FAIL: $m still loaded"
			rc=1
		fi
	done
	[ $rc = 0 ] && echo "ok: unloaded"
	return $rc
}

# record PASSED FAILED: this lane's line in out/results/counts, in the
# format of scripts/run-tests.sh, when run as a .ci/run lane (LANE set).
record() {
	local f=${OUT:-$TOP/out}/results/counts

	[ -n "${LANE:-}" ] || return 0
	mkdir -p "$(dirname "$f")"
	{
		grep -v "^$LANE " "$f" 2>/dev/null
		echo "$LANE $1 $2 0"
	} >"$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
}

do_check() {
	local kver rc=0

	trap 'do_remove' EXIT
	record 0 1	# until the guest says otherwise
	kver=$(do_install "$@")
	say "booting $kver in a guest to load the DKMS modules"
	"$TOP/scripts/vm.sh" --kernel "/boot/vmlinuz-$kver" --timeout "${DKMS_VM_TIMEOUT:-600}" \
		-- scripts/dkms-check.sh --guest || rc=$?
	if [ $rc = 0 ]; then
		say "PASS: toe and toesim built, installed, loaded and unloaded through DKMS"
		record 1 0
	else
		say "FAIL: the guest check exited $rc"
		record 0 1
	fi
	return $rc
}

# The package's version is the modules': debian/changelog and dkms.conf
# agree, or the package installs sources DKMS knows under another name.
deb_version() {
	local v

	v=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version) ||
		die "cannot read debian/changelog"
	[ "$v" = "$VER" ] || die "debian/changelog is at $v, dkms.conf at $VER"
	echo "$v"
}

# do_deb: build opentoe-dkms from a copy of the tree (dpkg-buildpackage
# writes beside the source directory); print the .deb's path.
do_deb() {
	local v dir out=${OUT:-$TOP/out}/deb

	v=$(deb_version)
	command -v dpkg-buildpackage >/dev/null ||
		die "dpkg-buildpackage is not installed (scripts/deps.sh dkms)"
	rm -rf "$out"
	dir=$out/$NAME-$v
	mkdir -p "$dir"
	cp -a "$TOP/debian" "$TOP/scripts" "$dir/"
	copy_sources "$dir"
	(cd "$dir" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
		tail -n 30 "$out/build.log" >&2
		die "dpkg-buildpackage failed (log: $out/build.log)"
	}
	[ -f "$out/${NAME}-dkms_${v}_all.deb" ] || die "no ${NAME}-dkms_${v}_all.deb in $out"
	echo "$out/${NAME}-dkms_${v}_all.deb"
}

# purge_deb: remove the package, its DKMS builds and /usr/src copy.
purge_deb() {
	if dpkg-query -W -f='${Status}' "$NAME-dkms" 2>/dev/null | grep -q installed; then
		say "apt-get purge $NAME-dkms"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$NAME-dkms" >&2 ||
			say "purging $NAME-dkms failed"
	fi
}

do_deb_check() {
	local deb kver rc=0

	[ "$(id -u)" = 0 ] || die "must run as root (apt-get)"
	kver=$("$TOP/scripts/kver.sh" --image) || die "no Debian 6.1 kernel with headers"
	trap 'purge_deb; do_remove' EXIT
	record 0 1
	# The package and `make dkms` install the same files.
	do_remove
	deb=$(do_deb)
	say "apt-get install $deb"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >&2 ||
		die "apt-get install $deb failed"
	dkms status -m "$NAME" -v "$VER" -k "$kver" | grep -q ': installed' ||
		die "after the install, dkms status shows no $NAME/$VER installed for $kver"
	say "booting $kver in a guest to load the packaged modules"
	"$TOP/scripts/vm.sh" --kernel "/boot/vmlinuz-$kver" --timeout "${DKMS_VM_TIMEOUT:-600}" \
		-- scripts/dkms-check.sh --guest || rc=$?
	if [ $rc = 0 ]; then
		say "PASS: opentoe-dkms installed with apt; toe and toesim loaded and unloaded"
		record 1 0
	else
		say "FAIL: the guest check exited $rc"
	fi
	return $rc
}

case ${1:-check} in
sources)
	[ $# = 2 ] || die "usage: $0 sources DST"
	copy_sources "$2"
	;;
deb) do_deb ;;
deb-check) do_deb_check ;;
install)
	shift
	do_install "$@" >/dev/null
	say "installed $NAME/$VER"
	;;
remove) do_remove ;;
check)
	[ $# -gt 0 ] && shift
	do_check "$@"
	;;
--guest) do_guest ;;
-h | --help) sed -n '3,/^$/s/^# \{0,1\}//p' "$0" ;;
*) die "unknown mode '$1' (see --help)" ;;
esac
