// SPDX-License-Identifier: GPL-2.0
/*
 * toesim: the TCP engine of the simulated silicon.
 *
 * Receive: the port's rx_handler takes frames of connections in the table
 * off the receive path (after packet taps, before the IP layer) and queues
 * them to the engine thread. Transmit: the engine builds Ethernet/IP/TCP
 * frames itself, payload by reference to the host's pages, and sends them
 * through the port's queue (qdiscs and taps see them). TCP as negotiated
 * in the handshake Linux did: MSS, window scaling, timestamps (PAWS),
 * SACK (RFC 2018: blocks when receiving out of order, a scoreboard of the
 * peer's when sending); RTT estimation (RFC 6298) and RTO with backoff,
 * fast retransmit and recovery: by the peer's SACK blocks where it sends
 * them (RFC 6675's loss detection and pipe, simplified), NewReno (RFC
 * 6582) where it does not; slow start and congestion avoidance, flow
 * control with zero-window probing, a receive window by Linux TCP's
 * rules and window updates as the host reads, delayed ACKs, RFC 5961
 * checks against blind RST, SYN and data injection, Nagle's rule, TCP_CORK
 * and MSG_MORE, keepalive probes. A peer that stops answering
 * retransmissions, window probes or keepalive probes sends the connection
 * back to Linux TCP, whose timers decide when it is gone.
 * Frames are GSO frames within the port's gso_max_size and gso_max_segs.
 * The host's netfilter hooks see every frame the engine takes or sends,
 * as they see Linux TCP's (see "the host's netfilter hooks" below).
 *
 * All TCP state of a connection is written by the engine thread only.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/kthread.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <net/ip.h>
#include <net/ip6_checksum.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/tcp.h>

#include "engine.h"
#include "toesim_hw.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

#define TOESIM_RTO_MIN_MS	200
#define TOESIM_RTO_MAX_MS	120000
#define TOESIM_RTO_INIT_MS	1000
#define TOESIM_DACK_MS		40
#define TOESIM_RXQ_MAX		8192
#define TOESIM_HELD_MAX		64
#define TOESIM_GSO_MAX		(64 * 1024 - 1024)
#define TOESIM_DRAIN_MS		3000
#define TOESIM_RTO_STALL_MAX	3	/* RTOs before a handback, as tcp_retries1 */
#define TOESIM_PROBE_STALL_MAX	2	/* unanswered probes before a handback */
#define TOESIM_BACKOFF_MAX	10	/* RTO << 10 is past TOESIM_RTO_MAX_MS */

struct toesim_rx_cb {
	struct toesim_conn *conn;
	u64 cost_ns;	/* with hw->profile: time spent in the rx handler */
	unsigned long at;	/* jiffies when it arrived */
};

#define TOESIM_RX_CB(skb) ((struct toesim_rx_cb *)(skb)->cb)

static u32 toesim_now_ts(const struct toesim_tcb *tcb)
{
	return tcp_time_stamp_raw() + tcb->tsoffset;
}

/* ---- the L2 table ---------------------------------------------------------- */

static struct hlist_head *toesim_l2_bucket(struct toesim_hw *hw, u32 family,
					   const struct in6_addr *addr)
{
	u32 h = jhash(addr, sizeof(*addr), family);

	return &hw->l2_buckets[hash_32(h, TOESIM_L2_HASH_BITS)];
}

static struct toesim_l2 *toesim_l2_find(struct toesim_hw *hw, u32 family,
					const struct in6_addr *addr)
{
	struct toesim_l2 *l2;

	lockdep_assert_held(&hw->l2_lock);
	hlist_for_each_entry(l2, toesim_l2_bucket(hw, family, addr), hnode)
		if (l2->family == family && ipv6_addr_equal(&l2->nexthop, addr))
			return l2;
	return NULL;
}

/* The entry of a next hop, created if new, with a reference; the link
 * address the host just resolved replaces the one it had.
 */
static struct toesim_l2 *toesim_l2_get(struct toesim_hw *hw, u32 family,
				       const struct in6_addr *addr,
				       const u8 *dmac)
{
	struct toesim_l2 *l2, *new;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return NULL;
	spin_lock_bh(&hw->l2_lock);
	l2 = toesim_l2_find(hw, family, addr);
	if (!l2) {
		l2 = new;
		new = NULL;
		l2->family = family;
		l2->nexthop = *addr;
		spin_lock_init(&l2->lock);
		hlist_add_head(&l2->hnode, toesim_l2_bucket(hw, family, addr));
	}
	l2->refcnt++;
	spin_lock(&l2->lock);
	memcpy(l2->dmac, dmac, ETH_ALEN);
	spin_unlock(&l2->lock);
	spin_unlock_bh(&hw->l2_lock);
	kfree(new);
	return l2;
}

static void toesim_l2_put(struct toesim_hw *hw, struct toesim_l2 *l2)
{
	bool last;

	spin_lock_bh(&hw->l2_lock);
	last = !--l2->refcnt;
	if (last)
		hlist_del(&l2->hnode);
	spin_unlock_bh(&hw->l2_lock);
	if (last)
		kfree(l2);
}

static void toesim_conn_put(struct toesim_conn *conn)
{
	if (refcount_dec_and_test(&conn->refcnt)) {
		toesim_l2_put(conn->hw, conn->l2);
		kfree_rcu(conn, rcu);
	}
}

/* Queue @conn for the engine thread with event @ev. Any context. */
static void toesim_conn_kick(struct toesim_conn *conn, int ev)
{
	struct toesim_hw *hw = conn->hw;
	unsigned long flags;

	/* What the caller wrote for @ev (push_req, nagle, ka_restart) is
	 * visible before the bit; the engine's xchg() of the bits orders
	 * its reads after.
	 */
	smp_mb__before_atomic();
	set_bit(ev, &conn->tcb.events);
	spin_lock_irqsave(&hw->work_lock, flags);
	if (!conn->tcb.on_work) {
		conn->tcb.on_work = true;
		refcount_inc(&conn->refcnt);
		list_add_tail(&conn->tcb.work_node, &hw->work);
	}
	spin_unlock_irqrestore(&hw->work_lock, flags);
	wake_up(&hw->wait);
}

static void toesim_timer_fn(struct timer_list *t)
{
	struct toesim_conn *conn = from_timer(conn, t, tcb.timer);

	toesim_conn_kick(conn, TOESIM_EV_TIMER);
}

static void toesim_rearm(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	unsigned long at = 0;

	if (tcb->dead)
		return;
	if (tcb->rto_at)
		at = tcb->rto_at;
	if (tcb->dack_at && (!at || time_before(tcb->dack_at, at)))
		at = tcb->dack_at;
	if (tcb->drain_at && (!at || time_before(tcb->drain_at, at)))
		at = tcb->drain_at;
	if (tcb->ka_at && (!at || time_before(tcb->ka_at, at)))
		at = tcb->ka_at;
	if (at)
		mod_timer(&tcb->timer, at);
	else
		del_timer(&tcb->timer);
}

/* ---- the host's netfilter hooks ----------------------------------------- */

/*
 * A software engine has no excuse to bypass the host's firewall: each
 * frame the engine takes goes through the port's netns's PRE_ROUTING and
 * LOCAL_IN hooks first (with an input route, as ip_rcv_finish() and
 * ip6_rcv_finish() attach one), and each frame it sends through
 * LOCAL_OUT and POST_ROUTING (with an output route), in the engine
 * thread, BHs off as in softirq. So a rule added after the handover
 * stops an offloaded connection as it stops one in software, in both
 * directions, and conntrack sees every segment. Frames a hook drops are
 * lost as they would be for Linux TCP, and TCP retransmits them.
 *
 * What the engine cannot follow: a hook that rewrites the addresses or
 * ports of a frame it sends (NAT) makes the connection go back to Linux
 * TCP (reason "netfilter"), and so does one that a hook queues to user
 * space (NFQUEUE) or steals: the engine cannot wait for a verdict, Linux
 * TCP can (the verdict's frame goes to the stack, see below). Owner
 * matches see no socket (the engine's frames carry none).
 */
#if IS_ENABLED(CONFIG_NETFILTER)
/*
 * Where a frame a hook queued to user space goes when its verdict comes:
 * by then the connection is on its way back to Linux TCP, so to the
 * stack, through code that outlives this module. A received frame is
 * looped back into the receive path (dev_loopback_xmit()), a sent one
 * handed to the IP layer's output (ip_local_out(), ip6_local_out(),
 * with the route it was given); both meet the hooks once more, then
 * Linux's own continuations.
 */
static int (*toesim_nf_late_out(u8 pf))(struct net *, struct sock *,
					 struct sk_buff *)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (pf == NFPROTO_IPV6)
		return ip6_local_out;
#endif
	return ip_local_out;
}

/* IPCB()/IP6CB() as the IP layer leaves them for the hooks. */
static void toesim_nf_cb(struct sk_buff *skb, int iif)
{
	memset(skb->cb, 0, sizeof(skb->cb));
	if (skb->protocol == htons(ETH_P_IP)) {
		IPCB(skb)->iif = iif;
	} else {
		IP6CB(skb)->iif = iif;
		IP6CB(skb)->nhoff = offsetof(struct ipv6hdr, nexthdr);
	}
}

static int toesim_nf_route_in(struct net *net, struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph = ip_hdr(skb);

		return ip_route_input_noref(skb, iph->daddr, iph->saddr,
					    iph->tos, skb->dev);
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		const struct ipv6hdr *ip6 = ipv6_hdr(skb);
		struct flowi6 fl6 = {
			.flowi6_iif	= skb->dev->ifindex,
			.flowi6_mark	= skb->mark,
			.flowi6_proto	= IPPROTO_TCP,
			.daddr		= ip6->daddr,
			.saddr		= ip6->saddr,
			.flowlabel	= ip6_flowinfo(ip6),
		};
		struct dst_entry *dst;

		dst = ip6_route_input_lookup(net, skb->dev, &fl6, skb,
					     RT6_LOOKUP_F_HAS_SADDR);
		if (dst->error) {
			dst_release(dst);
			return -EHOSTUNREACH;
		}
		skb_dst_set(skb, dst);
		return 0;
	}
#else
	return -EAFNOSUPPORT;
#endif
}

/**
 * toesim_nf_rcv() - the host's input hooks on a frame the engine took
 * @conn: its connection
 * @skb: the frame, skb->data at the network header; its cb is cleared
 *	when hooks run
 *
 * Context: engine thread.
 * Return: true if the engine is to process @skb; false if a hook took it
 * (dropped, or queued: then the connection goes back to Linux TCP) or it
 * has no route, counted in rx_nf_drops.
 */
static bool toesim_nf_rcv(struct toesim_conn *conn, struct sk_buff *skb)
{
	struct toesim_hw *hw = conn->hw;
	struct net_device *dev = skb->dev;
	struct net *net = dev_net(dev);
	u8 pf = skb->protocol == htons(ETH_P_IP) ? NFPROTO_IPV4 : NFPROTO_IPV6;
	int ret;

	if (!READ_ONCE(hw->netfilter) ||
	    !toe_nf_active(net, pf, BIT(NF_INET_PRE_ROUTING) |
			   BIT(NF_INET_LOCAL_IN)))
		return true;
	toesim_nf_cb(skb, dev->ifindex);
	local_bh_disable();
	rcu_read_lock();
	ret = nf_hook(pf, NF_INET_PRE_ROUTING, net, NULL, skb, dev, NULL,
		      dev_loopback_xmit);
	if (ret == 1) {
		if (toesim_nf_route_in(net, skb)) {
			kfree_skb(skb);
			ret = -EHOSTUNREACH;
		} else {
			ret = nf_hook(pf, NF_INET_LOCAL_IN, net, NULL, skb,
				      dev, NULL, dev_loopback_xmit);
		}
	}
	if (ret == 1) {
		skb_dst_drop(skb);
		/* As tcp_v4_rcv() and tcp_v6_rcv() do before queueing. */
		nf_reset_ct(skb);
	}
	rcu_read_unlock();
	local_bh_enable();
	if (ret != 1) {
		atomic64_inc(&hw->rx_nf_drops);
		trace_toesim_drop(conn, TOESIM_DROP_NF_IN);
	}
	if (!ret)
		hw->host_ops->request_remove(conn->host, TOESIM_RM_NETFILTER);
	return ret == 1;
}

