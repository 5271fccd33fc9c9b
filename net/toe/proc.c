// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/toe: per network namespace views of the offload devices (a
 * toedev appears in the namespaces its ports are in) and of the
 * connections they carry.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/toe.h>

#include "toe_internal.h"

static void toe_seq_families(struct seq_file *seq, u32 families)
{
	if (!families) {
		seq_puts(seq, " -");
		return;
	}
	seq_printf(seq, " %s%s%s", families & TOE_FAMILY_IPV4 ? "ipv4" : "",
		   families == TOE_FAMILY_ALL ? "," : "",
		   families & TOE_FAMILY_IPV6 ? "ipv6" : "");
}

static int toe_devices_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	u64 st[TOEDEV_STAT_MAX];
	struct toe_port *port;
	struct toedev *tdev;
	bool any;

	seq_puts(seq, "name driver ports state families conns limit neigh_updates redirects port_changes tap_tx tap_rx handovers handbacks auto_offloads auto_refused table_full low_rate handback_errors nf_refused ulp_denied rerouted feature_refused\n");
	mutex_lock(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list) {
		any = false;
		list_for_each_entry(port, &tdev->ports, node)
			any |= net_eq(dev_net(port->dev), net);
		if (!any)
			continue;

		seq_printf(seq, "%s %s ", tdev->name,
			   tdev->owner ? module_name(tdev->owner) : "-");
		any = false;
		list_for_each_entry(port, &tdev->ports, node) {
			if (!net_eq(dev_net(port->dev), net))
				continue;
			seq_printf(seq, "%s%s", any ? "," : "", port->dev->name);
			any = true;
		}
		seq_printf(seq, " %s", toedev_state_name(tdev));
		toe_seq_families(seq, tdev->families);
		toedev_stats_read(tdev, st);
		seq_printf(seq, " %d %u %llu %llu %llu %llu %llu",
			   atomic_read(&tdev->conn_count),
			   READ_ONCE(tdev->conn_limit),
			   st[TOEDEV_STAT_NEIGH_UPDATES],
			   st[TOEDEV_STAT_REDIRECTS],
			   st[TOEDEV_STAT_PORT_CHANGES],
			   st[TOEDEV_STAT_TAP_TX], st[TOEDEV_STAT_TAP_RX]);
		seq_printf(seq, " %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu\n",
			   st[TOEDEV_STAT_HANDOVERS], st[TOEDEV_STAT_HANDBACKS],
			   st[TOEDEV_STAT_AUTO_OFFLOADS],
			   st[TOEDEV_STAT_AUTO_REFUSED],
			   st[TOEDEV_STAT_TABLE_FULL],
			   st[TOEDEV_STAT_LOW_RATE],
			   st[TOEDEV_STAT_HANDBACK_ERRORS],
			   st[TOEDEV_STAT_NF_REFUSED],
			   st[TOEDEV_STAT_ULP_DENIED],
			   st[TOEDEV_STAT_REROUTED],
			   st[TOEDEV_STAT_FEATURE_REFUSED]);
	}
	mutex_unlock(&toe_mutex);
	return 0;
}

static void toe_seq_conn(struct seq_file *seq, struct toedev *tdev,
			 struct toe_sock *ts)
{
	struct sock *sk = ts->sk;
	unsigned long secs = (jiffies - READ_ONCE(ts->since)) / HZ;

	if (sk->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&sk->sk_v6_daddr))
		seq_printf(seq, "[%pI6c]:%u [%pI6c]:%u", &sk->sk_v6_rcv_saddr,
			   ntohs(inet_sk(sk)->inet_sport), &sk->sk_v6_daddr,
			   ntohs(inet_sk(sk)->inet_dport));
	else
		seq_printf(seq, "%pI4:%u %pI4:%u", &inet_sk(sk)->inet_saddr,
			   ntohs(inet_sk(sk)->inet_sport),
			   &inet_sk(sk)->inet_daddr,
			   ntohs(inet_sk(sk)->inet_dport));
	seq_printf(seq, " %s offloaded %lld %lld %lu %u %u %s\n", tdev->name,
		   (long long)atomic64_read(&ts->tx_bytes),
		   (long long)atomic64_read(&ts->rx_bytes), secs,
		   READ_ONCE(ts->handovers), READ_ONCE(ts->handbacks),
		   READ_ONCE(ts->handbacks) ?
		   toe_hb_name(READ_ONCE(ts->last_reason)) : "-");
}

/* Offloaded connections whose socket lives in this netns. */
static int toe_connections_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct toedev *tdev;
	struct toe_sock *ts;

	seq_puts(seq, "local remote device state tx_bytes rx_bytes seconds handovers handbacks last_handback\n");
	mutex_lock(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list) {
		spin_lock_bh(&tdev->conns_lock);
		list_for_each_entry(ts, &tdev->conns, node)
			if (net_eq(sock_net(ts->sk), net))
				toe_seq_conn(seq, tdev, ts);
		spin_unlock_bh(&tdev->conns_lock);
	}
	mutex_unlock(&toe_mutex);
	return 0;
}

static int __net_init toe_proc_net_init(struct net *net)
{
	struct proc_dir_entry *dir;

	dir = proc_net_mkdir(net, "toe", net->proc_net);
	if (!dir)
		return -ENOMEM;
	if (!proc_create_net_single("devices", 0444, dir, toe_devices_show,
				    NULL) ||
	    !proc_create_net_single("connections", 0444, dir,
				    toe_connections_show, NULL)) {
		remove_proc_subtree("toe", net->proc_net);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit toe_proc_net_exit(struct net *net)
{
	remove_proc_subtree("toe", net->proc_net);
}

static struct pernet_operations toe_proc_net_ops = {
	.init = toe_proc_net_init,
	.exit = toe_proc_net_exit,
};

int toe_proc_init(void)
{
	return register_pernet_subsys(&toe_proc_net_ops);
}

void toe_proc_exit(void)
{
	unregister_pernet_subsys(&toe_proc_net_ops);
}
