#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# scripts/kver.sh [--image]
#
# Print the Debian 6.1 kernel release to build for (e.g. 6.1.0-57-amd64):
# the newest generic amd64 release whose headers are installed, preferring
# one whose image is installed too, so that the guest boots what the
# modules were built for. With --image, only a release with both. The
# -cloud-amd64 and -rt-amd64 flavours are other kernels and never picked.
# The ABI number moves with security updates, so it is never hard-coded.

need_image=
case ${1:-} in
--image) need_image=1 ;;
'') ;;
*) echo "usage: $0 [--image]" >&2; exit 2 ;;
esac

both=
headers=
for d in /usr/src/linux-headers-6.1.*-amd64; do
	[ -d "$d" ] || continue
	rel=${d#/usr/src/linux-headers-}
	# 6.1.0-ABI-amd64 and nothing else.
	printf '%s\n' "$rel" | grep -Eq '^6\.1\.[0-9]+-[0-9]+-amd64$' || continue
	headers=$(printf '%s\n%s\n' "$headers" "$rel" | sed '/^$/d' | sort -V | tail -n 1)
	[ -f "/boot/vmlinuz-$rel" ] || continue
	both=$(printf '%s\n%s\n' "$both" "$rel" | sed '/^$/d' | sort -V | tail -n 1)
done
[ -n "$need_image" ] || both=${both:-$headers}
[ -n "$both" ] || exit 1
echo "$both"
