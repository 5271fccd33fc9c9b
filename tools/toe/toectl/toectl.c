// SPDX-License-Identifier: GPL-2.0
/*
 * toectl: the administrator's tool for TCP offload devices, over the
 * "toe" generic netlink family (include/uapi/linux/toe.h), in the style
 * of iproute2: human output by default, JSON with -j (-p: pretty), the
 * kernel's extack message on error. See toectl.8.
 *
 *   toectl [-j [-p]] dev show [DEV]
 *   toectl dev set DEV { enabled | auto } { on | off }
 *   toectl dev set DEV { min_bytes | low_rate | low_rate_secs } N
 *   toectl dev set DEV families { ipv4 | ipv6 | ipv4,ipv6 | none }
 *   toectl dev set DEV ulp_access { admin | all | none }
 *   toectl [-j [-p]] conn show [dev DEV] [local ADDR] [remote ADDR]
 *                              [sport N] [dport N]
 *   toectl conn handback [dev DEV] [local ADDR] [remote ADDR] [sport N]
 *                        [dport N]
 *   toectl [-j [-p]] policy show [dev DEV]
 *   toectl policy add dev DEV [index N] [family { ipv4 | ipv6 }]
 *                 [local PREFIX] [remote PREFIX] [lport N[-M]] [rport N[-M]]
 *                 [dir { active | passive }] [uid N]
 *                 [cgroup { PATH | ID }]
 *                 action { offload [min_bytes N] | skip }
 *   toectl policy del dev DEV [id N]
 *   toectl [-j] monitor [count N]
 *
 * Exit status: 0; 1 for a usage error; 2 when the kernel refused.
 */

#define _GNU_SOURCE	/* name_to_handle_at() */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/toe.h>

/* Dump replies come in pages of up to 32 KiB (NLMSG_GOODSIZE and more). */
#define TOECTL_BUF_SIZE	32768

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

static bool json, pretty;
static struct mnl_socket *nl;
static uint16_t family_id;
static uint32_t events_group;
static unsigned int seq;
static const char *prog = "toectl";

/* --- output ---------------------------------------------------------------- */

/* A JSON writer for what toectl prints: objects, arrays, scalars. */
static int jdepth;
static bool jfirst = true;

static void jsep(void)
{
	int i;

	if (!jfirst)
		putchar(',');
	if (pretty && jdepth) {
		putchar('\n');
		for (i = 0; i < jdepth; i++)
			fputs("  ", stdout);
	}
	jfirst = false;
}

static void jkey(const char *key)
{
	jsep();
	if (key)
		printf(pretty ? "\"%s\": " : "\"%s\":", key);
}

static void jopen(const char *key, char c)
{
	jkey(key);
	putchar(c);
	jdepth++;
	jfirst = true;
}

static void jclose(char c)
{
	int i;

	jdepth--;
	if (pretty && !jfirst) {
		putchar('\n');
		for (i = 0; i < jdepth; i++)
			fputs("  ", stdout);
	}
	putchar(c);
	jfirst = false;
}

static void jstr(const char *key, const char *v)
{
	jkey(key);
	putchar('"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		if ((unsigned char)*v < 0x20)
			printf("\\u%04x", *v);
		else
			putchar(*v);
	}
	putchar('"');
}

static void ju64(const char *key, unsigned long long v)
{
	jkey(key);
	printf("%llu", v);
}

static void jbool(const char *key, bool v)
{
	jkey(key);
	fputs(v ? "true" : "false", stdout);
}