static struct dst_entry *toesim_nf_route_out(struct toesim_conn *conn,
					     struct net *net)
{
	const struct toesim_tuple *t = &conn->tuple;
	struct rtable *rt;

	if (t->family == AF_INET) {
		struct flowi4 fl4;

		rt = ip_route_output_ports(net, &fl4, NULL,
					   t->daddr.s6_addr32[3],
					   t->saddr.s6_addr32[3], t->dport,
					   t->sport, IPPROTO_TCP, 0,
					   conn->hw->port->ifindex);
		return IS_ERR(rt) ? NULL : &rt->dst;
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		struct flowi6 fl6 = {
			.flowi6_oif	= conn->hw->port->ifindex,
			.flowi6_proto	= IPPROTO_TCP,
			.daddr		= t->daddr,
			.saddr		= t->saddr,
			.fl6_sport	= t->sport,
			.fl6_dport	= t->dport,
		};
		struct dst_entry *dst = ip6_route_output(net, NULL, &fl6);

		if (dst->error) {
			dst_release(dst);
			return NULL;
		}
		return dst;
	}
#else
	return NULL;
#endif
}

/* Did a hook rewrite where the frame goes or comes from (NAT)? */
static bool toesim_nf_mangled(const struct toesim_conn *conn,
			      const struct sk_buff *skb)
{
	const struct toesim_tuple *t = &conn->tuple;
	const struct tcphdr *th = tcp_hdr(skb);

	if (th->source != t->sport || th->dest != t->dport)
		return true;
	if (t->family == AF_INET)
		return ip_hdr(skb)->saddr != t->saddr.s6_addr32[3] ||
		       ip_hdr(skb)->daddr != t->daddr.s6_addr32[3];
	return !ipv6_addr_equal(&ipv6_hdr(skb)->saddr, &t->saddr) ||
	       !ipv6_addr_equal(&ipv6_hdr(skb)->daddr, &t->daddr);
}

/**
 * toesim_nf_xmit() - the host's output hooks on a frame the engine sends
 * @conn: its connection
 * @skb: the frame, skb->data at the network header, no link header yet
 *
 * Context: engine thread.
 * Return: 0 to send @skb; -EPERM if a hook took it (dropped or queued),
 * it has no route or a hook rewrote its addresses: then it is gone,
 * counted in tx_nf_drops, and when queued or rewritten the connection is
 * on its way back to Linux TCP.
 */
static int toesim_nf_xmit(struct toesim_conn *conn, struct sk_buff *skb)
{
	struct net_device *dev = conn->hw->port;
	struct net *net = dev_net(dev);
	u8 pf = conn->tuple.family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	struct dst_entry *dst;
	int ret = 0;

	if (!READ_ONCE(conn->hw->netfilter) ||
	    !toe_nf_active(net, pf, BIT(NF_INET_LOCAL_OUT) |
			   BIT(NF_INET_POST_ROUTING)))
		return 0;
	dst = toesim_nf_route_out(conn, net);
	if (!dst) {
		kfree_skb(skb);
		goto drop;
	}
	skb_dst_set(skb, dst);
	skb->dev = dev;
	toesim_nf_cb(skb, 0);
	local_bh_disable();
	ret = nf_hook(pf, NF_INET_LOCAL_OUT, net, NULL, skb, NULL, dev,
		      toesim_nf_late_out(pf));
	if (ret == 1)
		ret = nf_hook(pf, NF_INET_POST_ROUTING, net, NULL, skb, NULL,
			      dev, toesim_nf_late_out(pf));
	local_bh_enable();
	if (!ret)
		conn->hw->host_ops->request_remove(conn->host,
						   TOESIM_RM_NETFILTER);
	if (ret != 1)
		goto drop;
	skb_dst_drop(skb);
	if (unlikely(toesim_nf_mangled(conn, skb))) {
		kfree_skb(skb);
		conn->hw->host_ops->request_remove(conn->host,
						   TOESIM_RM_NETFILTER);
		goto drop;
	}
	/* A hook that rewrote the frame may have taken the link headroom. */
	if (skb_cow_head(skb, LL_RESERVED_SPACE(dev))) {
		kfree_skb(skb);
		goto drop;
	}
	return 0;
drop:
	atomic64_inc(&conn->hw->tx_nf_drops);
	trace_toesim_drop(conn, TOESIM_DROP_NF_OUT);
	return -EPERM;
}
#else
static bool toesim_nf_rcv(struct toesim_conn *conn, struct sk_buff *skb)
{
	return true;
}

static int toesim_nf_xmit(struct toesim_conn *conn, struct sk_buff *skb)
{
	return 0;
}
#endif

/* ---- transmit ----------------------------------------------------------- */

/* The host's free receive memory: what out of order data may take. */
static u32 toesim_rcv_mem(struct toesim_conn *conn)
{
	struct toesim_rcv_room room;

	conn->hw->host_ops->rcv_room(conn->host, &room);
	return room.mem;
}

/* The window the host's buffer backs now, by Linux TCP's rules
 * (__tcp_select_window()): within the window clamp, and shut rather than
 * opened by less than a segment once the buffer is half full (the
 * receiver's side of silly window avoidance, RFC 9293 3.8.6.2.2). Linux
 * TCP also holds it to rcv_ssthresh, which grows as it receives
 * (tcp_grow_window()); the engine goes straight to the clamp. @clamp
 * gets the clamp.
 */
static u32 __toesim_select_window(struct toesim_conn *conn, u32 *clamp)
{
	u32 unit = 1U << conn->tcb.rcv_wscale;
	struct toesim_rcv_room room;
	u32 wnd, full;

	conn->hw->host_ops->rcv_room(conn->host, &room);
	full = min(room.clamp, room.full);
	*clamp = full;
	wnd = room.free;
	if (wnd < full / 2) {
		wnd = round_down(wnd, unit);
		if (wnd < room.full / 16 || wnd < min(room.mss, full))
			return 0;
	}
	return min(ALIGN(min(wnd, full), unit), 65535U << conn->tcb.rcv_wscale);
}

/* The window to advertise: never moving the right edge we advertised
 * before to the left (tcp_select_window()).
 */
static u32 toesim_select_window(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 cur = after(tcb->rcv_adv, tcb->rcv_nxt) ?
		  tcb->rcv_adv - tcb->rcv_nxt : 0;
	u32 clamp, wnd = __toesim_select_window(conn, &clamp);

	if (wnd < cur)
		wnd = ALIGN(cur, 1U << tcb->rcv_wscale);
	return wnd;
}

/* Attach payload [off, off + len) of the send queue (off from the first
 * byte of its head skb) to @skb as page fragments, by reference.
 */
static int toesim_attach_payload(struct toesim_conn *conn, struct sk_buff *skb,
				 u32 off, u32 len)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct sk_buff *src;
	u32 pos = 0;
	int i;

	skb_queue_walk(&tcb->sndq, src) {
		u32 slen = src->len, soff, flen, fpos = 0;

		if (pos + slen <= off) {
			pos += slen;
			continue;
		}
		soff = off > pos ? off - pos : 0;
		if (skb_headlen(src) > soff) {
			u32 n = min(skb_headlen(src) - soff, len);

			skb_put_data(skb, src->data + soff, n);
			len -= n;
			off += n;
		}
		fpos = skb_headlen(src);
		for (i = 0; i < skb_shinfo(src)->nr_frags && len; i++) {
			const skb_frag_t *f = &skb_shinfo(src)->frags[i];
			u32 fsz = skb_frag_size(f), fo;

			if (off >= pos + fpos + fsz) {
				fpos += fsz;
				continue;
			}
			fo = off - (pos + fpos);
			flen = min(fsz - fo, len);
			if (skb_shinfo(skb)->nr_frags >= MAX_SKB_FRAGS)
				return -EMSGSIZE;
			skb_frag_ref(src, i);
			skb_fill_page_desc(skb, skb_shinfo(skb)->nr_frags,
					   skb_frag_page(f),
					   skb_frag_off(f) + fo, flen);
			skb->len += flen;
			skb->data_len += flen;
			skb->truesize += flen;
			off += flen;
			len -= flen;
			fpos += fsz;
		}
		pos += slen;
		if (!len)
			return 0;
	}
	return len ? -EINVAL : 0;
}

/* Build and send one frame: [seq, seq + len) of the send queue, or a bare
 * ACK (len 0). @seq may be snd_una - 1 for a window probe.
 */
