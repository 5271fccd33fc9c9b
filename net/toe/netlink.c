// SPDX-License-Identifier: GPL-2.0
/*
 * The "toe" generic netlink family (include/uapi/linux/toe.h, described
 * by Documentation/netlink/specs/toe.yaml): the offload devices and the
 * connections they carry as a network namespace sees them (a device is
 * visible where its ports are, a connection where its socket is), the
 * administrator's settings and handbacks, and the "events" multicast
 * group: one message per handover, handback, refusal and device state
 * change; and the automatic policy's rules (policy.c), each in the
 * netns it was added in. sysfs and /proc/net/toe report the same device
 * and connection figures.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/netdevice.h>
#include <net/genetlink.h>
#include <net/inet_connection_sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/toe.h>

#include "toe_internal.h"

static_assert(TOE_NL_FAMILY_IPV4 == TOE_FAMILY_IPV4);
static_assert(TOE_NL_FAMILY_IPV6 == TOE_FAMILY_IPV6);
static_assert(TOE_NL_F_NETFILTER == TOE_F_NETFILTER);
static_assert(TOE_NL_F_TIMESTAMPS == TOE_F_TIMESTAMPS);
static_assert(TOE_NL_F_SACK == TOE_F_SACK);
static_assert(TOE_NL_F_WSCALE == TOE_F_WSCALE);
static_assert(TOE_NL_F_ECN == TOE_F_ECN);
static_assert(TOE_NL_F_KEEPALIVE == TOE_F_KEEPALIVE);
/* TOE_A_STAT_* follow enum toedev_stat, in its order. */
#define TOE_NL_STAT(x) \
	static_assert(TOE_A_STAT_##x - TOE_A_STAT_NEIGH_UPDATES == TOEDEV_STAT_##x)
TOE_NL_STAT(NEIGH_UPDATES);
TOE_NL_STAT(REDIRECTS);
TOE_NL_STAT(PORT_CHANGES);
TOE_NL_STAT(TAP_TX);
TOE_NL_STAT(TAP_RX);
TOE_NL_STAT(HANDOVERS);
TOE_NL_STAT(HANDBACKS);
TOE_NL_STAT(AUTO_OFFLOADS);
TOE_NL_STAT(AUTO_REFUSED);
TOE_NL_STAT(TABLE_FULL);
TOE_NL_STAT(LOW_RATE);
TOE_NL_STAT(HANDBACK_ERRORS);
TOE_NL_STAT(NF_REFUSED);
TOE_NL_STAT(ULP_DENIED);
TOE_NL_STAT(REROUTED);
TOE_NL_STAT(FEATURE_REFUSED);
static_assert(TOE_A_STAT_MAX - TOE_A_STAT_NEIGH_UPDATES + 1 == TOEDEV_STAT_MAX);

enum {
	TOE_NL_MCGRP_EVENTS,
};

static const struct genl_multicast_group toe_nl_mcgrps[] = {
	[TOE_NL_MCGRP_EVENTS] = { .name = TOE_MCGRP_EVENTS, },
};

static struct genl_family toe_nl_family;

#define TOE_NL_NAME_POLICY \
	{ .type = NLA_NUL_STRING, .len = TOEDEV_NAMSIZ - 1 }

static const struct nla_policy toe_dev_get_policy[TOE_A_DEV_NAME + 1] = {
	[TOE_A_DEV_NAME]		= TOE_NL_NAME_POLICY,
};

static const struct nla_policy toe_dev_set_policy[TOE_A_DEV_ULP_ACCESS + 1] = {
	[TOE_A_DEV_NAME]		= TOE_NL_NAME_POLICY,
	[TOE_A_DEV_ENABLED]		= NLA_POLICY_MAX(NLA_U8, 1),
	[TOE_A_DEV_FAMILIES]		= NLA_POLICY_MASK(NLA_U32,
							  TOE_FAMILY_ALL),
	[TOE_A_DEV_AUTO_OFFLOAD]	= NLA_POLICY_MAX(NLA_U8, 1),
	[TOE_A_DEV_MIN_BYTES]		= { .type = NLA_U64 },
	[TOE_A_DEV_LOW_RATE]		= { .type = NLA_U64 },
	[TOE_A_DEV_LOW_RATE_SECS]	= NLA_POLICY_RANGE(NLA_U32, 1, 3600),
	[TOE_A_DEV_ULP_ACCESS]		= NLA_POLICY_MAX(NLA_U8,
							 TOE_ULP_ACCESS_NONE),
};

static const struct nla_policy toe_conn_policy[TOE_A_CONN_DPORT + 1] = {
	[TOE_A_CONN_DEV_NAME]		= TOE_NL_NAME_POLICY,
	[TOE_A_CONN_SADDR]		= NLA_POLICY_MIN_LEN(4),
	[TOE_A_CONN_DADDR]		= NLA_POLICY_MIN_LEN(4),
	[TOE_A_CONN_SPORT]		= NLA_POLICY_MIN(NLA_U16, 1),
	[TOE_A_CONN_DPORT]		= NLA_POLICY_MIN(NLA_U16, 1),
};

static u8 toe_nl_dev_state(const struct toedev *tdev)
{
	if (READ_ONCE(tdev->reg_state) != TOEDEV_REGISTERED)
		return TOE_DEV_STATE_UNREGISTERING;
	return READ_ONCE(tdev->enabled) ? TOE_DEV_STATE_UP :
					  TOE_DEV_STATE_DOWN;
}

/* One device as @net sees it. Context: toe_mutex held. */
static int toe_nl_dev_fill(struct sk_buff *skb, struct toedev *tdev,
			   const struct net *net, u32 portid, u32 seq,
			   int flags, u8 cmd)
{
	u64 st[TOEDEV_STAT_MAX];
	struct toe_port *port;
	struct nlattr *nest;
	void *hdr;
	int i;

	lockdep_assert_held(&toe_mutex);
	hdr = genlmsg_put(skb, portid, seq, &toe_nl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_string(skb, TOE_A_DEV_NAME, tdev->name) ||
	    nla_put_string(skb, TOE_A_DEV_DRIVER,
			   tdev->owner ? module_name(tdev->owner) : "-"))
		goto nla_failure;
	list_for_each_entry(port, &tdev->ports, node)
		if (net_eq(dev_net(port->dev), net) &&
		    nla_put_u32(skb, TOE_A_DEV_PORT, port->dev->ifindex))
			goto nla_failure;
	if (nla_put_u8(skb, TOE_A_DEV_STATE, toe_nl_dev_state(tdev)) ||
	    nla_put_u8(skb, TOE_A_DEV_ENABLED, READ_ONCE(tdev->enabled)) ||
	    nla_put_u32(skb, TOE_A_DEV_FAMILIES, READ_ONCE(tdev->families)) ||
	    nla_put_u32(skb, TOE_A_DEV_SUPPORTED, tdev->supported) ||
	    nla_put_u32(skb, TOE_A_DEV_FEATURES, READ_ONCE(tdev->features)) ||
	    nla_put_u32(skb, TOE_A_DEV_CONNS,
			atomic_read(&tdev->conn_count)) ||
	    nla_put_u32(skb, TOE_A_DEV_CONN_LIMIT,
			READ_ONCE(tdev->conn_limit)) ||
	    nla_put_u8(skb, TOE_A_DEV_AUTO_OFFLOAD,
		       READ_ONCE(tdev->auto_offload)) ||
	    nla_put_u64_64bit(skb, TOE_A_DEV_MIN_BYTES,
			      READ_ONCE(tdev->min_bytes), TOE_A_DEV_PAD) ||
	    nla_put_u64_64bit(skb, TOE_A_DEV_LOW_RATE,
			      READ_ONCE(tdev->low_rate), TOE_A_DEV_PAD) ||
	    nla_put_u32(skb, TOE_A_DEV_LOW_RATE_SECS,
			READ_ONCE(tdev->low_rate_secs)) ||
	    nla_put_u8(skb, TOE_A_DEV_ULP_ACCESS, READ_ONCE(tdev->ulp_access)))
		goto nla_failure;

	nest = nla_nest_start(skb, TOE_A_DEV_STATS);
	if (!nest)
		goto nla_failure;
	toedev_stats_read(tdev, st);
	for (i = 0; i < TOEDEV_STAT_MAX; i++)
		if (nla_put_u64_64bit(skb, TOE_A_STAT_NEIGH_UPDATES + i, st[i],
				      TOE_A_STAT_PAD))
			goto nla_failure;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;

nla_failure:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* The device named by @attr, visible in @net, with toe_mutex held. */
static struct toedev *toe_nl_dev_find(struct net *net, struct nlattr *attr,
				      struct netlink_ext_ack *extack)
{
	struct toedev *tdev;

	lockdep_assert_held(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list)
		if (!nla_strcmp(attr, tdev->name) &&
		    tdev->reg_state == TOEDEV_REGISTERED &&
		    toedev_in_net(tdev, net))
			return tdev;
	NL_SET_ERR_MSG_ATTR(extack, attr, "no such offload device here");
	return NULL;
}

static int toe_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct toedev *tdev;
	struct sk_buff *msg;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, TOE_A_DEV_NAME))
		return -EINVAL;
	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	mutex_lock(&toe_mutex);
	tdev = toe_nl_dev_find(net, info->attrs[TOE_A_DEV_NAME], info->extack);
	err = tdev ? toe_nl_dev_fill(msg, tdev, net, info->snd_portid,
				     info->snd_seq, 0, TOE_CMD_DEV_GET) :
		     -ENODEV;
	mutex_unlock(&toe_mutex);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

