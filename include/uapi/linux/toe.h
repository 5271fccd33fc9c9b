/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The "toe" generic netlink family: offload devices and the connections
 * they carry, per network namespace, the automatic policy's rules, and
 * the events of handovers, handbacks and refusals.
 * Documentation/netlink/specs/toe.yaml describes it; tools/toe/toectl is
 * its command-line client.
 */
#ifndef _UAPI_LINUX_TOE_H
#define _UAPI_LINUX_TOE_H

#define TOE_GENL_NAME		"toe"
#define TOE_GENL_VERSION	1
#define TOE_MCGRP_EVENTS	"events"

/**
 * enum toe_handback_reason - why a connection returns to Linux TCP
 * @TOE_HB_FIN: a FIN was sent or received, or the socket is being closed
 * @TOE_HB_RST: a RST was sent or received
 * @TOE_HB_ERROR: the engine reported an error on the connection
 * @TOE_HB_LOW_RATE: the connection stayed below the policy's rate
 * @TOE_HB_DEV_DOWN: the port went down or the device was disabled
 * @TOE_HB_UNREGISTER: the device is being unregistered (driver unload)
 * @TOE_HB_TABLE: the engine needs the connection table slot back
 * @TOE_HB_ADMIN: an administrator asked for it
 * @TOE_HB_URGENT: urgent data, which the engine does not carry
 * @TOE_HB_SOCKOPT: a socket option the engine cannot honour
 * @TOE_HB_NETFILTER: a netfilter hook rewrote the connection's frames
 *	(NAT), which the engine cannot follow, or the socket's netns gained a
 *	hook an engine that does not run them (TOE_NL_F_NETFILTER) would
 *	bypass
 * @TOE_HB_TIMEOUT: the peer stopped acknowledging data or answering window
 *	probes; Linux TCP's timers go on and decide when to give up
 * @TOE_HB_ROUTE: the connection's route changed to one the engine does not
 *	carry: another port, another next hop, or an xfrm transformation
 * @TOE_HB_FEATURE: the driver withdrew a TCP feature the connection uses
 * @__TOE_HB_MAX: number of reasons; it grows as reasons are added
 */
enum toe_handback_reason {
	TOE_HB_FIN,
	TOE_HB_RST,
	TOE_HB_ERROR,
	TOE_HB_LOW_RATE,
	TOE_HB_DEV_DOWN,
	TOE_HB_UNREGISTER,
	TOE_HB_TABLE,
	TOE_HB_ADMIN,
	TOE_HB_URGENT,
	TOE_HB_SOCKOPT,
	TOE_HB_NETFILTER,
	TOE_HB_TIMEOUT,
	TOE_HB_ROUTE,
	TOE_HB_FEATURE,
	__TOE_HB_MAX,
};

/**
 * enum toe_refusal - why a handover did not happen; the socket stays
 *	with Linux TCP
 * @TOE_REFUSE_STATE: not established, or the file is going
 * @TOE_REFUSE_ROUTE: no route for the next segment
 * @TOE_REFUSE_NODEV: the route's port has no enabled engine
 * @TOE_REFUSE_FAMILY: the device does not carry the address family
 * @TOE_REFUSE_PROTO: the socket's proto is not TCP's own (another
 *	layer's, a sockmap's)
 * @TOE_REFUSE_BUSY: urgent data, or data out of order: try later
 * @TOE_REFUSE_SOCKOPT: a socket option or security association the
 *	engine cannot carry (TCP-MD5, IPsec, repair mode, ...)
 * @TOE_REFUSE_DRIVER: the driver's can_offload said no
 * @TOE_REFUSE_NETFILTER: netfilter hooks the engine would bypass
 * @TOE_REFUSE_FEATURE: a TCP feature the connection uses that the engine
 *	does not declare
 * @TOE_REFUSE_DOWN: the device was disabled or is going
 * @TOE_REFUSE_TABLE: the connection table is full
 * @TOE_REFUSE_NOMEM: no memory for the copies the engine takes
 * @TOE_REFUSE_ENGINE: the engine failed to take the connection
 * @TOE_REFUSE_PERM: the caller of TCP_ULP "toe" lacks the privilege the
 *	device's ulp_access asks for
 */
