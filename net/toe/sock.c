// SPDX-License-Identifier: GPL-2.0
/*
 * The offloaded TCP socket: sk_prot swap, handover and handback.
 *
 * An established socket is handed to an engine by swapping its sk_prot
 * (and its socket's proto_ops) for copies built at run time from the
 * socket's own, as net/tls does: tcp_set_ulp() and inet6_stream_ops are
 * not exported on 6.1. The engine owns the data path; the core keeps the
 * tcp_sock's sequence fields a faithful mirror of the engine's view, so
 * the receive side (recvmsg, MSG_PEEK, splice, read_sock, poll, SIOCINQ)
 * is Linux TCP's own code reading an ordinary receive queue.
 *
 *   send:    sendmsg -> payload skbs charged to sk_wmem_alloc -> ->send()
 *   receive: engine -> toe_sk_rcv() -> sk_receive_queue (or the backlog
 *            while the user owns the socket) -> tcp_recvmsg()
 *   handback: ->handback() -> state written into the tcp_sock, unsent
 *            and unacknowledged bytes requeued, protos restored
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/delay.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/inet_connection_sock.h>
#include <net/inet_ecn.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/toe.h>
#include <net/transp_v6.h>

#include "toe_internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/toe.h>

/* Marks payload skbs from an engine in TCP_SKB_CB(skb)->tcp_tw_isn, which
 * Linux TCP's input path sets to 0 for the segments it queues.
 */
#define TOE_SKB_MAGIC	0x544f4521

#define TOE_DEFERRED_ALL (TCPF_TSQ_DEFERRED | TCPF_WRITE_TIMER_DEFERRED | \
			  TCPF_DELACK_TIMER_DEFERRED | TCPF_MTU_REDUCED_DEFERRED)

enum {
	TOE_FAM_V4,
	TOE_FAM_V6,
	TOE_FAM_MAX,
};

/* Offload protos, built from the first base proto seen per family. A
 * socket whose base differs (another layer swapped it) is not offloaded.
 * Written under toe_prot_mutex before first use, read-only afterwards.
 */
static DEFINE_MUTEX(toe_prot_mutex);
static const struct proto *toe_base_prot[TOE_FAM_MAX];
static const struct proto_ops *toe_base_ops[TOE_FAM_MAX];
static struct proto toe_prots[TOE_FAM_MAX];
static struct proto_ops toe_proto_ops[TOE_FAM_MAX];

struct workqueue_struct *toe_wq;

static const char * const toe_hb_names[TOE_HB_MAX] = {
	[TOE_HB_FIN]		= "fin",
	[TOE_HB_RST]		= "rst",
	[TOE_HB_ERROR]		= "error",
	[TOE_HB_LOW_RATE]	= "low_rate",
	[TOE_HB_DEV_DOWN]	= "dev_down",
	[TOE_HB_UNREGISTER]	= "unregister",
	[TOE_HB_TABLE]		= "table",
	[TOE_HB_ADMIN]		= "admin",
	[TOE_HB_URGENT]		= "urgent",
	[TOE_HB_SOCKOPT]	= "sockopt",
	[TOE_HB_NETFILTER]	= "netfilter",
	[TOE_HB_TIMEOUT]	= "timeout",
	[TOE_HB_ROUTE]		= "route",
	[TOE_HB_FEATURE]	= "feature",
};

const char *toe_hb_name(enum toe_handback_reason reason)
{
	return reason < TOE_HB_MAX ? toe_hb_names[reason] : "?";
}

static int toe_fam(const struct sock *sk)
{
	return sk->sk_family == AF_INET6 ? TOE_FAM_V6 : TOE_FAM_V4;
}

/* The socket's toe_sock; the socket lock keeps it attached. It is
 * detached when the socket is destroyed, and freed once the work items
 * that hold a reference on it are done (toe_sock_queue()).
 */
static struct toe_sock *toe_sk(const struct sock *sk)
{
	return rcu_dereference_protected(inet_csk(sk)->icsk_ulp_data, true);
}

static void toe_sock_put(struct toe_sock *ts)
{
	if (refcount_dec_and_test(&ts->refcnt))
		kfree_rcu(ts, rcu);
}

/* Queue @work of @ts with a reference on it and on its socket: the socket
 * may be destroyed, and its ULP state released, before the work runs (a
 * close with unread data resets and destroys it at once).
 */
static void toe_sock_queue(struct toe_sock *ts, struct work_struct *work)
{
	/* Zero: toe_ulp_release() ran, nothing is left to do. */
	if (!refcount_inc_not_zero(&ts->refcnt))
		return;
	sock_hold(ts->sk);
	if (!queue_work(toe_wq, work)) {
		sock_put(ts->sk);
		/* The pending run may have dropped its reference already. */
		toe_sock_put(ts);
	}
}

/* Is @ts still the socket's, that is, was the socket not destroyed? */
static bool toe_sock_live(struct sock *sk, struct toe_sock *ts)
{
	sock_owned_by_me(sk);
	return toe_sk(sk) == ts;
}

/**
 * toe_sk_offloaded() - is the socket's data path on an engine now
 * @sk: a TCP socket
 *
 * Context: any; a hint unless the socket lock is held.
 * Return: true while the socket is offloaded.
 */
bool toe_sk_offloaded(const struct sock *sk)
{
	const struct proto *prot = READ_ONCE(sk->sk_prot);

	return prot == &toe_prots[TOE_FAM_V4] || prot == &toe_prots[TOE_FAM_V6];
}
EXPORT_SYMBOL_NS_GPL(toe_sk_offloaded, TOE);

/**
 * toe_sk_set_drv() - store the engine's per-connection pointer
 * @sk: an offloaded socket, from &toedev_ops.connect
 * @drv: the pointer
 *
 * Context: in &toedev_ops.connect, socket locked.
 */
void toe_sk_set_drv(struct sock *sk, void *drv)
{
	WRITE_ONCE(toe_sk(sk)->drv, drv);
}
EXPORT_SYMBOL_NS_GPL(toe_sk_set_drv, TOE);

/**
 * toe_sk_drv() - the engine's per-connection pointer
 * @sk: a socket passed to a &toedev_ops op
 *
 * Return: what toe_sk_set_drv() stored.
 */
void *toe_sk_drv(const struct sock *sk)
{
	return READ_ONCE(toe_sk(sk)->drv);
}
EXPORT_SYMBOL_NS_GPL(toe_sk_drv, TOE);

/* Append @skb's bytes to the engine payload at the tail of the receive
 * queue, as tcp_try_coalesce() does: a small segment then costs its bytes,
 * not a whole skb. @skb is freed on success.
 */
static bool toe_rcv_coalesce(struct sock *sk, struct sk_buff *skb)
{
	struct sk_buff *tail = skb_peek_tail(&sk->sk_receive_queue);
	bool fragstolen;
	int delta;

	if (!tail || TCP_SKB_CB(tail)->tcp_tw_isn != TOE_SKB_MAGIC ||
	    TCP_SKB_CB(tail)->end_seq != TCP_SKB_CB(skb)->seq ||
	    !skb_try_coalesce(tail, skb, &fragstolen, &delta))
		return false;
	atomic_add(delta, &sk->sk_rmem_alloc);
	sk_mem_charge(sk, delta);
	NET_INC_STATS(sock_net(sk), LINUX_MIB_TCPRCVCOALESCE);
	TCP_SKB_CB(tail)->end_seq = TCP_SKB_CB(skb)->end_seq;
	kfree_skb_partial(skb, fragstolen);
	return true;
}

/* Queue engine payload on the receive queue. Receive memory is bounded as
 * Linux TCP bounds it (tcp_data_queue()): by sk_rcvbuf in truesize, one
 * skb over at most, and by tcp_mem. What does not fit is refused, and
 * the engine keeps it or lets the peer send it again, unless @force:
 * payload from the backlog, which the engine already acknowledged, and
 * which sk_add_backlog() bounded.
 * Socket owned by us, or bh-locked and not owned by the user.
 */
static int __toe_queue_rcv(struct sock *sk, struct sk_buff *skb, bool force)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct toe_sock *ts = toe_sk(sk);
	struct tcp_sock *tp = tcp_sk(sk);
	u32 seq = TCP_SKB_CB(skb)->seq;
	unsigned int len, bytes;

	if (seq != tp->rcv_nxt)
		return -EINVAL;
	/* Scheduled first: payload taken by force is charged too. */
	if (!sk_rmem_schedule(sk, skb, skb->truesize) ||
	    atomic_read(&sk->sk_rmem_alloc) > READ_ONCE(sk->sk_rcvbuf)) {
		if (!force) {
			NET_INC_STATS(sock_net(sk), LINUX_MIB_TCPRCVQDROP);
			return -ENOBUFS;
		}
		atomic64_inc(&ts->rcv_forced);
	}
	/* The peer's MSS as tcp_measure_rcv_mss() estimates it, for
	 * TCP_INFO and for Linux TCP's ACKs after a handback.
	 */
	len = skb_shinfo(skb)->gso_size ?: skb->len;
	if (len > icsk->icsk_ack.rcv_mss)
		WRITE_ONCE(icsk->icsk_ack.rcv_mss,
			   min_t(unsigned int, len, tp->advmss));
	bytes = skb->len;
	WRITE_ONCE(tp->rcv_nxt, TCP_SKB_CB(skb)->end_seq);
	if (!toe_rcv_coalesce(sk, skb)) {
		skb_set_owner_r(skb, sk);
		__skb_queue_tail(&sk->sk_receive_queue, skb);
	}
	tp->rcv_wup = tp->rcv_nxt;
	tp->bytes_received += bytes;
	atomic64_add(bytes, &ts->rx_bytes);
	/* A writer asleep in Linux TCP's sendmsg wakes on this queue too
	 * (see toe_write_space()).
	 */
	if (READ_ONCE(sk->sk_write_pending))
		WRITE_ONCE(tp->lsndtime, tcp_jiffies32);
	/* As tcp_data_ready(), which is not exported: a reader sleeping for
	 * SO_RCVLOWAT bytes is woken once they are there, not before.
	 */
	if (tcp_epollin_ready(sk, READ_ONCE(sk->sk_rcvlowat)))
		sk->sk_data_ready(sk);
	return 0;
}

/* Segments that reach Linux TCP while a connection is offloaded are ones
 * the engine never saw (decapsulated from ESP, or in through another
 * interface), and Linux TCP must not act on them: the connection's state
 * is the engine's. While the socket is owned they land in the backlog,
 * which toe_backlog_rcv() drops; otherwise tcp_v4_rcv() and tcp_v6_rcv()
 * run the socket's filter first (tcp_filter()), so an offloaded socket
 * without a filter of its own gets this one, which drops everything. A
 * filter the application attaches while offloaded replaces it (and the
 * segments it passes reach Linux TCP). Charged to sk_omem_alloc as
 * sk_filter_charge() would; the module holds one reference, so that the
 * sockets' releases never free it, and a socket lets go of it before the
 * module can go (toe_ulp_release()).
 */
static struct sk_filter *toe_stray_filter;

static int toe_stray_filter_init(void)
{
	struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog_kern fprog = { .len = 1, .filter = &insn };
	struct sk_filter *fp;
	int err;

	fp = kzalloc(sizeof(*fp), GFP_KERNEL);
	if (!fp)
		return -ENOMEM;
	err = bpf_prog_create(&fp->prog, &fprog);
	if (err) {
		kfree(fp);
		return err;
	}
	refcount_set(&fp->refcnt, 1);
	toe_stray_filter = fp;
	return 0;
}

static void toe_stray_filter_exit(void)
{
	/* No socket has it (the last ULP user is gone); readers neither. */
	synchronize_net();
	WARN_ON(refcount_read(&toe_stray_filter->refcnt) != 1);
	bpf_prog_destroy(toe_stray_filter->prog);
	kfree(toe_stray_filter);
}

/* Socket locked. */
static void toe_stray_filter_attach(struct sock *sk)
{
	struct sk_filter *fp = toe_stray_filter;

	if (rcu_access_pointer(sk->sk_filter))
		return;
	refcount_inc(&fp->refcnt);
	atomic_add(bpf_prog_size(fp->prog->len), &sk->sk_omem_alloc);
	rcu_assign_pointer(sk->sk_filter, fp);
}

/* Socket locked, or being destroyed. */
static void toe_stray_filter_detach(struct sock *sk)
{
	struct sk_filter *fp = toe_stray_filter;

	if (rcu_access_pointer(sk->sk_filter) != fp)
		return;
	RCU_INIT_POINTER(sk->sk_filter, NULL);
	atomic_sub(bpf_prog_size(fp->prog->len), &sk->sk_omem_alloc);
	/* Not the last reference: the module's stays. */
	refcount_dec(&fp->refcnt);
}

/* sk->sk_backlog_rcv while offloaded or being handed over: engine payload
 * is queued; segments Linux TCP took off the wire are dropped, since the
 * engine owns the connection (the peer retransmits what they carried).
 */
static int toe_backlog_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct toe_sock *ts = toe_sk(sk);

	if (TCP_SKB_CB(skb)->tcp_tw_isn == TOE_SKB_MAGIC &&
	    toe_sk_offloaded(sk) && !__toe_queue_rcv(sk, skb, true))
		return 0;
	atomic64_inc(&ts->stray_drops);
	kfree_skb(skb);
	return 0;
}

/**
 * toe_sk_rcv() - deliver in-order payload from the engine to the socket
 * @sk: an offloaded socket
 * @skb: payload only (skb->data at the first byte); consumed on success
 * @seq: sequence number of the first byte; must be the socket's rcv_nxt
 *
 * The engine acknowledges the bytes to the peer only after this returned
 * 0; on error it keeps or drops @skb and the peer retransmits.
 *
 * Context: any; takes the socket's spinlock with BH disabled.
 * Return: 0; -EINVAL for a socket not offloaded or out of order data;
 * -ENOBUFS when the receive buffer is full.
 */