static int toe_nl_dev_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct toedev *tdev;
	long idx = 0;
	int err = 0;

	mutex_lock(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list) {
		if (tdev->reg_state != TOEDEV_REGISTERED ||
		    !toedev_in_net(tdev, net))
			continue;
		if (idx++ < cb->args[0])
			continue;
		err = toe_nl_dev_fill(skb, tdev, net,
				      NETLINK_CB(cb->skb).portid,
				      cb->nlh->nlmsg_seq, NLM_F_MULTI,
				      TOE_CMD_DEV_GET);
		if (err) {
			idx--;
			break;
		}
	}
	mutex_unlock(&toe_mutex);
	cb->args[0] = idx;
	/* A device too big for an empty skb would end the dump silently. */
	return err && !skb->len ? err : skb->len;
}

static int toe_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **tb = info->attrs;
	struct toedev *tdev;
	int err = 0;

	if (GENL_REQ_ATTR_CHECK(info, TOE_A_DEV_NAME))
		return -EINVAL;
	mutex_lock(&toe_mutex);
	tdev = toe_nl_dev_find(genl_info_net(info), tb[TOE_A_DEV_NAME],
			       extack);
	if (tdev)
		toedev_hold(tdev);
	mutex_unlock(&toe_mutex);
	if (!tdev)
		return -ENODEV;

	/* Values are the policy's to check; the families the driver's. */
	if (tb[TOE_A_DEV_FAMILIES] &&
	    nla_get_u32(tb[TOE_A_DEV_FAMILIES]) & ~tdev->supported) {
		NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_DEV_FAMILIES],
				    "the device does not support that family");
		err = -EOPNOTSUPP;
		goto out;
	}

	/* The one setting that can fail on its own comes first. */
	if (tb[TOE_A_DEV_AUTO_OFFLOAD]) {
		err = toedev_set_auto(tdev,
				      nla_get_u8(tb[TOE_A_DEV_AUTO_OFFLOAD]));
		if (err) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_DEV_AUTO_OFFLOAD],
					    "automatic offload is not available");
			goto out;
		}
	}
	if (tb[TOE_A_DEV_FAMILIES]) {
		err = toedev_set_families(tdev,
					  nla_get_u32(tb[TOE_A_DEV_FAMILIES]));
		if (err)
			goto out;
	}
	if (tb[TOE_A_DEV_MIN_BYTES])
		WRITE_ONCE(tdev->min_bytes,
			   nla_get_u64(tb[TOE_A_DEV_MIN_BYTES]));
	if (tb[TOE_A_DEV_LOW_RATE])
		WRITE_ONCE(tdev->low_rate, nla_get_u64(tb[TOE_A_DEV_LOW_RATE]));
	if (tb[TOE_A_DEV_LOW_RATE_SECS])
		WRITE_ONCE(tdev->low_rate_secs,
			   nla_get_u32(tb[TOE_A_DEV_LOW_RATE_SECS]));
	if (tb[TOE_A_DEV_ULP_ACCESS])
		WRITE_ONCE(tdev->ulp_access,
			   nla_get_u8(tb[TOE_A_DEV_ULP_ACCESS]));
	/* Last: a device that comes up does so with the settings above,
	 * which stay if the driver cannot open it.
	 */
	if (tb[TOE_A_DEV_ENABLED]) {
		err = toedev_set_enabled(tdev,
					 nla_get_u8(tb[TOE_A_DEV_ENABLED]));
		if (err)
			NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_DEV_ENABLED],
					    "the driver could not change the device's state");
	}
