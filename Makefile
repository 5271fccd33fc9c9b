# SPDX-License-Identifier: GPL-2.0
#
# OpenTOE: out-of-tree build, checks, tests and demo.
#
#   make            build toe.ko and toesim.ko against the Debian 6.1 headers
#   make check      checkpatch --strict, sparse, coccicheck, kernel-doc
#   make test       build, check, then the kselftests in a QEMU guest
#   make demo       boot a guest and show the main job, each step checked
#   make bench      build, then native vs offloaded benchmarks in a guest
#                   (BENCH_QUICK=1: fewer runs, smaller sizes)
#
# KDIR selects the kernel build tree; by default the newest installed
# Debian 6.1 headers (the ABI number moves with security updates).

SHELL	:= /bin/bash
TOP	:= $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KVER	?= $(shell $(TOP)/scripts/kver.sh 2>/dev/null)
KDIR	?= /lib/modules/$(KVER)/build
OUT	?= $(TOP)/out

KMAKE	= $(MAKE) -C $(KDIR) M=$(TOP) CONFIG_TOE=m CONFIG_TOE_TEST=m CONFIG_TOESIM=m W=1

.PHONY: all modules deps check test demo clean bench dkms vm-selftest

all: modules

# What each target needs, installed when missing (scripts/deps.sh): a
# vendor building the modules needs only the headers and a compiler.
DEPS	= $(TOP)/scripts/deps.sh

deps:
	@$(DEPS) all

modules:
	@$(DEPS) build
	@mkdir -p $(OUT)
	@set -o pipefail; $(KMAKE) modules 2>&1 | tee $(OUT)/build.log
	@if grep -E 'warning:|error:|WARNING:' $(OUT)/build.log; then \
		echo "build: compiler warnings are errors here" >&2; exit 1; fi

check: modules
	@$(DEPS) check
	@$(TOP)/scripts/check.sh

# The stock kernel has no kmemleak: kmemleak.sh runs in the debug lane.
test: modules check
	@$(DEPS) test
	@SKIP_TESTS="$${SKIP_TESTS-kmemleak.sh}" $(TOP)/scripts/run-tests.sh

demo: modules
	@$(DEPS) test
	@$(MAKE) -s -C $(TOP)/tools/toe/toectl
	@$(TOP)/scripts/demo.sh

# Not after `check`: benchmarks measure, they do not gate.
bench: modules
	@$(DEPS) bench
	@BENCH_QUICK=$(BENCH_QUICK) $(TOP)/scripts/bench.sh

vm-selftest:
	@$(DEPS) test
	@KVER=$(KVER) KDIR=$(KDIR) $(TOP)/scripts/vm-selftest.sh

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean
	rm -rf $(OUT)

# The debug kernel lane and DKMS packaging (Documentation/networking/toe-build.rst).
.PHONY: debug-kernel test-debug dkms-check

debug-kernel:
	@$(DEPS) debug
	@$(TOP)/scripts/debug-kernel.sh

# KASAN and lockdep slow the data path about sixfold: smaller transfers,
# fewer parallel connections, and toe_diff's offloaded IPv4 variant only
# (its software ones run none of our code, and the IPv6 paths of the
# core's transitions run in toe_torture.sh; the stock lane runs all
# four). Paced transfers that must outlast a test's own commands last
# TOE_SLOW times longer (lib.sh).
#
# The lane runs the tests of the core's transitions and lifetimes
# (TOE_DEBUG_TESTS; TESTS=... overrides): with every test it would take
# over 50 minutes of CI's budget. The data-path variety (toe_offload.sh:
# sizes, MTU, loss, KCM; toe_pmtu.sh; toe_integrity.sh's half gigabyte),
# toe_netfilter.sh (the security policy; toe_diff's netfilter cases run
# in both lanes) and the environment checks run in the stock lane only.
TOE_DEBUG_TESTS ?= toe_core.sh toesim_instances.sh toe_policy.sh \
	toesim_faults.sh toe_diff.sh toe_torture.sh toe_leftovers.sh kmemleak.sh
TOE_DEBUG_INTEGRITY_MB ?= 128
TOE_DEBUG_OFFLOAD_MB ?= 2
TOE_DEBUG_CONNS ?= 200
TOE_DEBUG_TORTURE_SECS ?= 15

test-debug:
	@$(DEPS) test debug
	@env=$$($(TOP)/scripts/debug-kernel.sh) || exit 1; eval "$$env"; \
	LANE=debug KERNEL=$$KERNEL MODULES=$$MODULES \
	TESTS="$${TESTS:-$(TOE_DEBUG_TESTS)}" \
	VM_ARGS="--env TOE_INTEGRITY_MB=$(TOE_DEBUG_INTEGRITY_MB) --env TOE_OFFLOAD_CONNS=$(TOE_DEBUG_CONNS) --env TOE_OFFLOAD_MB=$(TOE_DEBUG_OFFLOAD_MB) --env TOE_TORTURE_SECS=$(TOE_DEBUG_TORTURE_SECS) --env TOE_DIFF_VARIANTS=ipv4_toe --env TOE_SLOW=2" \
	TOE_MODDIR=$$MODULES/lib/modules/$$KRELEASE/kernel \
	$(TOP)/scripts/run-tests.sh

dkms:
	@$(DEPS) dkms
	@$(TOP)/scripts/dkms-check.sh install

dkms-check:
	@$(DEPS) dkms test
	@$(TOP)/scripts/dkms-check.sh check

# The Debian package opentoe-dkms (debian/), into out/deb/; deb-check
# installs it with apt, loads its modules in a guest and purges it.
.PHONY: deb deb-check
deb:
	@$(DEPS) dkms
	@$(TOP)/scripts/dkms-check.sh deb

deb-check:
	@$(DEPS) dkms test
	@$(TOP)/scripts/dkms-check.sh deb-check