static int toesim_xmit(struct toesim_conn *conn, u32 seq, u32 len, u8 flags)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct toesim_hw *hw = conn->hw;
	struct net_device *dev = hw->port;
	bool v6 = conn->tuple.family == AF_INET6;
	int iphl = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	int optlen = 0, nsack = 0, tcphl, err;
	struct sk_buff *skb, *o;
	struct tcphdr *th;
	__be32 *opt;
	u32 wnd;

	if (tcb->ts_ok)
		optlen += TCPOLEN_TSTAMP_ALIGNED;
	if (tcb->sack_ok && !skb_queue_empty(&tcb->oooq) && !len) {
		nsack = min_t(int, skb_queue_len(&tcb->oooq), tcb->ts_ok ? 3 : 4);
		optlen += 4 + nsack * TCPOLEN_SACK_PERBLOCK;
	}
	tcphl = sizeof(*th) + optlen;

	skb = alloc_skb(LL_RESERVED_SPACE(dev) + iphl + tcphl +
			(len ? min_t(u32, len, 256) : 0), GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	skb_reserve(skb, LL_RESERVED_SPACE(dev) + iphl + tcphl);
	if (len) {
		/* The head of the send queue may be partly acknowledged. */
		o = skb_peek(&tcb->sndq);
		err = o ? toesim_attach_payload(conn, skb,
						seq - TCP_SKB_CB(o)->seq, len) :
			  -EINVAL;
		if (err) {
			kfree_skb(skb);
			return err;
		}
	}

	th = skb_push(skb, tcphl);
	skb_reset_transport_header(skb);
	memset(th, 0, sizeof(*th));
	th->source = conn->tuple.sport;
	th->dest = conn->tuple.dport;
	th->seq = htonl(seq);
	th->ack_seq = htonl(tcb->rcv_nxt);
	th->doff = tcphl / 4;
	th->ack = 1;
	th->psh = !!(flags & TCPHDR_PSH);
	wnd = toesim_select_window(conn);
	th->window = htons(wnd >> tcb->rcv_wscale);
	tcb->rcv_adv = tcb->rcv_nxt + wnd;

	opt = (__be32 *)(th + 1);
	if (tcb->ts_ok) {
		*opt++ = htonl((TCPOPT_NOP << 24) | (TCPOPT_NOP << 16) |
			       (TCPOPT_TIMESTAMP << 8) | TCPOLEN_TIMESTAMP);
		*opt++ = htonl(toesim_now_ts(tcb));
		*opt++ = htonl(tcb->ts_recent);
	}
	if (nsack) {
		int n = 0;

		*opt++ = htonl((TCPOPT_NOP << 24) | (TCPOPT_NOP << 16) |
			       (TCPOPT_SACK << 8) |
			       (TCPOLEN_SACK_BASE + nsack * TCPOLEN_SACK_PERBLOCK));
		/* The first block is the most recent, as RFC 2018 wants;
		 * the queue is by sequence, so report its tail first.
		 */
		skb_queue_reverse_walk(&tcb->oooq, o) {
			if (n++ == nsack)
				break;
			*opt++ = htonl(TCP_SKB_CB(o)->seq);
			*opt++ = htonl(TCP_SKB_CB(o)->end_seq);
		}
	}

	if (v6) {
		struct ipv6hdr *ip6 = skb_push(skb, sizeof(*ip6));

		skb_reset_network_header(skb);
		ip6_flow_hdr(ip6, tcb->tos, tcb->flowlabel);
		ip6->payload_len = htons(tcphl + len);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = tcb->ttl;
		ip6->saddr = conn->tuple.saddr;
		ip6->daddr = conn->tuple.daddr;
		th->check = ~tcp_v6_check(tcphl + len, &ip6->saddr,
					  &ip6->daddr, 0);
		skb->protocol = htons(ETH_P_IPV6);
	} else {
		struct iphdr *iph = skb_push(skb, sizeof(*iph));

		skb_reset_network_header(skb);
		iph->version = 4;
		iph->ihl = 5;
		iph->tos = tcb->tos;
		iph->tot_len = htons(iphl + tcphl + len);
		/* One ID a segment: GSO numbers the rest up from this. */
		iph->id = htons(tcb->ip_id);
		tcb->ip_id += len > tcb->mss ? DIV_ROUND_UP(len, tcb->mss) : 1;
		iph->frag_off = tcb->df ? htons(IP_DF) : 0;
		iph->ttl = tcb->ttl;
		iph->protocol = IPPROTO_TCP;
		iph->saddr = conn->tuple.saddr.s6_addr32[3];
		iph->daddr = conn->tuple.daddr.s6_addr32[3];
		ip_send_check(iph);
		th->check = ~tcp_v4_check(tcphl + len, iph->saddr, iph->daddr, 0);
		skb->protocol = htons(ETH_P_IP);
	}
	skb->mark = tcb->mark;
	skb->priority = tcb->priority;
	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = skb_transport_header(skb) - skb->head;
	skb->csum_offset = offsetof(struct tcphdr, check);
	if (len > tcb->mss) {
		skb_shinfo(skb)->gso_size = tcb->mss;
		skb_shinfo(skb)->gso_type = v6 ? SKB_GSO_TCPV6 : SKB_GSO_TCPV4;
		skb_shinfo(skb)->gso_segs = DIV_ROUND_UP(len, tcb->mss);
	}

	err = toesim_nf_xmit(conn, skb);
	if (err)
		return err;

	spin_lock_bh(&conn->l2->lock);
	eth_header(skb, dev, ntohs(skb->protocol), conn->l2->dmac,
		   dev->dev_addr, 0);
	spin_unlock_bh(&conn->l2->lock);
	skb_reset_mac_header(skb);
	skb->dev = dev;

	tcb->dack_at = 0;
	tcb->segs_unacked = 0;
	tcb->stats.tx_segs += skb_shinfo(skb)->gso_segs ?: 1;
	atomic64_inc(&hw->tx_frames);
	err = dev_queue_xmit(skb);
	return err == NET_XMIT_SUCCESS || err == NET_XMIT_CN ? 0 : -ENOBUFS;
}

/* The most payload one frame carries: a GSO frame within the port's
 * gso_max_size and gso_max_segs, as the stack's own sockets respect them.
 */
static u32 toesim_frame_max(const struct toesim_conn *conn)
{
	const struct net_device *dev = conn->hw->port;
	u32 mss = conn->tcb.mss;
	u32 segs = min_t(u32, READ_ONCE(dev->gso_max_size), TOESIM_GSO_MAX) / mss;

	segs = clamp_t(u32, segs, 1, READ_ONCE(dev->gso_max_segs) ?: 1);
	return segs * mss;
}

static void toesim_send_ack(struct toesim_conn *conn)
{
	toesim_xmit(conn, conn->tcb.snd_nxt, 0, 0);
}

static void toesim_arm_rto(struct toesim_tcb *tcb)
{
	u32 ms = min_t(u32, tcb->rto_ms << tcb->backoff, TOESIM_RTO_MAX_MS);

	tcb->rto_at = jiffies + msecs_to_jiffies(ms) ?: 1;
}

static void toesim_report_timing(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct toe_tcp_timing tm = {
		.srtt_us	= tcb->srtt_us,
		.rttvar_us	= tcb->rttvar_us,
		.rto_ms		= min_t(u32, tcb->rto_ms << tcb->backoff,
					 TOESIM_RTO_MAX_MS),
		.cwnd		= tcb->cwnd,
		.ssthresh	= tcb->ssthresh,
		.retrans	= tcb->stats.retrans,
	};

	conn->hw->host_ops->timing(conn->host, &tm);
}

/* Where new payload stops going in partial segments: the host's last
 * push, taken when it comes (an old value read again is no news), and
 * slid up to snd_una.
 */
static u32 toesim_cork_seq(struct toesim_tcb *tcb)
{
	u32 req = READ_ONCE(tcb->push_req);

	if (req != tcb->push_seen) {
		tcb->push_seen = req;
		if (after(req, tcb->cork_seq))
			tcb->cork_seq = req;
	}
	if (after(tcb->snd_una, tcb->cork_seq))
		tcb->cork_seq = tcb->snd_una;
	return tcb->cork_seq;
}

/* tcp_minshall_check(): a partial segment sent is unacknowledged. */
static bool toesim_minshall(const struct toesim_tcb *tcb)
{
	return after(tcb->snd_sml, tcb->snd_una) &&
	       !after(tcb->snd_sml, tcb->snd_max);
}

/* Nagle's rule and TCP_CORK/MSG_MORE (tcp_nagle_test()): a segment of @len
 * bytes from snd_nxt that would end the queue in a partial segment sends
 * only its full segments when bytes past the last push are corked, or,
 * with TCP_NODELAY off, while a partial segment is in flight (Minshall's
 * variant, tcp_nagle_check()). Retransmissions stop at snd_max (what
 * follows is new); the one segment @force_tail allows goes as it is.
 * Return: what may go now, 0 to wait.
 */
static u32 toesim_cork(struct toesim_tcb *tcb, u32 len)
{
	u32 end = tcb->snd_nxt + len, push = toesim_cork_seq(tcb);
	u32 full;

	if (before(tcb->snd_nxt, tcb->snd_max))
		return min(len, tcb->snd_max - tcb->snd_nxt);
	if (tcb->force_tail || end != tcb->write_seq)
		return len;
	if (!after(end, push)) {
		if (!(len % tcb->mss) ||
		    READ_ONCE(tcb->nagle) & TOESIM_NAGLE_OFF ||
		    tcb->snd_nxt == tcb->snd_una || !toesim_minshall(tcb))
			return len;
		return rounddown(len, tcb->mss);
	}
	full = rounddown(len, tcb->mss);
	if (after(push, tcb->snd_nxt))
		full = max(full, push - tcb->snd_nxt);
	return full;
}

/* A partial segment held back goes at an ACK, or when the socket's Nagle
 * state changes, as tcp_push_pending_frames() with tcp_sk->nonagle would
 * send it (tcp_nagle_check()): not while corked; once no partial segment
 * is in flight (Nagle's rule as Minshall has it), or at once with
 * TCP_NODELAY.
 */
static void toesim_nagle_release(struct toesim_tcb *tcb)
{
	u8 nagle = READ_ONCE(tcb->nagle);

	if (nagle & TOESIM_NAGLE_CORK) {
		tcb->force_tail = false;
		return;
	}
	if (!before(tcb->snd_nxt, tcb->write_seq))
		return;
	if (nagle & TOESIM_NAGLE_OFF || !toesim_minshall(tcb))
		tcb->force_tail = true;
}

/* Send what the windows allow. */
static void toesim_push(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 inflight, wnd, len;

	if (tcb->dead)
		return;
	for (;;) {
		if (!before(tcb->snd_nxt, tcb->write_seq))
			break;
		/* Draining: retransmissions only. */
		if (tcb->drain_at && !before(tcb->snd_nxt, tcb->snd_max))
			break;
		inflight = tcb->snd_nxt - tcb->snd_una;
		wnd = min(tcb->cwnd, tcb->snd_wnd);
		if (inflight >= wnd) {
			/* Zero window and nothing in flight: probe. */
			if (!tcb->snd_wnd && !inflight && !tcb->rto_at)
				toesim_arm_rto(tcb);
			break;
		}
		len = min3(tcb->write_seq - tcb->snd_nxt, wnd - inflight,
			   toesim_frame_max(conn));
		if (tcb->drain_at)
			len = min(len, tcb->snd_max - tcb->snd_nxt);
		len = toesim_cork(tcb, len);
		if (!len) {
			/* Corked: the tail waits about an RTO at most. */
			if (!inflight && !tcb->rto_at)
				toesim_arm_rto(tcb);
			break;
		}
		/* Avoid silly segments while more is in flight. */
		if (len < tcb->mss && inflight &&
		    tcb->write_seq - tcb->snd_nxt > len)
			break;
		if (toesim_xmit(conn, tcb->snd_nxt, len, TCPHDR_PSH)) {
			/* Not sent (no memory, a full queue, a firewall
			 * rule): the retransmission timer tries again.
			 */
			if (!tcb->rto_at)
				toesim_arm_rto(tcb);
			break;
		}
		if (before(tcb->snd_nxt, tcb->snd_max)) {
			tcb->stats.retrans++;
			atomic64_inc(&conn->hw->retrans);
			trace_toesim_retransmit(conn, tcb->snd_nxt, len,
						TOESIM_RXT_RTO);
		} else {
			/* The tail it let go is out. */
			if (tcb->snd_nxt + len == tcb->write_seq)
				tcb->force_tail = false;
			if (len % tcb->mss)
				tcb->snd_sml = tcb->snd_nxt + len;
		}
		tcb->snd_nxt += len;
		if (after(tcb->snd_nxt, tcb->snd_max))
			tcb->snd_max = tcb->snd_nxt;
		/* The first in flight: an RTO from now, not from the cork. */
		if (!tcb->rto_at || !inflight)
			toesim_arm_rto(tcb);
	}
	conn->hw->host_ops->snd_update(conn->host, tcb->snd_una, tcb->snd_max,
				       tcb->snd_wnd);
	toesim_report_timing(conn);
}

static void toesim_retransmit_head(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 len = min_t(u32, tcb->mss, tcb->snd_max - tcb->snd_una);

	if (!len)
		return;
	if (!toesim_xmit(conn, tcb->snd_una, len, TCPHDR_PSH)) {
		tcb->high_rxt = tcb->snd_una + len;
		tcb->stats.retrans++;
		atomic64_inc(&conn->hw->retrans);
		trace_toesim_retransmit(conn, tcb->snd_una, len,
					TOESIM_RXT_FAST);
	}
}

/* The hole at or above *@seq: the first byte there the peer has not
 * reported holding goes to *@seq. Return: the hole's length, 0 when no
 * SACKed byte lies above (nothing there is known to be lost).
 */
static u32 toesim_sack_hole(const struct toesim_tcb *tcb, u32 *seq)
{
	u32 from = *seq;
	int i;

	for (i = 0; i < tcb->nr_sacked; i++) {
		const struct toesim_sack *b = &tcb->sacked[i];

		if (!after(b->end, from))
			continue;
		if (before(from, b->start)) {
			*seq = from;
			return b->start - from;
		}
		from = b->end;
	}
	return 0;
}

static u32 toesim_sack_bytes(const struct toesim_tcb *tcb)
{
	u32 n = 0;
	int i;

	for (i = 0; i < tcb->nr_sacked; i++)
		n += tcb->sacked[i].end - tcb->sacked[i].start;
	return n;
}