/* Human output: "key value" pairs on a line. */
static void hkv(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf(" %s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* --- names ------------------------------------------------------------------ */

static const char * const hb_names[] = {
	[TOE_HB_FIN] = "fin", [TOE_HB_RST] = "rst", [TOE_HB_ERROR] = "error",
	[TOE_HB_LOW_RATE] = "low_rate", [TOE_HB_DEV_DOWN] = "dev_down",
	[TOE_HB_UNREGISTER] = "unregister", [TOE_HB_TABLE] = "table",
	[TOE_HB_ADMIN] = "admin", [TOE_HB_URGENT] = "urgent",
	[TOE_HB_SOCKOPT] = "sockopt", [TOE_HB_NETFILTER] = "netfilter",
	[TOE_HB_TIMEOUT] = "timeout", [TOE_HB_ROUTE] = "route",
	[TOE_HB_FEATURE] = "feature",
};

static const char * const refusal_names[] = {
	[TOE_REFUSE_STATE] = "state", [TOE_REFUSE_ROUTE] = "route",
	[TOE_REFUSE_NODEV] = "nodev", [TOE_REFUSE_FAMILY] = "family",
	[TOE_REFUSE_PROTO] = "proto", [TOE_REFUSE_BUSY] = "busy",
	[TOE_REFUSE_SOCKOPT] = "sockopt", [TOE_REFUSE_DRIVER] = "driver",
	[TOE_REFUSE_NETFILTER] = "netfilter", [TOE_REFUSE_FEATURE] = "feature",
	[TOE_REFUSE_DOWN] = "down", [TOE_REFUSE_TABLE] = "table_full",
	[TOE_REFUSE_NOMEM] = "nomem", [TOE_REFUSE_ENGINE] = "engine",
	[TOE_REFUSE_PERM] = "perm",
};

static const char * const state_names[] = {
	[TOE_DEV_STATE_DOWN] = "down", [TOE_DEV_STATE_UP] = "up",
	[TOE_DEV_STATE_UNREGISTERING] = "unregistering",
};

static const char * const ulp_access_names[] = {
	[TOE_ULP_ACCESS_ADMIN] = "admin", [TOE_ULP_ACCESS_ALL] = "all",
	[TOE_ULP_ACCESS_NONE] = "none",
};

static const char * const feature_names[] = {
	"netfilter", "timestamps", "sack", "wscale", "ecn", "keepalive",
};

static const char * const stat_names[] = {
	[TOE_A_STAT_NEIGH_UPDATES] = "neigh_updates",
	[TOE_A_STAT_REDIRECTS] = "redirects",
	[TOE_A_STAT_PORT_CHANGES] = "port_changes",
	[TOE_A_STAT_TAP_TX] = "tap_tx",
	[TOE_A_STAT_TAP_RX] = "tap_rx",
	[TOE_A_STAT_HANDOVERS] = "handovers",
	[TOE_A_STAT_HANDBACKS] = "handbacks",
	[TOE_A_STAT_AUTO_OFFLOADS] = "auto_offloads",
	[TOE_A_STAT_AUTO_REFUSED] = "auto_refused",
	[TOE_A_STAT_TABLE_FULL] = "table_full",
	[TOE_A_STAT_LOW_RATE] = "low_rate",
	[TOE_A_STAT_HANDBACK_ERRORS] = "handback_errors",
	[TOE_A_STAT_NF_REFUSED] = "nf_refused",
	[TOE_A_STAT_ULP_DENIED] = "ulp_denied",
	[TOE_A_STAT_REROUTED] = "rerouted",
	[TOE_A_STAT_FEATURE_REFUSED] = "feature_refused",
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char * const *tbl, size_t n,
			   unsigned long long i)
{
	return i < n && tbl[i] ? tbl[i] : "?";
}

static const char *state_name(unsigned long long i)
{
	return name_of(state_names, ARRAY_SIZE(state_names), i);
}

static const char *ulp_access_name(unsigned long long i)
{
	return name_of(ulp_access_names, ARRAY_SIZE(ulp_access_names), i);
}

static const char *hb_name(unsigned long long i)
{
	return name_of(hb_names, ARRAY_SIZE(hb_names), i);
}

static const char *refusal_name(unsigned long long i)
{
	return name_of(refusal_names, ARRAY_SIZE(refusal_names), i);
}

static const char *families_str(uint32_t f)
{
	switch (f) {
	case 0:
		return "none";
	case TOE_NL_FAMILY_IPV4:
		return "ipv4";
	case TOE_NL_FAMILY_IPV6:
		return "ipv6";
	default:
		return "ipv4,ipv6";
	}
}

static int lookup(const char * const *tbl, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tbl[i] && !strcmp(tbl[i], s))
			return i;
	return -1;
}

/* --- netlink ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"Usage: %s [-j [-p]] dev show [DEV]\n"
		"       %s dev set DEV { enabled | auto } { on | off }\n"
		"       %s dev set DEV { min_bytes | low_rate | low_rate_secs } N\n"
		"       %s dev set DEV families { ipv4 | ipv6 | ipv4,ipv6 | none }\n"
		"       %s dev set DEV ulp_access { admin | all | none }\n"
		"       %s [-j [-p]] conn show [dev DEV] [local ADDR] [remote ADDR]\n"
		"              [sport N] [dport N]\n"
		"       %s conn handback [dev DEV] [local ADDR] [remote ADDR]\n"
		"              [sport N] [dport N]\n"
		"       %s [-j [-p]] policy show [dev DEV]\n"
		"       %s policy add dev DEV [index N] [family { ipv4 | ipv6 }]\n"
		"              [local PREFIX] [remote PREFIX] [lport N[-M]] [rport N[-M]]\n"
		"              [dir { active | passive }] [uid N]\n"
		"              [cgroup { PATH | ID }]\n"
		"              action { offload [min_bytes N] | skip }\n"
		"       %s policy del dev DEV [id N]\n"
		"       %s [-j] monitor [count N]\n",
		prog, prog, prog, prog, prog, prog, prog, prog, prog, prog,
		prog);
	exit(1);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* A request in flight: the caller's callback and what the kernel said. */
struct talk_ctx {
	mnl_cb_t cb;
	void *data;
	char msg[256];
};

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	struct talk_ctx *t = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(t->msg, sizeof(t->msg), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* NLMSG_ERROR: errno, and the kernel's extack message if it sent one. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*err);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
			mnl_attr_parse(nlh, off, extack_attr_cb, data);
	}
	errno = -err->error;
	return MNL_CB_ERROR;
}

static int noop_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

/* The end of a dump: its payload is the dump's error, 0 if none, and
 * the kernel's message may follow it.
 */
static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	int err = 0;

	if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(err)))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS &&
		    nlh->nlmsg_len > mnl_nlmsg_size(sizeof(err)))
			mnl_attr_parse(nlh, sizeof(err), extack_attr_cb, data);
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int overrun_cb(const struct nlmsghdr *nlh, void *data)
{
	errno = ENOSPC;
	return MNL_CB_ERROR;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk_ctx *t = data;

	return t->cb ? t->cb(nlh, t->data) : MNL_CB_OK;
}