int toe_sk_rcv(struct sock *sk, struct sk_buff *skb, u32 seq)
{
	int err;

	TCP_SKB_CB(skb)->seq = seq;
	TCP_SKB_CB(skb)->end_seq = seq + skb->len;
	TCP_SKB_CB(skb)->tcp_flags = TCPHDR_ACK;
	TCP_SKB_CB(skb)->tcp_tw_isn = TOE_SKB_MAGIC;
	TCP_SKB_CB(skb)->sacked = 0;
	TCP_SKB_CB(skb)->has_rxtstamp = 0;
	skb_dst_drop(skb);
	skb_orphan(skb);

	local_bh_disable();
	bh_lock_sock(sk);
	if (!toe_sk_offloaded(sk))
		err = -EINVAL;
	else if (!sock_owned_by_user(sk))
		err = __toe_queue_rcv(sk, skb, false);
	else if (sk_add_backlog(sk, skb, READ_ONCE(sk->sk_rcvbuf) +
				READ_ONCE(sk->sk_sndbuf)))
		err = -ENOBUFS;
	else
		err = 0;
	bh_unlock_sock(sk);
	local_bh_enable();
	return err;
}
EXPORT_SYMBOL_NS_GPL(toe_sk_rcv, TOE);

/* TCP_INFO's byte counters follow the engine's progress: bytes_acked as
 * snd_una advances, bytes_sent as snd_nxt does (again after a go-back, as
 * Linux TCP counts retransmitted bytes).
 */
static void toe_count_progress(struct tcp_sock *tp, u32 snd_una, u32 snd_nxt)
{
	u32 una = READ_ONCE(tp->snd_una), nxt = READ_ONCE(tp->snd_nxt);

	if (after(snd_una, una))
		tp->bytes_acked += snd_una - una;
	if (after(snd_nxt, nxt))
		tp->bytes_sent += snd_nxt - nxt;
}

/* The urgent pointer follows snd_una as Linux TCP's ACK processing moves it
 * (tcp_clean_rtx_queue()): otherwise Linux TCP would find itself in urgent
 * mode (toe_urg_mode()) after a handback, split every skb to one MSS and,
 * 2 GB on, mark its segments URG. An urgent pointer set by a writer in
 * Linux TCP's own sendmsg (MSG_OOB) stays where it is: that connection is
 * handed back (toe_tx_work()).
 */
static bool toe_urg_mode(const struct tcp_sock *tp)
{
	/* tcp_output.c's tcp_urg_mode(), which is static. */
	return READ_ONCE(tp->snd_una) != READ_ONCE(tp->snd_up);
}

static void toe_snd_up_follow(struct tcp_sock *tp, u32 snd_una)
{
	u32 up = READ_ONCE(tp->snd_up);

	/* A writer's tcp_mark_urg() may move it meanwhile: that mark stays. */
	if (between(up, READ_ONCE(tp->snd_una), snd_una))
		cmpxchg(&tp->snd_up, up, snd_una);
}

/**
 * toe_sk_snd_update() - report send-side progress of an offloaded socket
 * @sk: an offloaded socket
 * @snd_una: first byte the peer has not acknowledged
 * @snd_nxt: one past the highest byte sent (as Linux's snd_nxt: a
 *	retransmission from an earlier byte does not move it back)
 * @snd_wnd: the peer's window, scaled
 *
 * Keeps the tcp_sock's mirror current for SIOCOUTQ, SIOCOUTQNSD,
 * TCP_NOTSENT_LOWAT and TCP_INFO. Buffer space comes back when the engine
 * frees the payload skbs it was given, which wakes writers.
 *
 * Context: any; calls for one socket must not run concurrently.
 */
void toe_sk_snd_update(struct sock *sk, u32 snd_una, u32 snd_nxt, u32 snd_wnd)
{
	struct tcp_sock *tp = tcp_sk(sk);

	toe_count_progress(tp, snd_una, snd_nxt);
	/* Last data sent, for TCP_INFO; and with bytes in flight the
	 * connection is not idle (see toe_write_space()).
	 */
	if (after(snd_nxt, READ_ONCE(tp->snd_nxt)) || snd_una != snd_nxt)
		WRITE_ONCE(tp->lsndtime, tcp_jiffies32);
	toe_snd_up_follow(tp, snd_una);
	WRITE_ONCE(tp->snd_una, snd_una);
	WRITE_ONCE(tp->snd_nxt, snd_nxt);
	WRITE_ONCE(tp->snd_wnd, snd_wnd);
}
EXPORT_SYMBOL_NS_GPL(toe_sk_snd_update, TOE);

/**
 * toe_sk_timing_update() - report an engine's timing and congestion state
 * @sk: an offloaded socket
 * @tm: the engine's view
 *
 * The round-trip estimate, RTO, slow start threshold and retransmission
 * count go into the tcp_sock, where TCP_INFO and inet_diag (ss -ti) read
 * them and where Linux TCP starts from at handback. The congestion
 * window cannot: Linux TCP's is held at 0 while offloaded (see
 * toe_adopt_tx()); getsockopt(TCP_INFO) reports the engine's instead.
 *
 * Context: any; calls for one socket must not run concurrently.
 */
void toe_sk_timing_update(struct sock *sk, const struct toe_tcp_timing *tm)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct tcp_sock *tp = tcp_sk(sk);
	struct toe_sock *ts = toe_sk(sk);
	u32 mss = max_t(u32, READ_ONCE(tp->mss_cache), 1);
	unsigned long rto;

	if (tm->srtt_us) {
		/* Linux keeps them scaled: srtt << 3, mdev and rttvar << 2. */
		WRITE_ONCE(tp->srtt_us, min_t(u32, tm->srtt_us, U32_MAX >> 3) << 3);
		WRITE_ONCE(tp->mdev_us, min_t(u32, tm->rttvar_us, U32_MAX >> 2) << 2);
		WRITE_ONCE(tp->rttvar_us, tp->mdev_us);
		/* The receiver's RTT, for receive buffer autotuning, until
		 * there is one (see toe_sk_handover()); both scaled by 8.
		 * Set once; tcp_rcv_space_adjust() reading it meanwhile sees
		 * 0 or the value, either of which it takes.
		 */
		if (!READ_ONCE(tp->rcv_rtt_est.rtt_us))
			WRITE_ONCE(tp->rcv_rtt_est.rtt_us, tp->srtt_us);
	}
	rto = clamp_t(unsigned long, msecs_to_jiffies(tm->rto_ms), TCP_RTO_MIN,
		      TCP_RTO_MAX);
	WRITE_ONCE(icsk->icsk_rto, rto);
	WRITE_ONCE(tp->snd_ssthresh, tm->ssthresh >= TCP_INFINITE_SSTHRESH ?
		   TCP_INFINITE_SSTHRESH : tm->ssthresh / mss);
	WRITE_ONCE(ts->eng_cwnd, DIV_ROUND_UP(tm->cwnd, mss));
	WRITE_ONCE(tp->total_retrans, ts->retrans_base + tm->retrans);
}
EXPORT_SYMBOL_NS_GPL(toe_sk_timing_update, TOE);

/**
 * toe_sk_path_mss() - the segment size the path allows an offloaded socket
 * @sk: an offloaded socket
 *
 * Path MTU discovery stays Linux's: ICMP "fragmentation needed" and
 * "packet too big" reach Linux TCP, which lowers the socket's MSS
 * (tcp_v4_mtu_reduced(), tcp_v6_mtu_reduced()) even while the engine
 * carries the connection; 6.1 has no hook there to tell the engine. A
 * lower path MTU loses every full-size segment, so an engine reads this
 * when its retransmission timer expires and sends smaller segments from
 * then on.
 *
 * Context: any.
 * Return: the MSS in bytes, payload only, as &toe_tcp_state.mss.
 */
u32 toe_sk_path_mss(const struct sock *sk)
{
	return READ_ONCE(tcp_sk(sk)->mss_cache);
}
EXPORT_SYMBOL_NS_GPL(toe_sk_path_mss, TOE);

/* Linux TCP grows an unlocked send buffer with its congestion window
 * (tcp_sndbuf_expand(), from its ACK processing); while offloaded, with the
 * engine's window, when a writer comes. Same rule, same sizes, so the
 * application sees the SO_SNDBUF it would see in software.
 */
static void toe_sndbuf_expand(struct sock *sk)
{
	const struct tcp_congestion_ops *ca = inet_csk(sk)->icsk_ca_ops;
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 nr_segs;
	int per_mss, sndmem;

	if ((sk->sk_userlocks & SOCK_SNDBUF_LOCK) ||
	    tcp_under_memory_pressure(sk) ||
	    sk_memory_allocated(sk) >= sk_prot_mem_limits(sk, 0))
		return;
	per_mss = max_t(u32, tp->rx_opt.mss_clamp, tp->mss_cache) +
		  MAX_TCP_HEADER +
		  SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	per_mss = roundup_pow_of_two(per_mss) +
		  SKB_DATA_ALIGN(sizeof(struct sk_buff));
	nr_segs = max_t(u32, TCP_INIT_CWND, READ_ONCE(toe_sk(sk)->eng_cwnd));
	nr_segs = max_t(u32, nr_segs, tp->reordering + 1);
	sndmem = (ca->sndbuf_expand ? ca->sndbuf_expand(sk) : 2) *
		 nr_segs * per_mss;
	if (sk->sk_sndbuf < sndmem)
		WRITE_ONCE(sk->sk_sndbuf,
			   min(sndmem, READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_wmem[2])));
}

/* Room for a writer while offloaded: the payload skbs the engine holds
 * are charged to sk_wmem_alloc, and TCP_NOTSENT_LOWAT bounds the bytes
 * not sent yet (write_seq - snd_nxt, both kept current) as in Linux TCP.
 * @wake: 1 from poll() and wakeups, which ask for half the mark, as
 * __sk_stream_is_writeable() does; 0 from sendmsg().
 */
static bool toe_sk_writeable(const struct sock *sk, int wake)
{
	return sk_wmem_alloc_get(sk) < READ_ONCE(sk->sk_sndbuf) &&
	       tcp_stream_memory_free(sk, wake);
}

/* sk->sk_write_space while offloaded: sock_wfree() calls it each time the
 * engine frees a payload skb it was given. A kernel layer that took over
 * sk_write_space meanwhile (KCM's psock) saved this one and may call it,
 * or put it back, after the handback: Linux TCP's own then.
 *
 * The writer it wakes may be asleep in Linux TCP's own sendmsg (it looked
 * the proto up before the handover); tcp_skb_entail() there restarts a
 * window idle for longer than an RTO (tcp_slow_start_after_idle_check()),
 * and must not find one at 0 (see toe_sk_handover()): the connection is
 * not idle, and lsndtime says so: here, on the engine's progress, and on
 * payload delivered while such a writer waits (which wakes it too).
 */
static void toe_write_space(struct sock *sk)
{
	void (*write_space)(struct sock *sk) = NULL;
	struct socket_wq *wq;
	struct toe_sock *ts;

	rcu_read_lock();
	ts = rcu_dereference(inet_csk(sk)->icsk_ulp_data);
	if (ts && !toe_sk_offloaded(sk))
		write_space = READ_ONCE(ts->sk_write_space);
	if (write_space) {
		rcu_read_unlock();
		write_space(sk);
		return;
	}
	if (toe_sk_offloaded(sk))
		WRITE_ONCE(tcp_sk(sk)->lsndtime, tcp_jiffies32);
	if (sk_wmem_alloc_get(sk) > READ_ONCE(sk->sk_sndbuf) / 2 ||
	    !tcp_stream_memory_free(sk, 1))
		goto out;
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_sync_poll(&wq->wait, EPOLLOUT |
						EPOLLWRNORM | EPOLLWRBAND);
	if (sock_writeable(sk))
		sk_wake_async(sk, SOCK_WAKE_SPACE, POLL_OUT);
out:
	rcu_read_unlock();
}

static int toe_wait_wmem(struct sock *sk, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		if (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN)) {
			err = -EPIPE;
			break;
		}
		if (!*timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		if (toe_sk_writeable(sk, 0) || !toe_sk_offloaded(sk))
			break;
		sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
		set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
		sk_wait_event(sk, timeo, toe_sk_writeable(sk, 0) || sk->sk_err ||
			      (sk->sk_shutdown & SEND_SHUTDOWN) ||
			      !toe_sk_offloaded(sk), &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

static struct sk_buff *toe_copy_payload(struct sock *sk, struct sk_buff *src);

/* What the engine was given may go out now. Socket owned, offloaded. */
static void toe_sk_push(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);

	ts->tdev->ops->sk_event(ts->tdev, sk, TOE_SK_EV_PUSH);
}

/* Bytes Linux TCP queued while the socket was offloaded. tcp_sendmsg() and
 * do_tcp_sendpages() read sk_prot before they take the socket lock, so a
 * writer that entered Linux TCP's sendmsg before a handover (one asleep
 * there for buffer space, say) queues bytes after it. Its transmit path
 * is held shut meanwhile (a congestion window of 0: tcp_write_xmit()
 * sends nothing; toe_release_cb() disarms its zero window probe), so the
 * bytes wait on the write queue; they go to the engine, in order, before
 * any newer. Return: 0, or the engine's error (the bytes stay queued).
 */
static int toe_adopt_tx(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);
	struct sk_buff *src, *skb;
	int err, len;

	sock_owned_by_me(sk);
	while ((src = tcp_send_head(sk))) {
		len = src->len;
		skb = len ? toe_copy_payload(sk, src) : NULL;
		if (len && !skb)
			return -ENOMEM;
		__skb_unlink(src, &sk->sk_write_queue);
		tcp_skb_tsorted_anchor_cleanup(src);
		tcp_wmem_free_skb(sk, src);
		if (!skb)
			continue;
		err = ts->tdev->ops->send(ts->tdev, sk, skb);
		if (err)
			return err;
		atomic64_add(len, &ts->tx_bytes);
		/* Its zero window probe must not send them either. */
		inet_csk_clear_xmit_timer(sk, ICSK_TIME_PROBE0);
	}
	return 0;
}

