// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/toe: per network namespace views of the offload devices.
 * A toedev appears in the namespaces its ports are in.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
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

	seq_puts(seq, "name driver ports state families conns limit neigh_updates redirects port_changes tap_tx tap_rx\n");
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
		seq_printf(seq, " %d %u %llu %llu %llu %llu %llu\n",
			   atomic_read(&tdev->conn_count),
			   READ_ONCE(tdev->conn_limit),
			   st[TOEDEV_STAT_NEIGH_UPDATES],
			   st[TOEDEV_STAT_REDIRECTS],
			   st[TOEDEV_STAT_PORT_CHANGES],
			   st[TOEDEV_STAT_TAP_TX], st[TOEDEV_STAT_TAP_RX]);
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
				    NULL)) {
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