out:
	toedev_put(tdev);
	return err;
}

/* Does the connection of @ts pass the request's filters? */
/* An address filter is an IPv4 or an IPv6 address. */
static int toe_nl_conn_filters_ok(struct nlattr **tb,
				  struct netlink_ext_ack *extack)
{
	int a;

	for (a = TOE_A_CONN_SADDR; a <= TOE_A_CONN_DADDR; a++)
		if (tb[a] && nla_len(tb[a]) != 4 && nla_len(tb[a]) != 16) {
			NL_SET_ERR_MSG_ATTR(extack, tb[a],
					    "an address is 4 or 16 bytes");
			return -EINVAL;
		}
	return 0;
}

/* Does @attr name @v4 (an IPv4 connection's address) or @v6? */
static bool toe_nl_addr_match(const struct nlattr *attr, bool is_v4,
			      __be32 v4, const struct in6_addr *v6)
{
	if (nla_len(attr) == 4)
		return is_v4 && nla_get_in_addr(attr) == v4;
	return v6 && !memcmp(nla_data(attr), v6, sizeof(*v6));
}

static bool toe_nl_conn_match(struct toe_sock *ts, struct nlattr **tb)
{
	const struct inet_sock *inet = inet_sk(ts->sk);
	const struct in6_addr *l6 = NULL, *r6 = NULL;
	bool v4 = true;

#if IS_ENABLED(CONFIG_IPV6)
	if (ts->sk->sk_family == AF_INET6) {
		l6 = &ts->sk->sk_v6_rcv_saddr;
		r6 = &ts->sk->sk_v6_daddr;
		v4 = ipv6_addr_v4mapped(r6);
	}
#endif
	if (tb[TOE_A_CONN_SADDR] &&
	    !toe_nl_addr_match(tb[TOE_A_CONN_SADDR], v4, inet->inet_saddr, l6))
		return false;
	if (tb[TOE_A_CONN_DADDR] &&
	    !toe_nl_addr_match(tb[TOE_A_CONN_DADDR], v4, inet->inet_daddr, r6))
		return false;
	if (tb[TOE_A_CONN_SPORT] &&
	    nla_get_u16(tb[TOE_A_CONN_SPORT]) != ntohs(inet->inet_sport))
		return false;
	if (tb[TOE_A_CONN_DPORT] &&
	    nla_get_u16(tb[TOE_A_CONN_DPORT]) != ntohs(inet->inet_dport))
		return false;
	return true;
}

static int toe_nl_put_addrs(struct sk_buff *skb, const struct sock *sk)
{
	const struct inet_sock *inet = inet_sk(sk);

#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&sk->sk_v6_daddr))
		return nla_put_u8(skb, TOE_A_CONN_FAMILY, AF_INET6) ||
		       nla_put_in6_addr(skb, TOE_A_CONN_SADDR,
					&sk->sk_v6_rcv_saddr) ||
		       nla_put_in6_addr(skb, TOE_A_CONN_DADDR,
					&sk->sk_v6_daddr);
#endif
	return nla_put_u8(skb, TOE_A_CONN_FAMILY, AF_INET) ||
	       nla_put_in_addr(skb, TOE_A_CONN_SADDR, inet->inet_saddr) ||
	       nla_put_in_addr(skb, TOE_A_CONN_DADDR, inet->inet_daddr);
}

