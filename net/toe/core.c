// SPDX-License-Identifier: GPL-2.0
/*
 * TOE core: the registry of offload devices, the analogue of
 * net/core/dev.c for TCP offload engines.
 *
 * A toedev goes through the same four steps as a net_device:
 * toedev_alloc(), register_toedev(), unregister_toedev(), toedev_free().
 * Ports (net_devices) are bound to it with toedev_bind(); the stack finds
 * the toedev of a net_device with an RCU hash lookup, never through a
 * field of the net_device.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hashtable.h>
#include <linux/if_arp.h>
#include <linux/module.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/tcp.h>
#include <net/toe.h>

#include "toe_internal.h"

/* Serialises registration, activation and binding; nests inside RTNL. */
DEFINE_MUTEX(toe_mutex);
/* Registered toedevs: toe_mutex for writers, RCU for readers. */
LIST_HEAD(toedev_list);
/* Handovers against activation and binding changes: a handover holds it
 * for read from its last test of the device's state (enabled, registered,
 * the route's port bound to it and up) until the connection is on the
 * device's list. Disabling (the first step of unregistering too) and
 * removing a port change that state under it for write, a port going
 * down waits on it, and each then hands back what is on the list. Taken
 * under the socket lock (read) and under RTNL and toe_mutex (write); no
 * socket lock is taken while it is held for write.
 */
DECLARE_RWSEM(toe_handover_sem);

/* Notifier chain for TOEDEV_* events; toe_mutex. */
static RAW_NOTIFIER_HEAD(toe_chain);

/* Port hash: net_device pointer -> toe_port. Writers hold RTNL and
 * toe_mutex, readers hold rcu_read_lock().
 */
#define TOE_PORT_HASH_BITS	8
static DEFINE_HASHTABLE(toe_port_hash, TOE_PORT_HASH_BITS);

static void toedev_release(struct device *d)
{
	struct toedev *tdev = container_of(d, struct toedev, dev);

	free_percpu(tdev->stats);
	kfree(tdev);
}

/**
 * toedev_alloc() - allocate a TOE device
 * @priv_size: size of the driver's private area (toedev_priv())
 * @ops: the driver's operations, used in place: a const table in the
 *	driver's rodata that outlives the device
 * @owner: the driver's module (THIS_MODULE)
 *
 * The device is named "toe%d" at registration unless the driver writes
 * a name into &toedev.name first. The driver sets &toedev.supported and
 * &toedev.conn_limit before register_toedev().
 *
 * Context: process; may sleep.
 * Return: the device, or NULL on allocation failure or NULL @ops.
 */
struct toedev *toedev_alloc(size_t priv_size, const struct toedev_ops *ops,
			    struct module *owner)
{
	struct toedev *tdev;

	if (!ops)
		return NULL;

	tdev = kzalloc(struct_size(tdev, priv,
				   DIV_ROUND_UP(priv_size, sizeof(long))),
		       GFP_KERNEL);
	if (!tdev)
		return NULL;

	tdev->stats = netdev_alloc_pcpu_stats(struct toedev_stats);
	if (!tdev->stats)
		goto err_free_tdev;

	tdev->ops = ops;
	tdev->owner = owner;
	strscpy(tdev->name, "toe%d", sizeof(tdev->name));
	INIT_LIST_HEAD(&tdev->list);
	INIT_LIST_HEAD(&tdev->ports);
	tdev->reg_state = TOEDEV_UNINITIALIZED;
	tdev->families = TOE_FAMILY_ALL;
	tdev->supported = TOE_FAMILY_IPV4;
	atomic_set(&tdev->conn_count, 0);
	tdev->low_rate_secs = 5;
	tdev->ulp_access = TOE_ULP_ACCESS_ADMIN;
	spin_lock_init(&tdev->conns_lock);
	INIT_LIST_HEAD(&tdev->conns);
	INIT_LIST_HEAD(&tdev->rules);
	refcount_set(&tdev->refcnt, 1);
	init_waitqueue_head(&tdev->wait);

