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

#include <linux/module.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/toe.h>
#include <net/transp_v6.h>

#include "toe_internal.h"

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
};

const char *toe_hb_name(enum toe_handback_reason reason)
{
	return reason < TOE_HB_MAX ? toe_hb_names[reason] : "?";
}

static int toe_fam(const struct sock *sk)
{
	return sk->sk_family == AF_INET6 ? TOE_FAM_V6 : TOE_FAM_V4;
}

/* The socket's toe_sock; the socket lock or a reference on the socket
 * keeps it: it is freed only when the socket is destroyed.
 */
static struct toe_sock *toe_sk(const struct sock *sk)
{
	return rcu_dereference_protected(inet_csk(sk)->icsk_ulp_data, true);
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

/* Queue engine payload on the receive queue. Socket owned by us, or
 * bh-locked and not owned by the user.
 */
static int __toe_queue_rcv(struct sock *sk, struct sk_buff *skb, bool force)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct toe_sock *ts = toe_sk(sk);
	struct tcp_sock *tp = tcp_sk(sk);
	u32 seq = TCP_SKB_CB(skb)->seq;
	unsigned int len;

	if (seq != tp->rcv_nxt)
		return -EINVAL;
	if (!sk_rmem_schedule(sk, skb, skb->truesize)) {
		if (!force)
			return -ENOBUFS;
		atomic64_inc(&ts->rcv_forced);
	}
	/* The peer's MSS as tcp_measure_rcv_mss() estimates it, for
	 * TCP_INFO and for Linux TCP's ACKs after a handback.
	 */
	len = skb_shinfo(skb)->gso_size ?: skb->len;
	if (len > icsk->icsk_ack.rcv_mss)
		icsk->icsk_ack.rcv_mss = min_t(unsigned int, len, tp->advmss);
	skb_set_owner_r(skb, sk);
	__skb_queue_tail(&sk->sk_receive_queue, skb);
	WRITE_ONCE(tp->rcv_nxt, TCP_SKB_CB(skb)->end_seq);
	tp->rcv_wup = tp->rcv_nxt;
	tp->bytes_received += skb->len;
	atomic64_add(skb->len, &ts->rx_bytes);
	/* As tcp_data_ready(), which is not exported: a reader sleeping for
	 * SO_RCVLOWAT bytes is woken once they are there, not before.
	 */
	if (tcp_epollin_ready(sk, READ_ONCE(sk->sk_rcvlowat)))
		sk->sk_data_ready(sk);
	return 0;
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

/**
 * toe_sk_snd_update() - report send-side progress of an offloaded socket
 * @sk: an offloaded socket
 * @snd_una: first byte the peer has not acknowledged
 * @snd_nxt: next byte the engine will send
 * @snd_wnd: the peer's window, scaled
 *
 * Keeps the tcp_sock's mirror current for SIOCOUTQ, SIOCOUTQNSD and
 * TCP_INFO. Buffer space comes back when the engine frees the payload
 * skbs it was given, which wakes writers.
 *
 * Context: any; calls for one socket must not run concurrently.
 */
void toe_sk_snd_update(struct sock *sk, u32 snd_una, u32 snd_nxt, u32 snd_wnd)
{
	struct tcp_sock *tp = tcp_sk(sk);

	toe_count_progress(tp, snd_una, snd_nxt);
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

static bool toe_sk_writeable(const struct sock *sk)
{
	return sk_wmem_alloc_get(sk) < READ_ONCE(sk->sk_sndbuf);
}

/* sk->sk_write_space while offloaded: sock_wfree() calls it each time the
 * engine frees a payload skb it was given. A kernel layer that took over
 * sk_write_space meanwhile (KCM's psock) saved this one and may call it,
 * or put it back, after the handback: Linux TCP's own then.
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
	if (sk_wmem_alloc_get(sk) > READ_ONCE(sk->sk_sndbuf) / 2)
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
		if (toe_sk_writeable(sk) || !toe_sk_offloaded(sk))
			break;
		sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
		set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
		sk_wait_event(sk, timeo, toe_sk_writeable(sk) || sk->sk_err ||
			      (sk->sk_shutdown & SEND_SHUTDOWN) ||
			      !toe_sk_offloaded(sk), &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

static struct sk_buff *toe_copy_payload(struct sock *sk, struct sk_buff *src);

/* Bytes Linux TCP queued while the socket was offloaded. tcp_sendmsg() and
 * do_tcp_sendpages() read sk_prot before they take the socket lock, so a
 * writer may enter Linux TCP's sendmsg just before a handover and queue
 * bytes just after it. Its transmit path is held shut meanwhile (a
 * congestion window of 0: tcp_write_xmit() sends nothing), so the bytes
 * wait on the write queue; they go to the engine, in order, before any
 * newer. Return: 0, or the engine's error (the bytes stay queued).
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
	if (toe_sk_offloaded(sk) && toe_adopt_tx(sk))
		toe_sk_handback_locked(sk, TOE_HB_ERROR);
	release_sock(sk);
	sock_put(sk);
}

#define TOE_SEND_CHUNK	(64 * 1024)

/* Socket-level options go to sock_setsockopt(), never through the proto,
 * so they cannot hand back when set. An engine honours neither a pacing
 * rate nor MSG_ZEROCOPY's completions: a socket that asked for one is not
 * handed over, and goes back to Linux TCP at its next send.
 */
static bool toe_sk_sockopts_ok(const struct sock *sk)
{
	return READ_ONCE(sk->sk_max_pacing_rate) == ~0UL &&
	       !sock_flag(sk, SOCK_ZEROCOPY);
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
	if (!toe_sk_sockopts_ok(sk))
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
		if (!toe_sk_writeable(sk)) {
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

/* The reader took COPIED bytes off the receive queue: the engine may open
 * its window, as tcp_cleanup_rbuf() does in software.
 */
static void toe_consumed(struct sock *sk, int copied)
{
	struct toe_sock *ts = toe_sk(sk);

	lock_sock(sk);
	if (toe_sk_offloaded(sk))
		ts->tdev->ops->recv(ts->tdev, sk, copied);
	release_sock(sk);
}

static int toe_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		       int flags, int *addr_len)
{
	struct toe_sock *ts = toe_sk(sk);
	int ret;

	ret = ts->sk_proto->recvmsg(sk, msg, len, flags, addr_len);
	if (ret > 0 && !(flags & MSG_PEEK))
		toe_consumed(sk, ret);
	return ret;
}

/* splice() reads the receive queue through tcp_read_sock(), not recvmsg. */
static ssize_t toe_splice_read(struct socket *sock, loff_t *ppos,
			       struct pipe_inode_info *pipe, size_t len,
			       unsigned int flags)
{
	struct toe_sock *ts = toe_sk(sock->sk);
	ssize_t ret;

	ret = ts->sk_ops->splice_read(sock, ppos, pipe, len, flags);
	if (ret > 0)
		toe_consumed(sock->sk, ret);
	return ret;
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
	if (ret > 0 && toe_sk_offloaded(sk))
		ts->tdev->ops->recv(ts->tdev, sk, ret);
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
	if (toe_sk_writeable(sk)) {
		mask |= EPOLLOUT | EPOLLWRNORM;
	} else {
		sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
		set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
		/* Pairs with the free in sock_wfree(): recheck after NOSPACE
		 * is visible, or a wakeup in between is lost.
		 */
		smp_mb__after_atomic();
		if (toe_sk_writeable(sk))
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

	if (!toe_sockopt_ok(level, optname)) {
		lock_sock(sk);
		toe_sk_handback_locked(sk, TOE_HB_SOCKOPT);
		release_sock(sk);
	}
	return ts->sk_proto->setsockopt(sk, level, optname, optval, optlen);
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

static void toe_close(struct sock *sk, long timeout)
{
	struct toe_sock *ts = toe_sk(sk);

	lock_sock(sk);
	toe_sk_handback_locked(sk, TOE_HB_FIN);
	release_sock(sk);
	ts->sk_proto->close(sk, timeout);
}

/* Linux TCP's deferred work (timers that found the socket owned, TSQ)
 * belongs to the software data path, which is idle while offloaded. A
 * path MTU drop is the exception: it updates the MSS the engine reads
 * (toe_sk_path_mss()).
 */
static void toe_release_cb(struct sock *sk)
{
	unsigned long flags, nflags;
	int refs;

	/* Called with the socket spinlock held: adopt from process context. */
	if (unlikely(tcp_send_head(sk)) && toe_sk_offloaded(sk)) {
		sock_hold(sk);
		if (!queue_work(toe_wq, &toe_sk(sk)->tx_work))
			__sock_put(sk);
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
	p->recvmsg	= toe_recvmsg;
	p->release_cb	= toe_release_cb;
#ifdef CONFIG_BPF_SYSCALL
	/* A sockmap would swap in tcp_bpf's proto, built from tcp_prot,
	 * behind the engine's back: refuse, as for a socket with no such op.
	 */
	p->psock_update_sk_prot = NULL;
#endif

	*o = *sk->sk_socket->ops;
	o->poll			= toe_poll;
	o->splice_read		= toe_splice_read;
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

static u32 toe_family_bit(const struct sock *sk)
{
	return sk->sk_family == AF_INET6 ? TOE_FAMILY_IPV6 : TOE_FAMILY_IPV4;
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
	inet_csk(sk)->icsk_backoff = 0;
	inet_csk(sk)->icsk_retransmits = 0;
	inet_csk_clear_xmit_timer(sk, ICSK_TIME_RETRANS);
	sk_mem_reclaim(sk);
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
 * Return: 0; -ENODEV (no enabled toedev on the route), -EAGAIN (urgent or
 * out of order data, a writer waiting for buffer space, or no memory for
 * the copies: try later), -ENOSPC
 * (table full), -EOPNOTSUPP, or the engine's error. On error the socket
 * is untouched.
 */
int toe_sk_handover(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct toe_handover ho;
	struct toedev *tdev;
	struct toe_sock *ts;
	int err;

	sock_owned_by_me(sk);
	might_sleep();
	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;
	if (toe_sk_offloaded(sk))
		return -EALREADY;

	tdev = toe_sk_toedev(sk);
	if (!tdev)
		return -ENODEV;
	err = -EOPNOTSUPP;
	if (!(READ_ONCE(tdev->families) & toe_family_bit(sk)))
		goto err_put;
	err = toe_build_protos(sk);
	if (err)
		goto err_put;

	__sk_flush_backlog(sk);
	/* A writer asleep in tcp_sendmsg() (sk_stream_wait_memory() counts
	 * it in sk_write_pending) would wake up inside Linux TCP's sendmsg
	 * and queue and send bytes behind the engine's back: not now.
	 */
	err = -EAGAIN;
	if (sk->sk_state != TCP_ESTABLISHED || tp->urg_data ||
	    READ_ONCE(sk->sk_write_pending) ||
	    !RB_EMPTY_ROOT(&tp->out_of_order_queue))
		goto err_put;
	err = -EOPNOTSUPP;
	if (!toe_sk_sockopts_ok(sk) || !tdev->ops->can_offload(tdev, sk))
		goto err_put;

	ts = toe_sk(sk);
	err = -ENOSPC;
	if (atomic_inc_return(&tdev->conn_count) > READ_ONCE(tdev->conn_limit))
		goto err_dec;

	__skb_queue_head_init(&ho.unacked);
	err = toe_copy_unacked(sk, &ho.unacked);
	if (err)
		goto err_dec;
	ts->tdev = tdev;
	ts->sk_backlog_rcv = sk->sk_backlog_rcv;
	sk->sk_backlog_rcv = toe_backlog_rcv;
	toe_fill_state(sk, &ho.st);
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
	ts->rcv_wnd = tp->rcv_wnd;
	tp->rcv_wnd = max(tp->rcv_wnd, tp->window_clamp);

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
	return 0;

err_dec:
	atomic_dec(&tdev->conn_count);
err_put:
	toedev_put(tdev);
	return err;
}

/* Queue the bytes of @unacked from write_seq up to @end on Linux TCP's
 * write queue; skbs used up are freed. Return: 0 or -ENOMEM.
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

/**
 * toe_sk_handback_locked() - hand an offloaded socket back to Linux TCP
 * @sk: the socket; nothing happens if it is not offloaded
 * @reason: why
 *
 * Context: process; socket locked; may sleep.
 * Return: 0, or the engine's error (the connection is then reset).
 */
int toe_sk_handback_locked(struct sock *sk, enum toe_handback_reason reason)
{
	struct tcp_sock *tp = tcp_sk(sk);
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
	tp->rcv_tstamp = tcp_jiffies32;
	tp->lsndtime = tcp_jiffies32;
	if (toe_requeue(sk, &hb.unacked, hb.st.snd_nxt, hb.st.write_seq)) {
		__skb_queue_purge(&hb.frames);
		WRITE_ONCE(sk->sk_err, ENOMEM);
		sk_error_report(sk);
		tcp_done(sk);
		return -ENOMEM;
	}

	if (sock_flag(sk, SOCK_KEEPOPEN))
		inet_csk_reset_keepalive_timer(sk, keepalive_time_when(tp));
	toe_policy_handed_back(sk, reason);
	/* Tell the peer Linux's window now. */
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
	clear_bit(TOE_SK_HB_PENDING, &ts->flags);
	toe_sk_handback_locked(sk, READ_ONCE(ts->hb_reason));
	release_sock(sk);
	sock_put(sk);
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

	if (test_and_set_bit(TOE_SK_HB_PENDING, &ts->flags))
		return;
	WRITE_ONCE(ts->hb_reason, reason);
	sock_hold(sk);
	if (!queue_work(toe_wq, &ts->hb_work))
		sock_put(sk);
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

/**
 * toe_dev_handback_all() - hand back connections of a device
 * @tdev: the device
 * @port: only those on this port, or NULL for all
 * @reason: why (device down, unregistration, admin)
 *
 * Context: process; may sleep; must not hold a socket lock.
 */
void toe_dev_handback_all(struct toedev *tdev, struct net_device *port,
			  enum toe_handback_reason reason)
{
	struct toe_sock *ts, *it;
	struct sock *sk;

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

static int toe_ulp_init(struct sock *sk)
{
	struct toe_sock *ts;
	int err;

	if (sk->sk_state != TCP_ESTABLISHED)
		return -ENOTCONN;
	ts = kzalloc(sizeof(*ts), GFP_KERNEL);
	if (!ts)
		return -ENOMEM;
	ts->sk = sk;
	INIT_LIST_HEAD(&ts->node);
	INIT_WORK(&ts->hb_work, toe_hb_work);
	INIT_WORK(&ts->tx_work, toe_tx_work);
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, ts);

	err = toe_sk_handover(sk);
	if (err) {
		RCU_INIT_POINTER(inet_csk(sk)->icsk_ulp_data, NULL);
		kfree(ts);
	}
	return err;
}

static void toe_ulp_release(struct sock *sk)
{
	struct toe_sock *ts = toe_sk(sk);

	if (!ts)
		return;
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
	kfree_rcu(ts, rcu);
}

static struct tcp_ulp_ops toe_ulp_ops __read_mostly = {
	.name		= "toe",
	.owner		= THIS_MODULE,
	.init		= toe_ulp_init,
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
 *
 * What tcp_set_ulp() does, which 6.1 does not export: the ULP holds a
 * reference on its module for as long as the socket has it. A socket
 * that has the "toe" ULP already, handed back, is handed over again.
 *
 * Context: process; socket locked; may sleep.
 * Return: 0 or the error of the handover; -EEXIST for another ULP.
 */
int toe_sk_attach(struct sock *sk)
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
	err = toe_ulp_init(sk);
	if (err) {
		module_put(THIS_MODULE);
		return err;
	}
	icsk->icsk_ulp_ops = &toe_ulp_ops;
	return 0;
}

int toe_sock_init(void)
{
	toe_wq = alloc_workqueue("toe", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!toe_wq)
		return -ENOMEM;
	tcp_register_ulp(&toe_ulp_ops);
	return 0;
}

void toe_sock_exit(void)
{
	tcp_unregister_ulp(&toe_ulp_ops);
	destroy_workqueue(toe_wq);
}