enum toe_refusal {
	TOE_REFUSE_STATE,
	TOE_REFUSE_ROUTE,
	TOE_REFUSE_NODEV,
	TOE_REFUSE_FAMILY,
	TOE_REFUSE_PROTO,
	TOE_REFUSE_BUSY,
	TOE_REFUSE_SOCKOPT,
	TOE_REFUSE_DRIVER,
	TOE_REFUSE_NETFILTER,
	TOE_REFUSE_FEATURE,
	TOE_REFUSE_DOWN,
	TOE_REFUSE_TABLE,
	TOE_REFUSE_NOMEM,
	TOE_REFUSE_ENGINE,
	TOE_REFUSE_PERM,
};

/**
 * enum toe_ulp_access - who may ask for offload with TCP_ULP "toe"
 * @TOE_ULP_ACCESS_ADMIN: tasks with CAP_NET_ADMIN in the initial user
 *	namespace (the default)
 * @TOE_ULP_ACCESS_ALL: every user
 * @TOE_ULP_ACCESS_NONE: nobody; only the automatic policy offloads
 *
 * The engine's table is a resource of the whole machine: an application
 * that takes slots takes them from the administrator's automatic policy
 * and from every other user. The automatic policy is the administrator's
 * decision and asks nothing of the application.
 */
enum toe_ulp_access {
	TOE_ULP_ACCESS_ADMIN,
	TOE_ULP_ACCESS_ALL,
	TOE_ULP_ACCESS_NONE,
};

/**
 * enum toe_dev_state - TOE_A_DEV_STATE
 * @TOE_DEV_STATE_DOWN: registered, not enabled
 * @TOE_DEV_STATE_UP: enabled: the driver's open() ran
 * @TOE_DEV_STATE_UNREGISTERING: the driver is removing it
 */
enum toe_dev_state {
	TOE_DEV_STATE_DOWN,
	TOE_DEV_STATE_UP,
	TOE_DEV_STATE_UNREGISTERING,
};

/**
 * enum toe_rule_dir - which connections an offload policy rule matches
 * @TOE_RULE_DIR_ANY: both
 * @TOE_RULE_DIR_ACTIVE: those this host opened (connect())
 * @TOE_RULE_DIR_PASSIVE: those it accepted
 */
enum toe_rule_dir {
	TOE_RULE_DIR_ANY,
	TOE_RULE_DIR_ACTIVE,
	TOE_RULE_DIR_PASSIVE,
};

/**
 * enum toe_rule_action - what a matching rule decides
 * @TOE_RULE_OFFLOAD: offload, once the rule's min_bytes (or the device's)
 *	have passed
 * @TOE_RULE_SKIP: leave the connection to Linux TCP
 */
enum toe_rule_action {
	TOE_RULE_OFFLOAD,
	TOE_RULE_SKIP,
};

/* TOE_A_DEV_FAMILIES and TOE_A_DEV_SUPPORTED: address family bits. */
#define TOE_NL_FAMILY_IPV4	(1U << 0)
#define TOE_NL_FAMILY_IPV6	(1U << 1)

/* TOE_A_DEV_FEATURES: what the engine carries (TOE_F_* in the kernel). */
#define TOE_NL_F_NETFILTER	(1U << 0)
#define TOE_NL_F_TIMESTAMPS	(1U << 1)
#define TOE_NL_F_SACK		(1U << 2)
#define TOE_NL_F_WSCALE		(1U << 3)
#define TOE_NL_F_ECN		(1U << 4)
#define TOE_NL_F_KEEPALIVE	(1U << 5)