	tdev->dev.class = &toe_class;
	tdev->dev.release = toedev_release;
	device_initialize(&tdev->dev);
	return tdev;

err_free_tdev:
	kfree(tdev);
	return NULL;
}
EXPORT_SYMBOL_NS_GPL(toedev_alloc, TOE);

/**
 * toedev_free() - free a TOE device
 * @tdev: a device from toedev_alloc(), never registered or unregistered
 *
 * Context: process; may sleep.
 */
void toedev_free(struct toedev *tdev)
{
	if (!tdev)
		return;
	if (tdev->reg_state == TOEDEV_REGISTERED ||
	    tdev->reg_state == TOEDEV_UNREGISTERING) {
		pr_err("%s: freed while registered; leaking it\n", tdev->name);
		return;
	}
	put_device(&tdev->dev);
}
EXPORT_SYMBOL_NS_GPL(toedev_free, TOE);

static struct toedev *__toedev_find(const char *name)
{
	struct toedev *tdev;

	lockdep_assert_held(&toe_mutex);
	list_for_each_entry(tdev, &toedev_list, list)
		if (!strcmp(tdev->name, name))
			return tdev;
	return NULL;
}

static int toedev_assign_name(struct toedev *tdev)
{
	char buf[TOEDEV_NAMSIZ];
	int i;

	lockdep_assert_held(&toe_mutex);
	if (!strchr(tdev->name, '%')) {
		if (!tdev->name[0] || strchr(tdev->name, '/'))
			return -EINVAL;
		return __toedev_find(tdev->name) ? -EEXIST : 0;
	}
	if (strcmp(tdev->name, "toe%d"))
		return -EINVAL;
	for (i = 0; i < 1024; i++) {
		snprintf(buf, sizeof(buf), "toe%d", i);
		if (!__toedev_find(buf)) {
			strscpy(tdev->name, buf, sizeof(tdev->name));
			return 0;
		}
	}
	return -ENFILE;
}

static int toedev_check_ops(const struct toedev *tdev)
{
	const struct toedev_ops *o = tdev->ops;
	const char *missing = NULL;

	if (!o->open)
		missing = "open";
	else if (!o->close)
		missing = "close";
	else if (!o->connect)
		missing = "connect";
	else if (!o->send)
		missing = "send";
	else if (!o->handback)
		missing = "handback";
	else if (!o->sk_event)
		missing = "sk_event";
	if (missing) {
		pr_err("%s: driver %s lacks the required op %s\n", tdev->name,
		       tdev->owner ? module_name(tdev->owner) : "?", missing);
		return -EINVAL;
	}
	return 0;
}

void toe_notify(unsigned long event, struct toedev *tdev)
{
	lockdep_assert_held(&toe_mutex);
	raw_notifier_call_chain(&toe_chain, event, tdev);
	if (event == TOEDEV_UP || event == TOEDEV_DOWN)
		toe_nl_dev_event(tdev);
}

/**
 * register_toedev() - make a TOE device known to the stack
 * @tdev: a device from toedev_alloc()
 *
 * Validates the ops (the required ones are open, close, connect, send,
 * handback and sk_event), names the device, adds it to /sys/class/toe and notifies
 * TOEDEV_REGISTER. The device starts disabled with no ports.
 *
 * Context: process; may sleep; takes RTNL and toe_mutex.
 * Return: 0; -EINVAL for a device not freshly allocated, a missing
 * required op, a bad name, supported families or features; -EEXIST for a
 * name in use; or the error of device_add().
 */
