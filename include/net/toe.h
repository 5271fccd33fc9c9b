/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCP Offload Engine (TOE) framework: the driver-facing API.
 *
 * A TOE vendor driver allocates a &struct toedev with toedev_alloc(),
 * fills in its &struct toedev_ops, registers it with register_toedev(),
 * and binds it to the net_devices (ports) it serves with toedev_bind().
 * The core then delivers stack events (neighbour, redirect, link, MTU and
 * address changes) to the device and, once an administrator enables it,
 * hands established TCP connections on those ports to the engine.
 *
 * Locking, in the order it nests:
 *  - RTNL, taken by the core around port binding and netdev events;
 *  - toe_mutex (internal), which serialises registration, activation and
 *    binding, and protects the device list;
 *  - per-socket lock_sock() for connection operations.
 * Never the other way: an op called with the socket locked must not take
 * RTNL or wait for something that does. The core, under RTNL, hands
 * connections back from its workqueue (toe_wq), where each handback
 * takes its socket's lock alone.
 * Lookups on hot paths (net_device -> toedev) are RCU only.
 *
 * Who owns an skb, for every op and helper: one given to &toedev_ops.send
 * is the driver's whatever it returns; those of &toe_handover.unacked
 * are the driver's once connect() returns 0 and stay the core's if it
 * fails; toe_sk_rcv() takes its skb when it returns 0 and leaves it to
 * the caller on an error; the lists of &struct toe_handback are the
 * core's once handback() returns, whatever it returns; the taps
 * (toe_tap_tx(), toe_tap_rx()) only look.
 */
#ifndef _NET_TOE_H
#define _NET_TOE_H

#include <linux/device.h>
#include <linux/list.h>
#include <linux/netdevice.h>
#include <linux/notifier.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/u64_stats_sync.h>
#include <linux/wait.h>
#include <uapi/linux/toe.h>

/* Reasons a connection returns to Linux TCP (&enum toe_handback_reason). */
#define TOE_HB_MAX		__TOE_HB_MAX

struct neighbour;
struct net;
struct netevent_redirect;
struct sk_buff;
struct sock;
struct toedev;

#define TOEDEV_NAMSIZ		16
#define TOEDEV_MAX_PORTS	16

/**
 * enum toedev_reg_state - registration state of a &struct toedev
 * @TOEDEV_UNINITIALIZED: allocated, not registered
 * @TOEDEV_REGISTERED: registered and visible
 * @TOEDEV_UNREGISTERING: unregister_toedev() is running
 * @TOEDEV_UNREGISTERED: unregistered, waiting to be freed
 */
enum toedev_reg_state {
	TOEDEV_UNINITIALIZED,
	TOEDEV_REGISTERED,
	TOEDEV_UNREGISTERING,
	TOEDEV_UNREGISTERED,
};

/* Address families a device can offload (&toedev.families). */
#define TOE_FAMILY_IPV4		BIT(0)
#define TOE_FAMILY_IPV6		BIT(1)
#define TOE_FAMILY_ALL		(TOE_FAMILY_IPV4 | TOE_FAMILY_IPV6)

/**
 * enum toe_port_change - what changed on a bound port
 * @TOE_PORT_UP: the net_device came up (NETDEV_UP)
 * @TOE_PORT_DOWN: the net_device went down (NETDEV_DOWN), or is being
 *	unregistered (NETDEV_UNREGISTER, after the port was unbound); the
 *	core has already handed back every connection using it
 * @TOE_PORT_MTU: the device MTU changed (NETDEV_CHANGEMTU)
 * @TOE_PORT_ADDR: the device MAC address changed (NETDEV_CHANGEADDR)
 * @TOE_PORT_NETNS: the device moved to another network namespace; its
 *	connections have been handed back in the old namespace
 */
enum toe_port_change {
	TOE_PORT_UP,
	TOE_PORT_DOWN,
	TOE_PORT_MTU,
	TOE_PORT_ADDR,
	TOE_PORT_NETNS,
};

