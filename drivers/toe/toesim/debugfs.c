// SPDX-License-Identifier: GPL-2.0
/*
 * toesim: per-instance inspection under debugfs.
 *
 *   /sys/kernel/debug/toesim/<ID>/
 *     opens, closes            open() and close() calls
 *     neigh_updates            neigh_update() calls
 *     port_changes             port_change() calls
 *     redirects                redirect() calls
 *     table_size               connection table size; writing a smaller
 *                              size takes slots out of service (-EBUSY
 *                              if more are in use)
 *     rx_frames, tx_frames, ...  the engine's counters
 *     engine_cpu               the CPU the engine thread runs on, -1 for
 *                              any (the "NIC processor"); -EINVAL for a
 *                              CPU not online
 *     profile                  1 starts measuring the engine's cost per
 *                              received frame from zero, 0 stops
 *     prof_ns, prof_frames     what was measured: the cost of a frame is
 *                              prof_ns / prof_frames
 *
 *   Fault injection, as netdevsim has it:
 *     fail_rx_drop N           drop the next N received frames of offloaded
 *                              connections (TCP recovers)
 *     fail_connect N           refuse the next N connections with -EIO
 *                              (they stay in software)
 *     connect_delay_ms MS      the next connection's connect() sleeps MS ms
 *                              first, with the socket locked
 *     stall_ms MS              stall the engine thread once, for MS ms
 *     fail_rx_delay_ms MS      hold every received frame MS ms before the
 *                              engine sees it, in order (0 stops)
 *     fail_handback_lose N     the next handback that gives bytes back
 *                              loses the last N of them (a driver bug:
 *                              the core resets the connection)
 *     fail_handback_stale N    the next handback that gives bytes back
 *                              gives back N acknowledged ones too, first
 *     fail_handback_rcv_nxt N  the next handback reports rcv_nxt N bytes
 *                              past what the engine delivered (a driver
 *                              bug: the core resets the connection)
 *     force_handback 1         hand every connection back (admin)
 *     handback_port PORT       hand back the connections with PORT at
 *                              either end (admin); -ENOENT if none
 *     fail_device 1            a device error: every connection back
 *                              without draining
 *     port_bound 0|1           unbind the instance's port from its toedev
 *                              (its connections come back), or bind it
 *                              again, as an administrator would
 *     netfilter 0|1            0: be silicon that cannot run the host's
 *                              netfilter hooks (the engine skips them and
 *                              the device drops TOE_F_NETFILTER, so the
 *                              core refuses filtered connections); 1, the
 *                              default: run them
 *     tcp_features MASK        the TCP extensions the device claims
 *                              (TOE_F_TIMESTAMPS, _SACK, _WSCALE,
 *                              _KEEPALIVE, as in include/net/toe.h): be
 *                              silicon without some; -EINVAL for one
 *                              the engine lacks.
 *                              Connections that use one withdrawn go
 *                              back at the core's next scan
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <net/toe.h>

#include "toesim.h"
#include "toesim_hw.h"

/* The debugfs root; set at module load, removed at unload. */
static struct dentry *toesim_ddir;

/* Serialises the knobs that change a device's features. */
static DEFINE_MUTEX(toesim_features_lock);

static void toesim_features_set(struct toesim_dev *sd, u32 set, u32 clear)
{
	u32 f = READ_ONCE(sd->tdev->features);

	lockdep_assert_held(&toesim_features_lock);
	WRITE_ONCE(sd->tdev->features, (f | set) & ~clear);
}

