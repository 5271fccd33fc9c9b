// SPDX-License-Identifier: GPL-2.0
/*
 * toesim: simulated TCP offload engine, socket-layer half ("TOM", the
 * TCP offload module, as vendors call it). One toedev per instance,
 * bound to the instance's port; its ops drive the simulated silicon
 * through toesim_hw.h only.
 *
 * connect() hands the connection's state and unacknowledged bytes to the
 * engine (engine.c), send() queues the application's payload to it,
 * handback() collects its state, bytes and held frames for the core; the
 * engine's calls back (payload, send progress, timing, requests for a
 * handback) arrive through toesim_host_ops. Stack events are counted per
 * instance, and the device declares TOE_F_NETFILTER (the engine runs the
 * host's netfilter hooks) and the TCP extensions the engine carries.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/err.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/ipv6.h>
#include <net/neighbour.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/toe.h>

#include "toesim.h"
#include "toesim_hw.h"

/* ---- engine -> host ---------------------------------------------------- */

static int toesim_host_deliver(void *host, struct sk_buff *skb, u32 seq)
{
	return toe_sk_rcv(host, skb, seq);
}

/* Linux TCP's receive window inputs (__tcp_select_window()), read from
 * the engine thread without the socket lock: the socket's own writers
 * (tcp_rcv_space_adjust() raising the buffer and the clamp, the reader
 * freeing memory) run under it, and a value one change old only delays
 * a window update to the next read or ACK.
 */
static void toesim_host_rcv_room(void *host, struct toesim_rcv_room *room)
{
	struct sock *sk = host;

	room->mem = max(READ_ONCE(sk->sk_rcvbuf) -
			READ_ONCE(sk->sk_backlog.len) -
			atomic_read(&sk->sk_rmem_alloc), 0);
	room->free = max(tcp_space(sk), 0);
	room->full = max(tcp_full_space(sk), 0);
	room->clamp = READ_ONCE(tcp_sk(sk)->window_clamp);
	room->mss = READ_ONCE(inet_csk(sk)->icsk_ack.rcv_mss);
}

static void toesim_host_snd_update(void *host, u32 snd_una, u32 snd_nxt,
				   u32 snd_wnd)
{
	toe_sk_snd_update(host, snd_una, snd_nxt, snd_wnd);
}

static void toesim_host_request_remove(void *host,
				       enum toesim_remove_reason why)
{
	static const enum toe_handback_reason map[] = {
		[TOESIM_RM_FIN]		= TOE_HB_FIN,
		[TOESIM_RM_RST]		= TOE_HB_RST,
		[TOESIM_RM_ERROR]	= TOE_HB_ERROR,
		[TOESIM_RM_ADMIN]	= TOE_HB_ADMIN,
		[TOESIM_RM_URGENT]	= TOE_HB_URGENT,
		[TOESIM_RM_NETFILTER]	= TOE_HB_NETFILTER,
		[TOESIM_RM_TIMEOUT]	= TOE_HB_TIMEOUT,
	};

	toe_sk_request_handback(host, why < ARRAY_SIZE(map) ? map[why] :
				TOE_HB_ERROR);
}

static u32 toesim_host_path_mss(void *host)
{
	return toe_sk_path_mss(host);
}

static void toesim_host_timing(void *host, const struct toe_tcp_timing *tm)
{
	toe_sk_timing_update(host, tm);
}

static u32 toesim_host_user_timeout(void *host)
{
	const struct sock *sk = host;

	return READ_ONCE(inet_csk(sk)->icsk_user_timeout);
}

static bool toesim_host_keepalive(void *host, struct toesim_keepalive *ka)
{
	const struct sock *sk = host;
	const struct tcp_sock *tp = tcp_sk(sk);

	ka->idle_ms = jiffies_to_msecs(keepalive_time_when(tp));
	ka->intvl_ms = jiffies_to_msecs(keepalive_intvl_when(tp));
	ka->probes = keepalive_probes(tp);
	return sock_flag(sk, SOCK_KEEPOPEN);
}

/* tcp_send_probe0(): the backoff of window probes stops at tcp_retries2. */
static u32 toesim_host_probe_backoff_max(void *host)
{
	const struct sock *sk = host;

	return READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_retries2);
}