int register_toedev(struct toedev *tdev)
{
	int err;

	if (!tdev)
		return -EINVAL;

	rtnl_lock();
	mutex_lock(&toe_mutex);
	if (tdev->reg_state != TOEDEV_UNINITIALIZED) {
		pr_err("%s: registered twice\n", tdev->name);
		err = -EINVAL;
		goto out_unlock;
	}
	err = toedev_check_ops(tdev);
	if (err)
		goto out_unlock;
	if (!tdev->supported || tdev->supported & ~TOE_FAMILY_ALL) {
		pr_err("%s: bad supported families %#x\n", tdev->name,
		       tdev->supported);
		err = -EINVAL;
		goto out_unlock;
	}
	if (tdev->features & ~TOE_F_ALL) {
		pr_err("%s: unknown features %#x\n", tdev->name,
		       tdev->features);
		err = -EINVAL;
		goto out_unlock;
	}
	err = toedev_assign_name(tdev);
	if (err)
		goto out_unlock;

	tdev->families &= tdev->supported;

	err = dev_set_name(&tdev->dev, "%s", tdev->name);
	if (err)
		goto out_unlock;
	err = device_add(&tdev->dev);
	if (err)
		goto out_unlock;

	tdev->reg_state = TOEDEV_REGISTERED;
	list_add_tail_rcu(&tdev->list, &toedev_list);
	toe_notify(TOEDEV_REGISTER, tdev);
out_unlock:
	mutex_unlock(&toe_mutex);
	rtnl_unlock();
	return err;
}
EXPORT_SYMBOL_NS_GPL(register_toedev, TOE);

static void toe_port_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct toe_port, rcu));
}

/* Unhash and free @port; RTNL and toe_mutex held. */
void toe_port_remove(struct toe_port *port)
{
	ASSERT_RTNL();
	lockdep_assert_held(&toe_mutex);
	hash_del_rcu(&port->hnode);
	list_del(&port->node);
	netdev_put(port->dev, &port->tracker);
	call_rcu(&port->rcu, toe_port_free_rcu);
}

/* toe_port_remove() once no handover that found the port is in progress:
 * from then on none finds it.
 */
void toe_port_remove_sync(struct toe_port *port)
{
	down_write(&toe_handover_sem);
	toe_port_remove(port);
	up_write(&toe_handover_sem);
}

/* Wait for the handovers in progress: a state change (a port down) made
 * before is seen by every one after.
 */
void toe_handover_barrier(void)
{
	down_write(&toe_handover_sem);
	up_write(&toe_handover_sem);
}

static void __toedev_close(struct toedev *tdev)
{
	ASSERT_RTNL();
	lockdep_assert_held(&toe_mutex);
	if (!tdev->enabled)
		return;
	/* No handover in progress, none to come. */
	down_write(&toe_handover_sem);
	WRITE_ONCE(tdev->enabled, false);
	up_write(&toe_handover_sem);
	toe_dev_handback_all(tdev, NULL,
			     tdev->reg_state == TOEDEV_REGISTERED ?
			     TOE_HB_ADMIN : TOE_HB_UNREGISTER);
	toe_notify(TOEDEV_DOWN, tdev);
	tdev->ops->close(tdev);
}

static void toedev_wait_allrefs(struct toedev *tdev)
{
	unsigned long warn = jiffies + 10 * HZ;

	/* Drop the registration reference, then wait for the others. */
	if (refcount_dec_and_test(&tdev->refcnt))
		return;
	while (!wait_event_timeout(tdev->wait,
				   !refcount_read(&tdev->refcnt), HZ)) {
		if (time_after(jiffies, warn)) {
			pr_emerg("unregister_toedev: waiting for %s to become free. Usage count = %u\n",
				 tdev->name, refcount_read(&tdev->refcnt));
			warn = jiffies + 10 * HZ;
		}
	}
}

/**
 * unregister_toedev() - remove a TOE device from the stack
 * @tdev: a registered device
 *
 * Disables the device (every offloaded connection is handed back to Linux
 * TCP before close() runs), unbinds its ports, notifies
 * TOEDEV_UNREGISTER, and waits until no reader or holder uses it. After
 * it returns the driver may release its resources and call toedev_free().
 * Calling it on a device that is not registered logs an error and does
 * nothing.
 *
 * Context: process; may sleep; takes RTNL and toe_mutex.
 */
