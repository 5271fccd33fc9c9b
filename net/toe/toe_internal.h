/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TOE core internals, shared by the files of net/toe only.
 */
#ifndef _NET_TOE_INTERNAL_H
#define _NET_TOE_INTERNAL_H

#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
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

enum {
	TOE_SK_HB_PENDING,	/* a handback work item is queued */
	TOE_SK_ROUTE_PENDING,	/* a route check work item is queued */
};

/**
 * struct toe_sock - the core's per-socket state, in icsk_ulp_data
 * @refcnt: one reference for the socket's ULP, dropped when the socket is
 *	destroyed (toe_ulp_release()), and one for each queued work item;
 *	the last put frees the structure after an RCU grace period
 * @sk: the socket; a queued work item also holds a reference on it
 * @tdev: the engine while offloaded (a reference), else NULL; socket lock
 * @drv: the engine's per-connection pointer (toe_sk_set_drv())
 * @port: the port the connection was handed over on (compared only)
 * @sk_proto: the socket's proto before the swap; socket lock
 * @sk_ops: the socket's proto_ops before the swap; socket lock
 * @sk_write_space: Linux TCP's write_space, saved when the core installs
 *	its own at a handover; written under the socket lock and
 *	sk_callback_lock, read by toe_write_space() under RCU
 * @sk_backlog_rcv: the socket's backlog_rcv before the swap
 * @use_write_queue: SOCK_USE_WRITE_QUEUE was set before the swap
 * @mark: sk_mark the engine was given at the handover; socket lock
 * @priority: sk_priority likewise
 * @node: entry in @tdev->conns, under @tdev->conns_lock
 * @hb_work: runs a handback requested from atomic context
 * @tx_work: gives the engine bytes Linux TCP queued after the handover
 * @route_work: checks a route that went stale (toe_sk_request_route_check())
 * @snd_cwnd: Linux TCP's congestion window before the handover; its own
 *	is held at 0 meanwhile, so that it transmits nothing; socket lock
 * @eng_cwnd: the engine's congestion window in segments, for TCP_INFO;
 *	toe_sk_timing_update(), READ_ONCE()
 * @retrans_base: Linux TCP's total_retrans at the handover; written under
 *	the socket lock before the engine gets the connection, read-only after
 * @flags: TOE_SK_* bits
 * @hb_reason: reason of the requested handback
 * @nonagle: TCP_NAGLE_CORK and TCP_NAGLE_OFF of tcp_sock.nonagle as the
 *	engine last heard them; socket lock
 * @keepalive_time: tcp_sock.keepalive_time (TCP_KEEPIDLE) as the engine
 *	last heard it; socket lock
 * @rcv_wnd: Linux TCP's rcv_wnd at handover
 * @consumed_seq: copied_seq when the engine last heard what the reader
 *	consumed (toe_report_consumed()); the socket's owner, or its
 *	spinlock for a reader in softirq
 * @since: jiffies at the last handover
 * @offloaded_jiffies: total time offloaded before the current period
 * @handovers: handovers so far; socket lock
 * @handbacks: handbacks so far; socket lock
 * @last_reason: reason of the last handback; socket lock
 * @tx_bytes: bytes given to engines
 * @rx_bytes: bytes engines delivered
 * @rcv_forced: deliveries charged beyond the receive memory limit
 * @stray_drops: segments Linux TCP received while offloaded, dropped
 * @rate_bytes: bytes at the last low-rate scan; the scan only, under
 *	@tdev->conns_lock
 * @slow_periods: consecutive scans below the low rate; likewise
 * @dir: TOE_DIR_*, as the automatic policy saw the connection open;
 *	TOE_DIR_UNKNOWN for one offloaded with TCP_ULP; socket lock
 * @rcu: frees the structure
 */
struct toe_sock {
	refcount_t		refcnt;
	struct sock		*sk;
	struct toedev		*tdev;
	void			*drv;
	struct net_device	*port;
	struct proto		*sk_proto;
	const struct proto_ops	*sk_ops;
	void			(*sk_write_space)(struct sock *sk);
	int			(*sk_backlog_rcv)(struct sock *sk,
						  struct sk_buff *skb);
	bool			use_write_queue;
	u32			mark;
	u32			priority;
	struct list_head	node;
	struct work_struct	hb_work;
	struct work_struct	tx_work;
	struct work_struct	route_work;
	u32			snd_cwnd;
	u32			eng_cwnd;
	u32			retrans_base;
	unsigned long		flags;
	u8			hb_reason;
	u8			nonagle;
	u32			keepalive_time;
	u32			rcv_wnd;
	u32			consumed_seq;
	unsigned long		since;
	unsigned long		offloaded_jiffies;
	u32			handovers;
	u32			handbacks;
	u8			last_reason;
	atomic64_t		tx_bytes;
	atomic64_t		rx_bytes;
	atomic64_t		rcv_forced;
	atomic64_t		stray_drops;
	u64			rate_bytes;
	u32			slow_periods;
	u8			dir;
	struct rcu_head		rcu;
};