/* Linux TCP's answer to segments that are not acceptable, and its challenge
 * ACKs, are rate limited per connection (tcp_invalid_ratelimit, in the
 * socket's last_oow_ack_time) and challenge ACKs per netns too
 * (tcp_challenge_ack_limit, off by default): the same limits, state and
 * counters for the engine's. Lockless: Linux TCP, which writes the field
 * under the socket's spinlock, shares it only for segments an
 * application's socket filter lets past the core's while offloaded, and
 * a lost update there costs one reply more or less: one limit for both,
 * as for one carrier.
 */
static bool toesim_oow_limited(struct sock *sk, int mib)
{
	struct net *net = sock_net(sk);
	u32 *last = &tcp_sk(sk)->last_oow_ack_time;
	u32 then = READ_ONCE(*last);
	s32 elapsed = (s32)(tcp_jiffies32 - then);

	if (then && elapsed >= 0 &&
	    elapsed < READ_ONCE(net->ipv4.sysctl_tcp_invalid_ratelimit)) {
		NET_INC_STATS(net, mib);
		return true;
	}
	WRITE_ONCE(*last, tcp_jiffies32);
	return false;
}

static bool toesim_challenge_allowed(struct net *net)
{
	u32 limit = READ_ONCE(net->ipv4.sysctl_tcp_challenge_ack_limit);
	u32 now = jiffies / HZ, count;

	if (limit == INT_MAX)
		return true;
	if (now != READ_ONCE(net->ipv4.tcp_challenge_timestamp)) {
		WRITE_ONCE(net->ipv4.tcp_challenge_timestamp, now);
		WRITE_ONCE(net->ipv4.tcp_challenge_count,
			   (limit + 1) / 2 + prandom_u32_max(limit));
	}
	count = READ_ONCE(net->ipv4.tcp_challenge_count);
	if (!count)
		return false;
	WRITE_ONCE(net->ipv4.tcp_challenge_count, count - 1);
	return true;
}

static bool toesim_host_oow_allowed(void *host, enum toesim_oow kind)
{
	struct sock *sk = host;

	switch (kind) {
	case TOESIM_OOW_SEQ:
		return !toesim_oow_limited(sk, LINUX_MIB_TCPACKSKIPPEDSEQ);
	case TOESIM_OOW_PAWS:
		return !toesim_oow_limited(sk, LINUX_MIB_TCPACKSKIPPEDPAWS);
	case TOESIM_OOW_CHALLENGE:
		if (toesim_oow_limited(sk, LINUX_MIB_TCPACKSKIPPEDCHALLENGE) ||
		    !toesim_challenge_allowed(sock_net(sk)))
			return false;
		NET_INC_STATS(sock_net(sk), LINUX_MIB_TCPCHALLENGEACK);
		return true;
	}
	return false;
}

static const struct toesim_host_ops toesim_host_ops = {
	.deliver	= toesim_host_deliver,
	.rcv_room	= toesim_host_rcv_room,
	.snd_update	= toesim_host_snd_update,
	.request_remove	= toesim_host_request_remove,
	.path_mss	= toesim_host_path_mss,
	.timing		= toesim_host_timing,
	.user_timeout	= toesim_host_user_timeout,
	.probe_backoff_max = toesim_host_probe_backoff_max,
	.keepalive	= toesim_host_keepalive,
	.oow_allowed	= toesim_host_oow_allowed,
};

/* ---- toedev_ops ---------------------------------------------------------- */

static int toesim_open(struct toedev *tdev)
{
	struct toesim_dev *sd = toedev_priv(tdev);
	int err;

	if (!sd->port)
		return -ENODEV;
	err = toesim_hw_start(sd->hw, sd->port);
	if (err)
		return err;
	atomic64_inc(&sd->opens);
	return 0;
}

static void toesim_close(struct toedev *tdev)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	toesim_hw_stop(sd->hw);
	atomic64_inc(&sd->closes);
}

