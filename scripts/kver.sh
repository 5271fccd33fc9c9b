#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the newest installed Debian 6.1 kernel release that has both an
# image and headers (e.g. 6.1.0-57-amd64). The ABI number moves with
# security updates, so it is never hard-coded.

best=
for d in /usr/src/linux-headers-6.1.*-amd64; do
	[ -d "$d" ] || continue
	rel=${d#/usr/src/linux-headers-}
	[ -f "/boot/vmlinuz-$rel" ] || continue
	best=$(printf '%s\n%s\n' "$best" "$rel" | sed '/^$/d' | sort -V | tail -n 1)
done
[ -n "$best" ] || exit 1
echo "$best"
