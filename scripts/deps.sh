#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# scripts/deps.sh [TARGET...]
#
# Install the Debian packages a make target needs, only those missing, and
# unpack linux-source-6.1 for the targets that use it. Safe to re-run;
# quiet when everything is present. Targets (default: all):
#
#   build   the modules: the 6.1 headers and a compiler, nothing else
#   check   build, plus checkpatch/sparse/coccicheck/kernel-doc (from
#           linux-source-6.1), Sphinx, and toectl's libmnl
#   test    check, plus QEMU, the 6.1 image and what the selftests run
#   debug   build the debug kernel from linux-source-6.1
#   bench   test, plus the plots
#   dkms    DKMS, and what builds the Debian package opentoe-dkms
#   all     every one of them (what CI installs)

set -e

BUILD="linux-headers-amd64 gcc make"
CHECK="linux-source-6.1 xz-utils sparse coccinelle ocaml-nox perl python3
python3-yaml python3-sphinx libmnl-dev pkg-config libc6-dev shellcheck"
TEST="linux-image-amd64 qemu-system-x86 busybox-static kmod cpio iproute2
iperf3 tcpdump ethtool socat nftables python3-scapy python3-pyroute2 curl
file procps"
DEBUG="linux-source-6.1 xz-utils bc flex bison libelf-dev libssl-dev"
BENCH="python3-matplotlib"
DKMS="dkms linux-headers-amd64 debhelper dh-dkms dpkg-dev"

pkgs=
unpack=
image=
[ $# -gt 0 ] || set -- all
for t in "$@"; do
	case $t in
	build)	pkgs="$pkgs $BUILD" ;;
	check)	pkgs="$pkgs $BUILD $CHECK"; unpack=1 ;;
	test)	pkgs="$pkgs $BUILD $CHECK $TEST"; unpack=1 image=1 ;;
	debug)	pkgs="$pkgs $BUILD $DEBUG"; unpack=1 ;;
	bench)	pkgs="$pkgs $BUILD $CHECK $TEST $BENCH"; unpack=1 image=1 ;;
	dkms)	pkgs="$pkgs $BUILD $DKMS" ;;
	all)	pkgs="$pkgs $BUILD $CHECK $TEST $DEBUG $BENCH $DKMS"; unpack=1 image=1 ;;
	*)	echo "deps: unknown target '$t' (build check test debug bench dkms all)" >&2
		exit 2 ;;
	esac
done

missing=
for p in $(printf '%s\n' $pkgs | sort -u); do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	     grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "deps: must run as root to install packages" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi

if ! "$(dirname "$0")/kver.sh" ${image:+--image} >/dev/null; then
	echo "deps: no Debian 6.1 kernel ${image:+image }with matching headers found" >&2
	exit 1
fi

[ -n "$unpack" ] || exit 0

# The kernel sources provide checkpatch, coccicheck, kernel-doc, the
# kselftest framework and the debug kernel. Unpack them once, outside the
# clone, and again when linux-source-6.1 is upgraded: the marker holds the
# version unpacked.
SRC=${TOE_KSRC:-/var/tmp/opentoe/linux-source-6.1}
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
if [ "$(cat "$SRC/.opentoe-unpacked" 2>/dev/null)" != "$ver" ]; then
	echo "deps: unpacking linux-source-6.1 $ver into $SRC"
	mkdir -p "$(dirname "$SRC")"
	rm -rf "$SRC"
	tar -C "$(dirname "$SRC")" -xJf /usr/src/linux-source-6.1.tar.xz
	echo "$ver" > "$SRC/.opentoe-unpacked"
fi
