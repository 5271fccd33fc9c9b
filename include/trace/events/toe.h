/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the TCP offload framework: a connection handed to an
 * engine, refused at handover, asked back and handed back, each with
 * its 4-tuple and device, for perf, trace-cmd and bpftrace (toe:*).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM toe

#if !defined(_TRACE_TOE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_TOE_H

#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/tracepoint.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/toe.h>

/* The enum values, for tools that parse the format files. */
TRACE_DEFINE_ENUM(TOE_HB_FIN);
TRACE_DEFINE_ENUM(TOE_HB_RST);
TRACE_DEFINE_ENUM(TOE_HB_ERROR);
TRACE_DEFINE_ENUM(TOE_HB_LOW_RATE);
TRACE_DEFINE_ENUM(TOE_HB_DEV_DOWN);
TRACE_DEFINE_ENUM(TOE_HB_UNREGISTER);
TRACE_DEFINE_ENUM(TOE_HB_TABLE);
TRACE_DEFINE_ENUM(TOE_HB_ADMIN);
TRACE_DEFINE_ENUM(TOE_HB_URGENT);
TRACE_DEFINE_ENUM(TOE_HB_SOCKOPT);
TRACE_DEFINE_ENUM(TOE_HB_NETFILTER);
TRACE_DEFINE_ENUM(TOE_HB_TIMEOUT);
TRACE_DEFINE_ENUM(TOE_HB_ROUTE);
TRACE_DEFINE_ENUM(TOE_HB_FEATURE);
TRACE_DEFINE_ENUM(TOE_REFUSE_STATE);
TRACE_DEFINE_ENUM(TOE_REFUSE_ROUTE);
TRACE_DEFINE_ENUM(TOE_REFUSE_NODEV);
TRACE_DEFINE_ENUM(TOE_REFUSE_FAMILY);
TRACE_DEFINE_ENUM(TOE_REFUSE_PROTO);
TRACE_DEFINE_ENUM(TOE_REFUSE_BUSY);
TRACE_DEFINE_ENUM(TOE_REFUSE_SOCKOPT);
TRACE_DEFINE_ENUM(TOE_REFUSE_DRIVER);
TRACE_DEFINE_ENUM(TOE_REFUSE_NETFILTER);
TRACE_DEFINE_ENUM(TOE_REFUSE_FEATURE);
TRACE_DEFINE_ENUM(TOE_REFUSE_DOWN);
TRACE_DEFINE_ENUM(TOE_REFUSE_TABLE);
TRACE_DEFINE_ENUM(TOE_REFUSE_NOMEM);
TRACE_DEFINE_ENUM(TOE_REFUSE_ENGINE);
TRACE_DEFINE_ENUM(TOE_REFUSE_PERM);

#define toe_show_hb_reason(v)						\
	__print_symbolic(v,					\
			 { TOE_HB_FIN, "fin" }, \
			 { TOE_HB_RST, "rst" }, \
			 { TOE_HB_ERROR, "error" }, \
			 { TOE_HB_LOW_RATE, "low_rate" }, \
			 { TOE_HB_DEV_DOWN, "dev_down" }, \
			 { TOE_HB_UNREGISTER, "unregister" }, \
			 { TOE_HB_TABLE, "table" }, \
			 { TOE_HB_ADMIN, "admin" }, \
			 { TOE_HB_URGENT, "urgent" }, \
			 { TOE_HB_SOCKOPT, "sockopt" }, \
			 { TOE_HB_NETFILTER, "netfilter" }, \
			 { TOE_HB_TIMEOUT, "timeout" }, \
			 { TOE_HB_ROUTE, "route" }, \
			 { TOE_HB_FEATURE, "feature" })

#define toe_show_refusal(v)						\
	__print_symbolic(v,					\
			 { TOE_REFUSE_STATE, "state" }, \
			 { TOE_REFUSE_ROUTE, "route" }, \
			 { TOE_REFUSE_NODEV, "nodev" }, \
			 { TOE_REFUSE_FAMILY, "family" }, \
			 { TOE_REFUSE_PROTO, "proto" }, \
			 { TOE_REFUSE_BUSY, "busy" }, \
			 { TOE_REFUSE_SOCKOPT, "sockopt" }, \
			 { TOE_REFUSE_DRIVER, "driver" }, \
			 { TOE_REFUSE_NETFILTER, "netfilter" }, \
			 { TOE_REFUSE_FEATURE, "feature" }, \
			 { TOE_REFUSE_DOWN, "down" }, \
			 { TOE_REFUSE_TABLE, "table_full" }, \
			 { TOE_REFUSE_NOMEM, "nomem" }, \
			 { TOE_REFUSE_ENGINE, "engine" }, \
			 { TOE_REFUSE_PERM, "perm" })