/* What every connection message carries: who, where, how much. */
static int toe_nl_conn_put(struct sk_buff *skb, const struct sock *sk,
			   const struct toe_sock *ts, const struct toedev *tdev)
{
	const struct inet_sock *inet = inet_sk(sk);

	return nla_put_string(skb, TOE_A_CONN_DEV_NAME, tdev->name) ||
	       toe_nl_put_addrs(skb, sk) ||
	       nla_put_u16(skb, TOE_A_CONN_SPORT, ntohs(inet->inet_sport)) ||
	       nla_put_u16(skb, TOE_A_CONN_DPORT, ntohs(inet->inet_dport)) ||
	       nla_put_u64_64bit(skb, TOE_A_CONN_TX_BYTES,
				 atomic64_read(&ts->tx_bytes), TOE_A_CONN_PAD) ||
	       nla_put_u64_64bit(skb, TOE_A_CONN_RX_BYTES,
				 atomic64_read(&ts->rx_bytes), TOE_A_CONN_PAD) ||
	       nla_put_u32(skb, TOE_A_CONN_HANDOVERS, READ_ONCE(ts->handovers)) ||
	       nla_put_u32(skb, TOE_A_CONN_HANDBACKS, READ_ONCE(ts->handbacks));
}

/* One offloaded connection, with the engine's figures (which it reports
 * into tcp_sock, see toe_sk_timing_update()). Lockless reads of a socket
 * on @tdev's list, under its conns_lock: each figure is one word.
 */
static int toe_nl_conn_fill(struct sk_buff *skb, struct toe_sock *ts,
			    struct toedev *tdev, u32 portid, u32 seq)
{
	const struct inet_connection_sock *icsk = inet_csk(ts->sk);
	const struct tcp_sock *tp = tcp_sk(ts->sk);
	u32 handbacks = READ_ONCE(ts->handbacks);
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &toe_nl_family, NLM_F_MULTI,
			  TOE_CMD_CONN_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (toe_nl_conn_put(skb, ts->sk, ts, tdev) ||
	    nla_put_u64_64bit(skb, TOE_A_CONN_OFFLOADED_MS,
			      jiffies_to_msecs(jiffies - READ_ONCE(ts->since)),
			      TOE_A_CONN_PAD) ||
	    (handbacks && nla_put_u32(skb, TOE_A_CONN_LAST_REASON,
				      READ_ONCE(ts->last_reason))) ||
	    nla_put_u32(skb, TOE_A_CONN_SRTT_US, READ_ONCE(tp->srtt_us) >> 3) ||
	    nla_put_u32(skb, TOE_A_CONN_RTO_MS,
			jiffies_to_msecs(READ_ONCE(icsk->icsk_rto))) ||
	    nla_put_u32(skb, TOE_A_CONN_CWND, READ_ONCE(ts->eng_cwnd)) ||
	    nla_put_u32(skb, TOE_A_CONN_RETRANS, READ_ONCE(tp->total_retrans) -
			ts->retrans_base)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* cb->args[0]: devices done; [1]: connections of the current one done
 * (a connection handed back meanwhile may shift the list: a dump is a
 * snapshot of a moving table, as inet_diag's is).
 */
static int toe_nl_conn_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	struct net *net = sock_net(skb->sk);
	struct nlattr **tb = info->attrs;
	struct toedev *tdev;
	struct toe_sock *ts;
	long d = 0, c;
	int err;

	err = toe_nl_conn_filters_ok(tb, cb->extack);
	if (err)
		return err;
	mutex_lock(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list) {
		if (tdev->reg_state != TOEDEV_REGISTERED ||
		    !toedev_in_net(tdev, net) ||
		    (tb[TOE_A_CONN_DEV_NAME] &&
		     nla_strcmp(tb[TOE_A_CONN_DEV_NAME], tdev->name)))
			continue;
		if (d++ < cb->args[0])
			continue;
		c = 0;
		spin_lock_bh(&tdev->conns_lock);
		list_for_each_entry(ts, &tdev->conns, node) {
			if (!net_eq(sock_net(ts->sk), net) ||
			    !toe_nl_conn_match(ts, tb))
				continue;
			if (c++ < cb->args[1])
				continue;
			err = toe_nl_conn_fill(skb, ts, tdev,
					       NETLINK_CB(cb->skb).portid,
					       cb->nlh->nlmsg_seq);
			if (err) {
				c--;
				break;
			}
		}
		spin_unlock_bh(&tdev->conns_lock);
		if (err) {
			d--;
			cb->args[1] = c;
			break;
		}
		cb->args[1] = 0;
	}
	mutex_unlock(&toe_mutex);
	cb->args[0] = d;
	return err && !skb->len ? err : skb->len;
}

/* The administrator's handback of the connections that pass the filters
 * (device, addresses, ports; all of the netns without one): each is
 * asked back, and comes back from the workqueue, drained, as on
 * disable; TOE_CMD_HANDBACK_NTF says when. -ENOENT if none matched.
 */
static int toe_nl_conn_handback_doit(struct sk_buff *skb,
				     struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct nlattr **tb = info->attrs;
	struct toedev *tdev;
	struct toe_sock *ts;
	bool named = false;
	int n = 0;

	if (toe_nl_conn_filters_ok(tb, info->extack))
		return -EINVAL;
	mutex_lock(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list) {
		if (tdev->reg_state != TOEDEV_REGISTERED ||
		    !toedev_in_net(tdev, net) ||
		    (tb[TOE_A_CONN_DEV_NAME] &&
		     nla_strcmp(tb[TOE_A_CONN_DEV_NAME], tdev->name)))
			continue;
		named = true;
		spin_lock_bh(&tdev->conns_lock);
		list_for_each_entry(ts, &tdev->conns, node) {
			if (!net_eq(sock_net(ts->sk), net) ||
			    !toe_nl_conn_match(ts, tb))
				continue;
			toe_sk_request_handback(ts->sk, TOE_HB_ADMIN);
			n++;
		}
		spin_unlock_bh(&tdev->conns_lock);
	}
	mutex_unlock(&toe_mutex);
	if (tb[TOE_A_CONN_DEV_NAME] && !named) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[TOE_A_CONN_DEV_NAME],
				    "no such offload device here");
		return -ENODEV;
	}
	if (!n) {
		NL_SET_ERR_MSG(info->extack, "no offloaded connection matches");
		return -ENOENT;
	}
	return 0;
}