/**
 * enum toe_sk_event - what changed on an offloaded socket
 * @TOE_SK_EV_PUSH: the payload given with &toedev_ops.send so far, up to
 *	tcp_sk(sk)->write_seq, may go out now, in a partial segment if need
 *	be: a send ended without MSG_MORE on a socket not corked, bytes a
 *	writer in Linux TCP's sendmsg queued were passed on, or TCP_NODELAY
 *	pushed (set, or a cork taken off with it set: TCP_NAGLE_PUSH, which
 *	pushes even a corked socket)
 * @TOE_SK_EV_NAGLE: TCP_NAGLE_CORK or TCP_NAGLE_OFF changed in
 *	tcp_sk(sk)->nonagle (TCP_CORK, TCP_NODELAY). A partial segment held
 *	back goes, as tcp_nagle_check() lets Linux TCP send it, at an ACK or
 *	now: never while corked (but at %TOE_SK_EV_PUSH, or after about an
 *	RTO), else once no partial segment is in flight (Minshall's
 *	variant of Nagle's rule), or at once with TCP_NAGLE_OFF
 * @TOE_SK_EV_KEEPALIVE_ON: SO_KEEPALIVE is being turned on (SOCK_KEEPOPEN
 *	is set after the event): the first probe is due a keepalive time
 *	from now, as tcp_set_keepalive() arms Linux TCP's timer
 * @TOE_SK_EV_KEEPALIVE_OFF: SO_KEEPALIVE is being turned off (not when a
 *	BPF program turns it off: an engine checks SOCK_KEEPOPEN each time
 *	its keepalive timer expires)
 * @TOE_SK_EV_KEEPALIVE_TIME: TCP_KEEPIDLE changed while SO_KEEPALIVE is
 *	on: the next probe is due a keepalive time after the peer was last
 *	heard, or now if that passed, as keepalive_time_set() re-arms Linux
 *	TCP's timer (TCP_KEEPINTVL and TCP_KEEPCNT are read when it expires)
 *
 * The keepalive events go to engines with %TOE_F_KEEPALIVE only.
 */
enum toe_sk_event {
	TOE_SK_EV_PUSH,
	TOE_SK_EV_NAGLE,
	TOE_SK_EV_KEEPALIVE_ON,
	TOE_SK_EV_KEEPALIVE_OFF,
	TOE_SK_EV_KEEPALIVE_TIME,
};

/**
 * struct toe_tcp_state - TCP state exchanged at handover and handback
 * @snd_una: first unacknowledged sequence number
 * @snd_nxt: next sequence number to send
 * @write_seq: sequence number after the last byte queued by the user
 * @rcv_nxt: next sequence number expected from the peer
 * @copied_seq: first sequence number not yet read by the user
 * @snd_wnd: peer's advertised window, already scaled
 * @rcv_wnd: our advertised window
 * @snd_wscale: shift applied to the peer's window field
 * @rcv_wscale: shift applied to our window field
 * @mss: effective send MSS (without options)
 * @ts_ok: timestamps were negotiated
 * @sack_ok: SACK was negotiated
 * @ts_recent: last timestamp value received from the peer
 * @tsoffset: offset added to the local clock for TSval
 * @srtt_us: smoothed RTT in microseconds, 0 if unknown
 * @tos: the IPv4 TOS or IPv6 traffic class of Linux TCP's segments (ECN
 *	bits clear); handover only
 * @ttl: their IPv4 TTL or IPv6 hop limit; handover only
 * @mark: sk_mark, for the engine's frames (skb->mark: policy routing,
 *	netfilter); handover only
 * @priority: sk_priority, for the engine's frames (skb->priority: the
 *	qdisc's class); handover only
 * @ip_id: IPv4: the IP ID of the next segment (inet_id: Linux TCP numbers
 *	its segments up from there, one per segment); at handback, where the
 *	engine got to
 * @df: IPv4: segments carry DF (ip_dont_fragment(): IP_MTU_DISCOVER and
 *	the route say); handover only
 * @flowlabel: IPv6: the flow label of Linux TCP's segments, the socket's
 *	own or the one ip6_make_flowlabel() derives from sk_txhash; handover
 *	only
 *
 * The sequence numbers obey snd_una <= snd_nxt <= write_seq and
 * copied_seq <= rcv_nxt (mod 2^32).
 */