/*
 * Send @nlh and run @cb on each reply until the ACK or the end of the
 * dump; on an error, die with the kernel's message.
 */
static void talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data,
		 const char *what)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = noop_cb,
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
		[NLMSG_OVERRUN] = overrun_cb,
	};
	unsigned int portid = mnl_socket_get_portid(nl);
	struct talk_ctx t = { .cb = cb, .data = data };
	char buf[TOECTL_BUF_SIZE];
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die("%s: cannot send: %s", what, strerror(errno));
	do {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret <= 0)
			break;
		ret = mnl_cb_run2(buf, ret, nlh->nlmsg_seq, portid, data_cb,
				  &t, ctl, NLMSG_MIN_TYPE);
	} while (ret > MNL_CB_STOP);
	if (ret < 0) {
		if (t.msg[0])
			die("%s: %s (%s)", what, t.msg, strerror(errno));
		die("%s: %s", what, strerror(errno));
	}
}

static struct nlmsghdr *genl_msg(char *buf, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = family_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = TOE_GENL_VERSION;
	return nlh;
}

struct family_info {
	uint16_t id;
	uint32_t events;
};

static int grp_cb(const struct nlattr *attr, void *data)
{
	struct family_info *fi = data;
	const struct nlattr *a;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(a, attr) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
			name = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID &&
			 mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			id = mnl_attr_get_u32(a);
	}
	if (name && !strcmp(name, TOE_MCGRP_EVENTS))
		fi->events = id;
	return MNL_CB_OK;
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	struct family_info *fi = data;
	const struct nlattr *grp;

	switch (mnl_attr_get_type(attr)) {
	case CTRL_ATTR_FAMILY_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U16) >= 0)
			fi->id = mnl_attr_get_u16(attr);
		break;
	case CTRL_ATTR_MCAST_GROUPS:
		mnl_attr_for_each_nested(grp, attr)
			grp_cb(grp, fi);
		break;
	}
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb,
			      data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static void nl_open(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct family_info fi = {};
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	int one = 1;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("cannot open a generic netlink socket: %s", strerror(errno));
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, TOE_GENL_NAME);
	talk(nlh, family_cb, &fi, "the toe netlink family (is toe.ko loaded?)");
	if (!fi.id)
		die("no toe netlink family");
	family_id = fi.id;
	events_group = fi.events;
}

/* --- parsing what the kernel sends -------------------------------------------- */

struct attrs {
	const struct nlattr *tb[64];
	uint32_t ports[64];
	int nports;
};

static int attrs_cb(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;
	int type = mnl_attr_get_type(attr);

	if (type >= 64)
		return MNL_CB_OK;
	/* TOE_A_DEV_PORT repeats; the other attributes do not. */
	if (type == TOE_A_DEV_PORT && a->nports < 64 &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		a->ports[a->nports++] = mnl_attr_get_u32(attr);
	a->tb[type] = attr;
	return MNL_CB_OK;
}

static unsigned long long get_uint(const struct nlattr *attr)
{
	if (!attr)
		return 0;
	switch (mnl_attr_get_payload_len(attr)) {
	case 1:
		return mnl_attr_get_u8(attr);
	case 2:
		return mnl_attr_get_u16(attr);
	case 4:
		return mnl_attr_get_u32(attr);
	case 8:
		return mnl_attr_get_u64(attr);
	}
	return 0;
}

static const char *get_str(const struct nlattr *attr)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return "?";
	return mnl_attr_get_str(attr);
}

