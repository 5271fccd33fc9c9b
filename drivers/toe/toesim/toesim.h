/* SPDX-License-Identifier: GPL-2.0 */
/*
 * toesim: what the files of the driver share, besides the hardware
 * interface (toesim_hw.h).
 *
 *   bus.c      the "toesim" bus: instances created and deleted through
 *              /sys/bus/toesim/{new,del}_device
 *   tom.c      the socket-layer half: one toedev per instance, its ops
 *   debugfs.c  /sys/kernel/debug/toesim/<ID>/: counters, table size
 *   hw.c       the simulated silicon (toesim_hw.h)
 */
#ifndef _TOESIM_H
#define _TOESIM_H

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/list.h>
#include <linux/netdevice.h>
#include <linux/types.h>

struct dentry;
struct toedev;
struct toesim_hw;

/* The TCP extensions the engine carries, and keepalive (TOE_F_*,
 * include/net/toe.h); the device also declares TOE_F_NETFILTER while the
 * engine runs the host's hooks. ECN it does not: it sends no ECT and
 * ignores CE.
 */
#define TOESIM_TCP_FEATURES	(TOE_F_TIMESTAMPS | TOE_F_SACK | \
				 TOE_F_WSCALE | TOE_F_KEEPALIVE)

/**
 * struct toesim_dev - an instance, as the socket-layer half sees it
 * @tdev: the toedev this is the private area of; constant
 * @hw: the silicon; constant from creation to destruction
 * @id: the instance ID given to new_device; constant
 * @port: the bound port, NULL once it was unregistered; RTNL
 * @ddir: the instance's debugfs directory; constant
 * @opens: open() calls; atomic, no lock
 * @closes: close() calls; atomic, no lock
 * @neigh_updates: neigh_update() calls; atomic, no lock
 * @port_changes: port_change() calls; atomic, no lock
 * @redirects: redirect() calls; atomic, no lock
 *
 * It is the private area of the instance's toedev (toedev_priv()).
 */
struct toesim_dev {
	struct toedev		*tdev;
	struct toesim_hw	*hw;
	unsigned int		id;
	struct net_device	*port;
	struct dentry		*ddir;
	atomic64_t		opens;
	atomic64_t		closes;
	atomic64_t		neigh_updates;
	atomic64_t		port_changes;
	atomic64_t		redirects;
};

/**
 * struct toesim_bus_dev - an instance, as the bus sees it
 * @dev: the device on the toesim bus (/sys/bus/toesim/devices/toesim<ID>),
 *	parent of the toedev's class device; its ID is @dev.id
 * @list: entry in the instance list; toesim_bus_lock
 * @tdev: the instance's toedev; constant while on the list
 */
struct toesim_bus_dev {
	struct device		dev;
	struct list_head	list;
	struct toedev		*tdev;
};

int toesim_bus_init(void);
void toesim_bus_exit(void);

struct toedev *toesim_tom_create(struct device *parent, unsigned int id,
				 struct net_device *port, u32 table_size);
void toesim_tom_destroy(struct toedev *tdev);

void toesim_debugfs_init(void);
void toesim_debugfs_exit(void);
void toesim_debugfs_add(struct toesim_dev *sd);
void toesim_debugfs_del(struct toesim_dev *sd);

#endif /* _TOESIM_H */
