// SPDX-License-Identifier: GPL-2.0
/*
 * toe_test: a test-only TOE driver that exercises the core's API and
 * records what the core delivers to it. It has no engine: connect()
 * refuses every connection.
 *
 * Controlled through debugfs, /sys/kernel/debug/toe_test/:
 *   ctl          write a command; the write fails with the command's errno
 *                  add ID            allocate and register device ID (0-7)
 *                  minimal ID        the same with the required ops only;
 *                                    fails if the core does not use the
 *                                    driver's own (const) table
 *                  del ID            unregister and free it
 *                  bind ID IFNAME    bind a net_device of the caller's netns
 *                  unbind ID IFNAME
 *                  reregister ID     register_toedev() again (must fail)
 *                  nullops           register a device lacking open()
 *                  unreg_unknown     unregister a never registered device
 *                  stress IFNAME N   N x (alloc, register, bind, enable,
 *                                    disable, unregister, free)
 *                  lookup IFNAME N   N RCU lookups of IFNAME's toedev
 *                  tap ID IFNAME     mirror one made-up UDP frame to the
 *                                    taps of IFNAME, once each way
 *   ID/events    what device ID received, one "key value" per line
 *   notifier     TOEDEV_* events seen by a notifier registered at load
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/etherdevice.h>
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/udp.h>
#include <linux/uaccess.h>
#include <net/ip.h>
#include <net/neighbour.h>
#include <net/netevent.h>
#include <net/toe.h>

#define TT_MAX_DEVS	8

/**
 * struct tt_priv - what a test device received
 * @lock: protects every field below; taken from atomic context
 * @opens: open() calls
 * @closes: close() calls
 * @connects: connect() calls
 * @neigh_updates: neigh_update() calls
 * @redirects: redirect() calls
 * @port_changes: port_change() calls, by &enum toe_port_change
 * @last_dev: port of the last neighbour update
 * @last_key: primary key (IP address) of the last neighbour update
 * @last_key_len: length of @last_key
 * @last_ha: link address of the last neighbour update
 * @last_nud: NUD state of the last neighbour update
 * @last_port: port of the last port change
 * @last_mtu: MTU of @last_port at the last port change
 */
struct tt_priv {
	spinlock_t lock; /* protects the fields below */
	unsigned long opens;
	unsigned long closes;
	unsigned long connects;
	unsigned long neigh_updates;
	unsigned long redirects;
	unsigned long port_changes[TOE_PORT_NETNS + 1];
	char last_dev[IFNAMSIZ];
	u8 last_key[16];
	unsigned int last_key_len;
	u8 last_ha[ETH_ALEN];
	u8 last_nud;
	char last_port[IFNAMSIZ];
	unsigned int last_mtu;
};

/* Test devices by ID; tt_mutex. */
static struct toedev *tt_devs[TT_MAX_DEVS];
static struct dentry *tt_dirs[TT_MAX_DEVS];
static DEFINE_MUTEX(tt_mutex);
static struct dentry *tt_root;

/* TOEDEV_* events seen by tt_nb, indexed by event; atomic. */
static atomic_t tt_nb_events[TOEDEV_DOWN + 1];

static int tt_open(struct toedev *tdev)
{
	struct tt_priv *p = toedev_priv(tdev);

	spin_lock_bh(&p->lock);
	p->opens++;
	spin_unlock_bh(&p->lock);
	return 0;
}

static void tt_close(struct toedev *tdev)
{
	struct tt_priv *p = toedev_priv(tdev);

	spin_lock_bh(&p->lock);
	p->closes++;
	spin_unlock_bh(&p->lock);
}

static int tt_connect(struct toedev *tdev, struct sock *sk,
		      struct toe_handover *ho)
{
	struct tt_priv *p = toedev_priv(tdev);

	spin_lock_bh(&p->lock);
	p->connects++;
	spin_unlock_bh(&p->lock);
	return -EOPNOTSUPP;
}