int toe_sk_handover(struct sock *sk);
int toe_sk_handback_locked(struct sock *sk, enum toe_handback_reason reason);
void toe_dev_handback_all(struct toedev *tdev, struct net_device *port,
			  enum toe_handback_reason reason);
const char *toe_hb_name(enum toe_handback_reason reason);
int toe_sock_init(void);
void toe_sock_exit(void);
struct toedev *toe_sk_toedev(struct sock *sk);
int toe_sk_attach(struct sock *sk, u8 dir);
bool toe_sk_has_ulp(const struct sock *sk);
bool toe_sk_filtered(const struct sock *sk, const struct toedev *tdev);
u32 toe_sk_lacks(const struct sock *sk, const struct toedev *tdev);
bool toe_sk_meta_ok(const struct sock *sk, const struct toe_sock *ts);
bool toe_sk_file_closing(const struct sock *sk);
bool toe_sk_dst_stale(struct sock *sk);
void toe_sk_request_route_check(struct sock *sk);
int toe_policy_init(void);
void toe_policy_exit(void);
void toe_policy_unregister(struct toedev *tdev);
void toe_policy_handed_back(struct sock *sk, enum toe_handback_reason reason,
			    u8 dir);
/* Handbacks and watches run here. */
extern struct workqueue_struct *toe_wq;

/* Serialises registration, activation and binding; nests inside RTNL. */
extern struct mutex toe_mutex;
/* Registered devices; toe_mutex for writers, RCU for readers. */
extern struct list_head toedev_list;
/* Handover against disable, unregister and unbind; see core.c. */
extern struct rw_semaphore toe_handover_sem;

struct toe_port *toe_port_lookup_rcu(const struct net_device *dev);
void toe_port_remove(struct toe_port *port);
void toe_port_remove_sync(struct toe_port *port);
void toe_handover_barrier(void);
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

/* A device holds this many policy rules at most. */
#define TOE_RULES_MAX	256

/**
 * struct toe_rule - an offload policy rule of a device
 * @node: entry in &toedev.rules; toe_mutex for writers, RCU for readers
 * @id: the device's name for it, never reused; constant, as are the
 *	fields below but @hits
 * @family: AF_INET, AF_INET6, or 0 for either
 * @laddr: local prefix (IPv4: in s6_addr32[3])
 * @raddr: remote prefix
 * @lplen: length of @laddr in bits; 0 matches any
 * @rplen: length of @raddr
 * @lport: local port range, [0] to [1]
 * @rport: remote port range
 * @dir: &enum toe_rule_dir
 * @net_cookie: the network namespace it was added in, whose connections
 *	it matches (and where it is listed and deleted)
 * @has_uid: match the socket's owner against @uid
 * @uid: the owner
 * @cgrp: match sockets of this cgroup v2 or below it (a reference, put
 *	with the rule); NULL for any
 * @action: &enum toe_rule_action
 * @min_bytes: bytes before the handover; U64_MAX for the device's
 * @hits: connections the rule decided
 * @rcu: frees the rule after the policy's readers
 */
struct toe_rule {
	struct list_head	node;
	u32			id;
	u8			family;
	struct in6_addr		laddr;
	struct in6_addr		raddr;
	u8			lplen;
	u8			rplen;
	u16			lport[2];
	u16			rport[2];
	u8			dir;
	u64			net_cookie;
	bool			has_uid;
	kuid_t			uid;
	struct cgroup		*cgrp;
	u8			action;
	u64			min_bytes;
	atomic64_t		hits;
	struct rcu_head		rcu;
};

/* A connection's direction as the policy saw it; for TCP_ULP's unknown. */
enum {
	TOE_DIR_UNKNOWN,
	TOE_DIR_ACTIVE,
	TOE_DIR_PASSIVE,
};

void toe_rules_flush(struct toedev *tdev, const struct net *net);
void toe_rule_free(struct toe_rule *r);
void toe_rule_free_rcu(struct toe_rule *r);
extern unsigned int toe_rules_gen;

/**
 * struct toe_nl_event - what a connection event carries besides the
 *	connection (toe_nl_conn_event())
 * @reason: &enum toe_handback_reason of a handback
 * @refusal: &enum toe_refusal of a refusal
 * @err: 0, or the error of a refusal, or of a handback that reset
 * @given_back: bytes a handback gave Linux TCP to send
 */
struct toe_nl_event {
	u32	reason;
	u32	refusal;
	int	err;
	u32	given_back;
};

void toe_nl_conn_event(u8 cmd, struct sock *sk, struct toe_sock *ts,
		       struct toedev *tdev, const struct toe_nl_event *ev);
void toe_nl_dev_event(struct toedev *tdev);
int toe_nl_init(void);
void toe_nl_exit(void);
bool toedev_in_net(const struct toedev *tdev, const struct net *net);

int toe_events_init(void);
void toe_events_exit(void);
int toe_proc_init(void);
void toe_proc_exit(void);
int toe_sysfs_init(void);
void toe_sysfs_exit(void);
extern struct class toe_class;

#endif /* _NET_TOE_INTERNAL_H */
