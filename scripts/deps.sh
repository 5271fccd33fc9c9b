#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install what OpenTOE needs from Debian's packages, only when something is
# missing. Safe to re-run; quiet when everything is present.

set -e

PKGS="linux-image-amd64 linux-headers-amd64 linux-source-6.1 qemu-system-x86
busybox-static sparse coccinelle iproute2 iperf3 tcpdump python3 kmod cpio
xz-utils bc flex bison libelf-dev libssl-dev dkms ethtool socat gcc make perl
python3-matplotlib ocaml-nox nftables python3-scapy curl libmnl-dev pkg-config
python3-yaml python3-sphinx python3-pyroute2"

missing=
for p in $PKGS; do
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

if ! "$(dirname "$0")/kver.sh" >/dev/null; then
	echo "deps: no Debian 6.1 kernel image with matching headers found" >&2
	exit 1
fi

# The kernel sources provide checkpatch, coccicheck, kernel-doc and the
# kselftest framework. Unpack them once, outside the clone.
SRC=${TOE_KSRC:-/var/tmp/opentoe/linux-source-6.1}
if [ ! -f "$SRC/.opentoe-unpacked" ]; then
	echo "deps: unpacking linux-source-6.1 into $SRC"
	mkdir -p "$(dirname "$SRC")"
	rm -rf "$SRC"
	tar -C "$(dirname "$SRC")" -xJf /usr/src/linux-source-6.1.tar.xz
	touch "$SRC/.opentoe-unpacked"
fi