struct toe_tcp_state {
	u32 snd_una;
	u32 snd_nxt;
	u32 write_seq;
	u32 rcv_nxt;
	u32 copied_seq;
	u32 snd_wnd;
	u32 rcv_wnd;
	u8 snd_wscale;
	u8 rcv_wscale;
	u16 mss;
	bool ts_ok;
	bool sack_ok;
	u32 ts_recent;
	u32 tsoffset;
	u32 srtt_us;
	u8 tos;
	u8 ttl;
	u32 mark;
	u32 priority;
	u16 ip_id;
	bool df;
	__be32 flowlabel;
};

/**
 * struct toe_handover - what an engine is given at handover
 * @st: Linux TCP's view of the connection
 * @unacked: the payload Linux TCP had queued and the peer has not
 *	acknowledged: skbs in sequence order, TCP_SKB_CB(skb)->seq and
 *	->end_seq set, skb->data at the byte at ->seq, covering @st.snd_una
 *	(the first may start before it) to @st.write_seq; empty when nothing
 *	is in flight. Bytes up to @st.snd_nxt were sent once already. Each
 *	skb is charged to the socket's send buffer (sock_wfree()), as those
 *	&toedev_ops.send queues are.
 */
struct toe_handover {
	struct toe_tcp_state	st;
	struct sk_buff_head	unacked;
};

/**
 * struct toe_tcp_timing - an engine's congestion and timing state
 * @srtt_us: smoothed round-trip time, microseconds; 0 before a sample
 * @rttvar_us: round-trip time variation, microseconds
 * @rto_ms: retransmission timeout, milliseconds
 * @cwnd: congestion window, bytes
 * @ssthresh: slow start threshold, bytes; U32_MAX for none yet
 * @retrans: segments sent again since the handover
 *
 * Reported with toe_sk_timing_update(), so that TCP_INFO and ss show the
 * engine's view and Linux TCP starts from it at handback.
 */
struct toe_tcp_timing {
	u32	srtt_us;
	u32	rttvar_us;
	u32	rto_ms;
	u32	cwnd;
	u32	ssthresh;
	u32	retrans;
};

/**
 * struct toe_handback - what an engine returns at handback
 * @st: the engine's view of the connection. Its rcv_nxt must be the
 *	socket's once the payload delivered with toe_sk_rcv() is queued:
 *	every byte the engine acknowledged was delivered. The core resets
 *	the connection if not
 * @unacked: payload skbs (skb->data at the first byte) the engine still
 *	holds, in sequence order, TCP_SKB_CB(skb)->seq and ->end_seq set,
 *	covering @st.snd_una to @st.write_seq; the core gives them back to
 *	Linux TCP. The core checks that they do, with no gap, and resets
 *	the connection if not (a byte missing here is a hole in the stream)
 * @frames: received frames (skb->data at the network header, skb->dev
 *	and skb->protocol set) the engine did not process; the core passes
 *	them up the stack once Linux TCP owns the connection again
 * @stall_ms: with %TOE_HB_TIMEOUT, for how long the engine has been
 *	retransmitting @st.snd_una on retransmission timeouts without an
 *	acknowledgment, or probing a shut window, since its first such
 *	retransmission or probe (since snd_una last moved or the window last
 *	opened); 0 when neither
 * @stall_count: the retransmissions sent in that time, or the window
 *	probes unanswered; with %TOE_HB_TIMEOUT from an idle connection
 *	(nothing in flight or unsent, @stall_ms set), the keepalive probes
 *	unanswered
 * @rcv_idle_ms: for how long the engine has had no acceptable segment
 *	from the peer; Linux TCP's keepalive counts from there (0: now)
 *
 * With %TOE_HB_TIMEOUT and @stall_ms set, Linux TCP takes over the count
 * (icsk_retransmits or icsk_probes_out) and its start (retrans_stamp or
 * icsk_probes_tstamp), so that it gives up when tcp_retries2 or
 * TCP_USER_TIMEOUT says, counted from the engine's first attempt. An
 * engine hands back at a retransmission timeout without sending again:
 * Linux TCP's retransmission timer runs at once and sends it.
 */