static void print_dev(const struct nlmsghdr *nlh, const char *event)
{
	struct attrs a = {}, st = {};
	char ifname[IF_NAMESIZE];
	uint32_t feat;
	unsigned int i;
	bool any;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attrs_cb, &a);
	if (a.tb[TOE_A_DEV_STATS])
		mnl_attr_parse_nested(a.tb[TOE_A_DEV_STATS], attrs_cb, &st);
	feat = get_uint(a.tb[TOE_A_DEV_FEATURES]);

	if (json) {
		jopen(NULL, '{');
		if (event)
			jstr("event", event);
		jstr("name", get_str(a.tb[TOE_A_DEV_NAME]));
		jstr("driver", get_str(a.tb[TOE_A_DEV_DRIVER]));
		jstr("state", state_name(get_uint(a.tb[TOE_A_DEV_STATE])));
		jopen("ports", '[');
		for (i = 0; i < (unsigned int)a.nports; i++)
			jstr(NULL, if_indextoname(a.ports[i], ifname) ?: "?");
		jclose(']');
		jbool("enabled", get_uint(a.tb[TOE_A_DEV_ENABLED]));
		jstr("families", families_str(get_uint(a.tb[TOE_A_DEV_FAMILIES])));
		jstr("supported", families_str(get_uint(a.tb[TOE_A_DEV_SUPPORTED])));
		jopen("features", '[');
		for (i = 0; i < 6; i++)
			if (feat & (1U << i))
				jstr(NULL, feature_names[i]);
		jclose(']');
		ju64("conns", get_uint(a.tb[TOE_A_DEV_CONNS]));
		ju64("conn_limit", get_uint(a.tb[TOE_A_DEV_CONN_LIMIT]));
		jbool("auto_offload", get_uint(a.tb[TOE_A_DEV_AUTO_OFFLOAD]));
		ju64("min_bytes", get_uint(a.tb[TOE_A_DEV_MIN_BYTES]));
		ju64("low_rate", get_uint(a.tb[TOE_A_DEV_LOW_RATE]));
		ju64("low_rate_secs", get_uint(a.tb[TOE_A_DEV_LOW_RATE_SECS]));
		jstr("ulp_access",
		     ulp_access_name(get_uint(a.tb[TOE_A_DEV_ULP_ACCESS])));
		jopen("stats", '{');
		for (i = TOE_A_STAT_NEIGH_UPDATES; i <= TOE_A_STAT_MAX; i++)
			if (st.tb[i])
				ju64(stat_names[i], get_uint(st.tb[i]));
		jclose('}');
		jclose('}');
		return;
	}

	if (event)
		printf("[%s] ", event);
	printf("%s: driver %s state %s ports ", get_str(a.tb[TOE_A_DEV_NAME]),
	       get_str(a.tb[TOE_A_DEV_DRIVER]),
	       state_name(get_uint(a.tb[TOE_A_DEV_STATE])));
	for (i = 0; i < (unsigned int)a.nports; i++)
		printf("%s%s", i ? "," : "",
		       if_indextoname(a.ports[i], ifname) ?: "?");
	hkv("families", "%s", families_str(get_uint(a.tb[TOE_A_DEV_FAMILIES])));
	hkv("supported", "%s",
	    families_str(get_uint(a.tb[TOE_A_DEV_SUPPORTED])));
	printf(" features ");
	for (i = 0, any = false; i < 6; i++)
		if (feat & (1U << i)) {
			printf("%s%s", any ? "," : "", feature_names[i]);
			any = true;
		}
	printf("%s\n   ", any ? "" : "none");
	hkv("conns", "%llu/%llu", get_uint(a.tb[TOE_A_DEV_CONNS]),
	    get_uint(a.tb[TOE_A_DEV_CONN_LIMIT]));
	hkv("auto_offload", "%s",
	    get_uint(a.tb[TOE_A_DEV_AUTO_OFFLOAD]) ? "on" : "off");
	hkv("min_bytes", "%llu", get_uint(a.tb[TOE_A_DEV_MIN_BYTES]));
	hkv("low_rate", "%llu", get_uint(a.tb[TOE_A_DEV_LOW_RATE]));
	hkv("low_rate_secs", "%llu",
	    get_uint(a.tb[TOE_A_DEV_LOW_RATE_SECS]));
	hkv("ulp_access", "%s",
	    ulp_access_name(get_uint(a.tb[TOE_A_DEV_ULP_ACCESS])));
	printf("\n   ");
	for (i = TOE_A_STAT_NEIGH_UPDATES; i <= TOE_A_STAT_MAX; i++)
		if (st.tb[i])
			hkv(stat_names[i], "%llu", get_uint(st.tb[i]));
	putchar('\n');
}

static void addr_str(const struct attrs *a, int addr, int port, char *out,
		     size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const struct nlattr *at = a->tb[addr];
	bool v6 = get_uint(a->tb[TOE_A_CONN_FAMILY]) == AF_INET6;

	if (at && mnl_attr_get_payload_len(at) == (v6 ? 16U : 4U))
		inet_ntop(v6 ? AF_INET6 : AF_INET, mnl_attr_get_payload(at), ip,
			  sizeof(ip));
	snprintf(out, len, v6 ? "[%s]:%llu" : "%s:%llu", ip,
		 get_uint(a->tb[port]));
}

static void print_conn(const struct nlmsghdr *nlh, const char *event)
{
	char src[INET6_ADDRSTRLEN + 10], dst[INET6_ADDRSTRLEN + 10];
	struct attrs a = {};
	static const struct {
		int type;
		const char *name;
	} nums[] = {
		{ TOE_A_CONN_TX_BYTES, "tx_bytes" },
		{ TOE_A_CONN_RX_BYTES, "rx_bytes" },
		{ TOE_A_CONN_OFFLOADED_MS, "offloaded_ms" },
		{ TOE_A_CONN_HANDOVERS, "handovers" },
		{ TOE_A_CONN_HANDBACKS, "handbacks" },
		{ TOE_A_CONN_SRTT_US, "srtt_us" },
		{ TOE_A_CONN_RTO_MS, "rto_ms" },
		{ TOE_A_CONN_CWND, "cwnd" },
		{ TOE_A_CONN_RETRANS, "retrans" },
		{ TOE_A_CONN_GIVEN_BACK, "given_back" },
		{ TOE_A_CONN_ERROR, "error" },
	};
	const char *reason = NULL, *last = NULL, *refusal = NULL;
	unsigned int i;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attrs_cb, &a);
	addr_str(&a, TOE_A_CONN_SADDR, TOE_A_CONN_SPORT, src, sizeof(src));
	addr_str(&a, TOE_A_CONN_DADDR, TOE_A_CONN_DPORT, dst, sizeof(dst));
	if (a.tb[TOE_A_CONN_REASON])
		reason = hb_name(get_uint(a.tb[TOE_A_CONN_REASON]));
	if (a.tb[TOE_A_CONN_LAST_REASON])
		last = hb_name(get_uint(a.tb[TOE_A_CONN_LAST_REASON]));
	if (a.tb[TOE_A_CONN_REFUSAL])
		refusal = refusal_name(get_uint(a.tb[TOE_A_CONN_REFUSAL]));

	if (json) {
		jopen(NULL, '{');
		if (event)
			jstr("event", event);
		jstr("local", src);
		jstr("remote", dst);
		jstr("dev", a.tb[TOE_A_CONN_DEV_NAME] ?
		     get_str(a.tb[TOE_A_CONN_DEV_NAME]) : "-");
		for (i = 0; i < ARRAY_SIZE(nums); i++)
			if (a.tb[nums[i].type])
				ju64(nums[i].name, get_uint(a.tb[nums[i].type]));
		if (reason)
			jstr("reason", reason);
		if (last)
			jstr("last_reason", last);
		if (refusal)
			jstr("refusal", refusal);
		jclose('}');
		return;
	}
	if (event)
		printf("[%s] ", event);
	printf("%s %s dev %s", src, dst, a.tb[TOE_A_CONN_DEV_NAME] ?
	       get_str(a.tb[TOE_A_CONN_DEV_NAME]) : "-");
	if (reason)
		hkv("reason", "%s", reason);
	if (refusal)
		hkv("refusal", "%s", refusal);
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		if (a.tb[nums[i].type])
			hkv(nums[i].name, "%llu",
			    get_uint(a.tb[nums[i].type]));
	if (last)
		hkv("last_reason", "%s", last);
	putchar('\n');
}