void unregister_toedev(struct toedev *tdev)
{
	struct toe_port *port, *tmp;

	if (!tdev)
		return;

	rtnl_lock();
	mutex_lock(&toe_mutex);
	if (tdev->reg_state != TOEDEV_REGISTERED) {
		mutex_unlock(&toe_mutex);
		rtnl_unlock();
		pr_err("%s: unregister of a device that is not registered (%s)\n",
		       tdev->name, toedev_state_name(tdev));
		return;
	}
	WRITE_ONCE(tdev->reg_state, TOEDEV_UNREGISTERING);
	toe_policy_unregister(tdev);
	__toedev_close(tdev);
	list_for_each_entry_safe(port, tmp, &tdev->ports, node)
		toe_port_remove(port);
	list_del_rcu(&tdev->list);
	toe_notify(TOEDEV_UNREGISTER, tdev);
	mutex_unlock(&toe_mutex);
	/* Expedited under RTNL, as unregister_netdevice_many() does. After
	 * it, no RCU reader can find the device or its ports.
	 */
	synchronize_net();
	rtnl_unlock();

	toedev_wait_allrefs(tdev);
	device_del(&tdev->dev);

	mutex_lock(&toe_mutex);
	tdev->reg_state = TOEDEV_UNREGISTERED;
	mutex_unlock(&toe_mutex);
}
EXPORT_SYMBOL_NS_GPL(unregister_toedev, TOE);

/**
 * toedev_hold() - take a reference that unregister_toedev() waits for
 * @tdev: the device
 */
void toedev_hold(struct toedev *tdev)
{
	refcount_inc(&tdev->refcnt);
}
EXPORT_SYMBOL_NS_GPL(toedev_hold, TOE);

/**
 * toedev_put() - drop a reference taken with toedev_hold()
 * @tdev: the device
 *
 * Context: any.
 */
void toedev_put(struct toedev *tdev)
{
	if (refcount_dec_and_test(&tdev->refcnt))
		wake_up(&tdev->wait);
}
EXPORT_SYMBOL_NS_GPL(toedev_put, TOE);

struct toe_port *toe_port_lookup_rcu(const struct net_device *dev)
{
	struct toe_port *port;

	hash_for_each_possible_rcu(toe_port_hash, port, hnode,
				   (unsigned long)dev,
				   lockdep_is_held(&toe_mutex))
		if (port->dev == dev)
			return port;
	return NULL;
}

/**
 * toedev_lookup_rcu() - the toedev a net_device is bound to
 * @dev: the net_device
 *
 * O(1): one hash lookup keyed by @dev. The result is valid until
 * rcu_read_unlock(); use toedev_hold() to keep it longer.
 *
 * Context: any, under rcu_read_lock().
 * Return: the device, or NULL if @dev is not bound.
 */
struct toedev *toedev_lookup_rcu(const struct net_device *dev)
{
	struct toe_port *port = toe_port_lookup_rcu(dev);

	return port ? port->tdev : NULL;
}
EXPORT_SYMBOL_NS_GPL(toedev_lookup_rcu, TOE);

bool toedev_in_net(const struct toedev *tdev, const struct net *net)
{
	const struct toe_port *port;

	lockdep_assert_held(&toe_mutex);
	list_for_each_entry(port, &tdev->ports, node)
		if (net_eq(dev_net(port->dev), net))
			return true;
	return false;
}

/**
 * toedev_get_by_name() - find a registered toedev visible in a netns
 * @net: the network namespace; a device is visible where its ports are
 * @name: the device name
 *
 * Context: process; may sleep.
 * Return: the device with a reference (release with toedev_put()), or
 * NULL.
 */
struct toedev *toedev_get_by_name(struct net *net, const char *name)
{
	struct toedev *tdev;

	mutex_lock(&toe_mutex);
	tdev = __toedev_find(name);
	if (tdev && (tdev->reg_state != TOEDEV_REGISTERED ||
		     !toedev_in_net(tdev, net)))
		tdev = NULL;
	if (tdev)
		toedev_hold(tdev);
	mutex_unlock(&toe_mutex);
	return tdev;
}
EXPORT_SYMBOL_NS_GPL(toedev_get_by_name, TOE);