struct toe_handback {
	struct toe_tcp_state	st;
	struct sk_buff_head	unacked;
	struct sk_buff_head	frames;
	u32			stall_ms;
	u8			stall_count;
	u32			rcv_idle_ms;
};

/**
 * struct toedev_ops - what a TOE driver implements
 *
 * Unless said otherwise, the core never calls two of these concurrently
 * for the same connection, and never calls an op after close() returned
 * for connection ops, or after unregister_toedev() returned for any op.
 * Ops marked optional may be left NULL. The core uses the driver's table
 * as it is (keep it const, in rodata) and tests an optional op for NULL
 * before each call.
 *
 * @open: the administrator enabled the device. Set up the engine so that
 *	connect() may follow. Required.
 *	Context and locks: process; may sleep; RTNL and toe_mutex held.
 *	Return value: 0, or a negative errno; the device stays disabled on error.
 *
 * @close: the device is being disabled (administratively, or before
 *	unregistration). Every connection has been handed back before this
 *	is called; stop the engine. Required.
 *	Context and locks: process; may sleep; RTNL and toe_mutex held.
 *
 * @can_offload: may this established socket be offloaded now? A cheap
 *	test of the engine's capabilities (family, options in use, route).
 *	Optional; without it, every socket the core accepts may be.
 *	Context and locks: process; socket locked; must not sleep.
 *	Return value: true to proceed with connect().
 *
 * @connect: take over an established connection: install @ho->st and
 *	the 4-tuple of @sk in the engine and start steering its frames
 *	there. The core has processed every segment Linux TCP received so
 *	far and drops any that reach Linux TCP from now on, so @ho->st is
 *	final. On success the engine takes every skb of @ho->unacked: it
 *	sends what Linux TCP had not sent yet and retransmits the rest as
 *	its own (an RTO runs from the handover if bytes are in flight). Store
 *	the engine's per-connection pointer with toe_sk_set_drv(). Payload
 *	the engine receives in order goes to the socket with toe_sk_rcv();
 *	progress of the send side is reported with toe_sk_snd_update().
 *	Required.
 *	Context and locks: process; socket locked; may sleep.
 *	Return value: 0; -ENOSPC when the connection table is full (the
 *	connection simply stays in software); any other negative errno on
 *	failure. On error the engine keeps no state for @sk and leaves
 *	@ho->unacked as it was.
 *
 * @send: queue @skb, a linear or paged buffer of payload bytes that
 *	continues the connection's byte stream, for transmission. The
 *	driver owns @skb from the call on, whatever it returns. Full
 *	segments go at once; a partial one at the end waits for
 *	%TOE_SK_EV_PUSH (@sk_event), an ACK that lets it go (see
 *	%TOE_SK_EV_NAGLE), or about an RTO at most (200 ms or more), as
 *	Linux TCP holds it (TCP_CORK, MSG_MORE). Required.
 *	Context and locks: process; socket locked; must not sleep.
 *	Return value: 0, or a negative errno (the connection is then handed back).
 *
 * @recv: the application (or a kernel reader through read_sock())
 *	consumed @copied bytes of received data; the engine may open its
 *	receive window. Called after a read, and also while a blocking read
 *	waits for more (MSG_WAITALL, SO_RCVLOWAT, splice), from the
 *	release_sock() before it sleeps. Optional.
 *	Context and locks: process with the socket locked, the socket's
 *	spinlock held in release_sock(), or softirq with it bh-locked (a
 *	strparser reading from its data_ready callback); must not sleep,
 *	must not call toe_sk_rcv() (it takes the socket's spinlock) nor
 *	take a lock the engine holds around toe_sk_rcv().
 *
 * @handback: stop carrying @sk's data path and fill @hb. The engine
 *	should first drain, for a bounded time (a few RTOs): send nothing
 *	new and wait until the peer acknowledged what was sent (Linux TCP
 *	cannot take over bytes in flight: it would see the peer's ACKs of
 *	them as ACKs of data never sent), unless @reason makes that
 *	pointless (a port that is down, a RST). Payload
 *	delivered to the socket stays there. Every byte from
 *	@hb->st.snd_una to @hb->st.write_seq the engine still holds goes to
 *	@hb->unacked; frames of the connection it received but did not
 *	process (a FIN or a RST: teardown is Linux TCP's) go to
 *	@hb->frames. After it returns the engine sends nothing for @sk,
 *	steers no frame to it and calls toe_sk_rcv() for it no more;
 *	@hb->st.rcv_nxt covers exactly the bytes toe_sk_rcv() took. Required.
 *	Context and locks: process; socket locked; may sleep.
 *	Return value: 0, or a negative errno if the state is lost (the core
 *	then resets the connection).
 *
 * @sk_event: something changed on offloaded @sk that the engine acts on
 *	(see &enum toe_sk_event). At connect() the payload handed over may
 *	go in partial segments unless the socket is corked, the Nagle state
 *	is tcp_sk(@sk)->nonagle's (%TCP_NAGLE_CORK, %TCP_NAGLE_OFF), and
 *	keepalive is on if
 *	SOCK_KEEPOPEN is set, the peer last heard keepalive_time_elapsed()
 *	ago. Required.
 *	Context and locks: process with the socket owned, and from
 *	release_sock() (%TOE_SK_EV_NAGLE, %TOE_SK_EV_PUSH) its spinlock held
 *	too; must not sleep.
 *
 * @ctl: device-specific control and queries (TOE_CTL_*), for the driver's
 *	own use: the core does not call it. Optional.
 *	Context and locks: process; may sleep.
 *	Return value: 0 or a positive value on success, a negative errno on error.
 *
 * @neigh_update: the neighbour entry @n on port @dev changed (new link
 *	address, or state: it may have become invalid, check @n->nud_state
 *	under @n->lock). The engine refreshes the L2 header it builds for
 *	every connection using @n. Optional.
 *	Context and locks: atomic (netevent chain, often softirq); must not sleep.
 *	The caller holds a reference on @n for the duration of the call.
 *
 * @redirect: an ICMP redirect replaced route @r->old by @r->new. Optional.
 *	Context and locks: atomic; must not sleep.
 *
 * @port_change: something changed on bound port @dev (see
 *	&enum toe_port_change). Optional.
 *	Context and locks: process; RTNL held; may sleep.
 */