static const struct nla_policy toe_rule_add_policy[TOE_A_RULE_CGROUP + 1] = {
	[TOE_A_RULE_DEV_NAME]		= TOE_NL_NAME_POLICY,
	[TOE_A_RULE_INDEX]		= { .type = NLA_U32 },
	[TOE_A_RULE_FAMILY]		= { .type = NLA_U8 },
	[TOE_A_RULE_LADDR]		= NLA_POLICY_MIN_LEN(4),
	[TOE_A_RULE_LPREFIX]		= NLA_POLICY_MAX(NLA_U8, 128),
	[TOE_A_RULE_RADDR]		= NLA_POLICY_MIN_LEN(4),
	[TOE_A_RULE_RPREFIX]		= NLA_POLICY_MAX(NLA_U8, 128),
	[TOE_A_RULE_LPORT_MIN]		= { .type = NLA_U16 },
	[TOE_A_RULE_LPORT_MAX]		= { .type = NLA_U16 },
	[TOE_A_RULE_RPORT_MIN]		= { .type = NLA_U16 },
	[TOE_A_RULE_RPORT_MAX]		= { .type = NLA_U16 },
	[TOE_A_RULE_DIR]		= NLA_POLICY_MAX(NLA_U8,
							 TOE_RULE_DIR_PASSIVE),
	[TOE_A_RULE_UID]		= { .type = NLA_U32 },
	[TOE_A_RULE_ACTION]		= NLA_POLICY_MAX(NLA_U8, TOE_RULE_SKIP),
	[TOE_A_RULE_MIN_BYTES]		= { .type = NLA_U64 },
	[TOE_A_RULE_CGROUP]		= NLA_POLICY_MIN(NLA_U64, 1),
};

