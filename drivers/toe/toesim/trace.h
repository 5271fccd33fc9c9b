/* SPDX-License-Identifier: GPL-2.0 */
/*
 * toesim's tracepoints (toesim:*): what the engine does on the wire that
 * Linux TCP's own tracepoints (tcp:tcp_retransmit_skb, tcp:tcp_probe)
 * would show for a connection it carried: retransmissions, RTOs, fast
 * recovery, window and keepalive probes, and frames dropped, with why.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM toesim

#if !defined(_TOESIM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TOESIM_TRACE_H

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tracepoint.h>

#include "engine.h"
#include "toesim_hw.h"

/* The enum values, for tools that parse the format files. */
TRACE_DEFINE_ENUM(TOESIM_RXT_RTO);
TRACE_DEFINE_ENUM(TOESIM_RXT_FAST);
TRACE_DEFINE_ENUM(TOESIM_RXT_SACK);
TRACE_DEFINE_ENUM(TOESIM_PROBE_WINDOW);
TRACE_DEFINE_ENUM(TOESIM_PROBE_KEEPALIVE);
TRACE_DEFINE_ENUM(TOESIM_DROP_NOMEM);
TRACE_DEFINE_ENUM(TOESIM_DROP_FRAME);
TRACE_DEFINE_ENUM(TOESIM_DROP_QUEUE);
TRACE_DEFINE_ENUM(TOESIM_DROP_FAULT);
TRACE_DEFINE_ENUM(TOESIM_DROP_NF_IN);
TRACE_DEFINE_ENUM(TOESIM_DROP_NF_OUT);
TRACE_DEFINE_ENUM(TOESIM_DROP_PAWS);
TRACE_DEFINE_ENUM(TOESIM_DROP_SEQ);
TRACE_DEFINE_ENUM(TOESIM_DROP_OOO_MEM);
TRACE_DEFINE_ENUM(TOESIM_DROP_RCVBUF);

#define toesim_show_rxt(v)						\
	__print_symbolic(v,					\
			 { TOESIM_RXT_RTO, "rto" }, \
			 { TOESIM_RXT_FAST, "fast" }, \
			 { TOESIM_RXT_SACK, "sack" })

#define toesim_show_probe(v)						\
	__print_symbolic(v,					\
			 { TOESIM_PROBE_WINDOW, "window" }, \
			 { TOESIM_PROBE_KEEPALIVE, "keepalive" })

#define toesim_show_drop(v)						\
	__print_symbolic(v,					\
			 { TOESIM_DROP_NOMEM, "nomem" }, \
			 { TOESIM_DROP_FRAME, "frame" }, \
			 { TOESIM_DROP_QUEUE, "queue" }, \
			 { TOESIM_DROP_FAULT, "fault" }, \
			 { TOESIM_DROP_NF_IN, "netfilter_in" }, \
			 { TOESIM_DROP_NF_OUT, "netfilter_out" }, \
			 { TOESIM_DROP_PAWS, "paws" }, \
			 { TOESIM_DROP_SEQ, "seq" }, \
			 { TOESIM_DROP_OOO_MEM, "ooo_mem" }, \
			 { TOESIM_DROP_RCVBUF, "rcvbuf" })

/*
 * The connection's addresses as two struct sockaddr_in6, or sockaddr_in
 * in the same room (printed with %pISpc): local, then remote.
 */
#ifndef _TOESIM_TRACE_ADDRS
#define _TOESIM_TRACE_ADDRS
static inline void toesim_tr_addrs(const struct toesim_tuple *t, void *l,
				   void *r)
{
	struct sockaddr_in6 *l6 = l, *r6 = r;
	struct sockaddr_in *l4 = l, *r4 = r;

	memset(l, 0, sizeof(*l6));
	memset(r, 0, sizeof(*r6));
	if (t->family == AF_INET6) {
		l6->sin6_family = AF_INET6;
		l6->sin6_port = t->sport;
		l6->sin6_addr = t->saddr;
		r6->sin6_family = AF_INET6;
		r6->sin6_port = t->dport;
		r6->sin6_addr = t->daddr;
	} else {
		l4->sin_family = AF_INET;
		l4->sin_port = t->sport;
		l4->sin_addr.s_addr = t->saddr.s6_addr32[3];
		r4->sin_family = AF_INET;
		r4->sin_port = t->dport;
		r4->sin_addr.s_addr = t->daddr.s6_addr32[3];
	}
}
#endif

/*
 * The send side's state at an RTO (before it goes back to snd_una) and
 * on entering fast recovery (with the new ssthresh and cwnd).
 */