/* Where a SACK recovery sends holes from: not before snd_una. */
static u32 toesim_rxt_from(const struct toesim_tcb *tcb)
{
	return after(tcb->high_rxt, tcb->snd_una) ? tcb->high_rxt :
	       tcb->snd_una;
}

/* RFC 6675's pipe, simplified: bytes sent and neither acknowledged nor
 * SACKed, less the holes below the highest SACKed byte not yet sent
 * again (those are lost).
 */
static u32 toesim_pipe(const struct toesim_tcb *tcb)
{
	u32 pipe = tcb->snd_max - tcb->snd_una - toesim_sack_bytes(tcb);
	u32 seq = toesim_rxt_from(tcb), len;

	while ((len = toesim_sack_hole(tcb, &seq))) {
		pipe -= len;
		seq += len;
	}
	return pipe;
}

/* In recovery with the peer's SACK blocks: send the holes again, lowest
 * first, as far as the window allows over what is still in the network,
 * where NewReno alone would wait a round trip per hole.
 * Return: false without a scoreboard (NewReno's rules apply).
 */
static bool toesim_sack_recover(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 pipe, seq, len;

	if (!tcb->nr_sacked)
		return false;
	pipe = toesim_pipe(tcb);
	while (pipe + tcb->mss <= tcb->cwnd) {
		seq = toesim_rxt_from(tcb);
		len = toesim_sack_hole(tcb, &seq);
		if (!len)
			break;
		len = min3(len, tcb->cwnd - pipe, toesim_frame_max(conn));
		if (toesim_xmit(conn, seq, len, TCPHDR_PSH))
			break;
		tcb->high_rxt = seq + len;
		pipe += len;
		tcb->stats.retrans++;
		tcb->stats.sack_retrans++;
		atomic64_inc(&conn->hw->retrans);
		atomic64_inc(&conn->hw->sack_retrans);
		trace_toesim_retransmit(conn, seq, len, TOESIM_RXT_SACK);
	}
	return true;
}

/* Drop what the cumulative ACK covers from the scoreboard. */
static void toesim_sack_prune(struct toesim_tcb *tcb)
{
	int i, n = 0;

	for (i = 0; i < tcb->nr_sacked; i++) {
		struct toesim_sack b = tcb->sacked[i];

		if (!after(b.end, tcb->snd_una))
			continue;
		if (before(b.start, tcb->snd_una))
			b.start = tcb->snd_una;
		tcb->sacked[n++] = b;
	}
	tcb->nr_sacked = n;
}

/* Merge one block of the peer's into the scoreboard. Blocks that are not
 * within what we sent beyond snd_una (D-SACK, forged, stale) are ignored;
 * so is a new range when the scoreboard is full.
 */
static void toesim_sack_add(struct toesim_tcb *tcb, u32 start, u32 end)
{
	int i, n = 0;

	if (!after(end, start) || !after(end, tcb->snd_una) ||
	    after(end, tcb->snd_max))
		return;
	if (before(start, tcb->snd_una))
		start = tcb->snd_una;
	for (i = 0; i < tcb->nr_sacked; i++) {
		struct toesim_sack b = tcb->sacked[i];

		if (before(b.end, start) || after(b.start, end)) {
			tcb->sacked[n++] = b;
			continue;
		}
		if (before(b.start, start))
			start = b.start;
		if (after(b.end, end))
			end = b.end;
	}
	if (n == TOESIM_SACK_MAX) {
		tcb->nr_sacked = n;
		return;
	}
	for (i = n; i > 0 && after(tcb->sacked[i - 1].start, start); i--)
		tcb->sacked[i] = tcb->sacked[i - 1];
	tcb->sacked[i].start = start;
	tcb->sacked[i].end = end;
	tcb->nr_sacked = n + 1;
}

/* ---- receive ------------------------------------------------------------ */

struct toesim_seg {
	u32 seq;
	u32 end_seq;	/* seq + payload length */
	u32 ack;
	u32 wnd;	/* raw window field */
	u32 tsval;
	u32 tsecr;
	bool has_ts;
	u8 nr_sack;
	struct toesim_sack sack[4];
	u8 flags;
	u32 len;	/* payload length */
	u32 hdrlen;	/* network + transport header length */
};

static bool toesim_parse_opts(const struct tcphdr *th, struct toesim_seg *seg)
{
	const u8 *p = (const u8 *)(th + 1);
	int left = th->doff * 4 - sizeof(*th);

	while (left > 0) {
		u8 kind = *p, len;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			p++;
			left--;
			continue;
		}
		if (left < 2)
			return false;
		len = p[1];
		if (len < 2 || len > left)
			return false;
		if (kind == TCPOPT_TIMESTAMP && len == TCPOLEN_TIMESTAMP) {
			seg->has_ts = true;
			seg->tsval = get_unaligned_be32(p + 2);
			seg->tsecr = get_unaligned_be32(p + 6);
		}
		if (kind == TCPOPT_SACK && len >= TCPOLEN_SACK_BASE +
		    TCPOLEN_SACK_PERBLOCK) {
			const u8 *b = p + TCPOLEN_SACK_BASE;
			int n = (len - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_PERBLOCK;

			for (seg->nr_sack = 0; seg->nr_sack < min(n, 4);
			     seg->nr_sack++, b += TCPOLEN_SACK_PERBLOCK) {
				seg->sack[seg->nr_sack].start = get_unaligned_be32(b);
				seg->sack[seg->nr_sack].end = get_unaligned_be32(b + 4);
			}
		}
		p += len;
		left -= len;
	}
	return true;
}

static void toesim_update_rtt(struct toesim_tcb *tcb, u32 rtt_us)
{
	if (!rtt_us)
		rtt_us = 1;
	if (!tcb->srtt_us) {
		tcb->srtt_us = rtt_us;
		tcb->rttvar_us = rtt_us / 2;
	} else {
		u32 err = abs((int)(tcb->srtt_us - rtt_us));

		tcb->rttvar_us = (3 * tcb->rttvar_us + err) / 4;
		tcb->srtt_us = (7 * tcb->srtt_us + rtt_us) / 8;
	}
	tcb->rto_ms = clamp_t(u32, (tcb->srtt_us + 4 * tcb->rttvar_us) / 1000,
			      TOESIM_RTO_MIN_MS, TOESIM_RTO_MAX_MS);
}

static void toesim_free_acked(struct toesim_tcb *tcb, u32 ack)
{
	struct sk_buff *skb;

	while ((skb = skb_peek(&tcb->sndq))) {
		u32 end = TCP_SKB_CB(skb)->end_seq;

		if (after(end, ack))
			break;
		__skb_unlink(skb, &tcb->sndq);
		consume_skb(skb);	/* sock_wfree: the host's buffer space */
	}
}

static void toesim_ack(struct toesim_conn *conn, const struct toesim_seg *seg)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 ack = seg->ack, acked, wnd, flight, mss = tcb->mss, sacked = 0;
	bool dupack;
	int i;

	/* The peer is there: it answered any window or keepalive probe. */
	tcb->probes_out = 0;
	tcb->ka_probes = 0;
	tcb->ka_gone = false;
	tcb->last_rcv = jiffies;
	wnd = seg->wnd << tcb->snd_wscale;
	if (tcb->sack_ok && seg->nr_sack) {
		sacked = toesim_sack_bytes(tcb);
		for (i = 0; i < seg->nr_sack; i++)
			toesim_sack_add(tcb, seg->sack[i].start,
					seg->sack[i].end);
		sacked = toesim_sack_bytes(tcb) - sacked;
	}
	/* RFC 5681's duplicate ACK, or one that SACKs more (RFC 6675): the
	 * latter also while the peer sends data of its own.
	 */
	dupack = ack == tcb->snd_una && tcb->snd_una != tcb->snd_max &&
		 ((!seg->len && wnd == tcb->snd_wnd) || sacked);

	if (after(ack, tcb->snd_una)) {
		acked = ack - tcb->snd_una;
		tcb->snd_una = ack;
		if (before(tcb->snd_nxt, ack))
			tcb->snd_nxt = ack;
		toesim_free_acked(tcb, ack);
		toesim_sack_prune(tcb);
		if (before(tcb->high_rxt, ack))
			tcb->high_rxt = ack;
		tcb->dupacks = 0;
		tcb->backoff = 0;
		tcb->stall_since = 0;

		if (seg->has_ts && tcb->ts_ok && seg->tsecr)
			toesim_update_rtt(tcb, (toesim_now_ts(tcb) - seg->tsecr) *
					  USEC_PER_MSEC);

		if (tcb->in_recovery) {
			if (!before(ack, tcb->recover)) {
				tcb->in_recovery = false;
				tcb->cwnd = tcb->ssthresh;
			} else if (!toesim_sack_recover(conn)) {
				/* NewReno partial ACK: the next hole is at
				 * the head, unless it went already.
				 */
				if (!after(tcb->high_rxt, tcb->snd_una))
					toesim_retransmit_head(conn);
				tcb->cwnd = max(tcb->cwnd - min(acked, tcb->cwnd) + mss,
						mss);
			}
		} else if (tcb->cwnd < tcb->ssthresh) {
			tcb->cwnd += min(acked, 2 * mss);
		} else {
			tcb->cwnd += max_t(u32, (u64)mss * mss / tcb->cwnd, 1);
		}
		tcb->cwnd = min_t(u32, tcb->cwnd, 64U << 20);
		tcb->rto_at = 0;
		if (tcb->snd_una != tcb->snd_max)
			toesim_arm_rto(tcb);
	} else if (dupack) {
		tcb->stats.dupacks++;
		if (tcb->dupacks < U8_MAX)
			tcb->dupacks++;
		/* Three duplicate ACKs, or three segments' worth SACKed above
		 * the hole (RFC 6675 IsLost(): one GSO frame the peer got
		 * whole is one duplicate ACK, whatever its size).
		 */
		if (!tcb->in_recovery && after(tcb->snd_una, tcb->recover) &&
		    (tcb->dupacks >= 3 ||
		     toesim_sack_bytes(tcb) >= 3U * mss)) {
			flight = tcb->snd_max - tcb->snd_una;
			tcb->ssthresh = max(flight / 2, 2 * mss);
			tcb->recover = tcb->snd_max;
			tcb->in_recovery = true;
			tcb->high_rxt = tcb->snd_una;
			tcb->stats.fast_retrans++;
			atomic64_inc(&conn->hw->fast_retrans);
			/* NewReno without SACK blocks: three segments left. */
			tcb->cwnd = tcb->ssthresh +
				    (tcb->nr_sacked ? 0 : 3 * mss);
			trace_toesim_fast_recovery(conn);
			if (!toesim_sack_recover(conn))
				toesim_retransmit_head(conn);
		} else if (tcb->in_recovery && !toesim_sack_recover(conn)) {
			/* NewReno: a segment left the network; the window
			 * inflates to let new data take its place.
			 */
			tcb->cwnd += mss;
		}
	}

	toesim_nagle_release(tcb);

	/* Window update (RFC 793 SND.WL1/WL2). */
	if (after(seg->seq, tcb->snd_wl1) ||
	    (seg->seq == tcb->snd_wl1 && !before(ack, tcb->snd_wl2))) {
		/* A shut window opens: probing is over (tcp_ack_probe()). */
		if (!tcb->snd_wnd && wnd && tcb->snd_una == tcb->snd_max) {
			tcb->backoff = 0;
			tcb->stall_since = 0;
		}
		tcb->snd_wnd = wnd;
		tcb->snd_wl1 = seg->seq;
		tcb->snd_wl2 = ack;
	}
}