/* Fill the 4-tuple, the next hop and its link address of @sk. */
static int toesim_conn_params(struct sock *sk, struct toesim_conn_params *p)
{
	struct dst_entry *dst = __sk_dst_get(sk);
	const void *daddr;
	struct neighbour *n;
	int err = -EAGAIN;

	memset(p, 0, sizeof(*p));
	if (!dst)
		return -ENOTCONN;
	if (sk->sk_family == AF_INET6 && !ipv6_addr_v4mapped(&sk->sk_v6_daddr)) {
		p->tuple.family = AF_INET6;
		p->tuple.saddr = sk->sk_v6_rcv_saddr;
		p->tuple.daddr = sk->sk_v6_daddr;
		daddr = &sk->sk_v6_daddr;
	} else {
		p->tuple.family = AF_INET;
		p->tuple.saddr.s6_addr32[3] = inet_sk(sk)->inet_saddr;
		p->tuple.daddr.s6_addr32[3] = inet_sk(sk)->inet_daddr;
		daddr = &inet_sk(sk)->inet_daddr;
	}
	p->tuple.sport = inet_sk(sk)->inet_sport;
	p->tuple.dport = inet_sk(sk)->inet_dport;

	n = dst_neigh_lookup(dst, daddr);
	if (!n)
		return err;
	read_lock_bh(&n->lock);
	if (n->nud_state & NUD_VALID) {
		memcpy(p->dmac, n->ha, ETH_ALEN);
		err = 0;
	}
	read_unlock_bh(&n->lock);
	if (n->tbl->key_len == 4)
		p->nexthop.s6_addr32[3] = *(__be32 *)n->primary_key;
	else
		memcpy(&p->nexthop, n->primary_key, sizeof(p->nexthop));
	neigh_release(n);
	return err;
}

/* The socket's TCP_CORK and TCP_NODELAY; socket locked. */
static u8 toesim_nagle(const struct sock *sk)
{
	u8 nonagle = tcp_sk(sk)->nonagle;

	return (nonagle & TCP_NAGLE_CORK ? TOESIM_NAGLE_CORK : 0) |
	       (nonagle & TCP_NAGLE_OFF ? TOESIM_NAGLE_OFF : 0);
}

static int toesim_connect(struct toedev *tdev, struct sock *sk,
			  struct toe_handover *ho)
{
	struct toesim_dev *sd = toedev_priv(tdev);
	struct toesim_conn_params p;
	struct toesim_conn *conn;
	u32 delay;
	int err;

	/* Fault injection: a slow connect, the socket locked meanwhile. */
	delay = xchg(&sd->hw->fault_connect_delay_ms, 0);
	if (delay)
		msleep(delay);
	err = toesim_conn_params(sk, &p);
	if (err)
		return err;
	p.st = ho->st;
	p.unacked = &ho->unacked;
	p.host = sk;
	/* Corked: only what Linux TCP sent went out partial. */
	p.push_seq = tcp_sk(sk)->nonagle & TCP_NAGLE_CORK ? ho->st.snd_nxt :
			 ho->st.write_seq;
	p.nagle = toesim_nagle(sk);
	p.keepalive = sock_flag(sk, SOCK_KEEPOPEN);
	p.rcv_idle = keepalive_time_elapsed(tcp_sk(sk));
	sock_hold(sk);
	conn = toesim_hw_conn_add(sd->hw, &p);
	if (IS_ERR(conn)) {
		sock_put(sk);
		return PTR_ERR(conn);
	}
	toe_sk_set_drv(sk, conn);
	return 0;
}

static int toesim_send(struct toedev *tdev, struct sock *sk,
		       struct sk_buff *skb)
{
	toesim_hw_conn_post(toe_sk_drv(sk), skb);
	return 0;
}

static void toesim_recv(struct toedev *tdev, struct sock *sk, int copied)
{
	toesim_hw_conn_rcvd(toe_sk_drv(sk));
}

static void toesim_sk_event(struct toedev *tdev, struct sock *sk,
			    enum toe_sk_event ev)
{
	switch (ev) {
	case TOE_SK_EV_PUSH:
		toesim_hw_conn_push(toe_sk_drv(sk), tcp_sk(sk)->write_seq);
		break;
	case TOE_SK_EV_NAGLE:
		toesim_hw_conn_nagle(toe_sk_drv(sk), toesim_nagle(sk));
		break;
	case TOE_SK_EV_KEEPALIVE_ON:
		toesim_hw_conn_keepalive(toe_sk_drv(sk), true);
		break;
	case TOE_SK_EV_KEEPALIVE_TIME:
		toesim_hw_conn_keepalive(toe_sk_drv(sk), false);
		break;
	case TOE_SK_EV_KEEPALIVE_OFF:
		/* The engine stops when its timer finds SOCK_KEEPOPEN clear. */
		break;
	}
}