static const struct nla_policy toe_rule_del_policy[TOE_A_RULE_ID + 1] = {
	[TOE_A_RULE_DEV_NAME]		= TOE_NL_NAME_POLICY,
	[TOE_A_RULE_ID]			= NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy toe_rule_get_policy[TOE_A_RULE_DEV_NAME + 1] = {
	[TOE_A_RULE_DEV_NAME]		= TOE_NL_NAME_POLICY,
};

/* One rule, at @index of its device's rules in its netns. */
static int toe_nl_rule_fill(struct sk_buff *skb, const struct toedev *tdev,
			    const struct toe_rule *r, u32 index,
			    struct user_namespace *ns, u32 portid, u32 seq,
			    int flags, u8 cmd)
{
	int alen = r->family == AF_INET6 ? 16 : 4;
	const void *l = r->family == AF_INET6 ? (void *)&r->laddr :
						(void *)&r->laddr.s6_addr32[3];
	const void *rem = r->family == AF_INET6 ? (void *)&r->raddr :
						  (void *)&r->raddr.s6_addr32[3];
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &toe_nl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_string(skb, TOE_A_RULE_DEV_NAME, tdev->name) ||
	    nla_put_u32(skb, TOE_A_RULE_ID, r->id) ||
	    nla_put_u32(skb, TOE_A_RULE_INDEX, index) ||
	    (r->family && nla_put_u8(skb, TOE_A_RULE_FAMILY, r->family)) ||
	    (r->lplen && (nla_put(skb, TOE_A_RULE_LADDR, alen, l) ||
			  nla_put_u8(skb, TOE_A_RULE_LPREFIX, r->lplen))) ||
	    (r->rplen && (nla_put(skb, TOE_A_RULE_RADDR, alen, rem) ||
			  nla_put_u8(skb, TOE_A_RULE_RPREFIX, r->rplen))) ||
	    nla_put_u16(skb, TOE_A_RULE_LPORT_MIN, r->lport[0]) ||
	    nla_put_u16(skb, TOE_A_RULE_LPORT_MAX, r->lport[1]) ||
	    nla_put_u16(skb, TOE_A_RULE_RPORT_MIN, r->rport[0]) ||
	    nla_put_u16(skb, TOE_A_RULE_RPORT_MAX, r->rport[1]) ||
	    nla_put_u8(skb, TOE_A_RULE_DIR, r->dir) ||
	    (r->has_uid && nla_put_u32(skb, TOE_A_RULE_UID,
				       from_kuid_munged(ns, r->uid))) ||
#ifdef CONFIG_SOCK_CGROUP_DATA
	    (r->cgrp && nla_put_u64_64bit(skb, TOE_A_RULE_CGROUP,
					  cgroup_id(r->cgrp),
					  TOE_A_RULE_PAD)) ||
#endif
	    nla_put_u8(skb, TOE_A_RULE_ACTION, r->action) ||
	    (r->min_bytes != U64_MAX &&
	     nla_put_u64_64bit(skb, TOE_A_RULE_MIN_BYTES, r->min_bytes,
			       TOE_A_RULE_PAD)) ||
	    nla_put_u64_64bit(skb, TOE_A_RULE_HITS, atomic64_read(&r->hits),
			      TOE_A_RULE_PAD)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* An address prefix of a rule: @addr of @family's size, @plen within it. */
static int toe_nl_rule_prefix(struct nlattr **tb, int addr, int plen,
			      u8 family, struct in6_addr *out, u8 *len,
			      struct netlink_ext_ack *extack)
{
	int alen = family == AF_INET6 ? 16 : 4;

	if (!tb[addr]) {
		if (tb[plen]) {
			NL_SET_ERR_MSG_ATTR(extack, tb[plen],
					    "a prefix length needs its address");
			return -EINVAL;
		}
		*len = 0;
		return 0;
	}
	if (!family || nla_len(tb[addr]) != alen) {
		NL_SET_ERR_MSG_ATTR(extack, tb[addr],
				    "the address is not of the rule's family");
		return -EINVAL;
	}
	*len = tb[plen] ? nla_get_u8(tb[plen]) : alen * 8;
	if (*len > alen * 8) {
		NL_SET_ERR_MSG_ATTR(extack, tb[plen],
				    "prefix longer than the address");
		return -EINVAL;
	}
	if (family == AF_INET6)
		nla_memcpy(out, tb[addr], 16);
	else
		nla_memcpy(&out->s6_addr32[3], tb[addr], 4);
	return 0;
}

static int toe_nl_rule_ports(struct nlattr **tb, int lo, int hi, u16 *range,
			     struct netlink_ext_ack *extack)
{
	range[0] = tb[lo] ? nla_get_u16(tb[lo]) : 0;
	range[1] = tb[hi] ? nla_get_u16(tb[hi]) : U16_MAX;
	if (range[0] > range[1]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[hi] ?: tb[lo],
				    "the port range ends before it starts");
		return -EINVAL;
	}
	return 0;
}

static int toe_nl_rule_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **tb = info->attrs;
	struct toe_rule *r, *it;
	struct list_head *at;
	struct toedev *tdev;
	struct sk_buff *msg;
	u32 index, i, n;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, TOE_A_RULE_DEV_NAME) ||
	    GENL_REQ_ATTR_CHECK(info, TOE_A_RULE_ACTION))
		return -EINVAL;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	err = -EINVAL;
	if (tb[TOE_A_RULE_FAMILY]) {
		r->family = nla_get_u8(tb[TOE_A_RULE_FAMILY]);
		if (r->family != AF_INET && r->family != AF_INET6) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_RULE_FAMILY],
					    "family is AF_INET or AF_INET6");
			goto err_free;
		}
	}
	r->action = nla_get_u8(tb[TOE_A_RULE_ACTION]);
	r->dir = tb[TOE_A_RULE_DIR] ? nla_get_u8(tb[TOE_A_RULE_DIR]) :
				      TOE_RULE_DIR_ANY;
	r->net_cookie = genl_info_net(info)->net_cookie;
	r->min_bytes = U64_MAX;
	if (tb[TOE_A_RULE_MIN_BYTES]) {
		if (r->action != TOE_RULE_OFFLOAD) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_RULE_MIN_BYTES],
					    "min_bytes is for a rule that offloads");
			goto err_free;
		}
		r->min_bytes = nla_get_u64(tb[TOE_A_RULE_MIN_BYTES]);
	}
	if (tb[TOE_A_RULE_UID]) {
		r->uid = make_kuid(sk_user_ns(NETLINK_CB(skb).sk),
				   nla_get_u32(tb[TOE_A_RULE_UID]));
		if (!uid_valid(r->uid)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_RULE_UID],
					    "no such user in this user namespace");
			goto err_free;
		}
		r->has_uid = true;
	}
	if (tb[TOE_A_RULE_CGROUP]) {
#ifdef CONFIG_SOCK_CGROUP_DATA
		/* Of the caller's cgroup namespace, referenced by the rule. */
		r->cgrp = cgroup_get_from_id(nla_get_u64(tb[TOE_A_RULE_CGROUP]));
		if (IS_ERR(r->cgrp)) {
			r->cgrp = NULL;
			NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_RULE_CGROUP],
					    "no such cgroup v2 here");
			err = -ENOENT;
			goto err_free;
		}
#else
		NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_RULE_CGROUP],
				    "the kernel has no socket cgroups");
		err = -EOPNOTSUPP;
		goto err_free;
#endif
	}
	err = toe_nl_rule_prefix(tb, TOE_A_RULE_LADDR, TOE_A_RULE_LPREFIX,
				 r->family, &r->laddr, &r->lplen, extack) ?:
	      toe_nl_rule_prefix(tb, TOE_A_RULE_RADDR, TOE_A_RULE_RPREFIX,
				 r->family, &r->raddr, &r->rplen, extack) ?:
	      toe_nl_rule_ports(tb, TOE_A_RULE_LPORT_MIN, TOE_A_RULE_LPORT_MAX,
				r->lport, extack) ?:
	      toe_nl_rule_ports(tb, TOE_A_RULE_RPORT_MIN, TOE_A_RULE_RPORT_MAX,
				r->rport, extack);
	if (err)
		goto err_free;
	atomic64_set(&r->hits, 0);
	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	err = -ENOMEM;
	if (!msg)
		goto err_free;

	mutex_lock(&toe_mutex);
	err = -ENODEV;
	tdev = toe_nl_dev_find(genl_info_net(info), tb[TOE_A_RULE_DEV_NAME],
			       extack);
	if (!tdev)
		goto err_unlock;
	err = -ENOSPC;
	if (tdev->nr_rules >= TOE_RULES_MAX) {
		NL_SET_ERR_MSG(extack, "the device's rule table is full");
		goto err_unlock;
	}
	n = 0;
	list_for_each_entry(it, &tdev->rules, node)
		n += it->net_cookie == r->net_cookie;
	index = n;
	if (tb[TOE_A_RULE_INDEX]) {
		index = nla_get_u32(tb[TOE_A_RULE_INDEX]);
		err = -EINVAL;
		if (index > n) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TOE_A_RULE_INDEX],
					    "index past the end of the rules");
			goto err_unlock;
		}
	}
	/* Before the index-th rule of the netns, or at the end. */
	at = &tdev->rules;
	i = 0;
	list_for_each_entry(it, &tdev->rules, node) {
		if (it->net_cookie != r->net_cookie)
			continue;
		if (i++ == index) {
			at = &it->node;
			break;
		}
	}
	r->id = ++tdev->rule_id;
	list_add_tail_rcu(&r->node, at);
	tdev->nr_rules++;
	toe_rules_gen++;
	err = toe_nl_rule_fill(msg, tdev, r, index,
			       sk_user_ns(NETLINK_CB(skb).sk),
			       info->snd_portid, info->snd_seq, 0,
			       TOE_CMD_RULE_ADD);
	mutex_unlock(&toe_mutex);
	/* The rule is in; a reply too big for the message is not sent. */
	if (err) {
		nlmsg_free(msg);
		return 0;
	}
	return genlmsg_reply(msg, info);