/* Queue an out of order segment, by sequence, within the memory bound. */
static void toesim_ooo_queue(struct toesim_conn *conn, struct sk_buff *skb)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 seq = TCP_SKB_CB(skb)->seq, end = TCP_SKB_CB(skb)->end_seq;
	struct sk_buff *p;

	if (tcb->ooo_bytes + skb->len > toesim_rcv_mem(conn)) {
		tcb->stats.rcv_drops++;
		atomic64_inc(&conn->hw->rcv_drops);
		trace_toesim_drop(conn, TOESIM_DROP_OOO_MEM);
		kfree_skb(skb);
		return;
	}
	skb_queue_walk(&tcb->oooq, p) {
		if (!before(seq, TCP_SKB_CB(p)->seq) &&
		    !after(end, TCP_SKB_CB(p)->end_seq)) {
			kfree_skb(skb);	/* already have it */
			return;
		}
		if (before(seq, TCP_SKB_CB(p)->seq)) {
			__skb_queue_before(&tcb->oooq, p, skb);
			goto queued;
		}
	}
	__skb_queue_tail(&tcb->oooq, skb);
queued:
	tcb->ooo_bytes += skb->len;
	tcb->stats.ooo++;
		atomic64_inc(&conn->hw->ooo);
}

/* Deliver @skb (payload from @seq) to the host if it starts at rcv_nxt. */
static bool toesim_deliver(struct toesim_conn *conn, struct sk_buff *skb)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 seq = TCP_SKB_CB(skb)->seq;
	u32 len;

	if (before(seq, tcb->rcv_nxt)) {
		u32 skip = tcb->rcv_nxt - seq;

		if (skip >= skb->len) {
			kfree_skb(skb);
			return true;
		}
		if (!pskb_pull(skb, skip)) {
			kfree_skb(skb);
			return false;
		}
		seq = tcb->rcv_nxt;
	}
	len = skb->len;
	if (conn->hw->host_ops->deliver(conn->host, skb, seq)) {
		tcb->stats.rcv_drops++;
		atomic64_inc(&conn->hw->rcv_drops);
		trace_toesim_drop(conn, TOESIM_DROP_RCVBUF);
		kfree_skb(skb);
		return false;
	}
	tcb->rcv_nxt = seq + len;
	return true;
}

static void toesim_ooo_drain(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct sk_buff *skb;

	while ((skb = skb_peek(&tcb->oooq))) {
		if (after(TCP_SKB_CB(skb)->seq, tcb->rcv_nxt))
			break;
		__skb_unlink(skb, &tcb->oooq);
		tcb->ooo_bytes -= skb->len;
		if (!toesim_deliver(conn, skb))
			break;
	}
}

static void toesim_hold(struct toesim_conn *conn, struct sk_buff *skb)
{
	struct toesim_tcb *tcb = &conn->tcb;

	if (skb_queue_len(&tcb->held) >= TOESIM_HELD_MAX) {
		kfree_skb(skb);
		return;
	}
	__skb_queue_tail(&tcb->held, skb);
}

/* Answer a segment without payload that is not acceptable, as Linux TCP
 * does (tcp_oow_rate_limited()): segments with payload always get their
 * ACK, others at most one per tcp_invalid_ratelimit.
 */
static void toesim_oow_ack(struct toesim_conn *conn,
			   const struct toesim_seg *seg, enum toesim_oow kind)
{
	if (!seg->len && !conn->hw->host_ops->oow_allowed(conn->host, kind))
		return;
	toesim_send_ack(conn);
}

/* RFC 5961 7: rate limited as Linux TCP's tcp_send_challenge_ack(). */
static void toesim_challenge_ack(struct toesim_conn *conn)
{
	if (!conn->hw->host_ops->oow_allowed(conn->host, TOESIM_OOW_CHALLENGE))
		return;
	conn->tcb.stats.challenge_acks++;
	atomic64_inc(&conn->hw->challenge_acks);
	toesim_send_ack(conn);
}

/* RFC 9293 3.10.7.4, with the right edge of Linux's tcp_sequence(). */
static bool toesim_acceptable(const struct toesim_tcb *tcb,
			      const struct toesim_seg *seg, u32 wnd_edge)
{
	u32 wnd = after(tcb->rcv_adv, tcb->rcv_nxt) ?
		  tcb->rcv_adv - tcb->rcv_nxt : 0;

	if (seg->len)
		return before(seg->seq, wnd_edge) &&
		       after(seg->end_seq, tcb->rcv_nxt);
	return !before(seg->seq, tcb->rcv_nxt) &&
	       !after(seg->seq, tcb->rcv_nxt + wnd);
}

/* Process one frame of @conn; skb->data at the network header. */
static void toesim_rcv(struct toesim_conn *conn, struct sk_buff *skb)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct toesim_seg seg = {};
	const struct tcphdr *th;
	u32 wnd_edge;
	bool ack_now = false;

	th = (const struct tcphdr *)skb_transport_header(skb);
	seg.hdrlen = skb_transport_offset(skb) + th->doff * 4;
	seg.len = skb->len - seg.hdrlen;
	seg.seq = ntohl(th->seq);
	seg.end_seq = seg.seq + seg.len;
	seg.ack = ntohl(th->ack_seq);
	seg.wnd = ntohs(th->window);
	seg.flags = tcp_flag_byte(th);
	if (!toesim_parse_opts(th, &seg)) {
		kfree_skb(skb);
		return;
	}
	tcb->stats.rx_segs++;

	/* After a FIN every frame is Linux TCP's too, but the engine still
	 * needs the ACKs in them to drain what it sends; after a RST
	 * nothing matters any more.
	 */
	if (tcb->fin_seen) {
		if (!tcb->rst_seen && th->ack && !th->rst && !th->syn &&
		    !after(seg.ack, tcb->snd_max) &&
		    !before(seg.ack, tcb->snd_una)) {
			toesim_ack(conn, &seg);
			toesim_push(conn);
		}
		toesim_hold(conn, skb);
		return;
	}

	wnd_edge = tcb->rcv_nxt + max_t(u32, tcb->rcv_adv - tcb->rcv_nxt, 1);

	if (th->rst) {
		/* RFC 5961 3.2: only an exact match resets. */
		if (seg.seq == tcb->rcv_nxt) {
			tcb->fin_seen = true;
			tcb->rst_seen = true;
			toesim_hold(conn, skb);
			conn->hw->host_ops->request_remove(conn->host,
							   TOESIM_RM_RST);
		} else {
			if (!before(seg.seq, tcb->rcv_nxt) &&
			    before(seg.seq, wnd_edge))
				toesim_challenge_ack(conn);
			kfree_skb(skb);
		}
		return;
	}
	if (th->syn) {
		/* RFC 5961 4.2: a SYN on an established connection. */
		toesim_challenge_ack(conn);
		kfree_skb(skb);
		return;
	}
	if (!th->ack) {
		kfree_skb(skb);
		return;
	}

	/* PAWS (RFC 7323 5.3). */
	if (tcb->ts_ok && seg.has_ts &&
	    (s32)(seg.tsval - tcb->ts_recent) < 0) {
		tcb->stats.paws_drops++;
		atomic64_inc(&conn->hw->paws_drops);
		trace_toesim_drop(conn, TOESIM_DROP_PAWS);
		toesim_oow_ack(conn, &seg, TOESIM_OOW_PAWS);
		kfree_skb(skb);
		return;
	}

	/* Acceptability (RFC 9293 3.10.7.4), answered with an ACK when it
	 * fails. Payload must overlap the window (a shut one takes none). A
	 * segment without payload must start in it, or at its right edge
	 * as Linux's tcp_sequence() allows: the peer's keepalive and
	 * zero-window probes, at rcv_nxt - 1, do not, and get the ACK they
	 * ask for; their ACK field is not used.
	 */
	if (!toesim_acceptable(tcb, &seg, wnd_edge)) {
		tcb->stats.unacceptable++;
		atomic64_inc(&conn->hw->unacceptable);
		trace_toesim_drop(conn, TOESIM_DROP_SEQ);
		toesim_oow_ack(conn, &seg, TOESIM_OOW_SEQ);
		kfree_skb(skb);
		return;
	}

	/* An ACK of data never sent: dropped, payload and all, without an
	 * answer, as Linux TCP's tcp_ack() does (RFC 793 3.9).
	 */
	if (after(seg.ack, tcb->snd_max)) {
		kfree_skb(skb);
		return;
	}
	/* RFC 5961 5.2: an ACK far too old. */
	if (before(seg.ack, tcb->snd_una - max(tcb->snd_wnd, 65535U))) {
		toesim_challenge_ack(conn);
		kfree_skb(skb);
		return;
	}

	if (seg.has_ts && tcb->ts_ok && !after(seg.seq, tcb->rcv_nxt))
		tcb->ts_recent = seg.tsval;

	toesim_ack(conn, &seg);

	if (th->fin || th->urg) {
		/* Teardown is Linux TCP's, and so is urgent data (the mark,
		 * SIOCATMARK, MSG_OOB, SO_OOBINLINE): it gets this frame, data
		 * and all, and the ones after, once the connection is back.
		 */
		tcb->fin_seen = true;
		toesim_hold(conn, skb);
		conn->hw->host_ops->request_remove(conn->host, th->fin ?
						   TOESIM_RM_FIN :
						   TOESIM_RM_URGENT);
		toesim_push(conn);
		return;
	}

	if (!seg.len) {
		kfree_skb(skb);
		toesim_push(conn);
		return;
	}

	/* Payload only from here on. */
	if (!pskb_pull(skb, seg.hdrlen) || pskb_trim(skb, seg.len)) {
		kfree_skb(skb);
		return;
	}
	if (after(seg.end_seq, wnd_edge) && pskb_trim(skb, wnd_edge - seg.seq)) {
		kfree_skb(skb);
		return;
	}
	TCP_SKB_CB(skb)->seq = seg.seq;
	TCP_SKB_CB(skb)->end_seq = seg.seq + skb->len;

	if (after(seg.seq, tcb->rcv_nxt)) {
		toesim_ooo_queue(conn, skb);
		ack_now = true;		/* duplicate ACK with SACK */
	} else {
		bool had_ooo = !skb_queue_empty(&tcb->oooq);

		if (toesim_deliver(conn, skb)) {
			toesim_ooo_drain(conn);
			if (had_ooo)
				ack_now = true;
		} else {
			ack_now = true;	/* host full: tell the peer */
		}
		if (++tcb->segs_unacked >= 2 || (seg.flags & TCPHDR_PSH &&
						 tcb->segs_unacked > 1))
			ack_now = true;
	}

	toesim_push(conn);
	if (ack_now || tcb->segs_unacked >= 2)
		toesim_send_ack(conn);
	else if (!tcb->dack_at)
		tcb->dack_at = jiffies + msecs_to_jiffies(TOESIM_DACK_MS) ?: 1;
}

/* ---- timers and host requests ------------------------------------------- */

/* Path MTU discovery is the host's: after a timeout, take the MSS it
 * allows now. A path whose MTU dropped loses every full-size segment, so
 * the timeout is when it shows.
 */
static void toesim_path_mss(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	u32 mss = conn->hw->host_ops->path_mss(conn->host);

	if (mss >= TCP_MIN_MSS && mss < tcb->mss) {
		tcb->mss = mss;
		atomic64_inc(&conn->hw->mss_drops);
	}
}

/* The peer stopped answering: a retransmission timeout, or a window probe
 * due. The first since snd_una last moved (or the window last opened)
 * starts the stall's clock. The connection goes back to Linux TCP
 * (reason timeout), whose timers give up on a peer that is gone when
 * tcp_retries2 or TCP_USER_TIMEOUT says, counting from the start and the
 * count the engine reports:
 * - at the TOESIM_RTO_STALL_MAX-th retransmission timeout (the point
 *   where Linux TCP suspects the path, tcp_retries1), before sending
 *   again, so that Linux TCP's own timer sends that retransmission at
 *   once and enters its loss state as if it had carried the connection;
 * - once TOESIM_PROBE_STALL_MAX window probes went unanswered;
 * - with TCP_USER_TIMEOUT, when the timeout passes before the next probe
 *   (Linux TCP aborts a connection whose window stays shut that long
 *   even if the peer answers its probes).
 * Return: true if the connection is to go back, and nothing sent now.
 */