static int dev_cb(const struct nlmsghdr *nlh, void *data)
{
	print_dev(nlh, NULL);
	return MNL_CB_OK;
}

static int conn_cb(const struct nlmsghdr *nlh, void *data)
{
	print_conn(nlh, NULL);
	return MNL_CB_OK;
}

/* --- commands ------------------------------------------------------------------ */

static bool matches(const char *arg, const char *word)
{
	return arg && !strcmp(arg, word);
}

static unsigned long long number(const char *what, const char *s,
				 unsigned long long max)
{
	unsigned long long v;
	char *end;

	if (!s)
		usage();
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || !*s || *s == '-' || v > max) {
		fprintf(stderr, "%s: %s: not an integer up to %llu: '%s'\n", prog,
			what, max, s);
		exit(1);
	}
	return v;
}

/* A cgroup v2, by its ID or by its directory: the ID is the directory's
 * file handle (as systemd and bpftool find it).
 */
static unsigned long long cgroup_arg(const char *s)
{
	struct {
		struct file_handle fh;
		unsigned long long id;
	} h = { .fh.handle_bytes = sizeof(h.id) };
	struct statfs st;
	int mount_id;

	if (!s)
		usage();
	if (*s >= '0' && *s <= '9')
		return number("cgroup", s, ULLONG_MAX);
	if (statfs(s, &st) || st.f_type != CGROUP2_SUPER_MAGIC ||
	    name_to_handle_at(AT_FDCWD, s, &h.fh, &mount_id, 0) ||
	    h.fh.handle_bytes != sizeof(h.id)) {
		fprintf(stderr, "%s: cgroup: not a cgroup v2 directory: '%s'\n",
			prog, s);
		exit(1);
	}
	return h.id;
}

static bool onoff(const char *what, const char *s)
{
	if (matches(s, "on"))
		return true;
	if (matches(s, "off"))
		return false;
	fprintf(stderr, "%s: %s: on or off, not '%s'\n", prog, what,
		s ?: "nothing");
	exit(1);
}

static void put_dev(struct nlmsghdr *nlh, int attr, const char *name)
{
	if (strlen(name) >= 16) {
		fprintf(stderr, "%s: device name too long: '%s'\n", prog, name);
		exit(1);
	}
	mnl_attr_put_strz(nlh, attr, name);
}

static int do_dev(int argc, char **argv)
{
	char *buf = calloc(1, MNL_SOCKET_BUFFER_SIZE);
	struct nlmsghdr *nlh;
	int i;

	if (!buf)
		die("out of memory");
	if (!argc || matches(argv[0], "show")) {
		nlh = genl_msg(buf, TOE_CMD_DEV_GET, argc > 1 ? NLM_F_ACK :
			       NLM_F_DUMP);
		if (argc > 1)
			put_dev(nlh, TOE_A_DEV_NAME, argv[1]);
		if (argc > 2)
			usage();
		if (json)
			jopen(NULL, '[');
		talk(nlh, dev_cb, NULL, "dev show");
		if (json) {
			jclose(']');
			putchar('\n');
		}
		free(buf);
		return 0;
	}
	if (!matches(argv[0], "set") || argc < 4 || argc % 2)
		usage();
	nlh = genl_msg(buf, TOE_CMD_DEV_SET, NLM_F_ACK);
	put_dev(nlh, TOE_A_DEV_NAME, argv[1]);
	for (i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		int x;

		if (matches(k, "enabled")) {
			mnl_attr_put_u8(nlh, TOE_A_DEV_ENABLED, onoff(k, v));
		} else if (matches(k, "auto") || matches(k, "auto_offload")) {
			mnl_attr_put_u8(nlh, TOE_A_DEV_AUTO_OFFLOAD, onoff(k, v));
		} else if (matches(k, "min_bytes")) {
			mnl_attr_put_u64(nlh, TOE_A_DEV_MIN_BYTES,
					 number(k, v, ULLONG_MAX));
		} else if (matches(k, "low_rate")) {
			mnl_attr_put_u64(nlh, TOE_A_DEV_LOW_RATE,
					 number(k, v, ULLONG_MAX));
		} else if (matches(k, "low_rate_secs")) {
			mnl_attr_put_u32(nlh, TOE_A_DEV_LOW_RATE_SECS,
					 number(k, v, UINT32_MAX));
		} else if (matches(k, "families")) {
			uint32_t f = 0;

			if (matches(v, "ipv4"))
				f = TOE_NL_FAMILY_IPV4;
			else if (matches(v, "ipv6"))
				f = TOE_NL_FAMILY_IPV6;
			else if (matches(v, "ipv4,ipv6") || matches(v, "all"))
				f = TOE_NL_FAMILY_IPV4 | TOE_NL_FAMILY_IPV6;
			else if (!matches(v, "none"))
				usage();
			mnl_attr_put_u32(nlh, TOE_A_DEV_FAMILIES, f);
		} else if (matches(k, "ulp_access")) {
			x = lookup(ulp_access_names, 3, v);
			if (x < 0)
				usage();
			mnl_attr_put_u8(nlh, TOE_A_DEV_ULP_ACCESS, x);
		} else {
			fprintf(stderr, "%s: dev set: unknown setting '%s'\n",
				prog, k);
			exit(1);
		}
	}
	talk(nlh, NULL, NULL, "dev set");
	free(buf);
	return 0;
}