/* Attributes of a device (TOE_CMD_DEV_*). */
enum {
	TOE_A_DEV_UNSPEC,
	TOE_A_DEV_PAD,
	TOE_A_DEV_NAME,			/* string */
	TOE_A_DEV_DRIVER,		/* string: the driver's module */
	TOE_A_DEV_PORT,			/* u32 ifindex, one per bound port */
	TOE_A_DEV_STATE,		/* u8: enum toe_dev_state */
	TOE_A_DEV_ENABLED,		/* u8: 0 or 1 */
	TOE_A_DEV_FAMILIES,		/* u32: TOE_NL_FAMILY_* */
	TOE_A_DEV_SUPPORTED,		/* u32: TOE_NL_FAMILY_* */
	TOE_A_DEV_FEATURES,		/* u32: TOE_NL_F_* */
	TOE_A_DEV_CONNS,		/* u32: connections offloaded now */
	TOE_A_DEV_CONN_LIMIT,		/* u32: the connection table's size */
	TOE_A_DEV_AUTO_OFFLOAD,		/* u8: 0 or 1 */
	TOE_A_DEV_MIN_BYTES,		/* u64 */
	TOE_A_DEV_LOW_RATE,		/* u64: bytes/s, 0: off */
	TOE_A_DEV_LOW_RATE_SECS,	/* u32: 1-3600 */
	TOE_A_DEV_ULP_ACCESS,		/* u8: enum toe_ulp_access */
	TOE_A_DEV_STATS,		/* nest: TOE_A_STAT_* */

	__TOE_A_DEV_MAX,
	TOE_A_DEV_MAX = __TOE_A_DEV_MAX - 1
};

/* The device's counters (TOE_A_DEV_STATS), each u64. */
enum {
	TOE_A_STAT_UNSPEC,
	TOE_A_STAT_PAD,
	TOE_A_STAT_NEIGH_UPDATES,
	TOE_A_STAT_REDIRECTS,
	TOE_A_STAT_PORT_CHANGES,
	TOE_A_STAT_TAP_TX,
	TOE_A_STAT_TAP_RX,
	TOE_A_STAT_HANDOVERS,
	TOE_A_STAT_HANDBACKS,
	TOE_A_STAT_AUTO_OFFLOADS,
	TOE_A_STAT_AUTO_REFUSED,
	TOE_A_STAT_TABLE_FULL,
	TOE_A_STAT_LOW_RATE,
	TOE_A_STAT_HANDBACK_ERRORS,
	TOE_A_STAT_NF_REFUSED,
	TOE_A_STAT_ULP_DENIED,
	TOE_A_STAT_REROUTED,
	TOE_A_STAT_FEATURE_REFUSED,

	__TOE_A_STAT_MAX,
	TOE_A_STAT_MAX = __TOE_A_STAT_MAX - 1
};

/* Attributes of a connection (TOE_CMD_CONN_*, and the events). */
enum {
	TOE_A_CONN_UNSPEC,
	TOE_A_CONN_PAD,
	TOE_A_CONN_DEV_NAME,		/* string: its device */
	TOE_A_CONN_FAMILY,		/* u8: AF_INET or AF_INET6 */
	TOE_A_CONN_SADDR,		/* binary: 4 or 16 bytes, local */
	TOE_A_CONN_DADDR,		/* binary: 4 or 16 bytes, remote */
	TOE_A_CONN_SPORT,		/* u16, host order, local */
	TOE_A_CONN_DPORT,		/* u16, host order, remote */
	TOE_A_CONN_TX_BYTES,		/* u64: given to engines */
	TOE_A_CONN_RX_BYTES,		/* u64: delivered by engines */
	TOE_A_CONN_OFFLOADED_MS,	/* u64: since the last handover */
	TOE_A_CONN_HANDOVERS,		/* u32 */
	TOE_A_CONN_HANDBACKS,		/* u32 */
	TOE_A_CONN_LAST_REASON,		/* u32: enum toe_handback_reason */
	TOE_A_CONN_SRTT_US,		/* u32: the engine's smoothed RTT */
	TOE_A_CONN_RTO_MS,		/* u32: its retransmission timeout */
	TOE_A_CONN_CWND,		/* u32: its congestion window, segments */
	TOE_A_CONN_RETRANS,		/* u32: segments it retransmitted */
	TOE_A_CONN_REASON,		/* u32: enum toe_handback_reason (event) */
	TOE_A_CONN_REFUSAL,		/* u32: enum toe_refusal (event) */
	TOE_A_CONN_ERROR,		/* u32: -errno of a refusal or handback */
	TOE_A_CONN_GIVEN_BACK,		/* u32: bytes Linux TCP sends (event) */