/* Fault injection (fail_handback_lose): drop bytes off the end of what
 * goes back, as a buggy driver would.
 */
static void toesim_hb_lose(struct toesim_hw *hw, struct toe_handback *hb)
{
	struct sk_buff *skb;
	int lose;

	if (skb_queue_empty(&hb->unacked) || !atomic_read(&hw->fault_hb_lose))
		return;
	lose = atomic_xchg(&hw->fault_hb_lose, 0);
	while (lose > 0 && (skb = skb_peek_tail(&hb->unacked))) {
		if (skb->len <= lose) {
			lose -= skb->len;
			__skb_unlink(skb, &hb->unacked);
			kfree_skb(skb);
			continue;
		}
		if (pskb_trim(skb, skb->len - lose))
			break;
		TCP_SKB_CB(skb)->end_seq -= lose;
		lose = 0;
	}
}

/* Fault injection (fail_handback_stale): give back, first, bytes the peer
 * acknowledged already, ending at snd_una, as &struct toe_handback allows.
 */
static void toesim_hb_stale(struct toesim_hw *hw, struct toe_handback *hb)
{
	struct sk_buff *skb;
	int len;

	if (skb_queue_empty(&hb->unacked) || !atomic_read(&hw->fault_hb_stale))
		return;
	len = min(atomic_xchg(&hw->fault_hb_stale, 0), 65536);
	if (len <= 0)
		return;
	skb = alloc_skb(len, GFP_KERNEL);
	if (!skb)
		return;
	skb_put_zero(skb, len);
	TCP_SKB_CB(skb)->seq = hb->st.snd_una - len;
	TCP_SKB_CB(skb)->end_seq = hb->st.snd_una;
	__skb_queue_head(&hb->unacked, skb);
}

/* Fault injection (fail_handback_rcv_nxt): report more received than was
 * delivered, as an engine that acknowledged bytes it then lost would.
 */
static void toesim_hb_rcv_nxt(struct toesim_hw *hw, struct toe_handback *hb)
{
	if (atomic_read(&hw->fault_hb_rcv_nxt))
		hb->st.rcv_nxt += atomic_xchg(&hw->fault_hb_rcv_nxt, 0);
}

static int toesim_handback(struct toedev *tdev, struct sock *sk,
			   enum toe_handback_reason reason,
			   struct toe_handback *hb)
{
	struct toesim_dev *sd = toedev_priv(tdev);
	struct toesim_conn *conn = toe_sk_drv(sk);
	bool drain;

	/* Drain unless the peer cannot answer, the connection is gone or
	 * its segments must take another way.
	 */
	drain = reason != TOE_HB_DEV_DOWN && reason != TOE_HB_RST &&
		reason != TOE_HB_ERROR && reason != TOE_HB_TIMEOUT &&
		reason != TOE_HB_ROUTE;
	toesim_hw_conn_remove(conn, drain, hb);
	toesim_hb_lose(sd->hw, hb);
	toesim_hb_stale(sd->hw, hb);
	toesim_hb_rcv_nxt(sd->hw, hb);
	toe_sk_set_drv(sk, NULL);
	sock_put(sk);
	return 0;
}

static int toesim_ctl(struct toedev *tdev, unsigned int cmd, void *arg)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	switch (cmd) {
	case TOE_CTL_GET_TABLE_SIZE:
		*(u32 *)arg = toesim_hw_table_size(sd->hw);
		return 0;
	}
	return -EOPNOTSUPP;
}

static void toesim_neigh_update(struct toedev *tdev, struct net_device *dev,
				struct neighbour *n)
{
	struct toesim_dev *sd = toedev_priv(tdev);
	u8 ha[ETH_ALEN];
	bool valid;

	atomic64_inc(&sd->neigh_updates);
	read_lock_bh(&n->lock);
	valid = n->nud_state & NUD_VALID;
	memcpy(ha, n->ha, ETH_ALEN);
	read_unlock_bh(&n->lock);
	/* An entry going invalid keeps the last address: the engine goes on
	 * with it until the stack resolves the neighbour again.
	 */
	if (valid)
		toesim_hw_neigh_update(sd->hw, n->tbl->family, n->primary_key,
				       ha);
}

static void toesim_redirect(struct toedev *tdev, struct net_device *dev,
			    struct netevent_redirect *r)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	atomic64_inc(&sd->redirects);
}