static void toe_tx_work(struct work_struct *work)
{
	struct toe_sock *ts = container_of(work, struct toe_sock, tx_work);
	struct sock *sk = ts->sk;

	lock_sock(sk);
	if (toe_sock_live(sk, ts) && toe_sk_offloaded(sk)) {
		/* What toe_release_cb() could not neutralise: a probe armed
		 * from softirq (an application's own filter lets segments
		 * through to tcp_ack()).
		 */
		inet_csk_clear_xmit_timer(sk, ICSK_TIME_PROBE0);
		/* A writer in Linux TCP's sendmsg sent MSG_OOB: the urgent
		 * mark is Linux TCP's to carry, with its bytes.
		 */
		if (toe_urg_mode(tcp_sk(sk)))
			toe_sk_handback_locked(sk, TOE_HB_URGENT);
		else if (toe_adopt_tx(sk))
			toe_sk_handback_locked(sk, TOE_HB_ERROR);
		else if (!(tcp_sk(sk)->nonagle & TCP_NAGLE_CORK))
			toe_sk_push(sk);
	}
	release_sock(sk);
	sock_put(sk);
	toe_sock_put(ts);
}

#define TOE_SEND_CHUNK	(64 * 1024)

/* Socket-level options go to sock_setsockopt(), never through the proto
 * (SO_KEEPALIVE aside, see toe_keepalive()), so they cannot hand back
 * when set. An engine honours neither a pacing rate nor MSG_ZEROCOPY's
 * completions: a socket that asked for one is not handed over; one that
 * asked for one while offloaded goes back to Linux TCP at its next send.
 */
static bool toe_sk_sockopts_ok(const struct sock *sk)
{
	return READ_ONCE(sk->sk_max_pacing_rate) == ~0UL &&
	       !sock_flag(sk, SOCK_ZEROCOPY);
}

/* Is keepalive the engine's (%TOE_F_KEEPALIVE)? Socket owned, offloaded. */
static bool toe_sk_engine_keepalive(const struct sock *sk)
{
	return READ_ONCE(toe_sk(sk)->tdev->features) & TOE_F_KEEPALIVE;
}

/* Linux TCP's keepalive timer must never run for an offloaded
 * connection: it reads receive timestamps nothing updates, probes, never
 * sees the peer's answers (the engine takes them) and resets the
 * connection. Stopped at the handover and after each change that arms it
 * (TCP_KEEPIDLE); a run in progress is waited for. Socket owned.
 */
static void toe_keepalive_timer_stop(struct sock *sk)
{
	sk_stop_timer_sync(sk, &sk->sk_timer);
}

/* SO_MARK and SO_PRIORITY do not reach the proto either: the engine marks
 * its frames as they were at the handover, until the next send, or the
 * policy scan within a second, hands the socket back to Linux TCP, which
 * marks them as they are. Any context.
 */
bool toe_sk_meta_ok(const struct sock *sk, const struct toe_sock *ts)
{
	return READ_ONCE(sk->sk_mark) == ts->mark &&
	       READ_ONCE(sk->sk_priority) == ts->priority;
}

/* TCP_CORK, or MSG_MORE in @flags: a partial segment at the end waits. */
static bool toe_sk_corked(const struct sock *sk, int flags)
{
	return (flags & MSG_MORE) || (tcp_sk(sk)->nonagle & TCP_NAGLE_CORK);
}

static int toe_sendmsg_locked(struct sock *sk, struct msghdr *msg, size_t size)
{
	long timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	struct tcp_sock *tp = tcp_sk(sk);
	struct toe_sock *ts;
	struct sk_buff *skb;
	size_t copied = 0;
	int err = 0, len;

	sock_owned_by_me(sk);
	if (msg->msg_flags & MSG_OOB)
		toe_sk_handback_locked(sk, TOE_HB_URGENT);
	if (!toe_sk_sockopts_ok(sk) ||
	    (toe_sk_offloaded(sk) && !toe_sk_meta_ok(sk, toe_sk(sk))))
		toe_sk_handback_locked(sk, TOE_HB_SOCKOPT);
	if (toe_sk_offloaded(sk) && toe_adopt_tx(sk))
		toe_sk_handback_locked(sk, TOE_HB_ERROR);

	while (msg_data_left(msg)) {
		if (!toe_sk_offloaded(sk)) {
			/* Handed back while we waited: Linux TCP takes the rest. */
			err = tcp_sendmsg_locked(sk, msg, msg_data_left(msg));
			if (err > 0) {
				copied += err;
				err = 0;
			}
			break;
		}
		if (sk->sk_err) {
			err = sock_error(sk);
			break;
		}
		if (sk->sk_shutdown & SEND_SHUTDOWN) {
			err = -EPIPE;
			break;
		}
		toe_sndbuf_expand(sk);
		if (!toe_sk_writeable(sk, 0)) {
			err = toe_wait_wmem(sk, &timeo);
			if (err)
				break;
			continue;
		}

		len = min_t(size_t, msg_data_left(msg), TOE_SEND_CHUNK);
		skb = sock_alloc_send_pskb(sk, 0, len, 1, &err,
					   PAGE_ALLOC_COSTLY_ORDER);
		if (!skb) {
			if (err == -EAGAIN)
				continue;
			break;
		}
		/* sock_alloc_send_pskb() only sized the fragments. */
		skb->data_len = len;
		skb->len = len;
		err = skb_copy_datagram_from_iter(skb, 0, &msg->msg_iter, len);
		if (err) {
			kfree_skb(skb);
			break;
		}
		TCP_SKB_CB(skb)->seq = tp->write_seq;
		TCP_SKB_CB(skb)->end_seq = tp->write_seq + len;
		ts = toe_sk(sk);
		err = ts->tdev->ops->send(ts->tdev, sk, skb);
		if (err) {
			/* The bytes go to Linux TCP after the handback. */
			iov_iter_revert(&msg->msg_iter, len);
			toe_sk_handback_locked(sk, TOE_HB_ERROR);
			err = 0;
			continue;
		}
		WRITE_ONCE(tp->write_seq, tp->write_seq + len);
		atomic64_add(len, &ts->tx_bytes);
		copied += len;
	}

	/* tcp_push(): the end of a send goes now unless corked. */
	if (copied && toe_sk_offloaded(sk) && !toe_sk_corked(sk, msg->msg_flags))
		toe_sk_push(sk);
	if (copied)
		return copied;
	if (err == -EPIPE && !(msg->msg_flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return err;
}

static int toe_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	int ret;

	lock_sock(sk);
	if (toe_sk_offloaded(sk))
		ret = toe_sendmsg_locked(sk, msg, size);
	else
		ret = tcp_sendmsg_locked(sk, msg, size);
	release_sock(sk);
	return ret;
}

static int toe_sendpage_locked(struct sock *sk, struct page *page, int offset,
			       size_t size, int flags)
{
	struct bio_vec bvec = {
		.bv_page = page, .bv_offset = offset, .bv_len = size,
	};
	struct msghdr msg = { .msg_flags = flags | MSG_NOSIGNAL };

	if (!toe_sk_offloaded(sk))
		return tcp_sendpage_locked(sk, page, offset, size, flags);
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bvec, 1, size);
	return toe_sendmsg_locked(sk, &msg, size);
}

static int toe_sendpage(struct sock *sk, struct page *page, int offset,
			size_t size, int flags)
{
	int ret;

	lock_sock(sk);
	ret = toe_sendpage_locked(sk, page, offset, size, flags);
	release_sock(sk);
	return ret;
}

static int toe_sock_sendmsg_locked(struct sock *sk, struct msghdr *msg,
				   size_t size)
{
	if (!toe_sk_offloaded(sk))
		return tcp_sendmsg_locked(sk, msg, size);
	return toe_sendmsg_locked(sk, msg, size);
}

/* Tell the engine how much the reader took off the receive queue since it
 * last heard, so that it may open its window, as tcp_cleanup_rbuf() does
 * in software. Socket owned, or bh-locked for a reader in softirq.
 *
 * recvmsg() and splice() are Linux TCP's own: each release_sock() in them
 * reports through toe_release_cb(), the one before a reader sleeps for
 * more (sk_wait_data(): MSG_WAITALL, SO_RCVLOWAT, timeouts) as well as
 * the last. Without the first, a MSG_WAITALL read of more than the
 * receive buffer holds would wait for good on a window the engine keeps
 * shut.
 */
static void toe_report_consumed(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);
	u32 seq = READ_ONCE(tcp_sk(sk)->copied_seq);

	if (!ts || !toe_sk_offloaded(sk) || !after(seq, ts->consumed_seq))
		return;
	if (ts->tdev->ops->recv)
		ts->tdev->ops->recv(ts->tdev, sk, seq - ts->consumed_seq);
	ts->consumed_seq = seq;
}

/* Kernel readers (strparser for KCM, nvme-tcp) take payload off the
 * receive queue through read_sock(), with the socket owned or bh-locked:
 * open the engine's window as recvmsg() does.
 */
static int toe_read_sock(struct sock *sk, read_descriptor_t *desc,
			 sk_read_actor_t recv_actor)
{
	struct toe_sock *ts = toe_sk(sk);
	int ret;

	ret = ts->sk_ops->read_sock(sk, desc, recv_actor);
	if (ret > 0)
		toe_report_consumed(sk);
	return ret;
}

static __poll_t toe_poll(struct file *file, struct socket *sock,
			 poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct toe_sock *ts = toe_sk(sk);
	__poll_t mask;

	mask = ts->sk_ops->poll(file, sock, wait);
	if (!toe_sk_offloaded(sk) || (sk->sk_shutdown & SEND_SHUTDOWN) ||
	    sk->sk_state != TCP_ESTABLISHED)
		return mask;

	/* Writable means room in the send buffer the engine drains. */
	mask &= ~(EPOLLOUT | EPOLLWRNORM);
	if (toe_sk_writeable(sk, 1)) {
		mask |= EPOLLOUT | EPOLLWRNORM;
	} else {
		sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
		set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
		/* Pairs with the free in sock_wfree(): recheck after NOSPACE
		 * is visible, or a wakeup in between is lost.
		 */
		smp_mb__after_atomic();
		if (toe_sk_writeable(sk, 1))
			mask |= EPOLLOUT | EPOLLWRNORM;
	}
	return mask;
}

/* Options an engine honours without help; any other SOL_TCP option, and
 * every IP option (they change what goes on the wire), hands the socket
 * back to Linux TCP first. SOL_SOCKET options never come here, the socket
 * layer handles them: SO_LINGER and SO_OOBINLINE act at close and on
 * urgent data, which hand the socket back anyway; SO_MAX_PACING_RATE is
 * not honoured while offloaded.
 */
static bool toe_sockopt_ok(int level, int optname)
{
	if (level != SOL_TCP)
		return level != SOL_IP && level != SOL_IPV6;
	switch (optname) {
	case TCP_NODELAY:
	case TCP_CORK:
	case TCP_QUICKACK:
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
	case TCP_KEEPCNT:
	case TCP_USER_TIMEOUT:
	case TCP_NOTSENT_LOWAT:
	case TCP_ULP:
		return true;
	}
	return false;
}

/* TCP_INFO reads Linux TCP's congestion window, held at 0 while
 * offloaded: report the engine's.
 */
static int toe_getsockopt(struct sock *sk, int level, int optname,
			  char __user *optval, int __user *optlen)
{
	struct toe_sock *ts = toe_sk(sk);
	struct tcp_info __user *ti = (struct tcp_info __user *)optval;
	int err, len;

	err = ts->sk_proto->getsockopt(sk, level, optname, optval, optlen);
	if (err || level != SOL_TCP || optname != TCP_INFO ||
	    !toe_sk_offloaded(sk))
		return err;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len >= (int)offsetofend(struct tcp_info, tcpi_snd_cwnd) &&
	    put_user(READ_ONCE(ts->eng_cwnd), &ti->tcpi_snd_cwnd))
		return -EFAULT;
	return 0;
}

static int toe_setsockopt(struct sock *sk, int level, int optname,
			  sockptr_t optval, unsigned int optlen)
{
	struct toe_sock *ts = toe_sk(sk);
	bool ka = level == SOL_TCP && optname == TCP_KEEPIDLE;
	int err;

	if (!toe_sockopt_ok(level, optname) || ka) {
		lock_sock(sk);
		/* SOCK_KEEPOPEN with an engine that does not probe: a
		 * handback is on its way (see toe_keepalive()), and
		 * TCP_KEEPIDLE would arm Linux's timer meanwhile.
		 */
		if (!ka || (toe_sk_offloaded(sk) &&
			    sock_flag(sk, SOCK_KEEPOPEN) &&
			    !toe_sk_engine_keepalive(sk)))
			toe_sk_handback_locked(sk, TOE_HB_SOCKOPT);
		/* keepalive_time_set() arms Linux's timer for a keepalive
		 * time after the last segment Linux TCP saw: not at once.
		 */
		else if (toe_sk_offloaded(sk))
			tcp_sk(sk)->rcv_tstamp = tcp_jiffies32;
		release_sock(sk);
	}
	/* TCP_CORK, TCP_NODELAY and TCP_KEEPIDLE reach the engine from
	 * toe_release_cb().
	 */
	err = ts->sk_proto->setsockopt(sk, level, optname, optval, optlen);
	if (err || !ka)
		return err;
	lock_sock(sk);
	if (toe_sk_offloaded(sk) && sock_flag(sk, SOCK_KEEPOPEN))
		toe_keepalive_timer_stop(sk);
	release_sock(sk);
	return 0;
}

