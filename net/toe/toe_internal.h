/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TOE core internals, shared by the files of net/toe only.
 */
#ifndef _NET_TOE_INTERNAL_H
#define _NET_TOE_INTERNAL_H

#include <linux/mutex.h>
#include <net/toe.h>

/**
 * struct toe_port - a net_device bound to a toedev
 * @hnode: entry in the global port hash, keyed by @dev; written under
 *	toe_mutex and RTNL, read under RCU
 * @node: entry in @tdev->ports; toe_mutex
 * @dev: the bound net_device, held with @tracker
 * @tracker: reference tracker for @dev
 * @tdev: the device the port belongs to; constant
 * @rcu: frees the port after readers are done
 */
struct toe_port {
	struct hlist_node	hnode;
	struct list_head	node;
	struct net_device	*dev;
	netdevice_tracker	tracker;
	struct toedev		*tdev;
	struct rcu_head		rcu;
};

/* Serialises registration, activation and binding; nests inside RTNL. */
extern struct mutex toe_mutex;
/* Registered devices; toe_mutex for writers, RCU for readers. */
extern struct list_head toedev_list;

struct toe_port *toe_port_lookup_rcu(const struct net_device *dev);
void toe_port_remove(struct toe_port *port);
void toe_notify(unsigned long event, struct toedev *tdev);
const char *toedev_state_name(const struct toedev *tdev);
void toedev_stats_read(const struct toedev *tdev, u64 *sum);

/* Count one event; any context. */
static inline void toedev_stat_inc(struct toedev *tdev, enum toedev_stat idx)
{
	struct toedev_stats *s = get_cpu_ptr(tdev->stats);
	unsigned long flags;

	flags = u64_stats_update_begin_irqsave(&s->syncp);
	u64_stats_inc(&s->cnt[idx]);
	u64_stats_update_end_irqrestore(&s->syncp, flags);
	put_cpu_ptr(tdev->stats);
}

int toe_events_init(void);
void toe_events_exit(void);
int toe_proc_init(void);
void toe_proc_exit(void);
int toe_sysfs_init(void);
void toe_sysfs_exit(void);
extern struct class toe_class;

#endif /* _NET_TOE_INTERNAL_H */
