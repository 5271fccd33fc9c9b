/* SPDX-License-Identifier: GPL-2.0 */
/*
 * toesim: the interface between the socket-layer half (tom*.c, which
 * talks to the TOE core) and the simulated silicon (hw*.c). On real
 * hardware this boundary is the driver's firmware/register interface;
 * tom*.c uses nothing of the engine but what this header declares.
 *
 * The silicon holds a connection table of a size fixed when the
 * instance is created (TOESIM_TABLE_DEFAULT entries unless the
 * administrator asked for another, at most TOESIM_TABLE_MAX). The table
 * is a hash of buckets sized to the table, so that the engine finds the
 * connection of a received frame by its 4-tuple in O(1); the entries and
 * the TCP engine that fills them land with the offloaded-sockets work.
 *
 * Locking: &toesim_hw.lock protects the table and the run state; it is
 * taken from process and softirq context (the receive path), so
 * process-context holders disable BHs. Lookups on the receive path walk
 * a bucket under RCU.
 */
#ifndef _TOESIM_HW_H
#define _TOESIM_HW_H

#include <linux/if_ether.h>
#include <linux/in6.h>
#include <linux/jhash.h>
#include <linux/list.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <net/toe.h>

#include "engine.h"

#define TOESIM_TABLE_DEFAULT	2048
#define TOESIM_TABLE_MAX	1000000

/**
 * struct toesim_tuple - the key of a connection table entry
 * @saddr: local address (IPv4 in @saddr.s6_addr32[3], the rest zero)
 * @daddr: remote address, same layout as @saddr
 * @sport: local TCP port, network order
 * @dport: remote TCP port, network order
 * @family: AF_INET or AF_INET6
 *
 * Compared with memcmp(): callers zero the whole structure first.
 */
struct toesim_tuple {
	struct in6_addr	saddr;
	struct in6_addr	daddr;
	__be16		sport;
	__be16		dport;
	u32		family;
};

/**
 * struct toesim_l2 - a next hop in the engine's L2 table
 * @hnode: entry in &toesim_hw.l2_buckets; &toesim_hw.l2_lock
 * @refcnt: connections sending through it; &toesim_hw.l2_lock
 * @family: AF_INET or AF_INET6; constant
 * @nexthop: the next hop's address (IPv4 in s6_addr32[3]); constant
 * @lock: protects @dmac
 * @dmac: the next hop's link address
 *
 * Shared by every connection through the same next hop, as a TOE's L2
 * table is: a neighbour update is one write, however many connections
 * it concerns.
 */
struct toesim_l2 {
	struct hlist_node	hnode;
	unsigned int		refcnt;
	u32			family;
	struct in6_addr		nexthop;
	spinlock_t		lock; /* @dmac */
	u8			dmac[ETH_ALEN];
};

#define TOESIM_L2_HASH_BITS	8

/**
 * struct toesim_conn - one connection table entry
 * @hnode: entry in its bucket of &toesim_hw.buckets; written under
 *	&toesim_hw.lock, walked under RCU
 * @tuple: the connection's 4-tuple; constant while hashed
 * @refcnt: the table, queued frames and queued work hold references
 * @hw: the instance; constant
 * @host: the host's cookie for the &toesim_host_ops callbacks; constant
 * @l2: the next hop (the peer or a gateway), with a reference; constant
 * @node: entry in &toesim_hw.conns; &toesim_hw.lock
 * @hb: where toesim_hw_conn_remove() wants the state
 * @drain: toesim_hw_conn_remove() asked for a drain
 * @rcu: frees the entry after lockless readers are done
 * @tcb: the TCP engine's state (engine.h)
 */
struct toesim_conn {
	struct hlist_node	hnode;
	struct toesim_tuple	tuple;
	refcount_t		refcnt;
	struct toesim_hw	*hw;
	void			*host;
	struct toesim_l2	*l2;
	struct list_head	node;
	struct toe_handback	*hb;
	bool			drain;
	struct rcu_head		rcu;
	struct toesim_tcb	tcb;
};

/* Why the engine asks the host for a connection back. */
enum toesim_remove_reason {
	TOESIM_RM_FIN,
	TOESIM_RM_RST,
	TOESIM_RM_ERROR,
	TOESIM_RM_ADMIN,
	TOESIM_RM_URGENT,
	TOESIM_RM_NETFILTER,
	TOESIM_RM_TIMEOUT,
};