/* SO_KEEPALIVE, with the socket locked (sock_setsockopt(),
 * sock_set_keepalive()), before SOCK_KEEPOPEN changes. While offloaded
 * probing is the engine's, if it declares %TOE_F_KEEPALIVE: it hears of
 * the change and Linux TCP's timer stays off. Otherwise turning it on
 * hands the connection back, and Linux TCP arms its timer. A BPF program
 * may set it (from softirq, or in process context under RCU), where
 * neither the device nor a handback can be touched: turning it on then
 * queues a handback (it arms the timer, SOCK_KEEPOPEN is set by then);
 * an engine's probing stops by itself once SOCK_KEEPOPEN is clear.
 */
static void toe_keepalive(struct sock *sk, int valbool)
{
	struct toe_sock *ts = toe_sk(sk);

	if (toe_sk_offloaded(sk)) {
		if (!in_task() || has_current_bpf_ctx() ||
		    !sock_owned_by_user(sk)) {
			if (valbool)
				toe_sk_request_handback(sk, TOE_HB_SOCKOPT);
			return;
		}
		if (toe_sk_engine_keepalive(sk)) {
			/* Turning on what is on changes nothing, as in
			 * tcp_set_keepalive().
			 */
			if (!valbool != !sock_flag(sk, SOCK_KEEPOPEN))
				ts->tdev->ops->sk_event(ts->tdev, sk, valbool ?
							TOE_SK_EV_KEEPALIVE_ON :
							TOE_SK_EV_KEEPALIVE_OFF);
			return;
		}
		if (valbool)
			toe_sk_handback_locked(sk, TOE_HB_SOCKOPT);
	}
	if (toe_sk_offloaded(sk))
		return;
	if (ts->sk_proto->keepalive)
		ts->sk_proto->keepalive(sk, valbool);
}

static void toe_shutdown(struct sock *sk, int how)
{
	struct toe_sock *ts = toe_sk(sk);

	/* Called with the socket locked. Teardown is Linux TCP's. */
	if (how & SEND_SHUTDOWN)
		toe_sk_handback_locked(sk, TOE_HB_FIN);
	ts->sk_proto->shutdown(sk, how);
}

static int toe_disconnect(struct sock *sk, int flags)
{
	struct toe_sock *ts = toe_sk(sk);

	toe_sk_handback_locked(sk, TOE_HB_RST);
	return ts->sk_proto->disconnect(sk, flags);
}

/* An administrator's abort (ss -K: SOCK_DESTROY through sock_diag, in
 * process context, with a reference on the socket). tcp_abort() resets
 * and closes the connection under the socket lock, which would leave the
 * engine carrying and steering it: the engine gives it up first, without
 * draining. The socket may have been handed back, or destroyed, since
 * sock_diag read its proto: Linux TCP's op, from the base proto.
 */
static int toe_diag_destroy(struct sock *sk, int err)
{
	const struct proto *base = READ_ONCE(toe_base_prot[toe_fam(sk)]);

	toe_sk_handback(sk, TOE_HB_RST);
	return base->diag_destroy(sk, err);
}

static void toe_close(struct sock *sk, long timeout)
{
	struct toe_sock *ts = toe_sk(sk);

	lock_sock(sk);
	toe_sk_handback_locked(sk, TOE_HB_FIN);
	release_sock(sk);
	ts->sk_proto->close(sk, timeout);
}

/* TCP_CORK, TCP_NODELAY or TCP_KEEPIDLE changed (setsockopt(), or a
 * kernel user's tcp_sock_set_cork(), tcp_sock_set_nodelay() or
 * tcp_sock_set_keepidle(), which bypass the proto): the engine hears of
 * it; TCP_NODELAY's push (TCP_NAGLE_PUSH: what is queued goes even if
 * corked) is passed on, and spent. Socket owned, offloaded.
 */
static void toe_sk_options_update(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);
	struct tcp_sock *tp = tcp_sk(sk);
	u8 now = tp->nonagle & (TCP_NAGLE_CORK | TCP_NAGLE_OFF);
	u32 ka = READ_ONCE(tp->keepalive_time);

	if (now != ts->nonagle) {
		ts->nonagle = now;
		ts->tdev->ops->sk_event(ts->tdev, sk, TOE_SK_EV_NAGLE);
	}
	if (tp->nonagle & TCP_NAGLE_PUSH) {
		tp->nonagle &= ~TCP_NAGLE_PUSH;
		toe_sk_push(sk);
	}
	if (ka != ts->keepalive_time) {
		ts->keepalive_time = ka;
		if (sock_flag(sk, SOCK_KEEPOPEN) && toe_sk_engine_keepalive(sk))
			ts->tdev->ops->sk_event(ts->tdev, sk,
						TOE_SK_EV_KEEPALIVE_TIME);
	}
}

/* Runs in every release_sock() while offloaded, with the socket spinlock
 * held: reports what a reader consumed (it may be about to sleep for
 * more), and passes Linux TCP's deferred work on. That work (timers that
 * found the socket owned, TSQ) belongs to the software data path, which
 * is idle while offloaded. A path MTU drop is the exception: it updates
 * the MSS the engine reads (toe_sk_path_mss()).
 */
static void toe_release_cb(struct sock *sk)
{
	unsigned long flags, nflags;
	int refs;

	/* A reader about to sleep for more (sk_wait_data()) consumed these. */
	toe_report_consumed(sk);
	if (toe_sk(sk) && toe_sk_offloaded(sk))
		toe_sk_options_update(sk);
	/* Armed by a TCP_KEEPIDLE that bypassed the proto (a kernel user, a
	 * BPF program): never while offloaded. Should its handler be
	 * waiting for the lock now, it finds the peer heard just now and
	 * only re-arms, to be stopped at the next release.
	 */
	if (unlikely(timer_pending(&sk->sk_timer)) && toe_sk_offloaded(sk)) {
		tcp_sk(sk)->rcv_tstamp = tcp_jiffies32;
		inet_csk_delete_keepalive_timer(sk);
	}
	/* Bytes a writer in Linux TCP's sendmsg queued: adopted from process
	 * context, since the socket spinlock is held here. The zero window
	 * probe its tcp_push() armed would send the first of them itself
	 * once the socket is not owned (tcp_write_wakeup()): neutralised
	 * here, before the socket is released (icsk_pending cleared; the
	 * timer finds nothing to do).
	 */
	if (unlikely(tcp_send_head(sk)) && toe_sk_offloaded(sk) && toe_sk(sk)) {
		inet_csk_clear_xmit_timer(sk, ICSK_TIME_PROBE0);
		toe_sock_queue(toe_sk(sk), &toe_sk(sk)->tx_work);
	}

	do {
		flags = READ_ONCE(sk->sk_tsq_flags);
		if (!(flags & TOE_DEFERRED_ALL))
			return;
		nflags = flags & ~TOE_DEFERRED_ALL;
	} while (cmpxchg(&sk->sk_tsq_flags, flags, nflags) != flags);

	if (flags & TCPF_MTU_REDUCED_DEFERRED)
		inet_csk(sk)->icsk_af_ops->mtu_reduced(sk);
	/* Whoever set a deferred bit took a socket reference with it. */
	for (refs = hweight_long(flags & TOE_DEFERRED_ALL); refs; refs--)
		__sock_put(sk);
}

static int toe_build_protos(struct sock *sk)
{
	int fam = toe_fam(sk);
	struct proto *p = &toe_prots[fam];
	struct proto_ops *o = &toe_proto_ops[fam];
	int err = 0;

	if (!sk->sk_socket)
		return -EOPNOTSUPP;

	/* Published once; later readers compare without the mutex. */
	if (smp_load_acquire(&toe_base_prot[fam])) {
		if (READ_ONCE(toe_base_prot[fam]) != sk->sk_prot ||
		    READ_ONCE(toe_base_ops[fam]) != sk->sk_socket->ops)
			return -EOPNOTSUPP;
		return 0;
	}

	mutex_lock(&toe_prot_mutex);
	if (toe_base_prot[fam]) {
		if (toe_base_prot[fam] != sk->sk_prot ||
		    toe_base_ops[fam] != sk->sk_socket->ops)
			err = -EOPNOTSUPP;
		goto out;
	}
	*p = *sk->sk_prot;
	p->close	= toe_close;
	p->disconnect	= toe_disconnect;
	p->shutdown	= toe_shutdown;
	p->setsockopt	= toe_setsockopt;
	p->getsockopt	= toe_getsockopt;
	p->sendmsg	= toe_sendmsg;
	p->sendpage	= toe_sendpage;
	p->release_cb	= toe_release_cb;
	p->keepalive	= toe_keepalive;
	p->diag_destroy	= toe_diag_destroy;
#ifdef CONFIG_BPF_SYSCALL
	/* A sockmap would swap in tcp_bpf's proto, built from tcp_prot,
	 * behind the engine's back: refuse, as for a socket with no such op.
	 */
	p->psock_update_sk_prot = NULL;
#endif

	*o = *sk->sk_socket->ops;
	o->poll			= toe_poll;
	o->read_sock		= toe_read_sock;
	o->sendmsg_locked	= toe_sock_sendmsg_locked;
	o->sendpage_locked	= toe_sendpage_locked;

	toe_base_ops[fam] = sk->sk_socket->ops;
	/* Publishes the protos; pairs with smp_load_acquire() above. */
	smp_store_release(&toe_base_prot[fam], sk->sk_prot);
out:
	mutex_unlock(&toe_prot_mutex);
	return err;
}

/* What goes on the wire: an AF_INET6 socket connected to an IPv4-mapped
 * address (a client of a [::] listener) carries IPv4.
 */
static u32 toe_family_bit(const struct sock *sk)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 && !ipv6_addr_v4mapped(&sk->sk_v6_daddr))
		return TOE_FAMILY_IPV6;
#endif
	return TOE_FAMILY_IPV4;
}

/* Is the last reference on the socket's file gone (a close() under way)?
 * Socket locked, which keeps sk_socket and its file. Pairs with the full
 * barrier of the final fput()'s decrement.
 */
bool toe_sk_file_closing(const struct sock *sk)
{
	const struct socket *sock = sk->sk_socket;

	return sock && sock->file && !file_count(sock->file);
}

/* The enabled toedev of the port this socket's route leaves on, held. */
struct toedev *toe_sk_toedev(struct sock *sk)
{
	struct dst_entry *dst = __sk_dst_get(sk);
	struct toedev *tdev = NULL;

	if (!dst || !dst->dev)
		return NULL;
	rcu_read_lock();
	tdev = toedev_lookup_rcu(dst->dev);
	if (tdev && (!READ_ONCE(tdev->enabled) ||
		     tdev->reg_state != TOEDEV_REGISTERED))
		tdev = NULL;
	if (tdev)
		toedev_hold(tdev);
	rcu_read_unlock();
	return tdev;
}

/* The cookie Linux TCP checks the socket's route with. */
static u32 toe_dst_cookie(const struct sock *sk)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6)
		return inet6_sk(sk)->dst_cookie;
#endif
	return 0;
}

/* Protection and modes of the socket no engine carries: TCP-MD5 keys
 * (RFC 2385: every segment signed), IPsec (a per-socket policy, or an
 * xfrm bundle on the socket's route) and TCP_REPAIR (a checkpoint or
 * restore in progress owns the queues and sequence numbers). Setting a
 * key, IP_XFRM_POLICY or repair mode while offloaded hands the socket
 * back first (toe_sockopt_ok()).
 */
static bool toe_sk_carriable(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
#ifdef CONFIG_XFRM
	const struct dst_entry *dst;
#endif

	if (tp->repair)
		return false;
#ifdef CONFIG_TCP_MD5SIG
	if (rcu_access_pointer(tp->md5sig_info))
		return false;
#endif
#ifdef CONFIG_XFRM
	/* IPsec: a policy on the socket, or a bundle on its route (the
	 * transformation its segments go through). No engine encrypts.
	 */
	if (rcu_access_pointer(sk->sk_policy[0]) ||
	    rcu_access_pointer(sk->sk_policy[1]))
		return false;
	dst = __sk_dst_get((struct sock *)sk);
	if (dst && (dst->xfrm || dst->flags & DST_XFRM_QUEUE))
		return false;
#endif
	return true;
}

#if IS_ENABLED(CONFIG_NETFILTER)
/* Does a hook list hold a hook that filters? Two kinds do not count:
 * - placeholders for unregistered hooks, until the list is shrunk (and
 *   for good if that allocation failed); they have no family;
 * - the security modules' (SELinux, AppArmor, Smack register at
 *   NF_IP_PRI_SELINUX_FIRST and _LAST in every netns, AppArmor on
 *   Debian): an engine's frames carry no socket, which those hooks
 *   treat as the kernel's; they label (NetLabel) and check peer labels
 *   only where such a policy is configured, which an engine cannot
 *   carry and the core does not detect. nf_tables chains count at any
 *   priority.
 */
static bool toe_nf_live(struct nf_hook_entries __rcu *const *pp)
{
	const struct nf_hook_entries *e = rcu_dereference(*pp);
	struct nf_hook_ops **ops;
	unsigned int i;

	if (!e)
		return false;
	ops = nf_hook_entries_get_hook_ops(e);
	for (i = 0; i < e->num_hook_entries; i++) {
		const struct nf_hook_ops *o = READ_ONCE(ops[i]);

		if (o->hook_ops_type == NF_HOOK_OP_NF_TABLES)
			return true;
		if (o->pf == NFPROTO_UNSPEC ||
		    o->priority == NF_IP_PRI_SELINUX_FIRST ||
		    o->priority == NF_IP_PRI_SELINUX_LAST)
			continue;
		return true;
	}
	return false;
}
#endif