/* An IPv4 or IPv6 address, 4 or 16 bytes. */
static void put_addr(struct nlmsghdr *nlh, int attr, const char *arg)
{
	unsigned char buf[16];
	int fam = strchr(arg, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, arg, buf) != 1) {
		fprintf(stderr, "%s: not an address: '%s'\n", prog, arg);
		exit(1);
	}
	mnl_attr_put(nlh, attr, fam == AF_INET6 ? 16 : 4, buf);
}

static int do_conn(int argc, char **argv)
{
	char *buf = calloc(1, MNL_SOCKET_BUFFER_SIZE);
	struct nlmsghdr *nlh;
	bool show;
	int i;

	if (!buf)
		die("out of memory");
	show = !argc || matches(argv[0], "show");
	if (!show && !matches(argv[0], "handback"))
		usage();
	nlh = genl_msg(buf, show ? TOE_CMD_CONN_GET : TOE_CMD_CONN_HANDBACK,
		       show ? NLM_F_DUMP : NLM_F_ACK);
	for (i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (matches(argv[i], "dev"))
			put_dev(nlh, TOE_A_CONN_DEV_NAME, argv[i + 1]);
		else if (matches(argv[i], "local"))
			put_addr(nlh, TOE_A_CONN_SADDR, argv[i + 1]);
		else if (matches(argv[i], "remote"))
			put_addr(nlh, TOE_A_CONN_DADDR, argv[i + 1]);
		else if (matches(argv[i], "sport"))
			mnl_attr_put_u16(nlh, TOE_A_CONN_SPORT,
					 number("sport", argv[i + 1], 65535));
		else if (matches(argv[i], "dport"))
			mnl_attr_put_u16(nlh, TOE_A_CONN_DPORT,
					 number("dport", argv[i + 1], 65535));
		else
			usage();
	}
	if (show && json)
		jopen(NULL, '[');
	talk(nlh, show ? conn_cb : NULL, NULL,
	     show ? "conn show" : "conn handback");
	if (show && json) {
		jclose(']');
		putchar('\n');
	}
	free(buf);
	return 0;
}

/* --- policy rules -------------------------------------------------------------- */

static const char * const dir_names[] = {
	[TOE_RULE_DIR_ANY] = "any", [TOE_RULE_DIR_ACTIVE] = "active",
	[TOE_RULE_DIR_PASSIVE] = "passive",
};

static const char * const action_names[] = {
	[TOE_RULE_OFFLOAD] = "offload", [TOE_RULE_SKIP] = "skip",
};