/* Answers the engine rate limits as Linux TCP does (RFC 5961 7). */
enum toesim_oow {
	TOESIM_OOW_SEQ,		/* an ACK to a segment outside the window */
	TOESIM_OOW_PAWS,	/* an ACK to a segment PAWS rejected */
	TOESIM_OOW_CHALLENGE,	/* a challenge ACK (RST, SYN, old ACK) */
};

/**
 * struct toesim_keepalive - a connection's keepalive settings
 * @idle_ms: idle time before the first probe (TCP_KEEPIDLE)
 * @intvl_ms: time between probes (TCP_KEEPINTVL)
 * @probes: unanswered probes before giving up (TCP_KEEPCNT)
 */
struct toesim_keepalive {
	u32	idle_ms;
	u32	intvl_ms;
	u32	probes;
};

/**
 * struct toesim_rcv_room - what the host's receive buffer takes
 * @mem: its free memory, truesize (sk_rcvbuf less what it holds)
 * @free: the window that backs now, as Linux TCP's tcp_space() (the
 *	room less its bookkeeping share, by tcp_adv_win_scale)
 * @full: the window the whole buffer backs (tcp_full_space())
 * @clamp: the socket's window clamp
 * @mss: the peer's MSS as the host estimates it (tcp_measure_rcv_mss())
 */
struct toesim_rcv_room {
	u32	mem;
	u32	free;
	u32	full;
	u32	clamp;
	u32	mss;
};

/**
 * struct toesim_host_ops - the engine's calls into the host ("interrupts")
 * @deliver: in-order payload from @seq for the host; 0 if taken (the
 *	host then owns @skb), else the engine keeps it unacknowledged
 * @rcv_room: fills @room with what the host can take now
 * @snd_update: send-side progress
 * @request_remove: the engine wants the connection handed back (a FIN or
 *	RST arrived, or an error); the host calls toesim_hw_conn_remove()
 *	later, in process context
 * @path_mss: the MSS the path allows now (path MTU discovery is the
 *	host's); read after a retransmission timeout
 * @timing: the engine's RTT estimate, RTO and congestion state, after
 *	each transmission round
 * @user_timeout: the connection's TCP_USER_TIMEOUT in milliseconds, 0 for
 *	none; read while probing a shut window
 * @probe_backoff_max: the most the backoff of window probes grows (Linux
 *	TCP's tcp_retries2); read while probing a shut window
 * @keepalive: is SO_KEEPALIVE on? Fills @ka with the connection's idle
 *	time, probe interval and count either way; read when the keepalive
 *	timer expires, and when keepalive goes on or its idle time changes
 * @oow_allowed: may the engine send the answer @kind to a segment without
 *	payload now? The host applies its rate limits and counts what it
 *	suppresses
 *
 * Called from the engine thread, without engine locks held.
 */
struct toesim_host_ops {
	int	(*deliver)(void *host, struct sk_buff *skb, u32 seq);
	void	(*rcv_room)(void *host, struct toesim_rcv_room *room);
	void	(*snd_update)(void *host, u32 snd_una, u32 snd_nxt,
			      u32 snd_wnd);
	void	(*request_remove)(void *host, enum toesim_remove_reason why);
	u32	(*path_mss)(void *host);
	void	(*timing)(void *host, const struct toe_tcp_timing *tm);
	u32	(*user_timeout)(void *host);
	u32	(*probe_backoff_max)(void *host);
	bool	(*keepalive)(void *host, struct toesim_keepalive *ka);
	bool	(*oow_allowed)(void *host, enum toesim_oow kind);
};

/* The socket's Nagle state (tcp_sock.nonagle), for a held partial segment. */
#define TOESIM_NAGLE_CORK	BIT(0)	/* TCP_CORK: only a push sends it */
#define TOESIM_NAGLE_OFF	BIT(1)	/* TCP_NODELAY: no waiting for an ACK */

/**
 * struct toesim_conn_params - a connection to install
 * @tuple: its 4-tuple, zeroed before it was filled in
 * @st: the TCP state Linux negotiated and reached
 * @nexthop: the next hop's address (IPv4 in s6_addr32[3])
 * @dmac: the next hop's link address
 * @host: the host's cookie
 * @unacked: payload from @st.snd_una (or before) to @st.write_seq, as
 *	&struct toe_handover has it; the engine takes it all on success
 * @push_seq: payload up to here may go in a partial segment, beyond it
 *	only in full ones until toesim_hw_conn_push() says otherwise
 * @nagle: TOESIM_NAGLE_* of the socket
 * @keepalive: SO_KEEPALIVE is on
 * @rcv_idle: jiffies since the peer was last heard
 */