/**
 * toe_nf_active() - does a netns filter a family's local traffic?
 * @net: the network namespace
 * @pf: NFPROTO_IPV4 or NFPROTO_IPV6
 * @hooks: the hooks to ask for, a mask of BIT(NF_INET_*)
 *
 * For an engine that runs the host's netfilter hooks (%TOE_F_NETFILTER):
 * when none of @hooks has a hook registered in @net, the engine may skip
 * them, and the work they need (route lookups), for a frame.
 *
 * Context: any.
 * Return: true if a hook of @hooks that filters is registered for @pf in
 * @net (placeholders and the security modules' hooks do not count).
 */
bool toe_nf_active(const struct net *net, u8 pf, unsigned int hooks)
{
	bool live = false;
#if IS_ENABLED(CONFIG_NETFILTER)
	unsigned int h;

	rcu_read_lock();
	for (h = 0; h < NF_INET_NUMHOOKS && !live; h++) {
		if (!(hooks & BIT(h)))
			continue;
		if (pf == NFPROTO_IPV4)
			live = toe_nf_live(&net->nf.hooks_ipv4[h]);
#if IS_ENABLED(CONFIG_IPV6)
		else if (pf == NFPROTO_IPV6)
			live = toe_nf_live(&net->nf.hooks_ipv6[h]);
#endif
	}
	rcu_read_unlock();
#endif
	return live;
}
EXPORT_SYMBOL_NS_GPL(toe_nf_active, TOE);

/**
 * toe_sk_filtered() - would @tdev bypass a netfilter hook of @sk's netns?
 * @sk: an established socket
 * @tdev: the device it is or would be offloaded to
 *
 * True when @tdev does not run the hooks (no %TOE_F_NETFILTER) and the
 * socket's netns has a PRE_ROUTING, LOCAL_IN, LOCAL_OUT or POST_ROUTING
 * hook for the family the connection carries.
 *
 * Context: any.
 */
bool toe_sk_filtered(const struct sock *sk, const struct toedev *tdev)
{
	if (READ_ONCE(tdev->features) & TOE_F_NETFILTER)
		return false;
	return toe_nf_active(sock_net(sk),
			     toe_family_bit(sk) == TOE_FAMILY_IPV4 ?
			     NFPROTO_IPV4 : NFPROTO_IPV6,
			     BIT(NF_INET_PRE_ROUTING) | BIT(NF_INET_LOCAL_IN) |
			     BIT(NF_INET_LOCAL_OUT) | BIT(NF_INET_POST_ROUTING));
}

/**
 * toe_sk_lacks() - what @sk uses that @tdev does not carry
 * @sk: an established socket
 * @tdev: the device it is or would be offloaded to
 *
 * The extensions the handshake negotiated, and keepalive.
 *
 * Context: any.
 * Return: the TOE_F_* features @sk uses and @tdev lacks, 0 if none.
 */
u32 toe_sk_lacks(const struct sock *sk, const struct toedev *tdev)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 used = 0;

	if (tp->rx_opt.tstamp_ok)
		used |= TOE_F_TIMESTAMPS;
	if (tcp_is_sack(tp))
		used |= TOE_F_SACK;
	if (tp->rx_opt.wscale_ok)
		used |= TOE_F_WSCALE;
	if (READ_ONCE(tp->ecn_flags) & TCP_ECN_OK)
		used |= TOE_F_ECN;
	if (sock_flag(sk, SOCK_KEEPOPEN))
		used |= TOE_F_KEEPALIVE;
	return used & ~READ_ONCE(tdev->features);
}

/* Is @tdev enabled, registered and bound to the port of @sk's route, and
 * is that port up? Stable while toe_handover_sem is held.
 */
static bool toe_sk_on_tdev(struct sock *sk, struct toedev *tdev)
{
	struct dst_entry *dst = __sk_dst_get(sk);
	bool ret;

	if (!dst || !dst->dev || !netif_running(dst->dev) ||
	    !READ_ONCE(tdev->enabled) ||
	    READ_ONCE(tdev->reg_state) != TOEDEV_REGISTERED)
		return false;
	rcu_read_lock();
	ret = toedev_lookup_rcu(dst->dev) == tdev;
	rcu_read_unlock();
	return ret;
}

#if IS_ENABLED(CONFIG_IPV6)
/* ip6_xmit()'s flow label for the socket's segments: its own, or, with
 * automatic labels, ip6_make_flowlabel()'s from the hash TCP gives each
 * skb (sk_txhash).
 */
static __be32 toe_flowlabel(const struct sock *sk)
{
	const struct ipv6_pinfo *np = inet6_sk(sk);
	struct net *net = sock_net(sk);
	u8 mode = net->ipv6.sysctl.auto_flowlabels;
	__be32 label = np->flow_label & IPV6_FLOWLABEL_MASK;
	bool autolabel;

	autolabel = np->autoflowlabel_set ? np->autoflowlabel :
		    ip6_default_np_autolabel(net);
	if (label || mode == IP6_AUTO_FLOW_LABEL_OFF ||
	    (!autolabel && mode != IP6_AUTO_FLOW_LABEL_FORCED))
		return label;
	label = (__force __be32)rol32(READ_ONCE(sk->sk_txhash), 16) &
		IPV6_FLOWLABEL_MASK;
	if (net->ipv6.sysctl.flowlabel_state_ranges)
		label |= IPV6_FLOWLABEL_STATELESS_FLAG;
	return label;
}
#endif

/* The IP header fields and skb metadata of Linux TCP's segments, as
 * ip_queue_xmit() and ip6_xmit() set them (TOS or traffic class, TTL or
 * hop limit, DF, the IPv4 ID, the IPv6 flow label). Socket options that
 * change the IP header hand the socket back (SOL_IP, SOL_IPV6); SO_MARK
 * and SO_PRIORITY at the next send or within a second (toe_sk_meta_ok()).
 * A flow label Linux TCP would pick anew after a timeout (a new
 * sk_txhash) stays the handover's while the engine carries it.
 */
static void toe_fill_ip(struct sock *sk, struct toe_tcp_state *st)
{
	struct dst_entry *dst = __sk_dst_get(sk);
	const struct inet_sock *inet = inet_sk(sk);
	int ttl;

	st->mark = READ_ONCE(sk->sk_mark);
	st->priority = READ_ONCE(sk->sk_priority);
#if IS_ENABLED(CONFIG_IPV6)
	if (toe_family_bit(sk) == TOE_FAMILY_IPV6) {
		const struct ipv6_pinfo *np = inet6_sk(sk);

		st->tos = np->tclass & ~INET_ECN_MASK;
		ttl = np->hop_limit;
		if (ttl < 0)
			ttl = dst ? ip6_dst_hoplimit(dst) : 64;
		st->ttl = ttl;
		st->flowlabel = toe_flowlabel(sk);
		return;
	}
#endif
	st->tos = inet->tos & ~INET_ECN_MASK;
	ttl = inet->uc_ttl;
	if (ttl < 0)
		ttl = dst ? ip4_dst_hoplimit(dst) : 64;
	st->ttl = ttl;
	st->ip_id = atomic_read(&inet->inet_id);
	st->df = dst ? ip_dont_fragment(sk, dst) : true;
}

static void toe_fill_state(struct sock *sk, struct toe_tcp_state *st)
{
	struct tcp_sock *tp = tcp_sk(sk);

	memset(st, 0, sizeof(*st));
	st->snd_una = tp->snd_una;
	st->snd_nxt = tp->snd_nxt;
	st->write_seq = tp->write_seq;
	st->rcv_nxt = tp->rcv_nxt;
	st->copied_seq = tp->copied_seq;
	st->snd_wnd = tp->snd_wnd;
	st->rcv_wnd = tcp_receive_window(tp);
	st->snd_wscale = tp->rx_opt.snd_wscale;
	st->rcv_wscale = tp->rx_opt.rcv_wscale;
	st->mss = tp->mss_cache;
	st->ts_ok = tp->rx_opt.tstamp_ok;
	st->sack_ok = tcp_is_sack(tp);
	st->ts_recent = tp->rx_opt.ts_recent;
	st->tsoffset = tp->tsoffset;
	st->srtt_us = tp->srtt_us >> 3;
	toe_fill_ip(sk, st);
}

/* A copy of @src's payload, paged as toe_sendmsg_locked() builds it and
 * charged to @sk's send buffer.
 */
static struct sk_buff *toe_copy_payload(struct sock *sk, struct sk_buff *src)
{
	struct sk_buff *skb;
	u32 off = 0;
	int i, err;

	skb = alloc_skb_with_frags(0, src->len, PAGE_ALLOC_COSTLY_ORDER, &err,
				   sk->sk_allocation);
	if (!skb)
		return NULL;
	/* alloc_skb_with_frags() only sized the fragments. */
	skb->data_len = src->len;
	skb->len = src->len;
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		skb_frag_t *f = &skb_shinfo(skb)->frags[i];

		if (skb_copy_bits(src, off, skb_frag_address(f),
				  skb_frag_size(f))) {
			kfree_skb(skb);
			return NULL;
		}
		off += skb_frag_size(f);
	}
	TCP_SKB_CB(skb)->seq = TCP_SKB_CB(src)->seq;
	TCP_SKB_CB(skb)->end_seq = TCP_SKB_CB(src)->seq + src->len;
	skb_set_owner_w(skb, sk);
	return skb;
}

/* Append a copy of @src to @list if it continues the stream at *@next. */
static int toe_copy_one(struct sock *sk, struct sk_buff *src,
			struct sk_buff_head *list, u32 *next)
{
	u32 seq = TCP_SKB_CB(src)->seq, end = TCP_SKB_CB(src)->end_seq;
	struct sk_buff *skb;

	/* Bytes acknowledged but not yet trimmed come along; the engine
	 * frees them on the next ACK.
	 */
	if (TCP_SKB_CB(src)->tcp_flags & (TCPHDR_FIN | TCPHDR_SYN) ||
	    seq + src->len != end || after(seq, *next) || !after(end, *next))
		return -EAGAIN;
	skb = toe_copy_payload(sk, src);
	if (!skb)
		return -EAGAIN;
	__skb_queue_tail(list, skb);
	*next = end;
	return 0;
}

/* Copy what Linux TCP has sent and not seen acknowledged (the retransmit
 * queue) and what it has not sent yet (the write queue), for the engine.
 * Return: 0, or -EAGAIN when a copy fails or the queues are not the plain
 * byte stream from snd_una to write_seq they should be.
 */
static int toe_copy_unacked(struct sock *sk, struct sk_buff_head *list)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 next = tp->snd_una;
	struct sk_buff *src;
	struct rb_node *p;

	for (p = rb_first(&sk->tcp_rtx_queue); p; p = rb_next(p))
		if (toe_copy_one(sk, rb_to_skb(p), list, &next))
			goto err;
	skb_queue_walk(&sk->sk_write_queue, src)
		if (toe_copy_one(sk, src, list, &next))
			goto err;
	if (next == tp->write_seq)
		return 0;
err:
	__skb_queue_purge(list);
	return -EAGAIN;
}

/* The engine took over the bytes: empty Linux TCP's send side, as
 * tcp_write_queue_purge() (not exported) does, without touching the state.
 */
static void toe_purge_tx(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct rb_node *p = rb_first(&sk->tcp_rtx_queue);
	struct sk_buff *skb;

	while (p) {
		skb = rb_to_skb(p);
		p = rb_next(p);
		tcp_rtx_queue_unlink_and_free(skb, sk);
	}
	while ((skb = __skb_dequeue(&sk->sk_write_queue))) {
		tcp_skb_tsorted_anchor_cleanup(skb);
		tcp_wmem_free_skb(sk, skb);
	}
	INIT_LIST_HEAD(&tp->tsorted_sent_queue);
	tcp_clear_all_retrans_hints(tp);
	tp->highest_sack = NULL;
	tp->packets_out = 0;
	tp->retrans_out = 0;
	tp->lost_out = 0;
	tp->sacked_out = 0;
	tp->undo_marker = 0;
	tp->undo_retrans = -1;
	tp->retrans_stamp = 0;
	inet_csk(sk)->icsk_backoff = 0;
	inet_csk(sk)->icsk_retransmits = 0;
	inet_csk(sk)->icsk_probes_out = 0;
	inet_csk(sk)->icsk_probes_tstamp = 0;
	inet_csk_clear_xmit_timer(sk, ICSK_TIME_RETRANS);
	sk_mem_reclaim(sk);
}

/* A handover that did not happen: traced, and told to the events group
 * unless it is to be tried again shortly (busy: the automatic policy
 * retries every TOE_WATCH_PERIOD).
 */
static void toe_refused(struct sock *sk, struct toedev *tdev,
			enum toe_refusal why, int err)
{
	struct toe_nl_event ev = { .refusal = why, .err = err };

	trace_toe_refused(sk, tdev, why, err);
	if (why != TOE_REFUSE_BUSY)
		toe_nl_conn_event(TOE_CMD_REFUSED_NTF, sk, NULL, tdev, &ev);
}