/**
 * toedev_bind() - bind a net_device (a port) to a toedev
 * @tdev: a registered device
 * @dev: an Ethernet net_device not bound to any toedev
 *
 * Context: process; may sleep; takes RTNL and toe_mutex.
 * Return: 0; -EINVAL if @tdev is not registered or @dev is not a
 * registered Ethernet device; -EBUSY if @dev is already bound (to this
 * or another toedev); -ENOSPC past TOEDEV_MAX_PORTS ports; -ENOMEM.
 */
int toedev_bind(struct toedev *tdev, struct net_device *dev)
{
	struct toe_port *port, *p;
	unsigned int n = 0;
	int err;

	if (!tdev || !dev || dev->type != ARPHRD_ETHER)
		return -EINVAL;

	port = kzalloc(sizeof(*port), GFP_KERNEL);
	if (!port)
		return -ENOMEM;

	rtnl_lock();
	mutex_lock(&toe_mutex);
	err = -EINVAL;
	if (tdev->reg_state != TOEDEV_REGISTERED ||
	    dev->reg_state != NETREG_REGISTERED)
		goto err_unlock;
	err = -EBUSY;
	if (toe_port_lookup_rcu(dev))
		goto err_unlock;
	list_for_each_entry(p, &tdev->ports, node)
		n++;
	err = -ENOSPC;
	if (n >= TOEDEV_MAX_PORTS)
		goto err_unlock;

	port->dev = dev;
	port->tdev = tdev;
	netdev_hold(dev, &port->tracker, GFP_KERNEL);
	list_add_tail(&port->node, &tdev->ports);
	hash_add_rcu(toe_port_hash, &port->hnode, (unsigned long)dev);
	mutex_unlock(&toe_mutex);
	rtnl_unlock();
	return 0;

err_unlock:
	mutex_unlock(&toe_mutex);
	rtnl_unlock();
	kfree(port);
	return err;
}
EXPORT_SYMBOL_NS_GPL(toedev_bind, TOE);

/**
 * toedev_unbind() - unbind a port from a toedev
 * @tdev: the device
 * @dev: a port of @tdev
 *
 * The port is removed first, so that no connection is handed over on it
 * any more; then those using it are handed back to Linux TCP.
 *
 * Context: process; may sleep; takes RTNL and toe_mutex.
 * Return: 0, or -ENOENT if @dev is not a port of @tdev.
 */
int toedev_unbind(struct toedev *tdev, struct net_device *dev)
{
	struct toe_port *port;
	int err = -ENOENT;

	if (!tdev || !dev)
		return -EINVAL;

	rtnl_lock();
	mutex_lock(&toe_mutex);
	port = toe_port_lookup_rcu(dev);
	if (port && port->tdev == tdev) {
		toe_port_remove_sync(port);
		/* No new connection comes on the port: back with those it has. */
		toe_dev_handback_all(tdev, dev, TOE_HB_ADMIN);
		err = 0;
	}
	mutex_unlock(&toe_mutex);
	rtnl_unlock();
	return err;
}
EXPORT_SYMBOL_NS_GPL(toedev_unbind, TOE);

/**
 * toedev_set_enabled() - administratively enable or disable a toedev
 * @tdev: a registered device
 * @enable: the new state
 *
 * Enabling calls &toedev_ops.open and notifies TOEDEV_UP; disabling hands
 * every connection back, notifies TOEDEV_DOWN and calls
 * &toedev_ops.close. Setting the current state again does nothing.
 *
 * Context: process; may sleep; takes RTNL and toe_mutex.
 * Return: 0, -ENODEV if @tdev is not registered, or the error of open().
 */
int toedev_set_enabled(struct toedev *tdev, bool enable)
{
	int err = 0;

	rtnl_lock();
	mutex_lock(&toe_mutex);
	if (tdev->reg_state != TOEDEV_REGISTERED) {
		err = -ENODEV;
	} else if (enable && !tdev->enabled) {
		err = tdev->ops->open(tdev);
		if (!err) {
			tdev->enabled = true;
			toe_notify(TOEDEV_UP, tdev);
		}
	} else if (!enable) {
		__toedev_close(tdev);
	}
	mutex_unlock(&toe_mutex);
	rtnl_unlock();
	return err;
}
EXPORT_SYMBOL_NS_GPL(toedev_set_enabled, TOE);

