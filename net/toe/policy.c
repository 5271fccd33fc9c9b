// SPDX-License-Identifier: GPL-2.0
/*
 * When to offload without the application asking.
 *
 * A connection that reaches ESTABLISHED over a port of an enabled toedev
 * whose administrator turned "auto" on is watched: once min_bytes have
 * passed since the handshake (in either direction) it is handed over, in
 * process context from a workqueue, never from the state change itself
 * (which runs in softirq for the child of a passive open). A connection
 * with a ULP already, or one that opted out with TCP_ULP "notoe", is left
 * alone; when the table is full it stays in software. An offloaded
 * connection slower than low_rate for low_rate_secs goes back. One handed
 * back for a passing reason (an engine error, the port down, the table
 * needed, an administrator's request) is watched again: it returns to
 * the engine once min_bytes more have passed, if the device takes it.
 * Sockets the kernel made for itself (without a file) are left alone.
 *
 * The device's rules (struct toe_rule, toectl policy), tried in order
 * when the watch first looks, decide before that: the first that matches
 * the connection's family, addresses, ports, direction and owner offloads
 * it (after its own min_bytes if it has one) or leaves it alone; with no
 * match the device's settings apply.
 *
 * Where TCP reaches ESTABLISHED: in a kernel tree, the toe_established()
 * hook behind a static key (include/net/toe_hook.h); out of tree on a
 * stock kernel, a probe on the sock:inet_sock_set_state tracepoint. Either
 * is attached only while some toedev has auto on, so idle costs nothing.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/inetdevice.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>
#include <net/inet_connection_sock.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/toe.h>
#include <net/toe_hook.h>

#include "toe_internal.h"

/* How long a connection is watched for min_bytes before we give up. */
#define TOE_WATCH_MAX		(30 * HZ)
#define TOE_WATCH_PERIOD	(HZ / 10)

/**
 * struct toe_watch - a connection watched until it can be offloaded
 * @work: runs toe_watch_fn() on toe_wq
 * @node: entry in toe_watches; toe_watch_lock
 * @sk: the socket, with a reference
 * @until: jiffies when the watch gives up
 * @base: bytes the connection had moved when the watch started
 * @dir: TOE_DIR_*: how the connection opened
 * @decided: the rules were tried
 * @min_bytes: the matching rule's min_bytes; U64_MAX for the device's
 */
struct toe_watch {
	struct delayed_work	work;
	struct list_head	node;
	struct sock		*sk;
	unsigned long		until;
	u64			base;
	u8			dir;
	bool			decided;
	u64			min_bytes;
};

/* Watches in flight, so that module unload can cancel them. */
static LIST_HEAD(toe_watches);
static DEFINE_SPINLOCK(toe_watch_lock);

/* Policy scan: once a second over every offloaded connection. */
#define TOE_RATE_PERIOD		HZ
static void toe_rate_scan(struct work_struct *work);
static DECLARE_DELAYED_WORK(toe_rate_work, toe_rate_scan);

/* Devices with auto on; toe_mutex. The hook is attached while > 0. */
static unsigned int toe_auto_users;
static struct tracepoint *toe_tp;

static u64 toe_sk_bytes(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	return READ_ONCE(tp->bytes_acked) + READ_ONCE(tp->bytes_received);
}

static bool toe_prefix_match(const struct in6_addr *a,
			     const struct in6_addr *prefix, u8 plen, bool v4)
{
	if (!plen)
		return true;
	if (v4)
		return !((a->s6_addr32[3] ^ prefix->s6_addr32[3]) &
			 inet_make_mask(plen));
	return ipv6_prefix_equal(a, prefix, plen);
}

static bool toe_rule_match(const struct toe_rule *r, struct sock *sk, u8 dir)
{
	const struct inet_sock *inet = inet_sk(sk);
	struct in6_addr l = {}, rem = {};
	u16 lport = ntohs(inet->inet_sport), rport = ntohs(inet->inet_dport);
	bool v4 = true;

#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&sk->sk_v6_daddr)) {
		v4 = false;
		l = sk->sk_v6_rcv_saddr;
		rem = sk->sk_v6_daddr;
	}