/**
 * toe_sk_handover() - hand an established socket to its port's engine
 * @sk: a TCP socket in ESTABLISHED
 *
 * The race-free order: Linux TCP processes its backlog; the state is read;
 * from then on segments reaching Linux TCP are dropped (the socket is
 * owned, so they land in the backlog) while the engine starts steering
 * the 4-tuple; synchronize_net() waits for every frame that passed the
 * device's receive path before the steering; the backlog is flushed once
 * more, dropping those; then the protos are swapped.
 *
 * Bytes Linux TCP has queued or in flight go to the engine as copies
 * (&struct toe_handover): it sends the rest and retransmits what is lost,
 * and Linux TCP's send queues are emptied once the engine has them.
 *
 * Context: process; socket locked; may sleep.
 * Return: 0; -EHOSTUNREACH (no route now), -ENODEV (no enabled toedev on
 * the route), -EAGAIN (urgent data pending either way, out of order
 * data, or no memory for the copies: try later), -ENOSPC (table
 * full), -EOPNOTSUPP, or the engine's error. On error the socket is as
 * Linux TCP left it, its cached route looked up again if it was stale.
 * A socket whose file is being closed meanwhile is handed back before
 * this returns 0.
 */
int toe_sk_handover(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct toe_nl_event ev = {};
	enum toe_refusal why;
	struct toe_handover ho;
	struct toedev *tdev;
	struct toe_sock *ts;
	int err;

	sock_owned_by_me(sk);
	might_sleep();
	if (sk->sk_state != TCP_ESTABLISHED) {
		toe_refused(sk, NULL, TOE_REFUSE_STATE, -ENOTCONN);
		return -ENOTCONN;
	}
	if (toe_sk_offloaded(sk))
		return -EALREADY;
	/* The route Linux TCP would take for its next segment: a policy or
	 * route added since the last one went out applies.
	 */
	if (!__sk_dst_check(sk, toe_dst_cookie(sk)) &&
	    inet_csk(sk)->icsk_af_ops->rebuild_header(sk)) {
		toe_refused(sk, NULL, TOE_REFUSE_ROUTE, -EHOSTUNREACH);
		return -EHOSTUNREACH;
	}

	tdev = toe_sk_toedev(sk);
	if (!tdev) {
		toe_refused(sk, NULL, TOE_REFUSE_NODEV, -ENODEV);
		return -ENODEV;
	}
	err = -EOPNOTSUPP;
	why = TOE_REFUSE_FAMILY;
	if (!(READ_ONCE(tdev->families) & toe_family_bit(sk)))
		goto err_put;
	why = TOE_REFUSE_PROTO;
	err = toe_build_protos(sk);
	if (err)
		goto err_put;

	__sk_flush_backlog(sk);
	/* A writer asleep in Linux TCP's sendmsg or sendpage (a busy
	 * sendfile() always is) goes on there once the socket is
	 * offloaded: what it queues is the engine's (toe_adopt_tx()).
	 */
	err = -EAGAIN;
	why = sk->sk_state != TCP_ESTABLISHED ? TOE_REFUSE_STATE :
					       TOE_REFUSE_BUSY;
	if (sk->sk_state != TCP_ESTABLISHED || tp->urg_data ||
	    toe_urg_mode(tp) || !RB_EMPTY_ROOT(&tp->out_of_order_queue))
		goto err_put;
	err = -EOPNOTSUPP;
	why = TOE_REFUSE_SOCKOPT;
	if (!toe_sk_sockopts_ok(sk) || !toe_sk_carriable(sk))
		goto err_put;
	why = TOE_REFUSE_DRIVER;
	if (tdev->ops->can_offload && !tdev->ops->can_offload(tdev, sk))
		goto err_put;
	why = TOE_REFUSE_NETFILTER;
	if (toe_sk_filtered(sk, tdev)) {
		toedev_stat_inc(tdev, TOEDEV_STAT_NF_REFUSED);
		goto err_put;
	}
	why = TOE_REFUSE_FEATURE;
	if (toe_sk_lacks(sk, tdev)) {
		toedev_stat_inc(tdev, TOEDEV_STAT_FEATURE_REFUSED);
		goto err_put;
	}

	/* The device's state, tested again under the semaphore, holds
	 * until the connection is on its list, where disable, unregister
	 * and unbind find it.
	 */
	down_read(&toe_handover_sem);
	err = -ENODEV;
	why = TOE_REFUSE_DOWN;
	if (!toe_sk_on_tdev(sk, tdev))
		goto err_unlock;
	ts = toe_sk(sk);
	err = -ENOSPC;
	why = TOE_REFUSE_TABLE;
	if (atomic_inc_return(&tdev->conn_count) > READ_ONCE(tdev->conn_limit))
		goto err_dec;

	__skb_queue_head_init(&ho.unacked);
	why = TOE_REFUSE_NOMEM;
	err = toe_copy_unacked(sk, &ho.unacked);
	if (err)
		goto err_dec;
	ts->tdev = tdev;
	ts->sk_backlog_rcv = sk->sk_backlog_rcv;
	sk->sk_backlog_rcv = toe_backlog_rcv;
	toe_fill_state(sk, &ho.st);
	ts->mark = ho.st.mark;
	ts->priority = ho.st.priority;
	ts->nonagle = tp->nonagle & (TCP_NAGLE_CORK | TCP_NAGLE_OFF);
	ts->keepalive_time = tp->keepalive_time;
	why = TOE_REFUSE_ENGINE;
	err = tdev->ops->connect(tdev, sk, &ho);
	if (err) {
		__skb_queue_purge(&ho.unacked);
		sk->sk_backlog_rcv = ts->sk_backlog_rcv;
		ts->tdev = NULL;
		goto err_dec;
	}
	/* The engine owns them now; one left behind is a driver bug. */
	if (WARN_ON_ONCE(!skb_queue_empty(&ho.unacked)))
		__skb_queue_purge(&ho.unacked);
	toe_purge_tx(sk);
	if (sock_flag(sk, SOCK_KEEPOPEN))
		toe_keepalive_timer_stop(sk);
	synchronize_net();
	__sk_flush_backlog(sk);

	/* Linux TCP's own timers and ACK machinery stay idle meanwhile, and
	 * its transmit path shut (see toe_adopt_tx()).
	 */
	ts->snd_cwnd = tcp_snd_cwnd(tp);
	ts->eng_cwnd = ts->snd_cwnd;
	ts->retrans_base = tp->total_retrans;
	tp->snd_cwnd = 0;
	/* A writer already in tcp_sendmsg() queues its first skb as soon as
	 * we release the socket; tcp_skb_entail() restarts an idle window
	 * (tcp_slow_start_after_idle_check()), which must not find Linux TCP
	 * idle for longer than an RTO with that window at 0.
	 */
	tp->lsndtime = tcp_jiffies32;
	inet_csk_clear_xmit_timer(sk, ICSK_TIME_DACK);
	inet_csk(sk)->icsk_ack.pending = 0;
	inet_csk_delete_keepalive_timer(sk);
	tp->rcv_wup = tp->rcv_nxt;
	ts->consumed_seq = tp->copied_seq;
	ts->rcv_wnd = tp->rcv_wnd;
	tp->rcv_wnd = max(tp->rcv_wnd, tp->window_clamp);
	/* Linux TCP measures the receiver's RTT on the data it takes in
	 * (tcp_rcv_rtt_measure()), which it no longer sees; tcp_recvmsg()
	 * sizes the receive buffer by it (tcp_rcv_space_adjust()), and
	 * does nothing until there is one. Without a measurement yet, the
	 * smoothed RTT stands in, here and once the engine has one (see
	 * toe_sk_timing_update()).
	 */
	if (!tp->rcv_rtt_est.rtt_us)
		WRITE_ONCE(tp->rcv_rtt_est.rtt_us, tp->srtt_us);

	ts->use_write_queue = sock_flag(sk, SOCK_USE_WRITE_QUEUE);
	ts->sk_proto = sk->sk_prot;
	ts->sk_ops = sk->sk_socket->ops;
	/* Ours, unless a kernel layer owns the socket's callbacks
	 * (sk_user_data: KCM's psock, ...): its own is called as in
	 * software. One that took it over after an earlier handover saved
	 * ours and calls it (see toe_write_space()).
	 */
	write_lock_bh(&sk->sk_callback_lock);
	if (!sk->sk_user_data &&
	    sk->sk_write_space != toe_write_space) {
		WRITE_ONCE(ts->sk_write_space, sk->sk_write_space);
		WRITE_ONCE(sk->sk_write_space, toe_write_space);
	}
	write_unlock_bh(&sk->sk_callback_lock);
	sock_reset_flag(sk, SOCK_USE_WRITE_QUEUE);
	ts->since = jiffies;
	toedev_stat_inc(tdev, TOEDEV_STAT_HANDOVERS);
	ts->port = __sk_dst_get(sk)->dev;
	ts->handovers++;

	spin_lock_bh(&tdev->conns_lock);
	list_add_tail(&ts->node, &tdev->conns);
	spin_unlock_bh(&tdev->conns_lock);

	WRITE_ONCE(sk->sk_socket->ops, &toe_proto_ops[toe_fam(sk)]);
	WRITE_ONCE(sk->sk_prot, &toe_prots[toe_fam(sk)]);
	toe_stray_filter_attach(sk);
	up_read(&toe_handover_sem);
	trace_toe_handover(sk, tdev);
	toe_nl_conn_event(TOE_CMD_HANDOVER_NTF, sk, ts, tdev, &ev);

	/* close() looks the proto up before it takes the socket lock
	 * (inet_release()), after the last reference on the file went: one
	 * that raced with us runs Linux TCP's, which would destroy the
	 * socket under the engine. Seen here, the file is going, and the
	 * connection goes back as toe_close() would send it (a handback,
	 * not an error: the socket is the ULP's now).
	 */
	smp_mb();
	if (toe_sk_file_closing(sk))
		toe_sk_handback_locked(sk, TOE_HB_FIN);
	return 0;

err_dec:
	atomic_dec(&tdev->conn_count);
err_unlock:
	up_read(&toe_handover_sem);
err_put:
	toe_refused(sk, tdev, why, err);
	toedev_put(tdev);
	return err;
}

/* Queue the bytes of @unacked from write_seq up to @end on Linux TCP's
 * write queue; skbs used up are freed, and so are those that end at or
 * before write_seq (bytes the peer acknowledged, which toe_hb_check()
 * lets through). Return: 0 or -ENOMEM.
 */
static int toe_requeue_upto(struct sock *sk, struct sk_buff_head *unacked,
			    u32 end)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;
	struct msghdr msg;
	struct kvec vec;
	u32 seq, stop;
	int ret;

	while ((skb = skb_peek(unacked)) && before(tp->write_seq, end)) {
		if (!after(TCP_SKB_CB(skb)->end_seq, tp->write_seq)) {
			__skb_unlink(skb, unacked);
			kfree_skb(skb);
			continue;
		}
		seq = TCP_SKB_CB(skb)->seq;
		stop = after(TCP_SKB_CB(skb)->end_seq, end) ? end :
		       TCP_SKB_CB(skb)->end_seq;
		if (before(tp->write_seq, seq) || !before(tp->write_seq, stop) ||
		    skb_linearize(skb))
			return -ENOMEM;
		vec.iov_base = skb->data + (tp->write_seq - seq);
		vec.iov_len = stop - tp->write_seq;
		/* Not idle: see toe_sk_handover() on the window at 0. */
		tp->lsndtime = tcp_jiffies32;
		memset(&msg, 0, sizeof(msg));
		msg.msg_flags = MSG_DONTWAIT;
		iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &vec, 1, vec.iov_len);
		ret = tcp_sendmsg_locked(sk, &msg, vec.iov_len);
		if (ret < 0 || ret != vec.iov_len) {
			pr_warn_ratelimited("handback: requeued %d of %zu bytes\n",
					    ret, vec.iov_len);
			return -ENOMEM;
		}
		if (stop == TCP_SKB_CB(skb)->end_seq) {
			__skb_unlink(skb, unacked);
			kfree_skb(skb);
		}
	}
	return 0;
}

/* What tcp_event_new_data_sent() does, without sending: the write queue
 * (bytes the engine sent and the peer has not acknowledged) moves to the
 * retransmit queue as sent now, and the RTO runs for them.
 */
static void toe_mark_sent(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 mss = tp->mss_cache;
	struct rb_node **p, *parent;
	struct sk_buff *skb;
	u64 now = tcp_clock_ns();

	while ((skb = tcp_send_head(sk))) {
		__skb_unlink(skb, &sk->sk_write_queue);
		tcp_skb_pcount_set(skb, DIV_ROUND_UP(skb->len, mss));
		TCP_SKB_CB(skb)->tcp_gso_size = tcp_skb_pcount(skb) > 1 ? mss : 0;
		skb->skb_mstamp_ns = now;
		/* The queue was empty and sequence numbers only grow: the
		 * new skb is the rightmost.
		 */
		p = &sk->tcp_rtx_queue.rb_node;
		parent = NULL;
		while (*p) {
			parent = *p;
			p = &parent->rb_right;
		}
		rb_link_node(&skb->rbnode, parent, p);
		rb_insert_color(&skb->rbnode, &sk->tcp_rtx_queue);
		list_move_tail(&skb->tcp_tsorted_anchor, &tp->tsorted_sent_queue);
		if (!tp->highest_sack)
			tp->highest_sack = skb;
		WRITE_ONCE(tp->snd_nxt, TCP_SKB_CB(skb)->end_seq);
		tp->packets_out += tcp_skb_pcount(skb);
	}
	if (tp->packets_out)
		inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS,
					  inet_csk(sk)->icsk_rto, TCP_RTO_MAX);
}

/* Put bytes the peer has not acknowledged back on Linux TCP's queues:
 * those the engine sent (up to @sent) on the retransmit queue, as sent,
 * the rest on the write queue. The peer may have received and be about
 * to acknowledge any of the first: with snd_nxt at @sent, Linux TCP takes
 * those ACKs, where restarting at snd_una would make it discard every
 * segment of the peer as an ACK of data never sent. The send buffer
 * takes the bytes whatever its size, and a shutdown(SHUT_WR) in progress
 * must not refuse bytes written before it.
 * Return: 0, or -ENOMEM if some could not be queued (the caller resets
 * the connection: losing bytes silently is not an option).
 */