struct toesim_conn_params {
	struct toesim_tuple	tuple;
	struct toe_tcp_state	st;
	struct sk_buff_head	*unacked;
	struct in6_addr		nexthop;
	u8			dmac[ETH_ALEN];
	void			*host;
	u32			push_seq;
	u8			nagle;
	bool			keepalive;
	u32			rcv_idle;
};

/**
 * struct toesim_hw - one instance of the simulated silicon
 * @lock: protects @used, @size, @running and the bucket lists; BH-safe
 * @buckets: the connection table, @hash_mask + 1 hash buckets
 *	(kvcalloc()); constant pointer from create to destroy
 * @hash_mask: number of buckets minus one (a power of two, at least
 *	@size when created); constant
 * @size: most entries the table takes (the "slots" of the silicon);
 *	written under @lock, READ_ONCE() for lockless readers
 * @used: entries in use; @lock
 * @running: the engine was started (toesim_hw_start()); @lock
 * @conns: every connection in the table; @lock
 * @l2_lock: protects @l2_buckets and the entries' refcounts; BH-safe
 * @l2_buckets: the L2 table, by next hop
 * @port: the device the engine works on; set at start, RTNL
 * @host_ops: the host's callbacks; constant
 * @thread: the engine thread while started; RTNL
 * @cpu: CPU the engine thread is bound to, -1 for any; written under RTNL
 *	(toesim_engine_set_cpu()), READ_ONCE() elsewhere
 * @rxq: frames for the engine thread; its own lock
 * @work_lock: protects @work; taken from any context
 * @work: connections with events for the engine thread
 * @wait: the engine thread sleeps here
 * @fault_drop: fault injection: drop this many received frames
 * @fault_connect: fault injection: refuse this many connections
 * @fault_connect_delay_ms: fault injection: the next connect() sleeps this
 *	long first, with the socket locked (a slow firmware command)
 * @fault_stall_ms: fault injection: stall the engine thread once
 * @fault_rx_delay_ms: fault injection: hold every received frame this
 *	long before the engine sees it (order kept); READ_ONCE()
 * @fault_hb_lose: fault injection: the next handback with bytes to give
 *	back loses this many of them off the end (a driver bug the core must
 *	catch)
 * @fault_hb_stale: fault injection: the next handback with bytes to give
 *	back also gives this many the peer acknowledged already, in an skb
 *	ending at snd_una (allowed: the core skips them)
 * @fault_hb_rcv_nxt: fault injection: the next handback reports a
 *	rcv_nxt this many bytes past what the engine delivered (a driver
 *	bug the core must catch)
 * @rx_frames: frames taken off the receive path
 * @rx_drops: frames dropped (malformed, queue full, fault injection)
 * @rx_reinjected: frames passed to Linux after a handback
 * @tx_frames: frames sent (GSO frames count once)
 * @table_full: connections refused for want of a table slot
 * @neigh_updates: link address updates applied to the L2 table
 * @retrans: segments sent again (any cause)
 * @fast_retrans: fast retransmissions (three duplicate ACKs)
 * @sack_retrans: segments of holes sent again in recovery as the peer's
 *	SACK blocks showed them (counted in @retrans too)
 * @rto: retransmission timeouts
 * @mss_drops: connections that took a lower MSS from the host (path MTU)
 * @ooo: segments queued out of order
 * @challenge_acks: RFC 5961 challenge ACKs sent
 * @paws_drops: segments dropped by PAWS
 * @unacceptable: segments outside the receive window, answered with an
 *	ACK and dropped (the peer's keepalive and zero-window probes among them)
 * @rcv_drops: payload dropped for want of host or queue memory
 * @netfilter: run the host's netfilter hooks on the connections' frames;
 *	READ_ONCE(), written from debugfs (false plays silicon without them)
 * @rx_nf_drops: received frames the host's netfilter hooks dropped or kept
 * @tx_nf_drops: frames to send the host's netfilter hooks dropped, kept or
 *	rewrote (NAT)
 * @profile: measure the engine's cost per received frame (benchmarks);
 *	READ_ONCE(), written from debugfs
 * @prof_ns: with @profile: nanoseconds spent classifying received frames
 *	and running them through the TCP engine
 * @prof_frames: with @profile: the frames @prof_ns was spent on
 */