/*
 * The 4-tuple as two struct sockaddr_in6 (printed with %pISpc): an IPv4
 * connection, or an IPv6 socket's to an IPv4-mapped address, as
 * sockaddr_in in the same room.
 */
#ifndef _TRACE_TOE_ADDRS
#define _TRACE_TOE_ADDRS
static inline void toe_trace_addrs(const struct sock *sk, void *s, void *d)
{
	const struct inet_sock *inet = inet_sk(sk);
	struct sockaddr_in6 *s6 = s, *d6 = d;
	struct sockaddr_in *s4 = s, *d4 = d;

	memset(s, 0, sizeof(*s6));
	memset(d, 0, sizeof(*d6));
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&sk->sk_v6_daddr)) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = inet->inet_sport;
		s6->sin6_addr = sk->sk_v6_rcv_saddr;
		d6->sin6_family = AF_INET6;
		d6->sin6_port = inet->inet_dport;
		d6->sin6_addr = sk->sk_v6_daddr;
		return;
	}
#endif
	s4->sin_family = AF_INET;
	s4->sin_port = inet->inet_sport;
	s4->sin_addr.s_addr = inet->inet_saddr;
	d4->sin_family = AF_INET;
	d4->sin_port = inet->inet_dport;
	d4->sin_addr.s_addr = inet->inet_daddr;
}
#endif

/*
 * toe_handover - a connection was handed to an engine
 * @sk: the socket, now offloaded
 * @tdev: the device
 *
 * With Linux TCP's send and receive sequence numbers at the handover,
 * and the bytes it gave the engine unacknowledged or unsent.
 */
TRACE_EVENT(toe_handover,
	    TP_PROTO(const struct sock *sk, const struct toedev *tdev),
	    TP_ARGS(sk, tdev),
	    TP_STRUCT__entry(__field(const void *, skaddr)
			     __string(dev, tdev->name)
			     __array(__u8, saddr, sizeof(struct sockaddr_in6))
			     __array(__u8, daddr, sizeof(struct sockaddr_in6))
			     __field(u32, snd_una)
			     __field(u32, rcv_nxt)
			     __field(u32, queued)
	    ),
	    TP_fast_assign(__entry->skaddr = sk;
			   __assign_str(dev, tdev->name);
			   toe_trace_addrs(sk, __entry->saddr, __entry->daddr);
			   __entry->snd_una = tcp_sk(sk)->snd_una;
			   __entry->rcv_nxt = tcp_sk(sk)->rcv_nxt;
			   __entry->queued = tcp_sk(sk)->write_seq -
					     tcp_sk(sk)->snd_una;
	    ),
	    TP_printk("dev=%s src=%pISpc dst=%pISpc snd_una=%u rcv_nxt=%u queued=%u skaddr=%p",
		      __get_str(dev), __entry->saddr, __entry->daddr,
		      __entry->snd_una, __entry->rcv_nxt, __entry->queued,
		      __entry->skaddr)
);

/*
 * toe_refused - a handover did not happen; the socket stays in software
 * @sk: the socket
 * @tdev: the device of its route, or NULL if it has none
 * @why: the &enum toe_refusal
 * @err: the error the handover returns
 */