static void toesim_port_change(struct toedev *tdev, struct net_device *dev,
			       enum toe_port_change what)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	atomic64_inc(&sd->port_changes);
	/* The port is going away: the core handed every connection back
	 * already; let go of the device.
	 */
	if (what == TOE_PORT_DOWN && dev->reg_state == NETREG_UNREGISTERING &&
	    dev == sd->port) {
		toesim_hw_stop(sd->hw);
		sd->port = NULL;
	}
}

static const struct toedev_ops toesim_ops = {
	.open		= toesim_open,
	.close		= toesim_close,
	.connect	= toesim_connect,
	.send		= toesim_send,
	.recv		= toesim_recv,
	.sk_event	= toesim_sk_event,
	.handback	= toesim_handback,
	.ctl		= toesim_ctl,
	.neigh_update	= toesim_neigh_update,
	.redirect	= toesim_redirect,
	.port_change	= toesim_port_change,
};

/**
 * toesim_tom_create() - create, register and bind the toedev of an instance
 * @parent: the instance's device on the toesim bus
 * @id: the instance ID (names its debugfs directory)
 * @port: the net_device to bind; the caller holds a reference
 * @table_size: connection table size, 1 to TOESIM_TABLE_MAX
 *
 * Context: process; may sleep; takes RTNL and the core's toe_mutex.
 * Return: the registered, bound and disabled toedev, or an ERR_PTR():
 * -EINVAL for a bad @table_size or a @port that is not Ethernet, -EBUSY
 * if @port is bound to a toedev already, -ENOMEM, or the error of
 * register_toedev().
 */
struct toedev *toesim_tom_create(struct device *parent, unsigned int id,
				 struct net_device *port, u32 table_size)
{
	struct toesim_dev *sd;
	struct toesim_hw *hw;
	struct toedev *tdev;
	int err;

	hw = toesim_hw_create(table_size, &toesim_host_ops);
	if (IS_ERR(hw))
		return ERR_CAST(hw);

	tdev = toedev_alloc(sizeof(*sd), &toesim_ops, THIS_MODULE);
	if (!tdev) {
		err = -ENOMEM;
		goto err_destroy_hw;
	}
	sd = toedev_priv(tdev);
	sd->tdev = tdev;
	sd->hw = hw;
	sd->id = id;
	sd->port = port;
	tdev->supported = TOE_FAMILY_ALL;
	tdev->features = TOE_F_NETFILTER | TOESIM_TCP_FEATURES;
	tdev->families = TOE_FAMILY_ALL;
	tdev->conn_limit = table_size;
	tdev->dev.parent = parent;

	err = register_toedev(tdev);
	if (err)
		goto err_free_tdev;
	err = toedev_bind(tdev, port);
	if (err)
		goto err_unregister_tdev;
	toesim_debugfs_add(sd);
	return tdev;

err_unregister_tdev:
	unregister_toedev(tdev);
err_free_tdev:
	toedev_free(tdev);
err_destroy_hw:
	toesim_hw_destroy(hw);
	return ERR_PTR(err);
}

/**
 * toesim_tom_destroy() - unregister and free the toedev of an instance
 * @tdev: a toedev from toesim_tom_create()
 *
 * unregister_toedev() disables the device (close() stops the engine) and
 * unbinds its port before the silicon is powered down.
 *
 * Context: process; may sleep; takes RTNL and the core's toe_mutex.
 */
void toesim_tom_destroy(struct toedev *tdev)
{
	struct toesim_dev *sd = toedev_priv(tdev);
	struct toesim_hw *hw = sd->hw;

	toesim_debugfs_del(sd);
	unregister_toedev(tdev);
	toedev_free(tdev);
	toesim_hw_destroy(hw);
}

static int __init toesim_init(void)
{
	int err;

	toesim_debugfs_init();
	err = toesim_bus_init();
	if (err)
		goto err_debugfs_exit;
	return 0;

err_debugfs_exit:
	toesim_debugfs_exit();
	return err;
}

static void __exit toesim_exit(void)
{
	/* Deletes every live instance first. */
	toesim_bus_exit();
	toesim_debugfs_exit();
}

module_init(toesim_init);
module_exit(toesim_exit);
MODULE_DESCRIPTION("Simulated TCP Offload Engine");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(TOE);