	__TOE_A_CONN_MAX,
	TOE_A_CONN_MAX = __TOE_A_CONN_MAX - 1
};

/*
 * Attributes of an offload policy rule (TOE_CMD_RULE_*). A rule matches
 * an automatically offloaded connection whose every given field matches;
 * a device's rules are tried in order, the first match decides, and a
 * connection no rule matches is offloaded by the device's settings. A
 * rule belongs to the network namespace it was added in.
 */
enum {
	TOE_A_RULE_UNSPEC,
	TOE_A_RULE_PAD,
	TOE_A_RULE_DEV_NAME,		/* string */
	TOE_A_RULE_ID,			/* u32: the device's name for it */
	TOE_A_RULE_INDEX,		/* u32: its position, from 0 */
	TOE_A_RULE_FAMILY,		/* u8: AF_INET or AF_INET6 */
	TOE_A_RULE_LADDR,		/* binary: local prefix, 4 or 16 bytes */
	TOE_A_RULE_LPREFIX,		/* u8: its length in bits */
	TOE_A_RULE_RADDR,		/* binary: remote prefix */
	TOE_A_RULE_RPREFIX,		/* u8 */
	TOE_A_RULE_LPORT_MIN,		/* u16: local ports, a range */
	TOE_A_RULE_LPORT_MAX,		/* u16 */
	TOE_A_RULE_RPORT_MIN,		/* u16: remote ports */
	TOE_A_RULE_RPORT_MAX,		/* u16 */
	TOE_A_RULE_DIR,			/* u8: enum toe_rule_dir */
	TOE_A_RULE_UID,			/* u32: the socket's owner */
	TOE_A_RULE_ACTION,		/* u8: enum toe_rule_action */
	TOE_A_RULE_MIN_BYTES,		/* u64: bytes before the handover */
	TOE_A_RULE_HITS,		/* u64: connections it decided */
	TOE_A_RULE_CGROUP,		/* u64: cgroup v2 ID: the socket's
					 * cgroup is it or below it
					 */

	__TOE_A_RULE_MAX,
	TOE_A_RULE_MAX = __TOE_A_RULE_MAX - 1
};

/*
 * Commands. DEV_GET (do: TOE_A_DEV_NAME; dump), DEV_SET (admin),
 * CONN_GET (dump; TOE_A_CONN_DEV_NAME, _SADDR, _DADDR, _SPORT and
 * _DPORT filter),
 * CONN_HANDBACK (admin; the same filters, none for every connection of
 * the netns), RULE_ADD (admin; replies with the rule), RULE_DEL (admin;
 * TOE_A_RULE_ID, or every rule of the device without one) and RULE_GET
 * (dump; TOE_A_RULE_DEV_NAME filters). The _NTF commands are events on
 * TOE_MCGRP_EVENTS.
 */
enum {
	TOE_CMD_UNSPEC,
	TOE_CMD_DEV_GET,
	TOE_CMD_DEV_SET,
	TOE_CMD_CONN_GET,
	TOE_CMD_CONN_HANDBACK,
	TOE_CMD_DEV_CHANGE_NTF,
	TOE_CMD_HANDOVER_NTF,
	TOE_CMD_HANDBACK_NTF,
	TOE_CMD_REFUSED_NTF,
	TOE_CMD_RULE_ADD,
	TOE_CMD_RULE_DEL,
	TOE_CMD_RULE_GET,

	__TOE_CMD_MAX,
	TOE_CMD_MAX = __TOE_CMD_MAX - 1
};

#endif /* _UAPI_LINUX_TOE_H */