#endif
	if (v4) {
		l.s6_addr32[3] = inet->inet_saddr;
		rem.s6_addr32[3] = inet->inet_daddr;
	}
	if (r->family && r->family != (v4 ? AF_INET : AF_INET6))
		return false;
	if (r->dir == TOE_RULE_DIR_ACTIVE && dir != TOE_DIR_ACTIVE)
		return false;
	if (r->dir == TOE_RULE_DIR_PASSIVE && dir != TOE_DIR_PASSIVE)
		return false;
	/* sk_uid: the owner's, inherited from the listener by its
	 * children, which have no file until accept().
	 */
	if (r->has_uid && !uid_eq(sk->sk_uid, r->uid))
		return false;
#ifdef CONFIG_SOCK_CGROUP_DATA
	/* The cgroup the socket was created in (its listener's, for a
	 * connection accepted), as nft's "socket cgroupv2" sees it.
	 */
	if (r->cgrp &&
	    !cgroup_is_descendant(sock_cgroup_ptr(&sk->sk_cgrp_data), r->cgrp))
		return false;
#endif
	if (r->net_cookie != sock_net(sk)->net_cookie)
		return false;
	return lport >= r->lport[0] && lport <= r->lport[1] &&
	       rport >= r->rport[0] && rport <= r->rport[1] &&
	       toe_prefix_match(&l, &r->laddr, r->lplen, v4) &&
	       toe_prefix_match(&rem, &r->raddr, r->rplen, v4);
}

/* The device's rules on @w's connection: false if one says to leave it. */
static bool toe_rules_decide(struct toedev *tdev, struct toe_watch *w)
{
	struct toe_rule *r;
	bool offload = true;

	w->decided = true;
	w->min_bytes = U64_MAX;
	rcu_read_lock();
	list_for_each_entry_rcu(r, &tdev->rules, node) {
		if (!toe_rule_match(r, w->sk, w->dir))
			continue;
		atomic64_inc(&r->hits);
		offload = r->action == TOE_RULE_OFFLOAD;
		w->min_bytes = r->min_bytes;
		break;
	}
	rcu_read_unlock();
	return offload;
}

/* Changes of any device's rules, for dumps to notice; toe_mutex. */
unsigned int toe_rules_gen;

/**
 * toe_rules_flush() - drop policy rules of a device
 * @tdev: the device
 * @net: the network namespace whose rules go; NULL for all
 *
 * Context: toe_mutex held.
 */
void toe_rules_flush(struct toedev *tdev, const struct net *net)
{
	struct toe_rule *r, *tmp;

	lockdep_assert_held(&toe_mutex);
	list_for_each_entry_safe(r, tmp, &tdev->rules, node) {
		if (net && r->net_cookie != net->net_cookie)
			continue;
		list_del_rcu(&r->node);
		tdev->nr_rules--;
		toe_rule_free_rcu(r);
	}
	toe_rules_gen++;
}

/* A rule no reader can see: not added, or after a grace period. */
void toe_rule_free(struct toe_rule *r)
{
#ifdef CONFIG_SOCK_CGROUP_DATA
	if (r->cgrp)
		cgroup_put(r->cgrp);
#endif
	kfree(r);
}

static void toe_rule_free_cb(struct rcu_head *head)
{
	toe_rule_free(container_of(head, struct toe_rule, rcu));
}

/* A rule taken off its list, once the policy's readers are done with it.
 * The callback is this module's: toe_exit() waits for it (rcu_barrier()).
 */
void toe_rule_free_rcu(struct toe_rule *r)
{
	call_rcu(&r->rcu, toe_rule_free_cb);
}