err_unlock:
	mutex_unlock(&toe_mutex);
	nlmsg_free(msg);
err_free:
	toe_rule_free(r);
	return err;
}

static int toe_nl_rule_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **tb = info->attrs;
	struct toe_rule *r;
	struct toedev *tdev;
	int err = 0;

	if (GENL_REQ_ATTR_CHECK(info, TOE_A_RULE_DEV_NAME))
		return -EINVAL;
	mutex_lock(&toe_mutex);
	tdev = toe_nl_dev_find(genl_info_net(info), tb[TOE_A_RULE_DEV_NAME],
			       info->extack);
	if (!tdev) {
		err = -ENODEV;
	} else if (!tb[TOE_A_RULE_ID]) {
		toe_rules_flush(tdev, genl_info_net(info));
	} else {
		err = -ENOENT;
		list_for_each_entry(r, &tdev->rules, node) {
			if (r->id != nla_get_u32(tb[TOE_A_RULE_ID]) ||
			    r->net_cookie != genl_info_net(info)->net_cookie)
				continue;
			list_del_rcu(&r->node);
			tdev->nr_rules--;
			toe_rules_gen++;
			toe_rule_free_rcu(r);
			err = 0;
			break;
		}
		if (err)
			NL_SET_ERR_MSG_ATTR(info->extack, tb[TOE_A_RULE_ID],
					    "no such rule on the device");
	}
	mutex_unlock(&toe_mutex);
	return err;
}

/* cb->args[0]: devices done; [1]: rules of the current one done. A dump
 * that a change of the rules interrupted says so (NLM_F_DUMP_INTR).
 */
static int toe_nl_rule_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	struct user_namespace *ns = sk_user_ns(NETLINK_CB(cb->skb).sk);
	struct net *net = sock_net(skb->sk);
	struct nlattr **tb = info->attrs;
	struct toedev *tdev;
	struct toe_rule *r;
	long d = 0, i;
	int err = 0;

	mutex_lock(&toe_mutex);
	cb->seq = toe_rules_gen + 1;
	list_for_each_entry(tdev, &toedev_list, list) {
		if (tdev->reg_state != TOEDEV_REGISTERED ||
		    !toedev_in_net(tdev, net) ||
		    (tb[TOE_A_RULE_DEV_NAME] &&
		     nla_strcmp(tb[TOE_A_RULE_DEV_NAME], tdev->name)))
			continue;
		if (d++ < cb->args[0])
			continue;
		i = 0;
		list_for_each_entry(r, &tdev->rules, node) {
			if (r->net_cookie != net->net_cookie)
				continue;
			if (i++ < cb->args[1])
				continue;
			err = toe_nl_rule_fill(skb, tdev, r, i - 1, ns,
					       NETLINK_CB(cb->skb).portid,
					       cb->nlh->nlmsg_seq, NLM_F_MULTI,
					       TOE_CMD_RULE_GET);
			if (err) {
				i--;
				break;
			}
			nl_dump_check_consistent(cb, nlmsg_hdr(skb));
		}
		if (err) {
			d--;
			cb->args[1] = i;
			break;
		}
		cb->args[1] = 0;
	}
	mutex_unlock(&toe_mutex);
	cb->args[0] = d;
	return err && !skb->len ? err : skb->len;
}

static const struct genl_ops toe_nl_ops[] = {
	{
		.cmd		= TOE_CMD_DEV_GET,
		.doit		= toe_nl_dev_get_doit,
		.dumpit		= toe_nl_dev_get_dumpit,
		.policy		= toe_dev_get_policy,
		.maxattr	= ARRAY_SIZE(toe_dev_get_policy) - 1,
	},
	{
		.cmd		= TOE_CMD_DEV_SET,
		.doit		= toe_nl_dev_set_doit,
		.policy		= toe_dev_set_policy,
		.maxattr	= ARRAY_SIZE(toe_dev_set_policy) - 1,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= TOE_CMD_CONN_GET,
		.dumpit		= toe_nl_conn_get_dumpit,
		.policy		= toe_conn_policy,
		.maxattr	= ARRAY_SIZE(toe_conn_policy) - 1,
	},
	{
		.cmd		= TOE_CMD_CONN_HANDBACK,
		.doit		= toe_nl_conn_handback_doit,
		.policy		= toe_conn_policy,
		.maxattr	= ARRAY_SIZE(toe_conn_policy) - 1,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= TOE_CMD_RULE_ADD,
		.doit		= toe_nl_rule_add_doit,
		.policy		= toe_rule_add_policy,
		.maxattr	= ARRAY_SIZE(toe_rule_add_policy) - 1,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= TOE_CMD_RULE_DEL,
		.doit		= toe_nl_rule_del_doit,
		.policy		= toe_rule_del_policy,
		.maxattr	= ARRAY_SIZE(toe_rule_del_policy) - 1,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= TOE_CMD_RULE_GET,
		.dumpit		= toe_nl_rule_get_dumpit,
		.policy		= toe_rule_get_policy,
		.maxattr	= ARRAY_SIZE(toe_rule_get_policy) - 1,
	},
};

