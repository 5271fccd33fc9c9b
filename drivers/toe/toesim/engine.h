/* SPDX-License-Identifier: GPL-2.0 */
/*
 * toesim: the TCP engine of the simulated silicon. Part of the hardware
 * half: it knows frames, 4-tuples and sequence numbers, never sockets.
 * The socket-layer half reaches it through toesim_hw.h only.
 *
 * Execution: one kernel thread per instance, bound to a configurable CPU
 * (the "NIC processor"), runs all TCP processing: frames the port's
 * rx_handler queued, payload the host posted, timers. A connection's TCB
 * is written by that thread only; the host and the receive path talk to
 * it through queues and atomic flags.
 */
#ifndef _TOESIM_ENGINE_H
#define _TOESIM_ENGINE_H

#include <linux/completion.h>
#include <linux/refcount.h>
#include <linux/skbuff.h>
#include <linux/timer.h>
#include <linux/types.h>

struct toesim_hw;
struct toesim_conn;

/* Bits of &toesim_tcb.events: work for the engine thread. */
enum {
	TOESIM_EV_TX,		/* the host posted payload */
	TOESIM_EV_RCVD,		/* the host consumed data: window update */
	TOESIM_EV_TIMER,	/* a timer of the connection fired */
	TOESIM_EV_REMOVE,	/* the host wants the connection back */
	TOESIM_EV_NEIGH,	/* the link address changed */
	TOESIM_EV_KA,		/* keepalive on, or its idle time changed */
	TOESIM_EV_NAGLE,	/* TCP_CORK or TCP_NODELAY changed */
};

/* What sent a retransmission (the toesim:toesim_retransmit tracepoint). */
enum toesim_rxt_kind {
	TOESIM_RXT_RTO,		/* going back from snd_una after an RTO */
	TOESIM_RXT_FAST,	/* fast retransmit, or NewReno's next hole */
	TOESIM_RXT_SACK,	/* a hole the peer's SACK blocks show */
};

/* What a probe asks (toesim:toesim_probe). */
enum toesim_probe_kind {
	TOESIM_PROBE_WINDOW,	/* the peer's window is shut */
	TOESIM_PROBE_KEEPALIVE,	/* the peer has been idle */
};

/* Why the engine dropped a frame of a connection (toesim:toesim_drop). */
enum toesim_drop_reason {
	TOESIM_DROP_NOMEM,	/* no memory for a private copy */
	TOESIM_DROP_FRAME,	/* malformed, or a bad checksum */
	TOESIM_DROP_QUEUE,	/* the engine's receive queue is full */
	TOESIM_DROP_FAULT,	/* fault injection (fail_rx_drop) */
	TOESIM_DROP_NF_IN,	/* a netfilter hook dropped it on receive */
	TOESIM_DROP_NF_OUT,	/* ... on transmit */
	TOESIM_DROP_PAWS,	/* an old timestamp (RFC 7323 5) */
	TOESIM_DROP_SEQ,	/* outside the window (RFC 9293 3.10.7.4) */
	TOESIM_DROP_OOO_MEM,	/* out of order, beyond the memory bound */
	TOESIM_DROP_RCVBUF,	/* the host's receive buffer took none */
};

#define TOESIM_SACK_MAX	8

/**
 * struct toesim_sack - a range of sequence space the peer holds
 * @start: first byte
 * @end: one past the last byte
 */
struct toesim_sack {
	u32	start;
	u32	end;
};