static bool toesim_stall(struct toesim_conn *conn, u8 unanswered, bool probe)
{
	const struct toesim_host_ops *ops = conn->hw->host_ops;
	struct toesim_tcb *tcb = &conn->tcb;
	u32 ut, next, most = TOESIM_BACKOFF_MAX;

	if (!tcb->stall_since)
		tcb->stall_since = jiffies ?: 1;
	ut = probe ? ops->user_timeout(conn->host) : 0;
	if (probe)
		most = min(most, ops->probe_backoff_max(conn->host));
	next = min_t(u32, tcb->rto_ms << tcb->backoff, TOESIM_RTO_MAX_MS);
	if (unanswered >= (probe ? TOESIM_PROBE_STALL_MAX :
			   TOESIM_RTO_STALL_MAX) ||
	    (ut && jiffies_to_msecs(jiffies - tcb->stall_since) + next >= ut)) {
		ops->request_remove(conn->host, TOESIM_RM_TIMEOUT);
		return !probe;
	}
	if (tcb->backoff < most)
		tcb->backoff++;
	return false;
}

static void toesim_ka_arm(struct toesim_tcb *tcb, unsigned long at)
{
	tcb->ka_at = at ?: 1;
}

/* tcp_keepalive_timer(), established: an idle connection whose peer was
 * not heard for the idle time is probed (a segment at snd_una - 1, which
 * the peer must answer) every interval; with the count of probes
 * unanswered, or TCP_USER_TIMEOUT passed since the peer was last heard
 * and a probe out, the connection goes back to Linux TCP (reason
 * timeout), whose keepalive timer then resets it at once. One with bytes
 * in flight or unsent is not idle: the timer looks again an idle time on.
 */
static void toesim_keepalive(struct toesim_conn *conn)
{
	const struct toesim_host_ops *ops = conn->hw->host_ops;
	struct toesim_tcb *tcb = &conn->tcb;
	unsigned long now = jiffies;
	struct toesim_keepalive ka;
	u32 idle, ut;

	if (!ops->keepalive(conn->host, &ka) || tcb->fin_seen || tcb->drain_at)
		return;
	if (tcb->snd_una != tcb->snd_max || tcb->snd_nxt != tcb->write_seq) {
		toesim_ka_arm(tcb, now + msecs_to_jiffies(ka.idle_ms));
		return;
	}
	idle = jiffies_to_msecs(now - tcb->last_rcv);
	if (idle < ka.idle_ms) {
		toesim_ka_arm(tcb, now + msecs_to_jiffies(ka.idle_ms - idle));
		return;
	}
	ut = ops->user_timeout(conn->host);
	if ((ut && idle >= ut && tcb->ka_probes) ||
	    (!ut && tcb->ka_probes >= ka.probes)) {
		tcb->ka_gone = true;
		ops->request_remove(conn->host, TOESIM_RM_TIMEOUT);
		return;
	}
	if (toesim_xmit(conn, tcb->snd_una - 1, 0, 0)) {
		/* Not sent: try again soon (TCP_RESOURCE_PROBE_INTERVAL). */
		toesim_ka_arm(tcb, now + msecs_to_jiffies(500));
		return;
	}
	trace_toesim_probe(conn, TOESIM_PROBE_KEEPALIVE, tcb->ka_probes);
	if (tcb->ka_probes < U8_MAX)
		tcb->ka_probes++;
	toesim_ka_arm(tcb, now + msecs_to_jiffies(ka.intvl_ms));
}

/* Keepalive turned on (@restart: the first probe an idle time from now,
 * as tcp_set_keepalive() has it), or its times changed (an idle time
 * after the peer was last heard, keepalive_time_set()).
 */
static void toesim_ka_start(struct toesim_conn *conn, bool restart)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct toesim_keepalive ka;
	unsigned long from = restart ? jiffies : tcb->last_rcv;

	conn->hw->host_ops->keepalive(conn->host, &ka);
	from += msecs_to_jiffies(ka.idle_ms);
	toesim_ka_arm(tcb, time_after(from, jiffies) ? from : jiffies);
}

static void toesim_timers(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	unsigned long now = jiffies;

	if (tcb->dack_at && !time_before(now, tcb->dack_at)) {
		tcb->dack_at = 0;
		toesim_send_ack(conn);
	}
	if (tcb->ka_at && !time_before(now, tcb->ka_at)) {
		tcb->ka_at = 0;
		toesim_keepalive(conn);
	}
	if (tcb->rto_at && !time_before(now, tcb->rto_at)) {
		tcb->rto_at = 0;
		if (tcb->snd_una != tcb->snd_max) {
			/* RTO: go back to snd_una with one segment. */
			u32 flight = tcb->snd_max - tcb->snd_una;

			tcb->stats.rto++;
			atomic64_inc(&conn->hw->rto);
			trace_toesim_rto(conn);
			toesim_path_mss(conn);
			tcb->ssthresh = max(flight / 2, 2U * tcb->mss);
			tcb->cwnd = tcb->mss;
			tcb->in_recovery = false;
			tcb->dupacks = 0;
			tcb->recover = tcb->snd_max;
			tcb->snd_nxt = tcb->snd_una;
			/* The peer may renege on what it SACKed (RFC 2018). */
			tcb->nr_sacked = 0;
			tcb->high_rxt = tcb->snd_una;
			if (toesim_stall(conn, tcb->backoff + 1, false)) {
				toesim_report_timing(conn);
				return;
			}
			toesim_push(conn);
		} else if (!tcb->snd_wnd && before(tcb->snd_una, tcb->write_seq)) {
			/* Persist: a probe the peer must answer. */
			toesim_stall(conn, tcb->probes_out, true);
			if (!toesim_xmit(conn, tcb->snd_una - 1, 0, 0))
				trace_toesim_probe(conn, TOESIM_PROBE_WINDOW,
						   tcb->probes_out);
			if (tcb->probes_out < U8_MAX)
				tcb->probes_out++;
			toesim_arm_rto(tcb);
		} else if (before(tcb->snd_nxt, tcb->write_seq) &&
			   !toesim_cork(tcb, tcb->write_seq - tcb->snd_nxt)) {
			/* Nothing in flight, a corked tail: send it. */
			tcb->force_tail = true;
			toesim_push(conn);
		} else if (before(tcb->snd_nxt, tcb->write_seq)) {
			/* Nothing in flight: a transmission failed. */
			if (tcb->backoff < TOESIM_BACKOFF_MAX)
				tcb->backoff++;
			toesim_push(conn);
		}
	}
}

static void toesim_take_host_tx(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct sk_buff *skb;

	while ((skb = skb_dequeue(&tcb->hostq))) {
		if (TCP_SKB_CB(skb)->seq != tcb->write_seq) {
			/* The host broke the stream: nothing sane to do. */
			kfree_skb(skb);
			conn->hw->host_ops->request_remove(conn->host,
							   TOESIM_RM_ERROR);
			continue;
		}
		tcb->write_seq = TCP_SKB_CB(skb)->end_seq;
		__skb_queue_tail(&tcb->sndq, skb);
	}
}

/* Take @conn off the table and return its state (engine thread). */
static void toesim_finish_remove(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	struct toesim_hw *hw = conn->hw;
	struct toe_handback *hb = conn->hb;
	struct sk_buff *skb;

	spin_lock_bh(&hw->lock);
	hlist_del_rcu(&conn->hnode);
	list_del(&conn->node);
	hw->used--;
	spin_unlock_bh(&hw->lock);
	tcb->dead = true;
	del_timer_sync(&tcb->timer);

	toesim_take_host_tx(conn);
	hb->st.snd_una = tcb->snd_una;
	hb->st.snd_nxt = tcb->snd_max;
	hb->st.write_seq = tcb->write_seq;
	hb->st.rcv_nxt = tcb->rcv_nxt;
	hb->st.snd_wnd = tcb->snd_wnd;
	hb->st.rcv_wnd = after(tcb->rcv_adv, tcb->rcv_nxt) ?
			 tcb->rcv_adv - tcb->rcv_nxt : 0;
	hb->st.ts_recent = tcb->ts_recent;
	hb->st.srtt_us = tcb->srtt_us;
	hb->st.mss = tcb->mss;
	hb->st.ip_id = tcb->ip_id;
	if (tcb->stall_since) {
		hb->stall_ms = jiffies_to_msecs(jiffies - tcb->stall_since) ?: 1;
		hb->stall_count = tcb->snd_una != tcb->snd_max ?
				  tcb->backoff : tcb->probes_out;
	} else if (tcb->ka_gone && tcb->snd_una == tcb->snd_max &&
		   tcb->snd_nxt == tcb->write_seq) {
		/* Gone on keepalive, and still idle (no write since). */
		hb->stall_ms = jiffies_to_msecs(jiffies - tcb->last_rcv) ?: 1;
		hb->stall_count = tcb->ka_probes;
	}
	hb->rcv_idle_ms = jiffies_to_msecs(jiffies - tcb->last_rcv);

	/* Unacknowledged payload, trimmed to start at snd_una. */
	while ((skb = __skb_dequeue(&tcb->sndq))) {
		u32 seq = TCP_SKB_CB(skb)->seq;

		if (before(seq, tcb->snd_una)) {
			if (!pskb_pull(skb, tcb->snd_una - seq)) {
				kfree_skb(skb);
				continue;
			}
			TCP_SKB_CB(skb)->seq = tcb->snd_una;
		}
		__skb_queue_tail(&hb->unacked, skb);
	}
	skb_queue_splice_tail_init(&tcb->held, &hb->frames);
	__skb_queue_purge(&tcb->oooq);
	tcb->ooo_bytes = 0;
	complete(&tcb->removed);
}

/* Everything sent was acknowledged. A draining connection sends nothing
 * new, so that Linux TCP takes over with nothing in flight: bytes never
 * sent go back to it unsent.
 */
static bool toesim_drained(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;

	return tcb->snd_una == tcb->snd_max;
}

static void toesim_process(struct toesim_conn *conn)
{
	struct toesim_tcb *tcb = &conn->tcb;
	unsigned long ev = xchg(&tcb->events, 0);

	if (tcb->dead)
		return;
	if (ev & BIT(TOESIM_EV_TX))
		toesim_take_host_tx(conn);
	if (ev & BIT(TOESIM_EV_KA))
		toesim_ka_start(conn, READ_ONCE(tcb->ka_restart));
	if (ev & BIT(TOESIM_EV_NAGLE))
		toesim_nagle_release(tcb);
	if (ev & BIT(TOESIM_EV_TIMER))
		toesim_timers(conn);
	if (ev & BIT(TOESIM_EV_RCVD)) {
		u32 cur = after(tcb->rcv_adv, tcb->rcv_nxt) ?
			  tcb->rcv_adv - tcb->rcv_nxt : 0;
		u32 clamp, wnd = __toesim_select_window(conn, &clamp);

		/* A window update once the window would double, from at
		 * most half the clamp (tcp_cleanup_rbuf()).
		 */
		if (2 * cur <= clamp && wnd && wnd >= 2 * cur)
			toesim_send_ack(conn);
	}
	if (ev & (BIT(TOESIM_EV_TX) | BIT(TOESIM_EV_TIMER) |
		  BIT(TOESIM_EV_NAGLE)))
		toesim_push(conn);

	if (ev & BIT(TOESIM_EV_REMOVE) && !tcb->drain_at) {
		if (conn->drain)
			tcb->drain_at = jiffies +
					msecs_to_jiffies(TOESIM_DRAIN_MS) ?: 1;
		else
			goto finish;
	}
	if (tcb->drain_at && (toesim_drained(conn) ||
			      !time_before(jiffies, tcb->drain_at)))
		goto finish;
	toesim_rearm(conn);
	return;
finish:
	toesim_finish_remove(conn);
}