struct toedev_ops {
	int	(*open)(struct toedev *tdev);
	void	(*close)(struct toedev *tdev);
	bool	(*can_offload)(struct toedev *tdev, struct sock *sk);
	int	(*connect)(struct toedev *tdev, struct sock *sk,
			   struct toe_handover *ho);
	int	(*send)(struct toedev *tdev, struct sock *sk,
			struct sk_buff *skb);
	void	(*recv)(struct toedev *tdev, struct sock *sk, int copied);
	int	(*handback)(struct toedev *tdev, struct sock *sk,
			    enum toe_handback_reason reason,
			    struct toe_handback *hb);
	void	(*sk_event)(struct toedev *tdev, struct sock *sk,
			    enum toe_sk_event ev);
	int	(*ctl)(struct toedev *tdev, unsigned int cmd, void *arg);
	void	(*neigh_update)(struct toedev *tdev, struct net_device *dev,
				struct neighbour *n);
	void	(*redirect)(struct toedev *tdev, struct net_device *dev,
			    struct netevent_redirect *r);
	void	(*port_change)(struct toedev *tdev, struct net_device *dev,
			       enum toe_port_change what);
};

/* &toedev_ops.ctl commands. */
#define TOE_CTL_GET_TABLE_SIZE	1	/* arg: u32 *, table size */