static void prefix_str(const struct attrs *a, int addr, int plen, char *out,
		       size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const struct nlattr *at = a->tb[addr];

	if (at && mnl_attr_get_payload_len(at) == 16)
		inet_ntop(AF_INET6, mnl_attr_get_payload(at), ip, sizeof(ip));
	else if (at && mnl_attr_get_payload_len(at) == 4)
		inet_ntop(AF_INET, mnl_attr_get_payload(at), ip, sizeof(ip));
	snprintf(out, len, "%s/%llu", ip, get_uint(a->tb[plen]));
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	char l[INET6_ADDRSTRLEN + 5] = "", r[INET6_ADDRSTRLEN + 5] = "";
	unsigned long long lp0, lp1, rp0, rp1, fam;
	const char *dir, *action;
	struct attrs a = {};

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attrs_cb, &a);
	if (a.tb[TOE_A_RULE_LADDR])
		prefix_str(&a, TOE_A_RULE_LADDR, TOE_A_RULE_LPREFIX, l,
			   sizeof(l));
	if (a.tb[TOE_A_RULE_RADDR])
		prefix_str(&a, TOE_A_RULE_RADDR, TOE_A_RULE_RPREFIX, r,
			   sizeof(r));
	lp0 = get_uint(a.tb[TOE_A_RULE_LPORT_MIN]);
	lp1 = get_uint(a.tb[TOE_A_RULE_LPORT_MAX]);
	rp0 = get_uint(a.tb[TOE_A_RULE_RPORT_MIN]);
	rp1 = get_uint(a.tb[TOE_A_RULE_RPORT_MAX]);
	fam = get_uint(a.tb[TOE_A_RULE_FAMILY]);
	dir = name_of(dir_names, ARRAY_SIZE(dir_names),
		      get_uint(a.tb[TOE_A_RULE_DIR]));
	action = name_of(action_names, ARRAY_SIZE(action_names),
			 get_uint(a.tb[TOE_A_RULE_ACTION]));

	if (json) {
		jopen(NULL, '{');
		jstr("dev", get_str(a.tb[TOE_A_RULE_DEV_NAME]));
		ju64("id", get_uint(a.tb[TOE_A_RULE_ID]));
		ju64("index", get_uint(a.tb[TOE_A_RULE_INDEX]));
		jstr("family", fam == AF_INET ? "ipv4" :
			       fam == AF_INET6 ? "ipv6" : "any");
		if (*l)
			jstr("local", l);
		if (*r)
			jstr("remote", r);
		ju64("lport_min", lp0);
		ju64("lport_max", lp1);
		ju64("rport_min", rp0);
		ju64("rport_max", rp1);
		jstr("dir", dir);
		if (a.tb[TOE_A_RULE_UID])
			ju64("uid", get_uint(a.tb[TOE_A_RULE_UID]));
		if (a.tb[TOE_A_RULE_CGROUP])
			ju64("cgroup", get_uint(a.tb[TOE_A_RULE_CGROUP]));
		jstr("action", action);
		if (a.tb[TOE_A_RULE_MIN_BYTES])
			ju64("min_bytes", get_uint(a.tb[TOE_A_RULE_MIN_BYTES]));
		ju64("hits", get_uint(a.tb[TOE_A_RULE_HITS]));
		jclose('}');
		return MNL_CB_OK;
	}
	printf("%s rule %llu index %llu:", get_str(a.tb[TOE_A_RULE_DEV_NAME]),
	       get_uint(a.tb[TOE_A_RULE_ID]), get_uint(a.tb[TOE_A_RULE_INDEX]));
	if (fam)
		hkv("family", "%s", fam == AF_INET ? "ipv4" : "ipv6");
	if (*l)
		hkv("local", "%s", l);
	if (*r)
		hkv("remote", "%s", r);
	if (lp0 || lp1 != 65535)
		hkv("lport", lp0 == lp1 ? "%llu" : "%llu-%llu", lp0, lp1);
	if (rp0 || rp1 != 65535)
		hkv("rport", rp0 == rp1 ? "%llu" : "%llu-%llu", rp0, rp1);
	if (strcmp(dir, "any"))
		hkv("dir", "%s", dir);
	if (a.tb[TOE_A_RULE_UID])
		hkv("uid", "%llu", get_uint(a.tb[TOE_A_RULE_UID]));
	if (a.tb[TOE_A_RULE_CGROUP])
		hkv("cgroup", "%llu", get_uint(a.tb[TOE_A_RULE_CGROUP]));
	hkv("action", "%s", action);
	if (a.tb[TOE_A_RULE_MIN_BYTES])
		hkv("min_bytes", "%llu", get_uint(a.tb[TOE_A_RULE_MIN_BYTES]));
	hkv("hits", "%llu", get_uint(a.tb[TOE_A_RULE_HITS]));
	putchar('\n');
	return MNL_CB_OK;
}

/* ADDR[/LEN] into @addr and @plen; the family it implies, checked. */
static void put_prefix(struct nlmsghdr *nlh, int addr, int plen,
		       const char *arg, int *family)
{
	unsigned char buf[16];
	char tmp[INET6_ADDRSTRLEN + 5], *slash;
	int fam;

	snprintf(tmp, sizeof(tmp), "%s", arg ?: "");
	slash = strchr(tmp, '/');
	if (slash)
		*slash++ = '\0';
	fam = strchr(tmp, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, tmp, buf) != 1 || (*family && *family != fam)) {
		fprintf(stderr, "%s: not an address of the rule's family: '%s'\n",
			prog, arg ?: "");
		exit(1);
	}
	*family = fam;
	mnl_attr_put(nlh, addr, fam == AF_INET6 ? 16 : 4, buf);
	if (slash)
		mnl_attr_put_u8(nlh, plen, number("prefix length", slash, 128));
}

static void put_ports(struct nlmsghdr *nlh, int lo, int hi, const char *arg)
{
	char tmp[16], *dash;

	snprintf(tmp, sizeof(tmp), "%s", arg ?: "");
	dash = strchr(tmp, '-');
	if (dash)
		*dash++ = '\0';
	mnl_attr_put_u16(nlh, lo, number("port", tmp, 65535));
	mnl_attr_put_u16(nlh, hi, number("port", dash ?: tmp, 65535));
}