DECLARE_EVENT_CLASS(toesim_cc_class,
		    TP_PROTO(const struct toesim_conn *conn),
		    TP_ARGS(conn),
		    TP_STRUCT__entry(__array(__u8, saddr, sizeof(struct sockaddr_in6))
				     __array(__u8, daddr, sizeof(struct sockaddr_in6))
				     __field(u32, snd_una)
				     __field(u32, snd_max)
				     __field(u32, cwnd)
				     __field(u32, ssthresh)
				     __field(u32, rto_ms)
				     __field(u8, backoff)
				     __field(u8, sacked)
		    ),
		    TP_fast_assign(toesim_tr_addrs(&conn->tuple, __entry->saddr, __entry->daddr);
				   __entry->snd_una = conn->tcb.snd_una;
				   __entry->snd_max = conn->tcb.snd_max;
				   __entry->cwnd = conn->tcb.cwnd;
				   __entry->ssthresh = conn->tcb.ssthresh;
				   __entry->rto_ms = conn->tcb.rto_ms;
				   __entry->backoff = conn->tcb.backoff;
				   __entry->sacked = conn->tcb.nr_sacked;
		    ),
		    TP_printk("src=%pISpc dst=%pISpc snd_una=%u snd_max=%u cwnd=%u ssthresh=%u rto_ms=%u backoff=%u sacked=%u",
			      __entry->saddr, __entry->daddr, __entry->snd_una,
			      __entry->snd_max, __entry->cwnd, __entry->ssthresh,
			      __entry->rto_ms, __entry->backoff, __entry->sacked)
);

DEFINE_EVENT(toesim_cc_class, toesim_rto,
	     TP_PROTO(const struct toesim_conn *conn),
	     TP_ARGS(conn)
);

DEFINE_EVENT(toesim_cc_class, toesim_fast_recovery,
	     TP_PROTO(const struct toesim_conn *conn),
	     TP_ARGS(conn)
);

/* A segment of payload sent again; kind says what sent it. */
TRACE_EVENT(toesim_retransmit,
	    TP_PROTO(const struct toesim_conn *conn, u32 seq, u32 len, int kind),
	    TP_ARGS(conn, seq, len, kind),
	    TP_STRUCT__entry(__array(__u8, saddr, sizeof(struct sockaddr_in6))
			     __array(__u8, daddr, sizeof(struct sockaddr_in6))
			     __field(u32, seq)
			     __field(u32, len)
			     __field(int, kind)
	    ),
	    TP_fast_assign(toesim_tr_addrs(&conn->tuple, __entry->saddr, __entry->daddr);
			   __entry->seq = seq;
			   __entry->len = len;
			   __entry->kind = kind;
	    ),
	    TP_printk("src=%pISpc dst=%pISpc seq=%u len=%u kind=%s",
		      __entry->saddr, __entry->daddr, __entry->seq, __entry->len,
		      toesim_show_rxt(__entry->kind))
);

/* A probe sent: into a shut window, or to an idle peer (keepalive). */
TRACE_EVENT(toesim_probe,
	    TP_PROTO(const struct toesim_conn *conn, int kind, u8 unanswered),
	    TP_ARGS(conn, kind, unanswered),
	    TP_STRUCT__entry(__array(__u8, saddr, sizeof(struct sockaddr_in6))
			     __array(__u8, daddr, sizeof(struct sockaddr_in6))
			     __field(int, kind)
			     __field(u8, unanswered)
	    ),
	    TP_fast_assign(toesim_tr_addrs(&conn->tuple, __entry->saddr, __entry->daddr);
			   __entry->kind = kind;
			   __entry->unanswered = unanswered;
	    ),
	    TP_printk("src=%pISpc dst=%pISpc kind=%s unanswered=%u",
		      __entry->saddr, __entry->daddr,
		      toesim_show_probe(__entry->kind),
		      __entry->unanswered)
);

/* A frame of an offloaded connection dropped by the engine, and why. */
TRACE_EVENT(toesim_drop,
	    TP_PROTO(const struct toesim_conn *conn, int why),
	    TP_ARGS(conn, why),
	    TP_STRUCT__entry(__array(__u8, saddr, sizeof(struct sockaddr_in6))
			     __array(__u8, daddr, sizeof(struct sockaddr_in6))
			     __field(int, why)
	    ),
	    TP_fast_assign(toesim_tr_addrs(&conn->tuple, __entry->saddr, __entry->daddr);
			   __entry->why = why;
	    ),
	    TP_printk("src=%pISpc dst=%pISpc why=%s",
		      __entry->saddr, __entry->daddr,
		      toesim_show_drop(__entry->why))
);

#endif /* _TOESIM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