/**
 * toedev_set_families() - choose the address families a toedev offloads
 * @tdev: a registered device
 * @families: TOE_FAMILY_* mask, a subset of &toedev.supported (0 allowed:
 *	nothing is offloaded)
 *
 * Context: process; may sleep; takes toe_mutex.
 * Return: 0, -ENODEV if @tdev is not registered, -EOPNOTSUPP for a
 * family the device does not support.
 */
int toedev_set_families(struct toedev *tdev, u32 families)
{
	int err = 0;

	mutex_lock(&toe_mutex);
	if (tdev->reg_state != TOEDEV_REGISTERED)
		err = -ENODEV;
	else if (families & ~tdev->supported)
		err = -EOPNOTSUPP;
	else
		WRITE_ONCE(tdev->families, families);
	mutex_unlock(&toe_mutex);
	return err;
}
EXPORT_SYMBOL_NS_GPL(toedev_set_families, TOE);

/**
 * register_toedev_notifier() - get TOEDEV_* events
 * @nb: the notifier; called with toe_mutex held, may sleep, must not
 *	register or unregister toedevs
 *
 * The current devices are replayed to @nb: TOEDEV_REGISTER for each, and
 * TOEDEV_UP for each enabled one, as register_netdevice_notifier() does.
 *
 * Context: process; may sleep.
 * Return: 0 or the chain's error.
 */
int register_toedev_notifier(struct notifier_block *nb)
{
	struct toedev *tdev;
	int err;

	mutex_lock(&toe_mutex);
	err = raw_notifier_chain_register(&toe_chain, nb);
	if (!err) {
		list_for_each_entry(tdev, &toedev_list, list) {
			nb->notifier_call(nb, TOEDEV_REGISTER, tdev);
			if (tdev->enabled)
				nb->notifier_call(nb, TOEDEV_UP, tdev);
		}
	}
	mutex_unlock(&toe_mutex);
	return err;
}
EXPORT_SYMBOL_NS_GPL(register_toedev_notifier, TOE);

/**
 * unregister_toedev_notifier() - stop TOEDEV_* events
 * @nb: a notifier registered with register_toedev_notifier()
 *
 * TOEDEV_DOWN (for enabled devices) and TOEDEV_UNREGISTER are replayed to
 * @nb for the current devices, so it can drop its state.
 *
 * Context: process; may sleep.
 * Return: 0 or -ENOENT.
 */
int unregister_toedev_notifier(struct notifier_block *nb)
{
	struct toedev *tdev;
	int err;

	mutex_lock(&toe_mutex);
	err = raw_notifier_chain_unregister(&toe_chain, nb);
	if (!err) {
		list_for_each_entry(tdev, &toedev_list, list) {
			if (tdev->enabled)
				nb->notifier_call(nb, TOEDEV_DOWN, tdev);
			nb->notifier_call(nb, TOEDEV_UNREGISTER, tdev);
		}
	}
	mutex_unlock(&toe_mutex);
	return err;
}
EXPORT_SYMBOL_NS_GPL(unregister_toedev_notifier, TOE);

/**
 * toe_tap_tx() - show a frame the engine transmitted to packet taps
 * @tdev: the device that sent it
 * @dev: the port it left on
 * @skb: the complete frame (from the MAC header); not consumed
 *
 * For hardware that builds and sends frames itself, out of the kernel's
 * sight: tcpdump on @dev then sees them as outgoing. Costs one test when
 * no tap is open.
 *
 * Context: any; BH disabled or not.
 */