/**
 * enum toedev_stat - per-device counters
 * @TOEDEV_STAT_NEIGH_UPDATES: neighbour updates delivered to the driver
 * @TOEDEV_STAT_REDIRECTS: redirects delivered to the driver
 * @TOEDEV_STAT_PORT_CHANGES: port changes delivered to the driver
 * @TOEDEV_STAT_TAP_TX: frames mirrored to packet taps on transmit
 * @TOEDEV_STAT_TAP_RX: frames mirrored to packet taps on receive
 * @TOEDEV_STAT_HANDOVERS: connections handed to the engine
 * @TOEDEV_STAT_HANDBACKS: connections handed back to Linux TCP
 * @TOEDEV_STAT_AUTO_OFFLOADS: handovers made by the automatic policy
 * @TOEDEV_STAT_AUTO_REFUSED: automatic handovers the engine refused
 * @TOEDEV_STAT_TABLE_FULL: automatic handovers left in software because
 *	the connection table was full
 * @TOEDEV_STAT_LOW_RATE: connections handed back for their low rate
 * @TOEDEV_STAT_HANDBACK_ERRORS: handbacks that lost the connection's state
 *	(the engine failed, or returned fewer bytes than it was given): the
 *	connection was reset
 * @TOEDEV_STAT_NF_REFUSED: handovers refused, and connections handed back,
 *	because the socket's netns has netfilter hooks an engine without
 *	%TOE_F_NETFILTER would bypass
 * @TOEDEV_STAT_ULP_DENIED: TCP_ULP "toe" requests refused with -EPERM by
 *	the device's @ulp_access
 * @TOEDEV_STAT_REROUTED: connections handed back because their route
 *	changed to one the engine does not carry (%TOE_HB_ROUTE)
 * @TOEDEV_STAT_FEATURE_REFUSED: handovers refused, and connections handed
 *	back (%TOE_HB_FEATURE), because the connection uses a TCP feature
 *	the engine does not provide (&toedev.features)
 * @TOEDEV_STAT_MAX: number of counters
 */
enum toedev_stat {
	TOEDEV_STAT_NEIGH_UPDATES,
	TOEDEV_STAT_REDIRECTS,
	TOEDEV_STAT_PORT_CHANGES,
	TOEDEV_STAT_TAP_TX,
	TOEDEV_STAT_TAP_RX,
	TOEDEV_STAT_HANDOVERS,
	TOEDEV_STAT_HANDBACKS,
	TOEDEV_STAT_AUTO_OFFLOADS,
	TOEDEV_STAT_AUTO_REFUSED,
	TOEDEV_STAT_TABLE_FULL,
	TOEDEV_STAT_LOW_RATE,
	TOEDEV_STAT_HANDBACK_ERRORS,
	TOEDEV_STAT_NF_REFUSED,
	TOEDEV_STAT_ULP_DENIED,
	TOEDEV_STAT_REROUTED,
	TOEDEV_STAT_FEATURE_REFUSED,
	TOEDEV_STAT_MAX,
};

/**
 * struct toedev_stats - per-CPU counters of a &struct toedev
 * @cnt: the counters, indexed by &enum toedev_stat
 * @syncp: protects @cnt on 32-bit machines
 */
struct toedev_stats {
	u64_stats_t cnt[TOEDEV_STAT_MAX];
	struct u64_stats_sync syncp;
};

/*
 * Engine features (&toedev.features): what the core otherwise refuses at
 * handover, since the connection would behave differently offloaded.
 *
 * TOE_F_NETFILTER: the engine runs the host's netfilter hooks (IPv4 and
 * IPv6 PRE_ROUTING and LOCAL_IN on every frame it takes, LOCAL_OUT and
 * POST_ROUTING on every frame it sends) as Linux TCP's frames go through
 * them. Without it, a socket whose netns has any of those hooks
 * registered is not handed over, and one whose netns gains one goes
 * back (reason %TOE_HB_NETFILTER), within a second.
 */