/* ---- the engine thread and the receive hook ----------------------------- */

/* toesim_rcv(), timed when the instance is being profiled. */
static void toesim_rcv_one(struct toesim_hw *hw, struct toesim_conn *conn,
			   struct sk_buff *skb)
{
	u64 t0, cost = TOESIM_RX_CB(skb)->cost_ns;

	if (!READ_ONCE(hw->profile)) {
		if (toesim_nf_rcv(conn, skb))
			toesim_rcv(conn, skb);
		return;
	}
	t0 = local_clock();
	if (toesim_nf_rcv(conn, skb))
		toesim_rcv(conn, skb);
	atomic64_add(cost + local_clock() - t0, &hw->prof_ns);
	atomic64_inc(&hw->prof_frames);
}

/* fail_rx_delay_ms: a received frame is held until it is due. */
static bool toesim_rx_due(struct toesim_hw *hw, struct sk_buff *skb)
{
	u32 delay = READ_ONCE(hw->fault_rx_delay_ms);

	return !delay || !time_before(jiffies, TOESIM_RX_CB(skb)->at +
					       msecs_to_jiffies(delay));
}

static void toesim_run_rx(struct toesim_hw *hw)
{
	struct sk_buff_head q;
	struct toesim_conn *conn;
	struct sk_buff *skb;

	__skb_queue_head_init(&q);
	spin_lock_bh(&hw->rxq.lock);
	if (!READ_ONCE(hw->fault_rx_delay_ms)) {
		skb_queue_splice_init(&hw->rxq, &q);
	} else {
		while ((skb = skb_peek(&hw->rxq)) && toesim_rx_due(hw, skb)) {
			__skb_unlink(skb, &hw->rxq);
			__skb_queue_tail(&q, skb);
		}
	}
	spin_unlock_bh(&hw->rxq.lock);

	while ((skb = __skb_dequeue(&q))) {
		conn = TOESIM_RX_CB(skb)->conn;
		if (conn->tcb.dead) {
			/* Handed back meanwhile: the frame is Linux's. */
			atomic64_inc(&hw->rx_reinjected);
			netif_rx(skb);
		} else {
			toesim_rcv_one(hw, conn, skb);
			/* An ACK may complete a drain: finish it now, not at
			 * the drain deadline.
			 */
			if (conn->tcb.drain_at && toesim_drained(conn))
				toesim_finish_remove(conn);
			else
				toesim_rearm(conn);
		}
		toesim_conn_put(conn);
		cond_resched();
	}
}

static void toesim_run_work(struct toesim_hw *hw)
{
	struct toesim_conn *conn;

	for (;;) {
		spin_lock_irq(&hw->work_lock);
		conn = list_first_entry_or_null(&hw->work, struct toesim_conn,
						tcb.work_node);
		if (conn) {
			list_del(&conn->tcb.work_node);
			conn->tcb.on_work = false;
		}
		spin_unlock_irq(&hw->work_lock);
		if (!conn)
			break;
		toesim_process(conn);
		toesim_conn_put(conn);
		cond_resched();
	}
}

/* Jiffies until the first held frame is due (fail_rx_delay_ms), or
 * MAX_SCHEDULE_TIMEOUT when nothing is held.
 */
static long toesim_rx_wait(struct toesim_hw *hw)
{
	u32 delay = READ_ONCE(hw->fault_rx_delay_ms);
	unsigned long due = 0;
	struct sk_buff *skb;
	bool held;

	if (!delay)
		return MAX_SCHEDULE_TIMEOUT;
	spin_lock_bh(&hw->rxq.lock);
	skb = skb_peek(&hw->rxq);
	held = skb && !toesim_rx_due(hw, skb);
	if (held)
		due = TOESIM_RX_CB(skb)->at + msecs_to_jiffies(delay);
	spin_unlock_bh(&hw->rxq.lock);
	return held ? max_t(long, due - jiffies, 1) : MAX_SCHEDULE_TIMEOUT;
}

static bool toesim_has_work(struct toesim_hw *hw)
{
	struct sk_buff *skb;
	bool rx;

	if (!READ_ONCE(hw->fault_rx_delay_ms)) {
		rx = !skb_queue_empty_lockless(&hw->rxq);
	} else {
		spin_lock_bh(&hw->rxq.lock);
		skb = skb_peek(&hw->rxq);
		rx = skb && toesim_rx_due(hw, skb);
		spin_unlock_bh(&hw->rxq.lock);
	}
	return rx || !list_empty_careful(&hw->work) || kthread_should_stop();
}

/* Wake the engine thread: work to do, a stall asked for, or, with nothing
 * held (@timeo infinite), a frame that came in and is held: work out when
 * it is due.
 */
static bool toesim_wake(struct toesim_hw *hw, long timeo)
{
	return toesim_has_work(hw) || READ_ONCE(hw->fault_stall_ms) ||
	       (timeo == MAX_SCHEDULE_TIMEOUT &&
		!skb_queue_empty_lockless(&hw->rxq));
}

static int toesim_thread(void *data)
{
	struct toesim_hw *hw = data;

	while (!kthread_should_stop()) {
		long timeo = toesim_rx_wait(hw);
		u32 stall;

		wait_event_interruptible_timeout(hw->wait,
						 toesim_wake(hw, timeo), timeo);
		stall = xchg(&hw->fault_stall_ms, 0);
		if (stall)
			msleep(stall);
		toesim_run_rx(hw);
		toesim_run_work(hw);
	}
	return 0;
}

/* Classify a frame; on a hit take a reference on the connection. */
static struct toesim_conn *toesim_classify(struct toesim_hw *hw,
					   struct sk_buff *skb)
{
	struct toesim_tuple t;
	struct toesim_conn *conn;
	const struct tcphdr *th;
	int thoff;

	memset(&t, 0, sizeof(t));
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph;

		if (!pskb_may_pull(skb, sizeof(*iph)))
			return NULL;
		iph = ip_hdr(skb);
		if (iph->protocol != IPPROTO_TCP || iph->ihl < 5 ||
		    ip_is_fragment(iph))
			return NULL;
		thoff = iph->ihl * 4;
		t.family = AF_INET;
		t.saddr.s6_addr32[3] = iph->daddr;
		t.daddr.s6_addr32[3] = iph->saddr;
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6;

		if (!pskb_may_pull(skb, sizeof(*ip6)))
			return NULL;
		ip6 = ipv6_hdr(skb);
		if (ip6->nexthdr != IPPROTO_TCP)
			return NULL;
		thoff = sizeof(*ip6);
		t.family = AF_INET6;
		t.saddr = ip6->daddr;
		t.daddr = ip6->saddr;
	} else {
		return NULL;
	}
	if (!pskb_may_pull(skb, thoff + sizeof(*th)))
		return NULL;
	th = (const struct tcphdr *)(skb->data + thoff);
	t.sport = th->dest;
	t.dport = th->source;

	hlist_for_each_entry_rcu(conn, toesim_hw_bucket(hw, &t), hnode) {
		if (!memcmp(&conn->tuple, &t, sizeof(t)))
			return refcount_inc_not_zero(&conn->refcnt) ? conn :
								      NULL;
	}
	return NULL;
}

/* Validate the frame of a connection: headers, lengths, checksum. */
static bool toesim_check_frame(struct sk_buff *skb)
{
	const struct tcphdr *th;
	int thoff, len;

	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph = ip_hdr(skb);

		len = ntohs(iph->tot_len);
		thoff = iph->ihl * 4;
		if (len > skb->len || len < thoff + (int)sizeof(*th) ||
		    ip_fast_csum((u8 *)iph, iph->ihl))
			return false;
	} else {
		len = sizeof(struct ipv6hdr) + ntohs(ipv6_hdr(skb)->payload_len);
		thoff = sizeof(struct ipv6hdr);
		if (len > skb->len || len < thoff + (int)sizeof(*th))
			return false;
	}
	if (pskb_trim_rcsum(skb, len))
		return false;
	skb_set_transport_header(skb, thoff);
	th = tcp_hdr(skb);
	if (th->doff < 5 || !pskb_may_pull(skb, thoff + th->doff * 4))
		return false;
	th = tcp_hdr(skb);
	if (th->doff * 4 > len - thoff)
		return false;

	if (skb->ip_summed == CHECKSUM_UNNECESSARY ||
	    skb->ip_summed == CHECKSUM_PARTIAL)
		return true;
	if (skb->protocol == htons(ETH_P_IP))
		return !csum_tcpudp_magic(ip_hdr(skb)->saddr, ip_hdr(skb)->daddr,
					  len - thoff, IPPROTO_TCP,
					  skb_checksum(skb, thoff, len - thoff, 0));
	return !csum_ipv6_magic(&ipv6_hdr(skb)->saddr, &ipv6_hdr(skb)->daddr,
				len - thoff, IPPROTO_TCP,
				skb_checksum(skb, thoff, len - thoff, 0));
}

static rx_handler_result_t toesim_rx_handler(struct sk_buff **pskb)
{
	struct sk_buff *skb = *pskb;
	struct toesim_hw *hw = rcu_dereference(skb->dev->rx_handler_data);
	struct toesim_conn *conn;
	u64 t0 = 0;
	int why;

	if (skb->pkt_type == PACKET_OTHERHOST || skb->pkt_type == PACKET_LOOPBACK)
		return RX_HANDLER_PASS;
	if (READ_ONCE(hw->profile))
		t0 = local_clock();
	conn = toesim_classify(hw, skb);
	if (!conn)
		return RX_HANDLER_PASS;

	skb = skb_share_check(skb, GFP_ATOMIC);
	if (!skb)
		why = TOESIM_DROP_NOMEM;
	else if (!toesim_check_frame(skb))
		why = TOESIM_DROP_FRAME;
	else if (skb_queue_len(&hw->rxq) >= TOESIM_RXQ_MAX)
		why = TOESIM_DROP_QUEUE;
	else if (atomic_add_unless(&hw->fault_drop, -1, 0))
		why = TOESIM_DROP_FAULT;
	else
		why = -1;
	if (why >= 0) {
		atomic64_inc(&hw->rx_drops);
		trace_toesim_drop(conn, why);
		kfree_skb(skb);
		toesim_conn_put(conn);
		return RX_HANDLER_CONSUMED;
	}
	/* As ip_rcv() does: the sender's socket (veth) lets go here. */
	skb_orphan(skb);
	TOESIM_RX_CB(skb)->conn = conn;
	TOESIM_RX_CB(skb)->cost_ns = t0 ? local_clock() - t0 : 0;
	TOESIM_RX_CB(skb)->at = jiffies;
	atomic64_inc(&hw->rx_frames);
	skb_queue_tail(&hw->rxq, skb);
	wake_up(&hw->wait);
	return RX_HANDLER_CONSUMED;
}

/**
 * toesim_engine_start() - attach the engine to its port and start it
 * @hw: the instance
 * @port: the Ethernet device the engine sends and receives on
 *
 * Context: process; RTNL held; may sleep.
 * Return: 0 or a negative errno (-EBUSY if the port has an rx_handler).
 */
int toesim_engine_start(struct toesim_hw *hw, struct net_device *port)
{
	int err;

	ASSERT_RTNL();
	hw->port = port;
	hw->thread = kthread_create(toesim_thread, hw, "toesim/%s",
				    port->name);
	if (IS_ERR(hw->thread)) {
		err = PTR_ERR(hw->thread);
		hw->thread = NULL;
		return err;
	}
	if (hw->cpu >= 0 && cpu_online(hw->cpu))
		kthread_bind(hw->thread, hw->cpu);
	err = netdev_rx_handler_register(port, toesim_rx_handler, hw);
	if (err) {
		kthread_stop(hw->thread);
		hw->thread = NULL;
		return err;
	}
	wake_up_process(hw->thread);
	return 0;
}