static int do_policy(int argc, char **argv)
{
	char *buf = calloc(1, MNL_SOCKET_BUFFER_SIZE);
	int i, family = 0, x;
	struct nlmsghdr *nlh;
	bool show, add, dev = false, action = false;

	if (!buf)
		die("out of memory");
	show = !argc || matches(argv[0], "show");
	add = argc && matches(argv[0], "add");
	if (!show && !add && !matches(argv[0], "del"))
		usage();
	nlh = genl_msg(buf, show ? TOE_CMD_RULE_GET :
			    add ? TOE_CMD_RULE_ADD : TOE_CMD_RULE_DEL,
		       show ? NLM_F_DUMP : NLM_F_ACK);
	for (i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (matches(k, "dev")) {
			put_dev(nlh, TOE_A_RULE_DEV_NAME, v);
			dev = true;
		} else if (matches(k, "id") && !show && !add) {
			mnl_attr_put_u32(nlh, TOE_A_RULE_ID,
					 number(k, v, UINT32_MAX));
		} else if (!add) {
			usage();
		} else if (matches(k, "index")) {
			mnl_attr_put_u32(nlh, TOE_A_RULE_INDEX,
					 number(k, v, UINT32_MAX));
		} else if (matches(k, "family")) {
			if (matches(v, "ipv4"))
				x = AF_INET;
			else if (matches(v, "ipv6"))
				x = AF_INET6;
			else
				usage();
			if (family && family != x)
				usage();
			family = x;
		} else if (matches(k, "local")) {
			put_prefix(nlh, TOE_A_RULE_LADDR, TOE_A_RULE_LPREFIX, v,
				   &family);
		} else if (matches(k, "remote")) {
			put_prefix(nlh, TOE_A_RULE_RADDR, TOE_A_RULE_RPREFIX, v,
				   &family);
		} else if (matches(k, "lport")) {
			put_ports(nlh, TOE_A_RULE_LPORT_MIN, TOE_A_RULE_LPORT_MAX,
				  v);
		} else if (matches(k, "rport")) {
			put_ports(nlh, TOE_A_RULE_RPORT_MIN, TOE_A_RULE_RPORT_MAX,
				  v);
		} else if (matches(k, "dir")) {
			x = lookup(dir_names, ARRAY_SIZE(dir_names), v);
			if (x < 0)
				usage();
			mnl_attr_put_u8(nlh, TOE_A_RULE_DIR, x);
		} else if (matches(k, "uid")) {
			mnl_attr_put_u32(nlh, TOE_A_RULE_UID,
					 number(k, v, UINT32_MAX));
		} else if (matches(k, "cgroup")) {
			mnl_attr_put_u64(nlh, TOE_A_RULE_CGROUP, cgroup_arg(v));
		} else if (matches(k, "action")) {
			x = lookup(action_names, ARRAY_SIZE(action_names), v);
			if (x < 0)
				usage();
			mnl_attr_put_u8(nlh, TOE_A_RULE_ACTION, x);
			action = true;
		} else if (matches(k, "min_bytes")) {
			mnl_attr_put_u64(nlh, TOE_A_RULE_MIN_BYTES,
					 number(k, v, ULLONG_MAX));
		} else {
			usage();
		}
	}
	if ((!show && !dev) || (add && !action))
		usage();
	if (family)
		mnl_attr_put_u8(nlh, TOE_A_RULE_FAMILY, family);
	if (show && json)
		jopen(NULL, '[');
	talk(nlh, show || add ? rule_cb : NULL, NULL,
	     show ? "policy show" : add ? "policy add" : "policy del");
	if (show && json) {
		jclose(']');
		putchar('\n');
	} else if (add && json) {
		putchar('\n');
	}
	free(buf);
	return 0;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	long *left = data;

	if (nlh->nlmsg_type != family_id ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return MNL_CB_OK;
	switch (g->cmd) {
	case TOE_CMD_DEV_CHANGE_NTF:
		print_dev(nlh, "dev");
		break;
	case TOE_CMD_HANDOVER_NTF:
		print_conn(nlh, "handover");
		break;
	case TOE_CMD_HANDBACK_NTF:
		print_conn(nlh, "handback");
		break;
	case TOE_CMD_REFUSED_NTF:
		print_conn(nlh, "refused");
		break;
	default:
		return MNL_CB_OK;
	}
	if (json) {
		/* One JSON object per line, as `ip -j monitor` prints. */
		putchar('\n');
		jfirst = true;
	}
	fflush(stdout);
	return --*left ? MNL_CB_OK : MNL_CB_STOP;
}

static int do_monitor(int argc, char **argv)
{
	char buf[TOECTL_BUF_SIZE];
	long left = -1;
	int ret, grp;

	if (argc == 2 && matches(argv[0], "count"))
		left = number("count", argv[1], LONG_MAX);
	else if (argc)
		usage();
	if (!left)
		return 0;
	if (!events_group)
		die("the toe family has no events group");
	grp = events_group;
	if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		die("cannot join the events group: %s", strerror(errno));
	/* Ready: a script may start what it watches now. */
	fprintf(stderr, "%s: monitoring\n", prog);
	do {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0) {
			if (errno == ENOBUFS) {
				fprintf(stderr, "%s: events lost\n", prog);
				continue;
			}
			die("monitor: %s", strerror(errno));
		}
		ret = mnl_cb_run(buf, ret, 0, 0, event_cb, &left);
	} while (ret > MNL_CB_STOP);
	if (ret < 0)
		die("monitor: %s", strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "+jph")) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'p':
			pretty = true;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (pretty && !json)
		usage();
	if (!argc)
		usage();
	nl_open();
	if (matches(argv[0], "dev"))
		return do_dev(argc - 1, argv + 1);
	if (matches(argv[0], "conn"))
		return do_conn(argc - 1, argv + 1);
	if (matches(argv[0], "monitor"))
		return do_monitor(argc - 1, argv + 1);
	if (matches(argv[0], "policy"))
		return do_policy(argc - 1, argv + 1);
	usage();
	return 1;
}