#define TOE_F_NETFILTER		BIT(0)

/*
 * What the handshake negotiated, which an engine carries or not. Without
 * the feature, a connection that negotiated it is not handed over: it
 * would not behave as the peer was promised.
 *
 * TOE_F_TIMESTAMPS: RFC 7323 timestamps: the option on every segment,
 * PAWS, RTT samples from echoed values.
 * TOE_F_SACK: RFC 2018 selective acknowledgments, both ways (SACK blocks
 * for out-of-order data received, retransmission guided by the peer's).
 * TOE_F_WSCALE: RFC 7323 window scaling, both ways.
 * TOE_F_ECN: RFC 3168 explicit congestion notification: ECT on data
 * segments, ECE echoed for CE received, CWR sent, the window reduced on
 * ECE.
 */
#define TOE_F_TIMESTAMPS	BIT(1)
#define TOE_F_SACK		BIT(2)
#define TOE_F_WSCALE		BIT(3)
#define TOE_F_ECN		BIT(4)

/*
 * TOE_F_KEEPALIVE: the engine sends keepalive probes as
 * tcp_keepalive_timer() does (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_KEEPCNT and their sysctls, TCP_USER_TIMEOUT; %TOE_SK_EV_KEEPALIVE_*
 * say when they change) and hands back a connection whose peer stopped
 * answering them (%TOE_HB_TIMEOUT) for Linux TCP to reset. Without it, a
 * socket with SO_KEEPALIVE is not handed over, and one that sets it goes
 * back.
 */
#define TOE_F_KEEPALIVE		BIT(5)
#define TOE_F_ALL		GENMASK(5, 0)

/**
 * struct toedev - a TCP offload engine
 * @name: "toe%d" unless the driver named it; unique
 * @ops: the driver's operations (its own const table)
 * @owner: module of the driver (THIS_MODULE), named in the core's
 *	messages; not pinned: the driver's exit unregisters the device, which
 *	hands its connections back first
 * @dev: the device model object (/sys/class/toe/<name>); holds the last
 *	reference to this structure
 * @list: entry in the device list; protected by toe_mutex, walked under
 *	RCU by readers
 * @ports: the bound &struct toe_port list; protected by toe_mutex (and
 *	RTNL); RCU for readers
 * @reg_state: &enum toedev_reg_state; written under toe_mutex
 * @enabled: administratively enabled (open() succeeded); toe_mutex
 * @families: TOE_FAMILY_* the administrator allows; toe_mutex for writes,
 *	READ_ONCE() for readers
 * @supported: TOE_FAMILY_* the driver supports; set before registration
 * @features: TOE_F_* the engine provides; set by the driver before
 *	registration, READ_ONCE() for readers. A driver may clear one later
 *	(WRITE_ONCE()): the connections that need it go back to Linux TCP
 *	within a second
 * @conn_limit: connection table size (the most connections the engine
 *	takes); set by the driver; READ_ONCE() for readers
 * @auto_offload: offload established connections without the application
 *	asking (toedev_set_auto()); toe_mutex, READ_ONCE() for readers
 * @min_bytes: automatic offload waits until this many bytes passed since
 *	the handshake; written by sysfs, READ_ONCE() for readers
 * @low_rate: hand back connections slower than this (bytes/s, both
 *	directions), 0 for never; written by sysfs, READ_ONCE() for readers
 * @low_rate_secs: for this many seconds running; likewise
 * @ulp_access: &enum toe_ulp_access; written by sysfs, READ_ONCE() for
 *	readers (a TCP_ULP "toe" request reads it once)
 * @conn_count: connections offloaded now
 * @conns_lock: protects @conns
 * @conns: offloaded connections (&struct toe_sock.node)
 * @refcnt: one for the registration, one for each other user
 *	(connections, lookups that sleep); unregister_toedev() drops the
 *	registration's and waits for it to reach 0
 * @wait: woken when @refcnt drops
 * @stats: per-CPU counters
 * @rules: the offload policy rules (struct toe_rule, core-private), in
 *	order; toe_mutex for writers, RCU for the policy
 * @nr_rules: their number; toe_mutex
 * @rule_id: the last rule ID given; toe_mutex
 * @priv: driver private area, sized by toedev_alloc()
 */