static int toe_requeue(struct sock *sk, struct sk_buff_head *unacked,
		       u32 sent, u32 end)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u8 shutdown = sk->sk_shutdown;
	struct sk_buff *skb;
	u32 total = 0, cwnd;
	int err;

	skb_queue_walk(unacked, skb)
		total += skb->len;
	if (!total)
		return 0;

	WRITE_ONCE(sk->sk_sndbuf, max_t(int, READ_ONCE(sk->sk_sndbuf),
					sk->sk_wmem_queued + 2 * total +
					SKB_TRUESIZE(tp->mss_cache)));
	WRITE_ONCE(sk->sk_shutdown, shutdown & ~SEND_SHUTDOWN);

	/* Nothing goes out while the sent bytes are queued. */
	cwnd = tcp_snd_cwnd(tp);
	tp->snd_cwnd = 0;
	err = toe_requeue_upto(sk, unacked, sent);
	if (!err)
		toe_mark_sent(sk);
	tcp_snd_cwnd_set(tp, cwnd);
	if (!err)
		err = toe_requeue_upto(sk, unacked, end);
	__skb_queue_purge(unacked);
	WRITE_ONCE(sk->sk_shutdown, shutdown);
	return err;
}

/* A driver gives back every byte the application wrote that the peer has
 * not acknowledged: @hb->unacked covers [snd_una, write_seq) with no gap,
 * and the sequence numbers stay between what Linux TCP last saw
 * acknowledged and what the application wrote. Checked, because a driver
 * that loses a byte here would hand the peer a stream with a hole in it.
 */
static int toe_hb_check(const struct sock *sk, const struct toe_handback *hb,
			u32 write_seq)
{
	const struct toe_tcp_state *st = &hb->st;
	const struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;
	u32 next = st->snd_una;

	if (st->write_seq != write_seq || before(st->snd_una, tp->snd_una) ||
	    after(st->snd_una, write_seq) || before(st->snd_nxt, st->snd_una) ||
	    after(st->snd_nxt, write_seq))
		return -EPROTO;
	skb_queue_walk(&hb->unacked, skb) {
		if (after(TCP_SKB_CB(skb)->seq, next) ||
		    TCP_SKB_CB(skb)->end_seq - TCP_SKB_CB(skb)->seq != skb->len)
			return -EPROTO;
		if (after(TCP_SKB_CB(skb)->end_seq, next))
			next = TCP_SKB_CB(skb)->end_seq;
	}
	return before(next, write_seq) ? -EPROTO : 0;
}

/* The connection's state is lost: reset it, as Linux TCP aborts one it
 * cannot go on with. The peer gets a RST at the engine's snd_nxt when that
 * is believable, the application ECONNABORTED.
 */
static void toe_hb_abort(struct sock *sk, struct toe_handback *hb,
			 enum toe_handback_reason reason, u32 write_seq,
			 int err)
{
	const struct toe_tcp_state *st = &hb->st;
	struct tcp_sock *tp = tcp_sk(sk);

	__skb_queue_purge(&hb->unacked);
	__skb_queue_purge(&hb->frames);
	pr_warn_ratelimited("handback (%s) lost the state: %d, resetting\n",
			    toe_hb_name(reason), err);
	if (!before(st->snd_una, tp->snd_una) &&
	    !before(st->snd_nxt, st->snd_una) && !after(st->snd_nxt, write_seq)) {
		WRITE_ONCE(tp->snd_una, st->snd_una);
		WRITE_ONCE(tp->snd_nxt, st->snd_nxt);
		tp->snd_wnd = st->snd_wnd;
	}
	if (sock_flag(sk, SOCK_DEAD)) {
		tcp_done(sk);
		return;
	}
	/* Sends the RST, empties the queues, leaves the socket closed. */
	tcp_disconnect(sk, 0);
	WRITE_ONCE(sk->sk_err, ECONNABORTED);
	sk_error_report(sk);
}

/* Linux TCP's keepalive timer, from when the peer was last heard
 * (rcv_tstamp) and the @probes the engine sent unanswered: due a
 * keepalive time after that, or at once when the engine gave up on an
 * idle connection (tcp_keepalive_timer() then resets it).
 */
static void toe_hb_keepalive(struct sock *sk, u8 probes)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 elapsed = keepalive_time_elapsed(tp);
	u32 when = keepalive_time_when(tp);

	inet_csk(sk)->icsk_probes_out = probes;
	if (probes)
		when = 0;
	else
		when = when > elapsed ? when - elapsed : 0;
	inet_csk_reset_keepalive_timer(sk, when);
}

/* Linux TCP's timers take over from the engine's, with the bytes back on
 * its queues: the retransmission timer runs for bytes in flight
 * (toe_mark_sent()), the window probe timer for bytes behind a shut
 * window, the keepalive timer with SO_KEEPALIVE (toe_hb_keepalive()). A
 * peer that stopped answering the engine (%TOE_HB_TIMEOUT) keeps the
 * count and the start the engine reported, so that Linux TCP
 * gives up on the schedule it would have kept had it carried the
 * connection throughout. The engine handed it back at a retransmission
 * timeout without sending again: Linux TCP's timer runs at once, sends
 * that retransmission and enters its loss state, whose recovery clears
 * retrans_stamp when the peer answers.
 */
static void toe_hb_timers(struct sock *sk, const struct toe_handback *hb,
			  enum toe_handback_reason reason)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct tcp_sock *tp = tcp_sk(sk);
	bool stall = reason == TOE_HB_TIMEOUT && hb->stall_ms;
	u32 since;

	if (sock_flag(sk, SOCK_KEEPOPEN))
		toe_hb_keepalive(sk, stall && !tp->packets_out &&
				 !tcp_send_head(sk) ? hb->stall_count : 0);
	if (tp->packets_out) {
		if (stall) {
			since = tcp_time_stamp_raw() - hb->stall_ms;
			tp->retrans_stamp = since ?: 1;
			icsk->icsk_retransmits = hb->stall_count;
			icsk->icsk_backoff = hb->stall_count;
			inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, 0,
						  TCP_RTO_MAX);
		}
		return;
	}
	if (!tcp_send_head(sk))
		return;
	if (stall) {
		since = tcp_jiffies32 - msecs_to_jiffies(hb->stall_ms);
		icsk->icsk_probes_tstamp = since ?: 1;
		icsk->icsk_probes_out = hb->stall_count;
	}
	tcp_check_probe_timer(sk);
}

/* Does the engine hand back a RST among the frames it kept (one that came
 * while it drained for another reason)? They start at the network header.
 */
static bool toe_frames_rst(struct sk_buff_head *frames)
{
	const struct tcphdr *th;
	struct sk_buff *skb;
	struct tcphdr _th;
	unsigned int off;
	u8 proto;

	skb_queue_walk(frames, skb) {
		if (skb->protocol == htons(ETH_P_IP)) {
			const struct iphdr *iph;
			struct iphdr _iph;

			iph = skb_header_pointer(skb, 0, sizeof(_iph), &_iph);
			if (!iph)
				continue;
			proto = iph->protocol;
			off = iph->ihl * 4;
		} else if (skb->protocol == htons(ETH_P_IPV6)) {
			const struct ipv6hdr *ip6h;
			struct ipv6hdr _ip6h;

			ip6h = skb_header_pointer(skb, 0, sizeof(_ip6h), &_ip6h);
			if (!ip6h)
				continue;
			proto = ip6h->nexthdr;
			off = sizeof(*ip6h);
		} else {
			continue;
		}
		if (proto != IPPROTO_TCP)
			continue;
		th = skb_header_pointer(skb, off, sizeof(_th), &_th);
		if (th && th->rst)
			return true;
	}
	return false;
}

/**
 * toe_sk_handback_locked() - hand an offloaded socket back to Linux TCP
 * @sk: the socket; nothing happens if it is not offloaded
 * @reason: why
 *
 * Context: process; socket locked; may sleep.
 * Return: 0, or the engine's error or the core's (-EPROTO: the state it
 * gave back does not fit the socket's; -ENOMEM); the connection is then
 * reset.
 */
int toe_sk_handback_locked(struct sock *sk, enum toe_handback_reason reason)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct toe_nl_event ev;
	struct toe_handback hb;
	struct toedev *tdev;
	struct toe_sock *ts;
	struct sk_buff *skb;
	u32 write_seq;
	int err;

	sock_owned_by_me(sk);
	if (!toe_sk_offloaded(sk))
		return 0;
	ts = toe_sk(sk);
	tdev = ts->tdev;

	__skb_queue_head_init(&hb.unacked);
	__skb_queue_head_init(&hb.frames);
	hb.stall_ms = 0;
	hb.stall_count = 0;
	hb.rcv_idle_ms = 0;
	/* Owned from here on: what reaches Linux TCP meanwhile is in the
	 * backlog, Linux TCP's once the socket is released.
	 */
	toe_stray_filter_detach(sk);
	/* Bytes Linux TCP queued behind the engine's back go with the rest;
	 * the requeue below could not put them back in order.
	 */
	err = toe_adopt_tx(sk);
	toe_fill_state(sk, &hb.st);
	write_seq = tp->write_seq;
	if (!err)
		err = tdev->ops->handback(tdev, sk, reason, &hb);
	else
		tdev->ops->handback(tdev, sk, reason, &hb);
	if (!err)
		err = toe_hb_check(sk, &hb, write_seq);

	/* Payload the engine delivered while we held the socket is in the
	 * backlog: onto the receive queue with it, before Linux TCP's
	 * backlog handler comes back.
	 */
	__sk_flush_backlog(sk);
	/* Every byte the engine acknowledged is on the receive queue now. An
	 * engine ahead of the socket acknowledged bytes the application
	 * never gets and the peer will not send again; one behind it lost
	 * track of what it delivered. Either way the stream has a hole.
	 */
	if (!err && hb.st.rcv_nxt != tp->rcv_nxt) {
		pr_warn_ratelimited("%s: rcv_nxt %u at handback, the socket's %u\n",
				    tdev->name, hb.st.rcv_nxt, tp->rcv_nxt);
		err = -EPROTO;
	}

	WRITE_ONCE(sk->sk_prot, ts->sk_proto);
	WRITE_ONCE(sk->sk_socket->ops, ts->sk_ops);
	tcp_snd_cwnd_set(tp, max(ts->snd_cwnd, 2U));
	write_lock_bh(&sk->sk_callback_lock);
	if (sk->sk_write_space == toe_write_space)
		WRITE_ONCE(sk->sk_write_space, ts->sk_write_space);
	write_unlock_bh(&sk->sk_callback_lock);
	sk->sk_backlog_rcv = ts->sk_backlog_rcv;
	if (ts->use_write_queue)
		sock_set_flag(sk, SOCK_USE_WRITE_QUEUE);
	spin_lock_bh(&tdev->conns_lock);
	list_del_init(&ts->node);
	spin_unlock_bh(&tdev->conns_lock);
	atomic_dec(&tdev->conn_count);
	ts->tdev = NULL;
	ts->last_reason = reason;
	ts->handbacks++;
	toedev_stat_inc(tdev, TOEDEV_STAT_HANDBACKS);
	trace_toe_handback(sk, tdev, reason, err, &hb.st,
			   atomic64_read(&ts->tx_bytes),
			   atomic64_read(&ts->rx_bytes));
	ev.reason = reason;
	ev.err = err;
	ev.given_back = hb.st.write_seq - hb.st.snd_una;
	toe_nl_conn_event(TOE_CMD_HANDBACK_NTF, sk, ts, tdev, &ev);
	ts->offloaded_jiffies += jiffies - ts->since;
	if (err)
		toedev_stat_inc(tdev, TOEDEV_STAT_HANDBACK_ERRORS);
	toedev_put(tdev);

	if (err) {
		toe_hb_abort(sk, &hb, reason, write_seq, err);
		return err;
	}

	/* The engine's view becomes Linux TCP's. */
	toe_count_progress(tp, hb.st.snd_una, hb.st.snd_nxt);
	toe_snd_up_follow(tp, hb.st.snd_una);
	WRITE_ONCE(tp->snd_una, hb.st.snd_una);
	WRITE_ONCE(tp->snd_nxt, hb.st.snd_una);
	WRITE_ONCE(tp->write_seq, hb.st.snd_una);
	tp->snd_wnd = hb.st.snd_wnd;
	tp->snd_wl1 = tp->rcv_nxt;
	/* Never shrink the window the engine last advertised. */
	tp->rcv_wup = tp->rcv_nxt;
	tp->rcv_wnd = hb.st.rcv_wnd;
	tp->rx_opt.ts_recent = hb.st.ts_recent;
	tp->rx_opt.ts_recent_stamp = ktime_get_seconds();
	/* IPv4 IDs go on from the engine's. */
	if (toe_family_bit(sk) == TOE_FAMILY_IPV4)
		atomic_set(&inet_sk(sk)->inet_id, hb.st.ip_id);
	/* When the peer was last heard: keepalive counts from there. */
	tp->rcv_tstamp = tcp_jiffies32 - msecs_to_jiffies(hb.rcv_idle_ms);
	inet_csk(sk)->icsk_ack.lrcvtime = tp->rcv_tstamp;
	tp->lsndtime = tcp_jiffies32;
	/* Out of memory (tcp_mem): the connection cannot go on; the peer
	 * gets a RST, not a half-open connection.
	 */
	if (toe_requeue(sk, &hb.unacked, hb.st.snd_nxt, hb.st.write_seq)) {
		toe_hb_abort(sk, &hb, reason, hb.st.write_seq, -ENOMEM);
		return -ENOMEM;
	}

	toe_hb_timers(sk, &hb, reason);
	toe_policy_handed_back(sk, reason, ts->dir);
	/* Tell the peer Linux's window now; not in answer to its RST,
	 * which Linux TCP processes next and answers with nothing.
	 */
	if (reason != TOE_HB_RST && !toe_frames_rst(&hb.frames))
		__tcp_send_ack(sk, tp->rcv_nxt);

	/* The FIN or RST the engine kept: Linux TCP processes it from the
	 * backlog when the socket is released.
	 */
	while ((skb = __skb_dequeue(&hb.frames)))
		netif_rx(skb);
	return 0;
}

