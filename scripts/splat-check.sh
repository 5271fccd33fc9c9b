#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/splat-check.sh LOG
#
# Scan a kernel console log (or dmesg output) for splats: WARN, BUG, oops,
# KASAN/UBSAN/KFENCE, lockdep and RCU reports, hung tasks, stalls, refcount
# and list corruption, kmemleak leaks, panics and bare call traces.
# Prints the offending lines with some context and exits 1 when it finds
# one, 0 when the log is clean, 2 on usage error.
#
# Test programs write to the same console, so short words ("WARNING:",
# "BUG:", "Oops", "Call Trace:") only count on kernel lines, recognised by
# the printk timestamp ("[   12.345678] ", the guest boots with
# printk.time=1). Long, kernel-specific formats count anywhere, so a test
# that dumps dmesg or kmemleak still trips the check. A test named
# warn_on.sh or printing "warning:" does not.

if [ $# -ne 1 ] || [ ! -r "$1" ]; then
	echo "usage: $0 LOG" >&2
	exit 2
fi
log=$1

# Kernel formats that user space does not print by accident.
anywhere='------------\[ cut here \]------------'
anywhere+='|WARNING: CPU: [0-9]+ PID: [0-9]+'
anywhere+='|kernel BUG at '
anywhere+='|BUG: (KASAN|KFENCE|KMSAN|kernel NULL pointer dereference|unable to handle page fault|sleeping function called|scheduling while atomic|soft lockup|workqueue lockup|Bad page|Bad rss-counter|spinlock|unable to handle kernel)'
anywhere+='|general protection fault'
anywhere+='|Kernel panic - not syncing'
anywhere+='|Oops: [0-9a-f]+ \[#[0-9]+\]'
anywhere+='|UBSAN: [a-z_-]+ in '
anywhere+='|unreferenced object 0x[0-9a-f]+ \(size [0-9]+\)'
anywhere+='|list_(add|del) corruption'
anywhere+='|refcount_t: '
anywhere+='|possible circular locking dependency'
anywhere+='|inconsistent lock state'
anywhere+='|possible recursive locking detected'
anywhere+='|suspicious RCU usage'
anywhere+='|lock held when returning to user space'
anywhere+='|bad unlock balance detected'
anywhere+='|held lock freed'
anywhere+='|blocked for more than [0-9]+ seconds'
anywhere+='|rcu: INFO: rcu_[a-z]+ (self-)?detected stall'
anywhere+='|detected stalls on CPUs'
anywhere+='|Watchdog detected hard LOCKUP'

# Short words: only after a printk timestamp (optionally a caller id).
stamp='\[ *[0-9]+\.[0-9]+\]( \[ *[CT][0-9]+\])? '
kernel="$stamp"'(.*[^A-Za-z_])?(WARNING:|BUG:|BUG [a-z]|Oops|KASAN|UBSAN|KFENCE|Call Trace:|hung task|hung_task|Unable to handle kernel|stack-protector|double fault)'

# Lines that echo our own configuration, not a report.
ignore='Kernel command line:|Unknown kernel command line parameters'

matches=$(tr -d '\r' < "$log" |
	grep -n -E -e "$anywhere" -e "$kernel" |
	grep -v -E "$ignore" | cut -d: -f1)

[ -z "$matches" ] && exit 0

count=$(echo "$matches" | wc -l)
echo "splat-check: $count suspicious line(s) in $log:"
tr -d '\r' < "$log" | awk -v list="$matches" '
	BEGIN {
		n = split(list, m, "\n")
		for (i = 1; i <= n; i++) {
			hit[m[i]] = 1
			for (j = m[i] - 2; j <= m[i] + 15; j++)
				show[j] = 1
		}
	}
	show[NR] {
		if (last && NR != last + 1)
			print "  ..."
		printf "%s %6d: %s\n", (NR in hit) ? ">" : " ", NR, $0
		last = NR
		if (++printed >= 300) {
			print "  ... (more in the log)"
			exit
		}
	}'
exit 1