TRACE_EVENT(toe_refused,
	    TP_PROTO(const struct sock *sk, const struct toedev *tdev, int why,
		     int err),
	    TP_ARGS(sk, tdev, why, err),
	    TP_STRUCT__entry(__field(const void *, skaddr)
			     __string(dev, tdev ? tdev->name : "-")
			     __array(__u8, saddr, sizeof(struct sockaddr_in6))
			     __array(__u8, daddr, sizeof(struct sockaddr_in6))
			     __field(int, why)
			     __field(int, err)
	    ),
	    TP_fast_assign(__entry->skaddr = sk;
			   __assign_str(dev, tdev ? tdev->name : "-");
			   toe_trace_addrs(sk, __entry->saddr, __entry->daddr);
			   __entry->why = why;
			   __entry->err = err;
	    ),
	    TP_printk("dev=%s src=%pISpc dst=%pISpc why=%s err=%d skaddr=%p",
		      __get_str(dev), __entry->saddr, __entry->daddr,
		      toe_show_refusal(__entry->why),
		      __entry->err, __entry->skaddr)
);

/*
 * toe_handback_request - a handback was asked for, to run from the workqueue
 * @sk: the offloaded socket
 * @reason: the &enum toe_handback_reason
 *
 * One per request that queued a handback; a request while one is
 * pending joins it and is not traced.
 */
TRACE_EVENT(toe_handback_request,
	    TP_PROTO(const struct sock *sk, int reason),
	    TP_ARGS(sk, reason),
	    TP_STRUCT__entry(__field(const void *, skaddr)
			     __array(__u8, saddr, sizeof(struct sockaddr_in6))
			     __array(__u8, daddr, sizeof(struct sockaddr_in6))
			     __field(int, reason)
	    ),
	    TP_fast_assign(__entry->skaddr = sk;
			   toe_trace_addrs(sk, __entry->saddr, __entry->daddr);
			   __entry->reason = reason;
	    ),
	    TP_printk("src=%pISpc dst=%pISpc reason=%s skaddr=%p",
		      __entry->saddr, __entry->daddr,
		      toe_show_hb_reason(__entry->reason),
		      __entry->skaddr)
);

/*
 * toe_handback - a connection came back to Linux TCP
 * @sk: the socket
 * @tdev: the device it leaves
 * @reason: the &enum toe_handback_reason
 * @err: 0, or the error that reset the connection instead
 * @st: the engine's state given back (sequence numbers)
 * @tx_bytes: bytes the application gave the engine on this socket, over
 *	all its handovers
 * @rx_bytes: bytes the engine delivered on it, likewise
 *
 * given_back is what Linux TCP has to send again or for the first time
 * (the engine's write_seq - snd_una).
 */
TRACE_EVENT(toe_handback,
	    TP_PROTO(const struct sock *sk, const struct toedev *tdev, int reason,
		     int err, const struct toe_tcp_state *st, u64 tx_bytes,
		     u64 rx_bytes),
	    TP_ARGS(sk, tdev, reason, err, st, tx_bytes, rx_bytes),
	    TP_STRUCT__entry(__field(const void *, skaddr)
			     __string(dev, tdev->name)
			     __array(__u8, saddr, sizeof(struct sockaddr_in6))
			     __array(__u8, daddr, sizeof(struct sockaddr_in6))
			     __field(int, reason)
			     __field(int, err)
			     __field(u32, snd_una)
			     __field(u32, rcv_nxt)
			     __field(u32, given_back)
			     __field(u64, tx_bytes)
			     __field(u64, rx_bytes)
	    ),
	    TP_fast_assign(__entry->skaddr = sk;
			   __assign_str(dev, tdev->name);
			   toe_trace_addrs(sk, __entry->saddr, __entry->daddr);
			   __entry->reason = reason;
			   __entry->err = err;
			   __entry->snd_una = st->snd_una;
			   __entry->rcv_nxt = st->rcv_nxt;
			   __entry->given_back = st->write_seq - st->snd_una;
			   __entry->tx_bytes = tx_bytes;
			   __entry->rx_bytes = rx_bytes;
	    ),
	    TP_printk("dev=%s src=%pISpc dst=%pISpc reason=%s err=%d snd_una=%u rcv_nxt=%u given_back=%u tx_bytes=%llu rx_bytes=%llu skaddr=%p",
		      __get_str(dev), __entry->saddr, __entry->daddr,
		      toe_show_hb_reason(__entry->reason),
		      __entry->err, __entry->snd_una, __entry->rcv_nxt,
		      __entry->given_back, __entry->tx_bytes, __entry->rx_bytes,
		      __entry->skaddr)
);

#endif /* _TRACE_TOE_H */

#include <trace/define_trace.h>