static int toesim_counter_get(void *data, u64 *val)
{
	*val = atomic64_read(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_counter_fops, toesim_counter_get, NULL,
			 "%llu\n");

static int toesim_table_size_set(void *data, u64 val)
{
	struct toesim_dev *sd = data;
	int err;

	if (!val || val > TOESIM_TABLE_MAX)
		return -EINVAL;
	err = toesim_hw_table_shrink(sd->hw, val);
	if (!err)
		WRITE_ONCE(sd->tdev->conn_limit, val);
	return err;
}

static int toesim_table_size_get(void *data, u64 *val)
{
	struct toesim_dev *sd = data;

	*val = toesim_hw_table_size(sd->hw);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_table_size_fops, toesim_table_size_get,
			 toesim_table_size_set, "%llu\n");

/* A count of faults to inject, 0 to INT_MAX. */
static int toesim_fault_get(void *data, u64 *val)
{
	*val = atomic_read(data);
	return 0;
}

static int toesim_fault_set(void *data, u64 val)
{
	if (val > INT_MAX)
		return -EINVAL;
	atomic_set(data, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_fault_fops, toesim_fault_get,
			 toesim_fault_set, "%llu\n");

static int toesim_stall_set(void *data, u64 val)
{
	struct toesim_hw *hw = data;

	if (val > 10000)
		return -EINVAL;
	WRITE_ONCE(hw->fault_stall_ms, val);
	wake_up(&hw->wait);
	return 0;
}

static int toesim_stall_get(void *data, u64 *val)
{
	*val = READ_ONCE(((struct toesim_hw *)data)->fault_stall_ms);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_stall_fops, toesim_stall_get,
			 toesim_stall_set, "%llu\n");

static int toesim_ms_set(void *data, u64 val)
{
	if (val > 10000)
		return -EINVAL;
	WRITE_ONCE(*(u32 *)data, val);
	return 0;
}

static int toesim_ms_get(void *data, u64 *val)
{
	*val = READ_ONCE(*(u32 *)data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_ms_fops, toesim_ms_get, toesim_ms_set,
			 "%llu\n");

static int toesim_rx_delay_set(void *data, u64 val)
{
	struct toesim_hw *hw = data;

	if (val > 10000)
		return -EINVAL;
	WRITE_ONCE(hw->fault_rx_delay_ms, val);
	/* The engine thread may be waiting for a frame to be due. */
	wake_up(&hw->wait);
	return 0;
}

static int toesim_rx_delay_get(void *data, u64 *val)
{
	*val = READ_ONCE(((struct toesim_hw *)data)->fault_rx_delay_ms);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_rx_delay_fops, toesim_rx_delay_get,
			 toesim_rx_delay_set, "%llu\n");

static int toesim_force_handback_set(void *data, u64 val)
{
	if (val != 1)
		return -EINVAL;
	toesim_hw_remove_all(data, TOESIM_RM_ADMIN);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_force_handback_fops, NULL,
			 toesim_force_handback_set, "%llu\n");

static int toesim_port_bound_set(void *data, u64 val)
{
	struct toesim_dev *sd = data;
	struct net_device *dev;
	int err;

	if (val > 1)
		return -EINVAL;
	rtnl_lock();
	dev = sd->port;
	dev_hold(dev);
	rtnl_unlock();
	if (!dev)
		return -ENODEV;
	err = val ? toedev_bind(sd->tdev, dev) : toedev_unbind(sd->tdev, dev);
	dev_put(dev);
	return err;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_port_bound_fops, NULL, toesim_port_bound_set,
			 "%llu\n");

static int toesim_netfilter_get(void *data, u64 *val)
{
	struct toesim_dev *sd = data;

	*val = !!(READ_ONCE(sd->tdev->features) & TOE_F_NETFILTER);
	return 0;
}

static int toesim_netfilter_set(void *data, u64 val)
{
	struct toesim_dev *sd = data;

	if (val > 1)
		return -EINVAL;
	/* The device's claim goes before the engine stops running the
	 * hooks, and comes after it starts: the core never hands over on
	 * the strength of hooks the engine skips. Connections carried
	 * meanwhile go back at the policy's next scan.
	 */
	mutex_lock(&toesim_features_lock);
	if (val) {
		WRITE_ONCE(sd->hw->netfilter, true);
		toesim_features_set(sd, TOE_F_NETFILTER, 0);
	} else {
		toesim_features_set(sd, 0, TOE_F_NETFILTER);
		WRITE_ONCE(sd->hw->netfilter, false);
	}
	mutex_unlock(&toesim_features_lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_netfilter_fops, toesim_netfilter_get,
			 toesim_netfilter_set, "%llu\n");

static int toesim_tcp_features_get(void *data, u64 *val)
{
	struct toesim_dev *sd = data;

	*val = READ_ONCE(sd->tdev->features) & TOESIM_TCP_FEATURES;
	return 0;
}

/* The engine goes on carrying every extension; the core stops handing
 * it connections that use one the device no longer claims.
 */
static int toesim_tcp_features_set(void *data, u64 val)
{
	struct toesim_dev *sd = data;

	if (val & ~(u64)TOESIM_TCP_FEATURES)
		return -EINVAL;
	mutex_lock(&toesim_features_lock);
	toesim_features_set(sd, val, TOESIM_TCP_FEATURES & ~val);
	mutex_unlock(&toesim_features_lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_tcp_features_fops, toesim_tcp_features_get,
			 toesim_tcp_features_set, "%#llx\n");

static int toesim_handback_port_set(void *data, u64 val)
{
	if (!val || val > U16_MAX)
		return -EINVAL;
	return toesim_hw_remove_port(data, val) ? 0 : -ENOENT;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_handback_port_fops, NULL,
			 toesim_handback_port_set, "%llu\n");

static int toesim_fail_device_set(void *data, u64 val)
{
	if (val != 1)
		return -EINVAL;
	toesim_hw_remove_all(data, TOESIM_RM_ERROR);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_fail_device_fops, NULL,
			 toesim_fail_device_set, "%llu\n");

static ssize_t toesim_cpu_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	struct toesim_hw *hw = file->private_data;
	char buf[16];
	int len;

	len = scnprintf(buf, sizeof(buf), "%d\n", READ_ONCE(hw->cpu));
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t toesim_cpu_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct toesim_hw *hw = file->private_data;
	int cpu, err;

	err = kstrtoint_from_user(ubuf, count, 10, &cpu);
	if (!err)
		err = toesim_engine_set_cpu(hw, cpu);
	return err ?: count;
}

/* Signed, which DEFINE_DEBUGFS_ATTRIBUTE() is not on 6.1. */
static const struct file_operations toesim_cpu_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= toesim_cpu_read,
	.write	= toesim_cpu_write,
	.llseek	= default_llseek,
};

static int toesim_profile_get(void *data, u64 *val)
{
	struct toesim_hw *hw = data;

	*val = READ_ONCE(hw->profile);
	return 0;
}

/* Writing 1 starts a measurement from zero; 0 stops it, keeping the sums. */
static int toesim_profile_set(void *data, u64 val)
{
	struct toesim_hw *hw = data;

	if (val > 1)
		return -EINVAL;
	if (val) {
		atomic64_set(&hw->prof_ns, 0);
		atomic64_set(&hw->prof_frames, 0);
	}
	WRITE_ONCE(hw->profile, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(toesim_profile_fops, toesim_profile_get,
			 toesim_profile_set, "%llu\n");

/**
 * toesim_debugfs_add() - create the debugfs directory of an instance
 * @sd: the instance; @sd->id names the directory
 *
 * debugfs failures are not errors: the instance works without it.
 *
 * Context: process; may sleep.
 */
void toesim_debugfs_add(struct toesim_dev *sd)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", sd->id);
	sd->ddir = debugfs_create_dir(name, toesim_ddir);
	debugfs_create_file_unsafe("opens", 0444, sd->ddir, &sd->opens,
				   &toesim_counter_fops);
	debugfs_create_file_unsafe("closes", 0444, sd->ddir, &sd->closes,
				   &toesim_counter_fops);
	debugfs_create_file_unsafe("neigh_updates", 0444, sd->ddir,
				   &sd->neigh_updates, &toesim_counter_fops);
	debugfs_create_file_unsafe("port_changes", 0444, sd->ddir,
				   &sd->port_changes, &toesim_counter_fops);
	debugfs_create_file_unsafe("redirects", 0444, sd->ddir,
				   &sd->redirects, &toesim_counter_fops);
	debugfs_create_file_unsafe("table_size", 0644, sd->ddir, sd,
				   &toesim_table_size_fops);
	debugfs_create_file_unsafe("rx_frames", 0444, sd->ddir,
				   &sd->hw->rx_frames, &toesim_counter_fops);
	debugfs_create_file_unsafe("rx_drops", 0444, sd->ddir,
				   &sd->hw->rx_drops, &toesim_counter_fops);
	debugfs_create_file_unsafe("rx_reinjected", 0444, sd->ddir,
				   &sd->hw->rx_reinjected, &toesim_counter_fops);
	debugfs_create_file_unsafe("tx_frames", 0444, sd->ddir,
				   &sd->hw->tx_frames, &toesim_counter_fops);
	debugfs_create_file_unsafe("table_full", 0444, sd->ddir,
				   &sd->hw->table_full, &toesim_counter_fops);
	debugfs_create_file_unsafe("hw_neigh_updates", 0444, sd->ddir,
				   &sd->hw->neigh_updates, &toesim_counter_fops);
	debugfs_create_file_unsafe("retrans", 0444, sd->ddir,
				   &sd->hw->retrans, &toesim_counter_fops);
	debugfs_create_file_unsafe("fast_retrans", 0444, sd->ddir,
				   &sd->hw->fast_retrans, &toesim_counter_fops);
	debugfs_create_file_unsafe("sack_retrans", 0444, sd->ddir,
				   &sd->hw->sack_retrans, &toesim_counter_fops);
	debugfs_create_file_unsafe("rto", 0444, sd->ddir,
				   &sd->hw->rto, &toesim_counter_fops);
	debugfs_create_file_unsafe("mss_drops", 0444, sd->ddir,
				   &sd->hw->mss_drops, &toesim_counter_fops);
	debugfs_create_file_unsafe("ooo", 0444, sd->ddir,
				   &sd->hw->ooo, &toesim_counter_fops);
	debugfs_create_file_unsafe("challenge_acks", 0444, sd->ddir,
				   &sd->hw->challenge_acks, &toesim_counter_fops);
	debugfs_create_file_unsafe("paws_drops", 0444, sd->ddir,
				   &sd->hw->paws_drops, &toesim_counter_fops);
	debugfs_create_file_unsafe("unacceptable", 0444, sd->ddir,
				   &sd->hw->unacceptable, &toesim_counter_fops);
	debugfs_create_file_unsafe("rcv_drops", 0444, sd->ddir,
				   &sd->hw->rcv_drops, &toesim_counter_fops);
	debugfs_create_file_unsafe("rx_nf_drops", 0444, sd->ddir,
				   &sd->hw->rx_nf_drops, &toesim_counter_fops);
	debugfs_create_file_unsafe("tx_nf_drops", 0444, sd->ddir,
				   &sd->hw->tx_nf_drops, &toesim_counter_fops);
	debugfs_create_file_unsafe("profile", 0644, sd->ddir, sd->hw,
				   &toesim_profile_fops);
	debugfs_create_file_unsafe("prof_ns", 0444, sd->ddir,
				   &sd->hw->prof_ns, &toesim_counter_fops);
	debugfs_create_file_unsafe("prof_frames", 0444, sd->ddir,
				   &sd->hw->prof_frames, &toesim_counter_fops);
	debugfs_create_file_unsafe("fail_rx_drop", 0644, sd->ddir,
				   &sd->hw->fault_drop, &toesim_fault_fops);
	debugfs_create_file_unsafe("fail_connect", 0644, sd->ddir,
				   &sd->hw->fault_connect, &toesim_fault_fops);
	debugfs_create_file("engine_cpu", 0644, sd->ddir, sd->hw,
			    &toesim_cpu_fops);
	debugfs_create_file_unsafe("fail_handback_lose", 0644, sd->ddir,
				   &sd->hw->fault_hb_lose, &toesim_fault_fops);
	debugfs_create_file_unsafe("fail_handback_stale", 0644, sd->ddir,
				   &sd->hw->fault_hb_stale, &toesim_fault_fops);
	debugfs_create_file_unsafe("fail_handback_rcv_nxt", 0644, sd->ddir,
				   &sd->hw->fault_hb_rcv_nxt, &toesim_fault_fops);
	debugfs_create_file_unsafe("fail_rx_delay_ms", 0644, sd->ddir, sd->hw,
				   &toesim_rx_delay_fops);
	debugfs_create_file_unsafe("connect_delay_ms", 0644, sd->ddir,
				   &sd->hw->fault_connect_delay_ms,
				   &toesim_ms_fops);
	debugfs_create_file_unsafe("stall_ms", 0644, sd->ddir, sd->hw,
				   &toesim_stall_fops);
	debugfs_create_file_unsafe("force_handback", 0200, sd->ddir, sd->hw,
				   &toesim_force_handback_fops);
	debugfs_create_file_unsafe("handback_port", 0200, sd->ddir, sd->hw,
				   &toesim_handback_port_fops);
	debugfs_create_file_unsafe("fail_device", 0200, sd->ddir, sd->hw,
				   &toesim_fail_device_fops);
	debugfs_create_file_unsafe("port_bound", 0200, sd->ddir, sd,
				   &toesim_port_bound_fops);
	debugfs_create_file_unsafe("netfilter", 0600, sd->ddir, sd,
				   &toesim_netfilter_fops);
	debugfs_create_file_unsafe("tcp_features", 0600, sd->ddir, sd,
				   &toesim_tcp_features_fops);
}

/**
 * toesim_debugfs_del() - remove the debugfs directory of an instance
 * @sd: the instance
 *
 * Waits for readers of its files, so @sd may be freed afterwards.
 *
 * Context: process; may sleep.
 */
void toesim_debugfs_del(struct toesim_dev *sd)
{
	debugfs_remove_recursive(sd->ddir);
	sd->ddir = NULL;
}

/**
 * toesim_debugfs_init() - create /sys/kernel/debug/toesim
 *
 * Context: process; may sleep.
 */
void toesim_debugfs_init(void)
{
	toesim_ddir = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

/**
 * toesim_debugfs_exit() - remove /sys/kernel/debug/toesim
 *
 * Context: process; may sleep.
 */
void toesim_debugfs_exit(void)
{
	debugfs_remove_recursive(toesim_ddir);
	toesim_ddir = NULL;
}