static int tt_send(struct toedev *tdev, struct sock *sk, struct sk_buff *skb)
{
	kfree_skb(skb);
	return -EOPNOTSUPP;
}

static int tt_handback(struct toedev *tdev, struct sock *sk,
		       enum toe_handback_reason reason, struct toe_handback *hb)
{
	return -EOPNOTSUPP;
}

/* toe_test carries no connection: connect() refuses every one. */
static void tt_sk_event(struct toedev *tdev, struct sock *sk,
			enum toe_sk_event ev)
{
}

static void tt_neigh_update(struct toedev *tdev, struct net_device *dev,
			    struct neighbour *n)
{
	struct tt_priv *p = toedev_priv(tdev);
	unsigned int len = min_t(unsigned int, n->tbl->key_len,
				 sizeof(p->last_key));
	u8 ha[ETH_ALEN];
	u8 nud;

	read_lock_bh(&n->lock);
	memcpy(ha, n->ha, ETH_ALEN);
	nud = n->nud_state;
	read_unlock_bh(&n->lock);

	spin_lock_bh(&p->lock);
	p->neigh_updates++;
	strscpy(p->last_dev, dev->name, sizeof(p->last_dev));
	memcpy(p->last_key, n->primary_key, len);
	p->last_key_len = len;
	memcpy(p->last_ha, ha, ETH_ALEN);
	p->last_nud = nud;
	spin_unlock_bh(&p->lock);
}

static void tt_redirect(struct toedev *tdev, struct net_device *dev,
			struct netevent_redirect *r)
{
	struct tt_priv *p = toedev_priv(tdev);

	spin_lock_bh(&p->lock);
	p->redirects++;
	spin_unlock_bh(&p->lock);
}

static void tt_port_change(struct toedev *tdev, struct net_device *dev,
			   enum toe_port_change what)
{
	struct tt_priv *p = toedev_priv(tdev);

	spin_lock_bh(&p->lock);
	if (what < ARRAY_SIZE(p->port_changes))
		p->port_changes[what]++;
	strscpy(p->last_port, dev->name, sizeof(p->last_port));
	p->last_mtu = READ_ONCE(dev->mtu);
	spin_unlock_bh(&p->lock);
}

static const struct toedev_ops tt_ops = {
	.open		= tt_open,
	.close		= tt_close,
	.connect	= tt_connect,
	.send		= tt_send,
	.handback	= tt_handback,
	.sk_event	= tt_sk_event,
	.neigh_update	= tt_neigh_update,
	.redirect	= tt_redirect,
	.port_change	= tt_port_change,
};

static const struct toedev_ops tt_ops_minimal = {
	.open		= tt_open,
	.close		= tt_close,
	.connect	= tt_connect,
	.send		= tt_send,
	.handback	= tt_handback,
	.sk_event	= tt_sk_event,
};

static const struct toedev_ops tt_ops_no_open = {
	.close		= tt_close,
	.connect	= tt_connect,
	.send		= tt_send,
	.handback	= tt_handback,
	.sk_event	= tt_sk_event,
};

static struct toedev *tt_alloc(const struct toedev_ops *ops)
{
	struct toedev *tdev;
	struct tt_priv *p;

	tdev = toedev_alloc(sizeof(struct tt_priv), ops, THIS_MODULE);
	if (!tdev)
		return NULL;
	p = toedev_priv(tdev);
	spin_lock_init(&p->lock);
	tdev->supported = TOE_FAMILY_ALL;
	tdev->families = TOE_FAMILY_ALL;
	/* Every TCP extension: the handover reaches connect(), which
	 * records it and refuses.
	 */
	tdev->features = TOE_F_TIMESTAMPS | TOE_F_SACK | TOE_F_WSCALE |
			 TOE_F_ECN;
	tdev->conn_limit = 8;
	return tdev;
}