/**
 * struct toesim_tcb - the engine's TCP control block of a connection
 * @events: TOESIM_EV_* bits; set by anyone, cleared by the engine
 * @work_node: entry in the engine's work list; engine's work_lock
 * @on_work: @work_node is queued; engine's work_lock
 * @hostq: payload skbs posted by the host, in order; its own lock
 * @sndq: payload the engine owns, from @snd_una to @write_seq
 * @oooq: out of order segments, by sequence; engine thread only
 * @ooo_bytes: payload bytes on @oooq
 * @held: frames kept for Linux TCP (a FIN or RST); engine thread only
 * @timer: drives RTO, delayed ACK, persist and drain deadlines
 * @snd_una: oldest unacknowledged sequence number
 * @snd_nxt: next sequence number to send
 * @write_seq: end of the payload posted so far
 * @push_req: the host's last push: payload up to here may go in a partial
 *	segment; written by the host (WRITE_ONCE()), read by the engine
 * @nagle: TOESIM_NAGLE_* of the socket; written by the host (WRITE_ONCE())
 * @push_seen: @push_req when the engine last read it; engine thread only
 * @cork_seq: new payload past here goes in full segments only (the
 *	application corked, or said more follows): @push_req as it comes,
 *	slid up to @snd_una so that it never falls 2^31 behind; engine only
 * @force_tail: the next segment may go partial past @cork_seq (the cork
 *	timer expired, or an ACK let a held segment go); engine only
 * @snd_sml: end of the last new segment sent that was not full (Nagle's
 *	rule as Minshall has it); engine only
 * @snd_wnd: the peer's window, scaled
 * @snd_wl1: sequence number of the last window update
 * @snd_wl2: ack number of the last window update
 * @snd_max: highest sequence number sent
 * @cwnd: congestion window, bytes
 * @ssthresh: slow start threshold, bytes
 * @recover: NewReno recovery point
 * @in_recovery: fast recovery in progress
 * @dupacks: consecutive duplicate ACKs
 * @sacked: the SACK scoreboard: ranges above @snd_una the peer reported
 *	holding, sorted, disjoint, not adjacent
 * @nr_sacked: ranges in @sacked
 * @high_rxt: a SACK recovery retransmits holes from here on
 * @rcv_nxt: next sequence number expected
 * @rcv_adv: right edge of the window last advertised
 * @ts_recent: the peer's last TSval (PAWS)
 * @tsoffset: added to the local clock for TSval, as Linux TCP does
 * @tos: IPv4 TOS or IPv6 traffic class of every segment
 * @ttl: IPv4 TTL or IPv6 hop limit of every segment
 * @mark: skb->mark of every frame
 * @priority: skb->priority of every frame
 * @flowlabel: IPv6 flow label of every segment
 * @ip_id: IPv4 ID of the next segment
 * @df: IPv4 DF on every segment
 * @mss: send MSS, payload bytes
 * @snd_wscale: shift of the peer's window field
 * @rcv_wscale: shift of our window field
 * @ts_ok: timestamps negotiated
 * @sack_ok: SACK negotiated
 * @srtt_us: smoothed RTT, microseconds (0: no sample yet)
 * @rttvar_us: RTT variance, microseconds
 * @rto_ms: retransmission timeout, milliseconds
 * @backoff: consecutive RTO expirations, window probes sent, or failed
 *	transmissions, since snd_una last moved or the window opened
 * @probes_out: window probes the peer has not answered
 * @ka_probes: keepalive probes the peer has not answered
 * @ka_gone: the peer did not answer keepalive: handed back for that
 * @ka_restart: with %TOESIM_EV_KA: keepalive went on (the first probe an
 *	idle time from now), else its idle time changed (an idle time after
 *	@last_rcv); written by the host (WRITE_ONCE()), the last one counts
 * @last_rcv: jiffies of the last acceptable segment from the peer
 * @ka_at: jiffies of the keepalive timer, 0 if not armed
 * @stall_since: jiffies of the first retransmission timeout or window probe
 *	since snd_una last moved, 0 if none
 * @rto_at: jiffies of the RTO, 0 if not armed
 * @dack_at: jiffies of the delayed ACK, 0 if none pending
 * @drain_at: jiffies when a drain gives up, 0 if not draining
 * @segs_unacked: full segments received since our last ACK
 * @fin_seen: a FIN, RST or urgent data arrived: stop taking data, hand back
 * @rst_seen: a RST arrived: stop processing altogether
 * @dead: off the table; frames that still arrive go to Linux TCP
 * @removed: completed when the engine let go of the connection
 * @stats: per-connection counters (retransmits, ...)
 */
struct toesim_tcb {
	unsigned long		events;
	struct list_head	work_node;
	bool			on_work;
	struct sk_buff_head	hostq;
	struct sk_buff_head	sndq;
	struct sk_buff_head	oooq;
	u32			ooo_bytes;
	struct sk_buff_head	held;
	struct timer_list	timer;

	u32			snd_una;
	u32			snd_nxt;
	u32			write_seq;
	u32			push_req;
	u8			nagle;
	u32			push_seen;
	u32			cork_seq;
	bool			force_tail;
	u32			snd_sml;
	u32			snd_wnd;
	u32			snd_wl1;
	u32			snd_wl2;
	u32			snd_max;
	u32			cwnd;
	u32			ssthresh;
	u32			recover;
	bool			in_recovery;
	u8			dupacks;
	struct toesim_sack	sacked[TOESIM_SACK_MAX];
	u8			nr_sacked;
	u32			high_rxt;

	u32			rcv_nxt;
	u32			rcv_adv;
	u32			ts_recent;
	u32			tsoffset;
	u32			mark;
	u32			priority;
	__be32			flowlabel;
	u16			ip_id;
	bool			df;
	u8			tos;
	u8			ttl;
	u16			mss;
	u8			snd_wscale;
	u8			rcv_wscale;
	bool			ts_ok;
	bool			sack_ok;

	u32			srtt_us;
	u32			rttvar_us;
	u32			rto_ms;
	u8			backoff;
	u8			probes_out;
	u8			ka_probes;
	bool			ka_gone;
	bool			ka_restart;
	unsigned long		last_rcv;
	unsigned long		ka_at;
	unsigned long		stall_since;
	unsigned long		rto_at;
	unsigned long		dack_at;
	unsigned long		drain_at;
	u8			segs_unacked;
	bool			fin_seen;
	bool			rst_seen;
	bool			dead;
	struct completion	removed;

	struct {
		u64		tx_segs;
		u64		rx_segs;
		u64		retrans;
		u64		fast_retrans;
		u64		sack_retrans;
		u64		rto;
		u64		dupacks;
		u64		ooo;
		u64		challenge_acks;
		u64		paws_drops;
		u64		unacceptable;
		u64		rcv_drops;
	} stats;
};

#endif /* _TOESIM_ENGINE_H */