static struct genl_family toe_nl_family __ro_after_init = {
	.name		= TOE_GENL_NAME,
	.version	= TOE_GENL_VERSION,
	.netnsok	= true,
	/* The handlers serialise on toe_mutex; a disable that drains for
	 * seconds must not hold genl_mutex, every family's, meanwhile.
	 */
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.ops		= toe_nl_ops,
	.n_ops		= ARRAY_SIZE(toe_nl_ops),
	.resv_start_op	= TOE_CMD_RULE_GET + 1,
	.mcgrps		= toe_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(toe_nl_mcgrps),
};

/* Events: nothing is built for a netns nobody listens in. */
static bool toe_nl_listened(struct net *net)
{
	return genl_has_listeners(&toe_nl_family, net, TOE_NL_MCGRP_EVENTS);
}

/**
 * toe_nl_conn_event() - tell the events group of a connection's transition
 * @cmd: TOE_CMD_HANDOVER_NTF, TOE_CMD_HANDBACK_NTF or TOE_CMD_REFUSED_NTF
 * @sk: the socket
 * @ts: its core state; NULL for a refusal
 * @tdev: its device (for a refusal, the device of its route, or NULL)
 * @ev: the reason or refusal, error and bytes given back, as they apply
 *
 * Context: process, socket locked (a handover, handback or refusal).
 */
void toe_nl_conn_event(u8 cmd, struct sock *sk, struct toe_sock *ts,
		       struct toedev *tdev, const struct toe_nl_event *ev)
{
	struct net *net = sock_net(sk);
	struct sk_buff *msg;
	void *hdr;

	if (!toe_nl_listened(net))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &toe_nl_family, 0, cmd);
	if (!hdr)
		goto err_free;
	if (ts && tdev) {
		if (toe_nl_conn_put(msg, sk, ts, tdev))
			goto err_free;
	} else if (toe_nl_put_addrs(msg, sk) ||
		   nla_put_u16(msg, TOE_A_CONN_SPORT,
			       ntohs(inet_sk(sk)->inet_sport)) ||
		   nla_put_u16(msg, TOE_A_CONN_DPORT,
			       ntohs(inet_sk(sk)->inet_dport)) ||
		   (tdev && nla_put_string(msg, TOE_A_CONN_DEV_NAME,
					   tdev->name))) {
		goto err_free;
	}
	switch (cmd) {
	case TOE_CMD_HANDBACK_NTF:
		if (nla_put_u32(msg, TOE_A_CONN_REASON, ev->reason) ||
		    nla_put_u32(msg, TOE_A_CONN_GIVEN_BACK, ev->given_back))
			goto err_free;
		break;
	case TOE_CMD_REFUSED_NTF:
		if (nla_put_u32(msg, TOE_A_CONN_REFUSAL, ev->refusal))
			goto err_free;
		break;
	}
	if (ev->err && nla_put_u32(msg, TOE_A_CONN_ERROR, -ev->err))
		goto err_free;
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&toe_nl_family, net, msg, 0,
				TOE_NL_MCGRP_EVENTS, GFP_KERNEL);
	return;

err_free:
	nlmsg_free(msg);
}

/**
 * toe_nl_dev_event() - tell the events group that a device changed state
 * @tdev: the device, once enabled or disabled
 *
 * Each network namespace its ports are in hears once.
 *
 * Context: process; toe_mutex held.
 */
void toe_nl_dev_event(struct toedev *tdev)
{
	struct toe_port *port, *p;
	struct sk_buff *msg;
	struct net *net;

	lockdep_assert_held(&toe_mutex);
	list_for_each_entry(port, &tdev->ports, node) {
		net = dev_net(port->dev);
		/* Once per netns: the first of its ports sends. */
		list_for_each_entry(p, &tdev->ports, node)
			if (p == port || net_eq(dev_net(p->dev), net))
				break;
		if (p != port || !toe_nl_listened(net))
			continue;
		msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
		if (!msg)
			continue;
		if (toe_nl_dev_fill(msg, tdev, net, 0, 0, 0,
				    TOE_CMD_DEV_CHANGE_NTF)) {
			nlmsg_free(msg);
			continue;
		}
		genlmsg_multicast_netns(&toe_nl_family, net, msg, 0,
					TOE_NL_MCGRP_EVENTS, GFP_KERNEL);
	}
}

/* A netns going away takes its rules with it. */
static void __net_exit toe_nl_net_exit(struct net *net)
{
	struct toedev *tdev;

	mutex_lock(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list)
		toe_rules_flush(tdev, net);
	mutex_unlock(&toe_mutex);
}

static struct pernet_operations toe_nl_net_ops = {
	.exit	= toe_nl_net_exit,
};

int __init toe_nl_init(void)
{
	int err;

	err = register_pernet_subsys(&toe_nl_net_ops);
	if (err)
		return err;
	err = genl_register_family(&toe_nl_family);
	if (err)
		unregister_pernet_subsys(&toe_nl_net_ops);
	return err;
}

void toe_nl_exit(void)
{
	genl_unregister_family(&toe_nl_family);
	unregister_pernet_subsys(&toe_nl_net_ops);
}