static int tt_events_show(struct seq_file *seq, void *v)
{
	struct toedev *tdev = seq->private;
	struct tt_priv *p = toedev_priv(tdev), s;

	spin_lock_bh(&p->lock);
	s = *p;
	spin_unlock_bh(&p->lock);

	seq_printf(seq, "name %s\n", tdev->name);
	seq_printf(seq, "opens %lu\ncloses %lu\nconnects %lu\n", s.opens,
		   s.closes, s.connects);
	seq_printf(seq, "neigh_updates %lu\nredirects %lu\n",
		   s.neigh_updates, s.redirects);
	seq_printf(seq, "port_up %lu\nport_down %lu\nport_mtu %lu\n",
		   s.port_changes[TOE_PORT_UP], s.port_changes[TOE_PORT_DOWN],
		   s.port_changes[TOE_PORT_MTU]);
	seq_printf(seq, "port_addr %lu\nport_netns %lu\n",
		   s.port_changes[TOE_PORT_ADDR],
		   s.port_changes[TOE_PORT_NETNS]);
	seq_printf(seq, "last_port %s\nlast_mtu %u\n",
		   s.last_port[0] ? s.last_port : "-", s.last_mtu);
	seq_printf(seq, "last_neigh_dev %s\n", s.last_dev[0] ? s.last_dev : "-");
	if (s.last_key_len == 4)
		seq_printf(seq, "last_neigh_addr %pI4\n", s.last_key);
	else if (s.last_key_len == 16)
		seq_printf(seq, "last_neigh_addr %pI6c\n", s.last_key);
	else
		seq_puts(seq, "last_neigh_addr -\n");
	seq_printf(seq, "last_neigh_ha %pM\nlast_neigh_nud %#x\n",
		   s.last_ha, s.last_nud);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tt_events);

static int tt_add(unsigned int id, const struct toedev_ops *ops)
{
	struct toedev *tdev;
	char name[8];
	int err;

	if (tt_devs[id])
		return -EEXIST;
	tdev = tt_alloc(ops);
	if (!tdev)
		return -ENOMEM;
	err = register_toedev(tdev);
	if (!err && tdev->ops != ops) {
		pr_err("%s: the core replaced the driver's ops table\n",
		       tdev->name);
		unregister_toedev(tdev);
		err = -EINVAL;
	}
	if (err) {
		toedev_free(tdev);
		return err;
	}
	snprintf(name, sizeof(name), "%u", id);
	tt_dirs[id] = debugfs_create_dir(name, tt_root);
	debugfs_create_file("events", 0444, tt_dirs[id], tdev,
			    &tt_events_fops);
	tt_devs[id] = tdev;
	return 0;
}

static int tt_del(unsigned int id)
{
	struct toedev *tdev = tt_devs[id];

	if (!tdev)
		return -ENOENT;
	debugfs_remove_recursive(tt_dirs[id]);
	tt_dirs[id] = NULL;
	tt_devs[id] = NULL;
	unregister_toedev(tdev);
	toedev_free(tdev);
	return 0;
}

static int tt_bind(unsigned int id, const char *ifname, bool bind)
{
	struct net_device *dev;
	int err;

	if (!tt_devs[id])
		return -ENOENT;
	dev = dev_get_by_name(current->nsproxy->net_ns, ifname);
	if (!dev)
		return -ENODEV;
	if (bind)
		err = toedev_bind(tt_devs[id], dev);
	else
		err = toedev_unbind(tt_devs[id], dev);
	dev_put(dev);
	return err;
}

static int tt_nullops(void)
{
	struct toedev *tdev = tt_alloc(&tt_ops_no_open);
	int err;

	if (!tdev)
		return -ENOMEM;
	err = register_toedev(tdev);
	if (!err) {
		/* A bug in the core: undo, and report it to the test. */
		unregister_toedev(tdev);
		err = -EPROTO;
	}
	toedev_free(tdev);
	return err == -EINVAL ? 0 : err;
}