static void toe_watch_fn(struct work_struct *work)
{
	struct toe_watch *w = container_of(to_delayed_work(work),
					   struct toe_watch, work);
	struct sock *sk = w->sk;
	struct toedev *tdev = NULL;
	bool again = false;
	u64 min;
	int err;

	lock_sock(sk);
	/* Gone, opted out, another layer's, or offloaded meanwhile. */
	if (sk->sk_state != TCP_ESTABLISHED || toe_sk_offloaded(sk) ||
	    (inet_csk(sk)->icsk_ulp_ops && !toe_sk_has_ulp(sk)))
		goto out;
	tdev = toe_sk_toedev(sk);
	if (!tdev || !READ_ONCE(tdev->auto_offload))
		goto out;
	/* A kernel socket has no file, which toe_sk_handover() looks at
	 * for a close() racing with it: such sockets ask for themselves. A
	 * socket being closed is not worth a handover.
	 */
	if (sk->sk_socket &&
	    (!sk->sk_socket->file || toe_sk_file_closing(sk)))
		goto out;
	if (!w->decided && !toe_rules_decide(tdev, w))
		goto out;
	min = w->min_bytes == U64_MAX ? READ_ONCE(tdev->min_bytes) :
					w->min_bytes;
	/* Not accepted yet (no socket), or too few bytes so far. */
	if (toe_sk_bytes(sk) - w->base < min || !sk->sk_socket) {
		again = time_before(jiffies, w->until);
		goto out;
	}
	err = toe_sk_attach(sk, w->dir);
	if (err == -EAGAIN)
		again = time_before(jiffies, w->until);
	else if (err)
		toedev_stat_inc(tdev, err == -ENOSPC ? TOEDEV_STAT_TABLE_FULL :
				TOEDEV_STAT_AUTO_REFUSED);
	else
		toedev_stat_inc(tdev, TOEDEV_STAT_AUTO_OFFLOADS);
out:
	release_sock(sk);
	if (tdev)
		toedev_put(tdev);
	if (again) {
		queue_delayed_work(toe_wq, &w->work, TOE_WATCH_PERIOD);
		return;
	}
	spin_lock_bh(&toe_watch_lock);
	list_del(&w->node);
	spin_unlock_bh(&toe_watch_lock);
	sock_put(sk);
	kfree(w);
}

/* Watch @sk if its port's device offloads automatically; any context. */
static void toe_watch_start(struct sock *sk, unsigned long delay, u8 dir)
{
	struct toe_watch *w;
	struct dst_entry *dst;
	struct toedev *tdev;
	bool watch;

	rcu_read_lock();
	dst = __sk_dst_get(sk);
	tdev = dst && dst->dev ? toedev_lookup_rcu(dst->dev) : NULL;
	watch = tdev && READ_ONCE(tdev->enabled) && READ_ONCE(tdev->auto_offload);
	rcu_read_unlock();
	if (!watch)
		return;

	w = kzalloc(sizeof(*w), GFP_ATOMIC);
	if (!w)
		return;
	INIT_DELAYED_WORK(&w->work, toe_watch_fn);
	w->sk = sk;
	w->until = jiffies + delay + TOE_WATCH_MAX;
	w->base = toe_sk_bytes(sk);
	w->dir = dir;
	sock_hold(sk);
	spin_lock_bh(&toe_watch_lock);
	list_add(&w->node, &toe_watches);
	spin_unlock_bh(&toe_watch_lock);
	queue_delayed_work(toe_wq, &w->work, delay);
}

/* TCP reached ESTABLISHED; any context, must not sleep. */
static void toe_established_cb(struct sock *sk)
{
	if (sk->sk_protocol != IPPROTO_TCP || inet_csk(sk)->icsk_ulp_ops)
		return;
	/* Called before the new state is stored: an active open comes from
	 * SYN_SENT, the child of a passive one (Fast Open's too, which may
	 * be accepted before) from SYN_RECV.
	 */
	toe_watch_start(sk, 0, sk->sk_state == TCP_SYN_SENT ? TOE_DIR_ACTIVE :
							    TOE_DIR_PASSIVE);
}