struct toedev {
	char			name[TOEDEV_NAMSIZ];
	const struct toedev_ops	*ops;
	struct module		*owner;
	struct device		dev;
	struct list_head	list;
	struct list_head	ports;
	enum toedev_reg_state	reg_state;
	bool			enabled;
	u32			families;
	u32			supported;
	u32			features;
	u32			conn_limit;
	bool			auto_offload;
	u64			min_bytes;
	u64			low_rate;
	u32			low_rate_secs;
	u8			ulp_access;
	atomic_t		conn_count;
	spinlock_t		conns_lock; /* protects @conns */
	struct list_head	conns;
	refcount_t		refcnt;
	wait_queue_head_t	wait;
	struct toedev_stats __percpu *stats;
	struct list_head	rules;
	u32			nr_rules;
	u32			rule_id;
	unsigned long		priv[] __aligned(NETDEV_ALIGN);
};

/**
 * toedev_priv() - the driver's private area of a &struct toedev
 * @tdev: the device
 *
 * Return: pointer to the area sized by toedev_alloc().
 */
static inline void *toedev_priv(const struct toedev *tdev)
{
	return (void *)tdev->priv;
}

struct toedev *toedev_alloc(size_t priv_size, const struct toedev_ops *ops,
			    struct module *owner);
void toedev_free(struct toedev *tdev);
int register_toedev(struct toedev *tdev);
void unregister_toedev(struct toedev *tdev);

int toedev_bind(struct toedev *tdev, struct net_device *dev);
int toedev_unbind(struct toedev *tdev, struct net_device *dev);
struct toedev *toedev_lookup_rcu(const struct net_device *dev);
struct toedev *toedev_get_by_name(struct net *net, const char *name);
void toedev_hold(struct toedev *tdev);
void toedev_put(struct toedev *tdev);

int toedev_set_enabled(struct toedev *tdev, bool enable);
bool toe_nf_active(const struct net *net, u8 pf, unsigned int hooks);
int toedev_set_families(struct toedev *tdev, u32 families);
int toedev_set_auto(struct toedev *tdev, bool on);

/* Notifier events (register_toedev_notifier()); ptr is the toedev. */
#define TOEDEV_REGISTER		1
#define TOEDEV_UNREGISTER	2
#define TOEDEV_UP		3
#define TOEDEV_DOWN		4

int register_toedev_notifier(struct notifier_block *nb);
int unregister_toedev_notifier(struct notifier_block *nb);

void toe_sk_set_drv(struct sock *sk, void *drv);
void *toe_sk_drv(const struct sock *sk);
int toe_sk_rcv(struct sock *sk, struct sk_buff *skb, u32 seq);
void toe_sk_snd_update(struct sock *sk, u32 snd_una, u32 snd_nxt,
		       u32 snd_wnd);
u32 toe_sk_path_mss(const struct sock *sk);
void toe_sk_timing_update(struct sock *sk, const struct toe_tcp_timing *tm);
void toe_sk_request_handback(struct sock *sk, enum toe_handback_reason reason);
int toe_sk_handback(struct sock *sk, enum toe_handback_reason reason);
bool toe_sk_offloaded(const struct sock *sk);

void toe_tap_tx(struct toedev *tdev, struct net_device *dev,
		struct sk_buff *skb);
void toe_tap_rx(struct toedev *tdev, struct net_device *dev,
		struct sk_buff *skb);

#endif /* _NET_TOE_H */