static int tt_unreg_unknown(void)
{
	struct toedev *tdev = tt_alloc(&tt_ops);
	int err;

	if (!tdev)
		return -ENOMEM;
	unregister_toedev(tdev);
	/* Refused before any teardown: the device is left as allocated. */
	err = READ_ONCE(tdev->reg_state) == TOEDEV_UNINITIALIZED ? 0 : -EPROTO;
	toedev_free(tdev);
	return err;
}

static int tt_stress(const char *ifname, unsigned int n)
{
	struct net_device *dev;
	struct toedev *tdev;
	unsigned int i;
	int err = 0;

	dev = dev_get_by_name(current->nsproxy->net_ns, ifname);
	if (!dev)
		return -ENODEV;
	for (i = 0; i < n && !err; i++) {
		tdev = tt_alloc(&tt_ops);
		if (!tdev) {
			err = -ENOMEM;
			break;
		}
		err = register_toedev(tdev);
		if (err) {
			toedev_free(tdev);
			break;
		}
		err = toedev_bind(tdev, dev);
		if (!err)
			err = toedev_set_enabled(tdev, true);
		if (!err)
			err = toedev_set_enabled(tdev, false);
		unregister_toedev(tdev);
		toedev_free(tdev);
		cond_resched();
	}
	dev_put(dev);
	return err;
}

static int tt_lookup(const char *ifname, unsigned int n)
{
	struct net_device *dev;
	struct toedev *tdev;
	unsigned int i, found = 0;

	dev = dev_get_by_name(current->nsproxy->net_ns, ifname);
	if (!dev)
		return -ENODEV;
	for (i = 0; i < n; i++) {
		rcu_read_lock();
		tdev = toedev_lookup_rcu(dev);
		/* Touch it: KASAN catches a device freed under us. */
		if (tdev && READ_ONCE(tdev->name[0]) == 't')
			found++;
		rcu_read_unlock();
		cond_resched();
	}
	dev_put(dev);
	return found ? 0 : -ENOENT;
}

/* A made-up IPv4/UDP frame carrying "TOETAP", for the tap helpers. */
static int tt_tap(unsigned int id, const char *ifname)
{
	static const char payload[] = "TOETAP";
	struct net_device *dev;
	struct sk_buff *skb;
	struct udphdr *uh;
	struct ethhdr *eh;
	struct iphdr *iph;
	int len = sizeof(*iph) + sizeof(*uh) + sizeof(payload);

	if (!tt_devs[id])
		return -ENOENT;
	dev = dev_get_by_name(current->nsproxy->net_ns, ifname);
	if (!dev)
		return -ENODEV;
	skb = alloc_skb(ETH_HLEN + len, GFP_KERNEL);
	if (!skb) {
		dev_put(dev);
		return -ENOMEM;
	}
	eh = skb_put(skb, ETH_HLEN);
	eth_broadcast_addr(eh->h_dest);
	ether_addr_copy(eh->h_source, dev->dev_addr);
	eh->h_proto = htons(ETH_P_IP);
	iph = skb_put_zero(skb, sizeof(*iph));
	iph->version = 4;
	iph->ihl = 5;
	iph->ttl = 1;
	iph->protocol = IPPROTO_UDP;
	iph->tot_len = htons(len);
	iph->saddr = htonl(0xc0000201);	/* 192.0.2.1, TEST-NET-1 */
	iph->daddr = htonl(0xc0000202);
	ip_send_check(iph);
	uh = skb_put_zero(skb, sizeof(*uh));
	uh->source = htons(9);
	uh->dest = htons(9);
	uh->len = htons(sizeof(*uh) + sizeof(payload));
	skb_put_data(skb, payload, sizeof(payload));
	skb->dev = dev;
	skb->protocol = eh->h_proto;

	toe_tap_tx(tt_devs[id], dev, skb);
	toe_tap_rx(tt_devs[id], dev, skb);
	kfree_skb(skb);
	dev_put(dev);
	return 0;
}