void toe_tap_tx(struct toedev *tdev, struct net_device *dev,
		struct sk_buff *skb)
{
	if (!dev_nit_active(dev))
		return;
	skb_reset_mac_header(skb);
	rcu_read_lock_bh();
	dev_queue_xmit_nit(skb, dev);
	rcu_read_unlock_bh();
	toedev_stat_inc(tdev, TOEDEV_STAT_TAP_TX);
}
EXPORT_SYMBOL_NS_GPL(toe_tap_tx, TOE);

/**
 * toe_tap_rx() - show a frame the engine consumed to packet taps
 * @tdev: the device that received it
 * @dev: the port it arrived on
 * @skb: the complete frame (from the MAC header); not consumed
 *
 * For hardware that consumes frames of offloaded connections before the
 * kernel sees them. A copy is passed up marked PACKET_OTHERHOST: taps see
 * it as received, and the IPv4 and IPv6 layers drop it unprocessed. Costs
 * one test when no tap is open.
 *
 * Context: any.
 */
void toe_tap_rx(struct toedev *tdev, struct net_device *dev,
		struct sk_buff *skb)
{
	struct sk_buff *copy;

	if (!dev_nit_active(dev))
		return;
	copy = skb_copy(skb, GFP_ATOMIC);
	if (!copy)
		return;
	copy->dev = dev;
	skb_reset_mac_header(copy);
	copy->protocol = eth_hdr(copy)->h_proto;
	skb_pull(copy, ETH_HLEN);
	skb_reset_network_header(copy);
	copy->pkt_type = PACKET_OTHERHOST;
	netif_rx(copy);
	toedev_stat_inc(tdev, TOEDEV_STAT_TAP_RX);
}
EXPORT_SYMBOL_NS_GPL(toe_tap_rx, TOE);

const char *toedev_state_name(const struct toedev *tdev)
{
	switch (tdev->reg_state) {
	case TOEDEV_UNINITIALIZED:
		return "uninitialized";
	case TOEDEV_REGISTERED:
		return tdev->enabled ? "up" : "down";
	case TOEDEV_UNREGISTERING:
		return "unregistering";
	case TOEDEV_UNREGISTERED:
		return "unregistered";
	}
	return "?";
}

/* Sum the per-CPU counters into @sum[TOEDEV_STAT_MAX]. */
void toedev_stats_read(const struct toedev *tdev, u64 *sum)
{
	u64 v[TOEDEV_STAT_MAX];
	unsigned int start;
	int cpu, i;

	memset(sum, 0, sizeof(u64) * TOEDEV_STAT_MAX);
	for_each_possible_cpu(cpu) {
		const struct toedev_stats *s = per_cpu_ptr(tdev->stats, cpu);

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < TOEDEV_STAT_MAX; i++)
				v[i] = u64_stats_read(&s->cnt[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < TOEDEV_STAT_MAX; i++)
			sum[i] += v[i];
	}
}

static int __init toe_init(void)
{
	int err;

	err = toe_sysfs_init();
	if (err)
		return err;
	err = toe_proc_init();
	if (err)
		goto err_sysfs;
	err = toe_events_init();
	if (err)
		goto err_proc;
	err = toe_sock_init();
	if (err)
		goto err_events;
	err = toe_policy_init();
	if (err)
		goto err_sock;
	err = toe_nl_init();
	if (err)
		goto err_policy;
	return 0;

err_policy:
	toe_policy_exit();
err_sock:
	toe_sock_exit();
err_events:
	toe_events_exit();
err_proc:
	toe_proc_exit();
err_sysfs:
	toe_sysfs_exit();
	return err;
}

static void __exit toe_exit(void)
{
	toe_nl_exit();
	toe_policy_exit();
	toe_sock_exit();
	toe_events_exit();
	toe_proc_exit();
	toe_sysfs_exit();
	/* call_rcu() callbacks are this module's code (ports, rules). */
	rcu_barrier();
}

module_init(toe_init);
module_exit(toe_exit);
MODULE_DESCRIPTION("TCP Offload Engine framework");
MODULE_LICENSE("GPL");
MODULE_ALIAS_TCP_ULP("toe");
MODULE_ALIAS_TCP_ULP("notoe");
