#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of scripts/vm.sh, run as PID 1 after the initramfs has
# switched into the host root (read-only over virtio-9p). Sets up a usable
# system, mounts the repository read-write at its host path, runs the
# command from opentoe.run=DIR/cmd, writes its exit status to DIR/status
# and powers off. Never run this on the host.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8 SHELL=/bin/sh
umask 022

# Under TCG a dynamically linked program takes ~0.15 s to start over 9p;
# the static busybox a third of that. Use it for the setup steps.
if [ -x /bin/busybox ]; then
	for applet in mount mkdir ln cat cut hostname ip mv sync; do
		eval "$applet() { /bin/busybox $applet \"\$@\"; }"
	done
fi

say() {
	echo "vm-init: $*" > /dev/console
}

halt() {
	sync
	echo o > /proc/sysrq-trigger
	sleep 30
	poweroff -f
	busybox poweroff -f
	# Once the power-off has begun, 9p answers I/O errors, so the
	# programs above may fail at once; PID 1 must not exit meanwhile (the
	# kernel would panic), so wait on a shell builtin until power is off.
	while :; do
		read -r _ < /dev/console
	done
}

if [ $$ -ne 1 ]; then
	echo "vm-init: only runs as init inside the scripts/vm.sh guest" >&2
	exit 1
fi

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid devtmpfs /dev
exec < /dev/console > /dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# What udev would add; kselftest's runner writes to /dev/stdout.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
ln -sfn /proc/kcore /dev/core
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755 tmpfs /var/log
mount -t tmpfs -o mode=700 tmpfs /root
mkdir -p /run/lock /run/netns
# Debian's /var/run is a symlink to /run; otherwise cover it.
[ -L /var/run ] || mount --bind /run /var/run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null

repo=''
run=''
modules=''
# shellcheck disable=SC2013 # words, not lines
for arg in $(cat /proc/cmdline); do
	case $arg in
	opentoe.repo=*)		repo=${arg#opentoe.repo=} ;;
	opentoe.run=*)		run=${arg#opentoe.run=} ;;
	opentoe.modules=1)	modules=1 ;;
	esac
done

p9=trans=virtio,version=9p2000.L,msize=512000
if [ -n "$modules" ] &&
   ! mount -t 9p -o "ro,$p9,cache=loose" modules /lib/modules; then
	say "cannot mount the --modules tree"
	halt
fi
mkdir -p "$repo" 2>/dev/null
if ! mount -t 9p -o "$p9,cache=none" repo "$repo"; then
	say "cannot mount the repository at $repo"
	halt
fi
if [ ! -r "$run/cmd" ]; then
	say "no command file $run/cmd"
	halt
fi

hostname opentoe-vm
ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null

TOE_KVER=$(uname -r)
export TOE_VM=1 TOE_TOP="$repo" TOE_KVER TOE_RUN="$run"
cd "$repo" || halt

say "$(uname -r) up $(cut -d' ' -f1 /proc/uptime)s, running: $(cat "$run/cmd")"
# The command's output goes to the console (and so the log) and to the
# rw share, where vm.sh streams it from and callers parse it.
{
	/bin/sh -c ". \"\$TOE_RUN/cmd\"" < /dev/null 2>&1
	echo $? > "$run/status.tmp"
} | tee "$run/output"
status=$(cat "$run/status.tmp" 2>/dev/null)
sync
mv "$run/status.tmp" "$run/status"
say "exit status ${status:-unknown}, tainted=$(cat /proc/sys/kernel/tainted)"
sync
halt