static int tt_cmd(char *buf)
{
	char cmd[16], ifname[IFNAMSIZ];
	unsigned int id, n;

	if (sscanf(buf, "%15s", cmd) != 1)
		return -EINVAL;

	if (!strcmp(cmd, "nullops"))
		return tt_nullops();
	if (!strcmp(cmd, "unreg_unknown"))
		return tt_unreg_unknown();
	if (!strcmp(cmd, "stress") || !strcmp(cmd, "lookup")) {
		if (sscanf(buf, "%*s %15s %u", ifname, &n) != 2 || !n ||
		    n > 100000)
			return -EINVAL;
		return cmd[0] == 's' ? tt_stress(ifname, n) :
				       tt_lookup(ifname, n);
	}

	if (sscanf(buf, "%*s %u", &id) != 1 || id >= TT_MAX_DEVS)
		return -EINVAL;
	if (!strcmp(cmd, "add"))
		return tt_add(id, &tt_ops);
	if (!strcmp(cmd, "minimal"))
		return tt_add(id, &tt_ops_minimal);
	if (!strcmp(cmd, "del"))
		return tt_del(id);
	if (!strcmp(cmd, "reregister"))
		return tt_devs[id] ? register_toedev(tt_devs[id]) : -ENOENT;
	if (!strcmp(cmd, "bind") || !strcmp(cmd, "unbind") ||
	    !strcmp(cmd, "tap")) {
		if (sscanf(buf, "%*s %*u %15s", ifname) != 1)
			return -EINVAL;
		if (cmd[0] == 't')
			return tt_tap(id, ifname);
		return tt_bind(id, ifname, cmd[0] == 'b');
	}
	return -EINVAL;
}

static ssize_t tt_ctl_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char buf[64];
	int err;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';

	/* Lookups run unlocked, so they race with the other commands. */
	if (!strncmp(buf, "lookup", 6))
		return tt_cmd(buf) ?: len;

	mutex_lock(&tt_mutex);
	err = tt_cmd(buf);
	mutex_unlock(&tt_mutex);
	return err ?: len;
}

static const struct file_operations tt_ctl_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.write	= tt_ctl_write,
	.llseek	= no_llseek,
};

static int tt_nb_call(struct notifier_block *nb, unsigned long event,
		      void *ptr)
{
	if (event < ARRAY_SIZE(tt_nb_events))
		atomic_inc(&tt_nb_events[event]);
	return NOTIFY_DONE;
}

static struct notifier_block tt_nb = {
	.notifier_call = tt_nb_call,
};

static int tt_notifier_show(struct seq_file *seq, void *v)
{
	seq_printf(seq, "register %d\nunregister %d\nup %d\ndown %d\n",
		   atomic_read(&tt_nb_events[TOEDEV_REGISTER]),
		   atomic_read(&tt_nb_events[TOEDEV_UNREGISTER]),
		   atomic_read(&tt_nb_events[TOEDEV_UP]),
		   atomic_read(&tt_nb_events[TOEDEV_DOWN]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tt_notifier);

static int __init tt_init(void)
{
	int err;

	err = register_toedev_notifier(&tt_nb);
	if (err)
		return err;
	tt_root = debugfs_create_dir("toe_test", NULL);
	debugfs_create_file("ctl", 0200, tt_root, NULL, &tt_ctl_fops);
	debugfs_create_file("notifier", 0444, tt_root, NULL,
			    &tt_notifier_fops);
	return 0;
}

static void __exit tt_exit(void)
{
	unsigned int id;

	/* The per-device directories go with the root. */
	debugfs_remove_recursive(tt_root);
	unregister_toedev_notifier(&tt_nb);
	mutex_lock(&tt_mutex);
	for (id = 0; id < TT_MAX_DEVS; id++) {
		tt_dirs[id] = NULL;
		tt_del(id);
	}
	mutex_unlock(&tt_mutex);
}

module_init(tt_init);
module_exit(tt_exit);
MODULE_DESCRIPTION("Test driver for the TOE core");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(TOE);
