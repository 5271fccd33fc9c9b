#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot a guest and show the project's main job there, each
# step checked (tools/testing/selftests/net/toe/toe_demo.sh, which the
# suite runs too): an unmodified web server's connection offloaded to
# toesim automatically, seen by toectl, /proc/net/toe, ss and tcpdump,
# handed back in mid-transfer by toectl and seen by toectl monitor, the
# file intact. Exits non-zero if a step fails.

set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --guest ]; then
	exec "$TOP/scripts/vm.sh" --timeout 600 -- "bash scripts/demo.sh --guest"
fi

# --- inside the guest ---------------------------------------------------------
export TOE_MODDIR=$TOP
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
exec bash "$TOP/tools/testing/selftests/net/toe/toe_demo.sh"