/**
 * toesim_engine_set_cpu() - bind the engine thread to a CPU
 * @hw: the instance
 * @cpu: an online CPU, or -1 for any
 *
 * Takes effect at once if the engine runs, and at every later start.
 *
 * Context: process; may sleep; takes RTNL.
 * Return: 0, or -EINVAL for a CPU that is neither -1 nor online.
 */
int toesim_engine_set_cpu(struct toesim_hw *hw, int cpu)
{
	int err = 0;

	if (cpu < -1 || cpu >= (int)nr_cpu_ids)
		return -EINVAL;
	rtnl_lock();
	if (cpu >= 0 && !cpu_online(cpu)) {
		err = -EINVAL;
	} else {
		WRITE_ONCE(hw->cpu, cpu);
		if (hw->thread)
			err = set_cpus_allowed_ptr(hw->thread, cpu >= 0 ?
						   cpumask_of(cpu) :
						   cpu_possible_mask);
	}
	rtnl_unlock();
	return err;
}

/**
 * toesim_engine_stop() - detach the engine from its port and stop it
 * @hw: the instance, its table empty
 *
 * Context: process; RTNL held; may sleep.
 */
void toesim_engine_stop(struct toesim_hw *hw)
{
	struct sk_buff *skb;

	ASSERT_RTNL();
	if (!hw->thread)
		return;
	netdev_rx_handler_unregister(hw->port);
	synchronize_net();
	kthread_stop(hw->thread);
	hw->thread = NULL;
	while ((skb = skb_dequeue(&hw->rxq))) {
		toesim_conn_put(TOESIM_RX_CB(skb)->conn);
		netif_rx(skb);
	}
}

/**
 * toesim_hw_conn_add() - install a connection in the table
 * @hw: the instance, started
 * @p: the connection
 *
 * From now on the engine takes the connection's frames off the receive
 * path. The host's @p->host stays referenced until the connection is
 * removed.
 *
 * Context: process; may sleep.
 * Return: the connection, or ERR_PTR(-ENOSPC) when the table is full,
 * ERR_PTR(-ENETDOWN) when the engine is stopped, ERR_PTR(-ENOMEM).
 */
struct toesim_conn *toesim_hw_conn_add(struct toesim_hw *hw,
				       const struct toesim_conn_params *p)
{
	const struct toe_tcp_state *st = &p->st;
	struct toesim_conn *conn;
	struct toesim_tcb *tcb;
	int err;

	conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	if (!conn)
		return ERR_PTR(-ENOMEM);
	conn->tuple = p->tuple;
	conn->hw = hw;
	conn->host = p->host;
	conn->l2 = toesim_l2_get(hw, p->tuple.family, &p->nexthop, p->dmac);
	if (!conn->l2) {
		kfree(conn);
		return ERR_PTR(-ENOMEM);
	}
	refcount_set(&conn->refcnt, 1);

	tcb = &conn->tcb;
	skb_queue_head_init(&tcb->hostq);
	__skb_queue_head_init(&tcb->sndq);
	__skb_queue_head_init(&tcb->oooq);
	__skb_queue_head_init(&tcb->held);
	timer_setup(&tcb->timer, toesim_timer_fn, 0);
	init_completion(&tcb->removed);
	INIT_LIST_HEAD(&tcb->work_node);
	tcb->snd_una = st->snd_una;
	tcb->snd_nxt = st->snd_nxt;
	tcb->snd_max = st->snd_nxt;
	tcb->write_seq = st->write_seq;
	tcb->push_req = p->push_seq;
	tcb->push_seen = p->push_seq;
	tcb->cork_seq = p->push_seq;
	tcb->nagle = p->nagle;
	tcb->snd_sml = st->snd_una;
	tcb->last_rcv = jiffies - p->rcv_idle;
	tcb->snd_wnd = st->snd_wnd;
	tcb->snd_wl1 = st->rcv_nxt;
	tcb->snd_wl2 = st->snd_una;
	tcb->recover = st->snd_una;
	tcb->high_rxt = st->snd_una;
	tcb->rcv_nxt = st->rcv_nxt;
	tcb->rcv_adv = st->rcv_nxt + st->rcv_wnd;
	tcb->snd_wscale = st->snd_wscale;
	tcb->rcv_wscale = st->rcv_wscale;
	tcb->mss = st->mss ?: 536;
	tcb->ts_ok = st->ts_ok;
	tcb->sack_ok = st->sack_ok;
	tcb->ts_recent = st->ts_recent;
	tcb->tsoffset = st->tsoffset;
	tcb->tos = st->tos;
	tcb->ttl = st->ttl;
	tcb->mark = st->mark;
	tcb->priority = st->priority;
	tcb->flowlabel = st->flowlabel;
	tcb->ip_id = st->ip_id;
	tcb->df = st->df;
	tcb->cwnd = 10 * tcb->mss;
	tcb->ssthresh = U32_MAX;
	tcb->rto_ms = TOESIM_RTO_INIT_MS;
	if (st->srtt_us)
		toesim_update_rtt(tcb, st->srtt_us);

	err = -ENETDOWN;
	spin_lock_bh(&hw->lock);
	if (!hw->running || !hw->thread)
		goto err_unlock;
	err = -EIO;
	if (atomic_add_unless(&hw->fault_connect, -1, 0))
		goto err_unlock;
	err = -ENOSPC;
	if (hw->used >= hw->size) {
		atomic64_inc(&hw->table_full);
		goto err_unlock;
	}
	hw->used++;
	/* Bytes Linux TCP had in flight are ours to retransmit: the RTO
	 * runs from now, and the window they took stays open.
	 */
	skb_queue_splice_init(p->unacked, &tcb->sndq);
	if (tcb->snd_una != tcb->snd_nxt) {
		tcb->cwnd = max(tcb->cwnd, tcb->snd_nxt - tcb->snd_una);
		toesim_arm_rto(tcb);
	}
	list_add_tail(&conn->node, &hw->conns);
	hlist_add_head_rcu(&conn->hnode, toesim_hw_bucket(hw, &conn->tuple));
	spin_unlock_bh(&hw->lock);
	if (!skb_queue_empty(&tcb->sndq))
		toesim_conn_kick(conn, TOESIM_EV_TX);
	if (p->keepalive)
		toesim_conn_kick(conn, TOESIM_EV_KA);
	return conn;

err_unlock:
	spin_unlock_bh(&hw->lock);
	toesim_l2_put(hw, conn->l2);
	kfree(conn);
	return ERR_PTR(err);
}

/**
 * toesim_hw_conn_post() - post payload for transmission
 * @conn: the connection
 * @skb: payload, TCP_SKB_CB(skb)->seq and ->end_seq set; the engine owns it
 *
 * Context: any.
 */
void toesim_hw_conn_post(struct toesim_conn *conn, struct sk_buff *skb)
{
	skb_queue_tail(&conn->tcb.hostq, skb);
	toesim_conn_kick(conn, TOESIM_EV_TX);
}

/**
 * toesim_hw_conn_push() - payload posted so far may go in partial segments
 * @conn: the connection
 * @seq: the end of what may: the host's write sequence
 *
 * Context: any; calls for one connection serialized by the host.
 */
void toesim_hw_conn_push(struct toesim_conn *conn, u32 seq)
{
	WRITE_ONCE(conn->tcb.push_req, seq);
	toesim_conn_kick(conn, TOESIM_EV_TX);
}

/**
 * toesim_hw_conn_nagle() - the socket's TCP_CORK or TCP_NODELAY changed
 * @conn: the connection
 * @nagle: TOESIM_NAGLE_* now
 *
 * Context: any.
 */
void toesim_hw_conn_nagle(struct toesim_conn *conn, u8 nagle)
{
	WRITE_ONCE(conn->tcb.nagle, nagle);
	toesim_conn_kick(conn, TOESIM_EV_NAGLE);
}

/**
 * toesim_hw_conn_keepalive() - keepalive turned on, or its times changed
 * @conn: the connection
 * @restart: turned on: the first probe is due an idle time from now;
 *	else an idle time after the peer was last heard
 *
 * Context: any.
 */
void toesim_hw_conn_keepalive(struct toesim_conn *conn, bool restart)
{
	WRITE_ONCE(conn->tcb.ka_restart, restart);
	toesim_conn_kick(conn, TOESIM_EV_KA);
}

/**
 * toesim_hw_conn_rcvd() - the host consumed received data
 * @conn: the connection
 *
 * Context: any.
 */
void toesim_hw_conn_rcvd(struct toesim_conn *conn)
{
	toesim_conn_kick(conn, TOESIM_EV_RCVD);
}

/**
 * toesim_hw_conn_remove() - take a connection out of the engine
 * @conn: the connection
 * @drain: first stop sending new data and wait (up to 3 s) for the peer's
 *	acknowledgment of what it sent
 * @hb: filled with the connection's state, unacknowledged payload and the
 *	frames the engine kept for Linux TCP
 *
 * @conn is freed when this returns.
 *
 * Context: process; may sleep.
 */
void toesim_hw_conn_remove(struct toesim_conn *conn, bool drain,
			   struct toe_handback *hb)
{
	conn->hb = hb;
	conn->drain = drain;
	toesim_conn_kick(conn, TOESIM_EV_REMOVE);
	wait_for_completion(&conn->tcb.removed);
	toesim_conn_put(conn);
}

/**
 * toesim_hw_remove_all() - ask the host to take every connection back
 * @hw: the instance
 * @why: TOESIM_RM_ADMIN, or TOESIM_RM_ERROR for a device error
 *
 * Context: any.
 */
void toesim_hw_remove_all(struct toesim_hw *hw, enum toesim_remove_reason why)
{
	struct toesim_conn *conn;

	spin_lock_bh(&hw->lock);
	list_for_each_entry(conn, &hw->conns, node)
		hw->host_ops->request_remove(conn->host, why);
	spin_unlock_bh(&hw->lock);
}

/**
 * toesim_hw_remove_port() - ask the host to take connections of a port back
 * @hw: the instance
 * @port: a TCP port, host order; connections with it at either end
 *
 * Context: any.
 * Return: how many connections were asked for.
 */
int toesim_hw_remove_port(struct toesim_hw *hw, u16 port)
{
	struct toesim_conn *conn;
	int n = 0;

	spin_lock_bh(&hw->lock);
	list_for_each_entry(conn, &hw->conns, node) {
		if (ntohs(conn->tuple.sport) != port &&
		    ntohs(conn->tuple.dport) != port)
			continue;
		hw->host_ops->request_remove(conn->host, TOESIM_RM_ADMIN);
		n++;
	}
	spin_unlock_bh(&hw->lock);
	return n;
}

/**
 * toesim_hw_neigh_update() - a neighbour's link address changed
 * @hw: the instance
 * @family: AF_INET or AF_INET6
 * @addr: the neighbour's address (4 or 16 bytes)
 * @ha: its new link address
 *
 * One lookup in the L2 table, whatever the number of connections.
 *
 * Context: any.
 */
void toesim_hw_neigh_update(struct toesim_hw *hw, int family, const void *addr,
			    const u8 *ha)
{
	struct in6_addr a = {};
	struct toesim_l2 *l2;

	if (family == AF_INET)
		a.s6_addr32[3] = *(const __be32 *)addr;
	else
		a = *(const struct in6_addr *)addr;

	spin_lock_bh(&hw->l2_lock);
	l2 = toesim_l2_find(hw, family, &a);
	if (l2) {
		spin_lock(&l2->lock);
		memcpy(l2->dmac, ha, ETH_ALEN);
		spin_unlock(&l2->lock);
		atomic64_inc(&hw->neigh_updates);
	}
	spin_unlock_bh(&hw->l2_lock);
}