struct toesim_hw {
	spinlock_t		lock; /* table, size, run state */
	struct hlist_head	*buckets;
	u32			hash_mask;
	u32			size;
	u32			used;
	bool			running;
	struct list_head	conns;
	spinlock_t		l2_lock; /* @l2_buckets */
	struct hlist_head	l2_buckets[1 << TOESIM_L2_HASH_BITS];
	struct net_device	*port;
	const struct toesim_host_ops *host_ops;
	struct task_struct	*thread;
	int			cpu;
	struct sk_buff_head	rxq;
	spinlock_t		work_lock; /* @work */
	struct list_head	work;
	wait_queue_head_t	wait;
	atomic_t		fault_drop;
	atomic_t		fault_connect;
	u32			fault_connect_delay_ms;
	u32			fault_stall_ms;
	u32			fault_rx_delay_ms;
	atomic_t		fault_hb_lose;
	atomic_t		fault_hb_stale;
	atomic_t		fault_hb_rcv_nxt;
	atomic64_t		rx_frames;
	atomic64_t		rx_drops;
	atomic64_t		rx_reinjected;
	atomic64_t		tx_frames;
	atomic64_t		table_full;
	atomic64_t		neigh_updates;
	atomic64_t		retrans;
	atomic64_t		fast_retrans;
	atomic64_t		sack_retrans;
	atomic64_t		rto;
	atomic64_t		mss_drops;
	atomic64_t		ooo;
	atomic64_t		challenge_acks;
	atomic64_t		paws_drops;
	atomic64_t		unacceptable;
	atomic64_t		rcv_drops;
	bool			netfilter;
	atomic64_t		rx_nf_drops;
	atomic64_t		tx_nf_drops;
	bool			profile;
	atomic64_t		prof_ns;
	atomic64_t		prof_frames;
};

/**
 * toesim_hw_bucket() - the bucket of a 4-tuple
 * @hw: the instance
 * @t: the tuple, zeroed before it was filled in
 *
 * Return: the bucket head in @hw's table.
 */
static inline struct hlist_head *toesim_hw_bucket(struct toesim_hw *hw,
						  const struct toesim_tuple *t)
{
	u32 h = jhash2((const u32 *)t, sizeof(*t) / sizeof(u32), 0);

	return &hw->buckets[h & hw->hash_mask];
}

struct toesim_hw *toesim_hw_create(u32 table_size,
				   const struct toesim_host_ops *host_ops);
void toesim_hw_destroy(struct toesim_hw *hw);
int toesim_hw_start(struct toesim_hw *hw, struct net_device *port);
void toesim_hw_stop(struct toesim_hw *hw);
struct toesim_conn *toesim_hw_conn_add(struct toesim_hw *hw,
				       const struct toesim_conn_params *p);
void toesim_hw_conn_post(struct toesim_conn *conn, struct sk_buff *skb);
void toesim_hw_conn_push(struct toesim_conn *conn, u32 seq);
void toesim_hw_conn_nagle(struct toesim_conn *conn, u8 nagle);
void toesim_hw_conn_keepalive(struct toesim_conn *conn, bool restart);
void toesim_hw_conn_rcvd(struct toesim_conn *conn);
void toesim_hw_conn_remove(struct toesim_conn *conn, bool drain,
			   struct toe_handback *hb);
void toesim_hw_neigh_update(struct toesim_hw *hw, int family, const void *addr,
			    const u8 *ha);
void toesim_hw_remove_all(struct toesim_hw *hw, enum toesim_remove_reason why);
int toesim_hw_remove_port(struct toesim_hw *hw, u16 port);

/* engine.c, for hw.c (and debugfs.c: toesim_engine_set_cpu()) */
int toesim_engine_start(struct toesim_hw *hw, struct net_device *port);
int toesim_engine_set_cpu(struct toesim_hw *hw, int cpu);
void toesim_engine_stop(struct toesim_hw *hw);
u32 toesim_hw_table_size(const struct toesim_hw *hw);
int toesim_hw_table_shrink(struct toesim_hw *hw, u32 size);

#endif /* _TOESIM_HW_H */