/**
 * toe_policy_handed_back() - a connection came back to Linux TCP
 * @sk: the socket, established, its handback complete
 * @reason: why it came back
 * @dir: TOE_DIR_*: how the policy saw it open
 *
 * For a reason that may pass, the policy offers the connection to the
 * engine again later, the rules deciding again; min_bytes count from now.
 *
 * Context: process; socket locked.
 */
void toe_policy_handed_back(struct sock *sk, enum toe_handback_reason reason,
			    u8 dir)
{
	switch (reason) {
	case TOE_HB_ERROR:
	case TOE_HB_DEV_DOWN:
	case TOE_HB_TABLE:
	case TOE_HB_ADMIN:
	case TOE_HB_ROUTE:
	case TOE_HB_TIMEOUT:
		if (sk->sk_state == TCP_ESTABLISHED)
			toe_watch_start(sk, TOE_WATCH_PERIOD, dir);
		break;
	default:
		break;
	}
}

#if IS_ENABLED(CONFIG_TOE)
static int toe_hook_attach(void)
{
	return toe_hook_register(toe_established_cb);
}

static void toe_hook_detach(void)
{
	toe_hook_unregister(toe_established_cb);
}
#else
static void toe_tp_probe(void *data, const struct sock *sk, const int oldstate,
			 const int newstate)
{
	if (newstate == TCP_ESTABLISHED)
		toe_established_cb((struct sock *)sk);
}

static void toe_tp_find(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "inet_sock_set_state"))
		*(struct tracepoint **)priv = tp;
}

static int toe_hook_attach(void)
{
	if (!toe_tp)
		for_each_kernel_tracepoint(toe_tp_find, &toe_tp);
	if (!toe_tp) {
		pr_err("no sock:inet_sock_set_state tracepoint: automatic offload unavailable\n");
		return -EOPNOTSUPP;
	}
	return tracepoint_probe_register(toe_tp, toe_tp_probe, NULL);
}

static void toe_hook_detach(void)
{
	tracepoint_probe_unregister(toe_tp, toe_tp_probe, NULL);
	tracepoint_synchronize_unregister();
}
#endif

/**
 * toedev_set_auto() - turn automatic offload of a device on or off
 * @tdev: a registered device
 * @on: the new setting
 *
 * Context: process; may sleep; takes toe_mutex.
 * Return: 0, -ENODEV if @tdev is not registered, or -EOPNOTSUPP when the
 * kernel offers no way to see connections become established.
 */
int toedev_set_auto(struct toedev *tdev, bool on)
{
	int err = 0;

	mutex_lock(&toe_mutex);
	if (tdev->reg_state != TOEDEV_REGISTERED) {
		err = -ENODEV;
	} else if (on && !tdev->auto_offload) {
		if (!toe_auto_users)
			err = toe_hook_attach();
		if (!err) {
			toe_auto_users++;
			WRITE_ONCE(tdev->auto_offload, true);
		}
	} else if (!on && tdev->auto_offload) {
		WRITE_ONCE(tdev->auto_offload, false);
		if (!--toe_auto_users)
			toe_hook_detach();
	}
	mutex_unlock(&toe_mutex);
	return err;
}
EXPORT_SYMBOL_NS_GPL(toedev_set_auto, TOE);

/* Called by unregister_toedev() with toe_mutex held. */
void toe_policy_unregister(struct toedev *tdev)
{
	lockdep_assert_held(&toe_mutex);
	if (tdev->auto_offload) {
		WRITE_ONCE(tdev->auto_offload, false);
		if (!--toe_auto_users)
			toe_hook_detach();
	}
	toe_rules_flush(tdev, NULL);
}

/* The policy scan. A connection goes back to software when its netns
 * gains a netfilter hook the engine would bypass, the engine gives up a
 * TCP feature the connection uses, or the application changed SO_MARK or
 * SO_PRIORITY (its frames must carry them), and is checked when its
 * route went stale (toe_sk_request_route_check()). De-acceleration: one
 * moving fewer than low_rate bytes a second (both directions together)
 * for low_rate_secs seconds running goes back to software, where it
 * costs the engine no table slot.
 */