static void toe_hb_work(struct work_struct *work)
{
	struct toe_sock *ts = container_of(work, struct toe_sock, hb_work);
	struct sock *sk = ts->sk;

	lock_sock(sk);
	if (toe_sock_live(sk, ts))
		toe_sk_handback_locked(sk, READ_ONCE(ts->hb_reason));
	/* Only now: while the handback drains, the policy scan, which skips
	 * a connection with one pending, must not count and ask again.
	 */
	clear_bit(TOE_SK_HB_PENDING, &ts->flags);
	release_sock(sk);
	sock_put(sk);
	toe_sock_put(ts);
}

/**
 * toe_sk_dst_stale() - did the routing change under an offloaded socket?
 * @sk: the socket
 *
 * A route or an xfrm policy added or removed in the namespace makes the
 * cached routes of its sockets obsolete (route generation ids, fib6
 * serial numbers): Linux TCP would look its route up again at its next
 * transmission, and so must the core for the engine.
 *
 * Context: RCU read side; the socket need not be locked.
 * Return: true if the socket's cached route is gone or no longer valid.
 */
bool toe_sk_dst_stale(struct sock *sk)
{
	struct dst_entry *dst = rcu_dereference(sk->sk_dst_cache);

	return !dst || (dst->obsolete &&
			!dst->ops->check(dst, toe_dst_cookie(sk)));
}

/* The next hop of @dst towards @sk's peer (IPv4 in s6_addr32[3]). */
static void toe_dst_nexthop(struct sock *sk, struct dst_entry *dst,
			    struct in6_addr *nh)
{
	memset(nh, 0, sizeof(*nh));
	if (dst->ops->family == AF_INET) {
		nh->s6_addr32[3] = rt_nexthop((struct rtable *)dst,
					      inet_sk(sk)->inet_daddr);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
	*nh = *rt6_nexthop((struct rt6_info *)dst, &sk->sk_v6_daddr);
#endif
}

/* Look the route up again, as Linux TCP would before its next segment
 * (icsk_af_ops->rebuild_header(), which also applies the namespace's
 * xfrm policies). The engine carries on only if the segments would leave
 * as before: through its port, to the same next hop, untransformed.
 */
static bool toe_sk_route_ok(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);
	struct dst_entry *dst = __sk_dst_get(sk);
	struct in6_addr before, now;
	bool known = dst;

	if (dst)
		toe_dst_nexthop(sk, dst, &before);
	if (__sk_dst_check(sk, toe_dst_cookie(sk)))
		return true;
	if (inet_csk(sk)->icsk_af_ops->rebuild_header(sk))
		return false;
	dst = __sk_dst_get(sk);
	if (!dst || dst->dev != ts->port || !toe_sk_carriable(sk))
		return false;
	/* A route reset meanwhile left no next hop to compare with. */
	if (!known)
		return true;
	toe_dst_nexthop(sk, dst, &now);
	return ipv6_addr_equal(&before, &now);
}

static void toe_route_work(struct work_struct *work)
{
	struct toe_sock *ts = container_of(work, struct toe_sock, route_work);
	struct sock *sk = ts->sk;

	lock_sock(sk);
	clear_bit(TOE_SK_ROUTE_PENDING, &ts->flags);
	if (toe_sock_live(sk, ts) && toe_sk_offloaded(sk) &&
	    !toe_sk_route_ok(sk)) {
		toedev_stat_inc(ts->tdev, TOEDEV_STAT_REROUTED);
		toe_sk_handback_locked(sk, TOE_HB_ROUTE);
	}
	release_sock(sk);
	sock_put(sk);
	toe_sock_put(ts);
}

/**
 * toe_sk_request_route_check() - check an offloaded socket's route later
 * @sk: the socket, whose cached route went stale (toe_sk_dst_stale())
 *
 * The check runs from a workqueue under the socket lock, and hands the
 * socket back (%TOE_HB_ROUTE) if its new route is not the engine's.
 *
 * Context: any.
 */
void toe_sk_request_route_check(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);

	if (!ts || test_and_set_bit(TOE_SK_ROUTE_PENDING, &ts->flags))
		return;
	toe_sock_queue(ts, &ts->route_work);
}

static void toe_sock_request_handback(struct toe_sock *ts,
				      enum toe_handback_reason reason)
{
	if (test_and_set_bit(TOE_SK_HB_PENDING, &ts->flags))
		return;
	WRITE_ONCE(ts->hb_reason, reason);
	trace_toe_handback_request(ts->sk, reason);
	toe_sock_queue(ts, &ts->hb_work);
}

/**
 * toe_sk_request_handback() - ask for an offloaded socket to be handed back
 * @sk: the socket
 * @reason: why (a FIN or RST the engine received, an error, ...)
 *
 * The handback runs later from a workqueue, in process context under the
 * socket lock, and calls &toedev_ops.handback.
 *
 * Context: any.
 */
void toe_sk_request_handback(struct sock *sk, enum toe_handback_reason reason)
{
	struct toe_sock *ts = toe_sk(sk);

	if (ts)
		toe_sock_request_handback(ts, reason);
}
EXPORT_SYMBOL_NS_GPL(toe_sk_request_handback, TOE);

/**
 * toe_sk_handback() - hand a socket back to Linux TCP now
 * @sk: the socket
 * @reason: why
 *
 * Context: process; takes the socket lock; may sleep.
 * Return: 0 or the engine's error.
 */
int toe_sk_handback(struct sock *sk, enum toe_handback_reason reason)
{
	int err;

	lock_sock(sk);
	err = toe_sk_handback_locked(sk, reason);
	release_sock(sk);
	return err;
}
EXPORT_SYMBOL_NS_GPL(toe_sk_handback, TOE);

/* How long toe_dev_handback_all() waits for the handbacks it queued: one
 * drain (a few RTOs, 3 s for toesim), with room for a busy workqueue.
 */
#define TOE_HB_ALL_WAIT		(10 * HZ)

static bool toe_dev_has_conns(struct toedev *tdev, struct net_device *port)
{
	struct toe_sock *it;
	bool any = false;

	spin_lock_bh(&tdev->conns_lock);
	list_for_each_entry(it, &tdev->conns, node) {
		if (!port || it->port == port) {
			any = true;
			break;
		}
	}
	spin_unlock_bh(&tdev->conns_lock);
	return any;
}

/**
 * toe_dev_handback_all() - hand back connections of a device
 * @tdev: the device
 * @port: only those on this port, or NULL for all
 * @reason: why (device down, unregistration, admin)
 *
 * The handbacks run at once, from the workqueue (as many together as it
 * runs, 256), each draining its connection on its own: the caller (under
 * RTNL, for disable, unregister and a port going down) waits for a drain,
 * not for one per connection. What is still offloaded after
 * TOE_HB_ALL_WAIT is handed back here, one by one.
 *
 * Context: process; may sleep; must not hold a socket lock.
 */
void toe_dev_handback_all(struct toedev *tdev, struct net_device *port,
			  enum toe_handback_reason reason)
{
	unsigned long until = jiffies + TOE_HB_ALL_WAIT;
	struct toe_sock *ts, *it;
	struct sock *sk;

	spin_lock_bh(&tdev->conns_lock);
	list_for_each_entry(it, &tdev->conns, node)
		if (!port || it->port == port)
			toe_sock_request_handback(it, reason);
	spin_unlock_bh(&tdev->conns_lock);
	while (toe_dev_has_conns(tdev, port) && time_before(jiffies, until))
		msleep(20);

	for (;;) {
		ts = NULL;
		sk = NULL;
		spin_lock_bh(&tdev->conns_lock);
		list_for_each_entry(it, &tdev->conns, node) {
			if (!port || it->port == port) {
				ts = it;
				sk = it->sk;
				sock_hold(sk);
				break;
			}
		}
		spin_unlock_bh(&tdev->conns_lock);
		if (!sk)
			break;
		lock_sock(sk);
		if (toe_sk(sk) == ts && ts->tdev == tdev)
			toe_sk_handback_locked(sk, reason);
		release_sock(sk);
		sock_put(sk);
		cond_resched();
	}
}

static int toe_ulp_init(struct sock *sk, u8 dir)
{
	struct toe_sock *ts;
	int err;

	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;
	ts = kzalloc(sizeof(*ts), GFP_KERNEL);
	if (!ts)
		return -ENOMEM;
	refcount_set(&ts->refcnt, 1);
	ts->sk = sk;
	ts->dir = dir;
	INIT_LIST_HEAD(&ts->node);
	INIT_WORK(&ts->hb_work, toe_hb_work);
	INIT_WORK(&ts->tx_work, toe_tx_work);
	INIT_WORK(&ts->route_work, toe_route_work);
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, ts);

	err = toe_sk_handover(sk);
	if (err) {
		RCU_INIT_POINTER(inet_csk(sk)->icsk_ulp_data, NULL);
		kfree(ts);
	}
	return err;
}

/* Who may ask for the engine (the device's ulp_access), checked against
 * the caller of setsockopt(TCP_ULP). A socket whose route has no engine
 * goes on to the handover, which tells it so (-ENODEV).
 */
static int toe_ulp_permitted(struct sock *sk)
{
	struct toedev *tdev = toe_sk_toedev(sk);
	int err = 0;

	if (!tdev)
		return 0;
	switch (READ_ONCE(tdev->ulp_access)) {
	case TOE_ULP_ACCESS_ALL:
		break;
	case TOE_ULP_ACCESS_ADMIN:
		/* The table is the machine's: the initial user namespace,
		 * not a container's.
		 */
		if (!sockopt_capable(CAP_NET_ADMIN))
			err = -EPERM;
		break;
	default:
		err = -EPERM;
		break;
	}
	if (err) {
		toedev_stat_inc(tdev, TOEDEV_STAT_ULP_DENIED);
		toe_refused(sk, tdev, TOE_REFUSE_PERM, err);
	}
	toedev_put(tdev);
	return err;
}

/* setsockopt(TCP_ULP, "toe"): the application asks. */
static int toe_ulp_request(struct sock *sk)
{
	int err;

	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;
	err = toe_ulp_permitted(sk);
	return err ? err : toe_ulp_init(sk, TOE_DIR_UNKNOWN);
}

static void toe_ulp_release(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);

	if (!ts)
		return;
	toe_stray_filter_detach(sk);
	/* Close and disconnect hand back first; a socket destroyed while
	 * offloaded has lost its connection anyway.
	 */
	if (toe_sk_offloaded(sk) && !sock_owned_by_user(sk))
		pr_warn_ratelimited("socket destroyed while offloaded\n");
	/* Put back by a layer above after the handback: not past the
	 * module's lifetime, which ends with the last ULP user.
	 */
	write_lock_bh(&sk->sk_callback_lock);
	if (sk->sk_write_space == toe_write_space && ts->sk_write_space)
		WRITE_ONCE(sk->sk_write_space, ts->sk_write_space);
	write_unlock_bh(&sk->sk_callback_lock);
	RCU_INIT_POINTER(inet_csk(sk)->icsk_ulp_data, NULL);
	/* Work still queued finds the socket without it and does nothing. */
	toe_sock_put(ts);
}

static struct tcp_ulp_ops toe_ulp_ops __read_mostly = {
	.name		= "toe",
	.owner		= THIS_MODULE,
	.init		= toe_ulp_request,
	.release	= toe_ulp_release,
};

/* The socket has the "toe" ULP: it is or was offloaded. */
bool toe_sk_has_ulp(const struct sock *sk)
{
	return inet_csk(sk)->icsk_ulp_ops == &toe_ulp_ops;
}

/**
 * toe_sk_attach() - offload a socket as TCP_ULP "toe" would
 * @sk: an established socket without a ULP, or one handed back before
 * @dir: TOE_DIR_*: how the automatic policy saw it open (a socket handed
 *	back before keeps the direction it had)
 *
 * What tcp_set_ulp() does, which 6.1 does not export: the ULP holds a
 * reference on its module for as long as the socket has it. A socket
 * that has the "toe" ULP already, handed back, is handed over again.
 *
 * Context: process; socket locked; may sleep.
 * Return: 0 or the error of the handover; -EEXIST for another ULP.
 */
int toe_sk_attach(struct sock *sk, u8 dir)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	int err;

	if (icsk->icsk_ulp_ops == &toe_ulp_ops)
		return toe_sk_handover(sk);
	if (icsk->icsk_ulp_ops)
		return -EEXIST;
	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	if (sk->sk_socket)
		clear_bit(SOCK_SUPPORT_ZC, &sk->sk_socket->flags);
	err = toe_ulp_init(sk, dir);
	if (err) {
		module_put(THIS_MODULE);
		return err;
	}
	icsk->icsk_ulp_ops = &toe_ulp_ops;
	return 0;
}

int toe_sock_init(void)
{
	int err;

	err = toe_stray_filter_init();
	if (err)
		return err;
	toe_wq = alloc_workqueue("toe", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!toe_wq) {
		toe_stray_filter_exit();
		return -ENOMEM;
	}
	tcp_register_ulp(&toe_ulp_ops);
	return 0;
}

void toe_sock_exit(void)
{
	tcp_unregister_ulp(&toe_ulp_ops);
	destroy_workqueue(toe_wq);
	toe_stray_filter_exit();
}
