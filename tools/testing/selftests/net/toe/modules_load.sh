#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Load and unload the TOE core and the simulated device (toesim, which
# depends on toe) many times, then check that /proc/modules holds neither:
# catches init/exit paths that fail, leak or leave state behind on the
# second round. The kernel log is checked for splats by the runner.
#
# TOE_LOAD_ITERATIONS overrides the number of rounds (100).

source "$(dirname "$0")/lib.sh"

iterations=${TOE_LOAD_ITERATIONS:-100}

require_root
require_cmd insmod rmmod modprobe
toe_require_modular toe toesim

# Start from nothing, leave nothing.
toe_unload toesim toe || fail "cannot unload modules loaded before the test"
defer toe_unload toesim toe

i=0
for ((i = 1; i <= iterations; i++)); do
	if ! toe_load toe toesim; then
		check_err 1 "round $i: loading toe, toesim failed"
		break
	fi
	if ! toe_mod_loaded toe || ! toe_mod_loaded toesim; then
		check_err 1 "round $i: toe or toesim missing from /proc/modules after loading"
		break
	fi
	if ! toe_unload toesim toe; then
		check_err 1 "round $i: unloading toesim, toe failed"
		break
	fi
done
log_test "load and unload toe and toesim $iterations times"

left=
for m in toesim toe; do
	toe_mod_loaded "$m" && left="$left $m"
done
[ -z "$left" ]
check_err $? "still in /proc/modules:$left"
log_test "no module left in /proc/modules"

exit $EXIT_STATUS