static void toe_rate_scan(struct work_struct *work)
{
	struct toedev *tdev;
	struct toe_sock *ts;
	u64 bytes, rate, limit;
	u32 secs;

	rcu_read_lock();
	list_for_each_entry_rcu(tdev, &toedev_list, list) {
		limit = READ_ONCE(tdev->low_rate);
		secs = READ_ONCE(tdev->low_rate_secs);
		spin_lock_bh(&tdev->conns_lock);
		list_for_each_entry(ts, &tdev->conns, node) {
			if (test_bit(TOE_SK_HB_PENDING, &ts->flags))
				continue;
			/* A firewall came up that the engine would bypass. */
			if (toe_sk_filtered(ts->sk, tdev)) {
				toedev_stat_inc(tdev, TOEDEV_STAT_NF_REFUSED);
				toe_sk_request_handback(ts->sk,
							TOE_HB_NETFILTER);
				continue;
			}
			if (toe_sk_lacks(ts->sk, tdev)) {
				toedev_stat_inc(tdev,
						TOEDEV_STAT_FEATURE_REFUSED);
				toe_sk_request_handback(ts->sk, TOE_HB_FEATURE);
				continue;
			}
			if (!toe_sk_meta_ok(ts->sk, ts)) {
				toe_sk_request_handback(ts->sk, TOE_HB_SOCKOPT);
				continue;
			}
			/* The routing changed (a route, an xfrm policy). */
			if (toe_sk_dst_stale(ts->sk))
				toe_sk_request_route_check(ts->sk);
			if (!limit)
				continue;
			bytes = atomic64_read(&ts->tx_bytes) +
				atomic64_read(&ts->rx_bytes);
			rate = (bytes - ts->rate_bytes) * HZ / TOE_RATE_PERIOD;
			ts->rate_bytes = bytes;
			if (rate >= limit) {
				ts->slow_periods = 0;
				continue;
			}
			if (++ts->slow_periods < max(secs, 1U))
				continue;
			ts->slow_periods = 0;
			toedev_stat_inc(tdev, TOEDEV_STAT_LOW_RATE);
			toe_sk_request_handback(ts->sk, TOE_HB_LOW_RATE);
		}
		spin_unlock_bh(&tdev->conns_lock);
	}
	rcu_read_unlock();
	queue_delayed_work(toe_wq, &toe_rate_work, TOE_RATE_PERIOD);
}

/* The opt-out: TCP_ULP "notoe" marks a socket as never to be offloaded. */
static int toe_notoe_init(struct sock *sk)
{
	return 0;
}

static struct tcp_ulp_ops toe_notoe_ulp_ops __read_mostly = {
	.name		= "notoe",
	.owner		= THIS_MODULE,
	.init		= toe_notoe_init,
};

int toe_policy_init(void)
{
	tcp_register_ulp(&toe_notoe_ulp_ops);
	queue_delayed_work(toe_wq, &toe_rate_work, TOE_RATE_PERIOD);
	return 0;
}

void toe_policy_exit(void)
{
	struct toe_watch *w;
	bool done;

	tcp_unregister_ulp(&toe_notoe_ulp_ops);
	cancel_delayed_work_sync(&toe_rate_work);
	/* The hook is detached and no device is left (each driver holds a
	 * reference on this module), so no new watch comes and every
	 * running one ends at its next run: run them all now and wait.
	 * A watch frees itself; removing it here would race with its run.
	 */
	for (;;) {
		spin_lock_bh(&toe_watch_lock);
		list_for_each_entry(w, &toe_watches, node)
			mod_delayed_work(toe_wq, &w->work, 0);
		done = list_empty(&toe_watches);
		spin_unlock_bh(&toe_watch_lock);
		if (done)
			break;
		flush_workqueue(toe_wq);
	}
}
