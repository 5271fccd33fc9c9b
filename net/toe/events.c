// SPDX-License-Identifier: GPL-2.0
/*
 * Stack events delivered to offload engines: netdev events on bound
 * ports, and the netevent chain (neighbour updates, redirects).
 *
 * An engine builds its own frames from cached neighbour and route state,
 * so it must hear about every change the software stack acts on. Each
 * event goes only to the toedev the affected net_device is bound to.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <net/dst.h>
#include <net/neighbour.h>
#include <net/netevent.h>
#include <net/toe.h>

#include "toe_internal.h"

static void __toe_port_change(struct toedev *tdev, struct net_device *dev,
			      enum toe_port_change what)
{
	ASSERT_RTNL();
	lockdep_assert_held(&toe_mutex);
	toedev_stat_inc(tdev, TOEDEV_STAT_PORT_CHANGES);
	if (tdev->ops->port_change)
		tdev->ops->port_change(tdev, dev, what);
}

static void toe_port_change(struct toe_port *port, enum toe_port_change what)
{
	__toe_port_change(port->tdev, port->dev, what);
}

static int toe_netdev_event(struct notifier_block *nb, unsigned long event,
			    void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct toe_port *port;

	mutex_lock(&toe_mutex);
	port = toe_port_lookup_rcu(dev);
	if (!port)
		goto out;

	switch (event) {
	case NETDEV_UP:
		toe_port_change(port, TOE_PORT_UP);
		break;
	case NETDEV_DOWN:
		/* Handovers check that the port runs (toe_sk_on_tdev()). */
		toe_handover_barrier();
		toe_dev_handback_all(port->tdev, dev, TOE_HB_DEV_DOWN);
		toe_port_change(port, TOE_PORT_DOWN);
		break;
	case NETDEV_CHANGEMTU:
		toe_port_change(port, TOE_PORT_MTU);
		break;
	case NETDEV_CHANGEADDR:
		toe_port_change(port, TOE_PORT_ADDR);
		break;
	case NETDEV_REGISTER:
		/* A bound device is registered again only when it moved to
		 * another namespace: dev_change_net_namespace() sends
		 * NETDEV_UNREGISTER in the old one (with the device still
		 * NETREG_REGISTERED, so the port stays) and NETDEV_REGISTER
		 * in the new one.
		 */
		toe_port_change(port, TOE_PORT_NETNS);
		break;
	case NETDEV_UNREGISTER:
		if (dev->reg_state == NETREG_UNREGISTERING) {
			struct toedev *tdev = port->tdev;

			/* No handover finds the port, the connections it
			 * has come back, and then the driver hears (it may
			 * stop its engine): the port is freed by then.
			 */
			toe_port_remove_sync(port);
			toe_dev_handback_all(tdev, dev, TOE_HB_DEV_DOWN);
			__toe_port_change(tdev, dev, TOE_PORT_DOWN);
		}
		break;
	}
out:
	mutex_unlock(&toe_mutex);
	return NOTIFY_DONE;
}

static struct notifier_block toe_netdev_nb = {
	.notifier_call = toe_netdev_event,
};

static int toe_netevent(struct notifier_block *nb, unsigned long event,
			void *ptr)
{
	struct netevent_redirect *r;
	struct toedev *tdev;
	struct neighbour *n;

	rcu_read_lock();
	switch (event) {
	case NETEVENT_NEIGH_UPDATE:
		n = ptr;
		tdev = toedev_lookup_rcu(n->dev);
		if (tdev) {
			toedev_stat_inc(tdev, TOEDEV_STAT_NEIGH_UPDATES);
			if (tdev->ops->neigh_update)
				tdev->ops->neigh_update(tdev, n->dev, n);
		}
		break;
	case NETEVENT_REDIRECT:
		r = ptr;
		if (!r->new || !r->new->dev)
			break;
		tdev = toedev_lookup_rcu(r->new->dev);
		if (tdev) {
			toedev_stat_inc(tdev, TOEDEV_STAT_REDIRECTS);
			if (tdev->ops->redirect)
				tdev->ops->redirect(tdev, r->new->dev, r);
		}
		break;
	}
	rcu_read_unlock();
	return NOTIFY_DONE;
}

static struct notifier_block toe_netevent_nb = {
	.notifier_call = toe_netevent,
};

int toe_events_init(void)
{
	int err;

	err = register_netevent_notifier(&toe_netevent_nb);
	if (err)
		return err;
	err = register_netdevice_notifier(&toe_netdev_nb);
	if (err)
		goto err_unregister_netevent;
	return 0;

err_unregister_netevent:
	unregister_netevent_notifier(&toe_netevent_nb);
	return err;
}

void toe_events_exit(void)
{
	unregister_netdevice_notifier(&toe_netdev_nb);
	unregister_netevent_notifier(&toe_netevent_nb);
}
