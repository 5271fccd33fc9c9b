// SPDX-License-Identifier: GPL-2.0
/*
 * toesim: simulated TCP offload engine, socket-layer half ("TOM", the
 * TCP offload module, as vendors call it). One toedev per instance,
 * bound to the instance's port; its ops drive the simulated silicon
 * through toesim_hw.h only.
 *
 * There is no TCP engine yet: connect() refuses every connection, so the
 * core leaves them all in software, and send() and handback() are never
 * reached for a toesim device. Stack events are counted per instance.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/toe.h>

#include "toesim.h"
#include "toesim_hw.h"

static int toesim_open(struct toedev *tdev)
{
	struct toesim_dev *sd = toedev_priv(tdev);
	int err;

	err = toesim_hw_start(sd->hw);
	if (err)
		return err;
	atomic64_inc(&sd->opens);
	return 0;
}

static void toesim_close(struct toedev *tdev)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	toesim_hw_stop(sd->hw);
	atomic64_inc(&sd->closes);
}

static int toesim_connect(struct toedev *tdev, struct sock *sk,
			  const struct toe_tcp_state *st)
{
	/* The engine lands with the offloaded-sockets work; until then
	 * every connection stays in Linux TCP.
	 */
	return -EOPNOTSUPP;
}

static int toesim_send(struct toedev *tdev, struct sock *sk,
		       struct sk_buff *skb)
{
	/* We own @skb whatever we return. */
	kfree_skb(skb);
	return -EOPNOTSUPP;
}

static int toesim_handback(struct toedev *tdev, struct sock *sk,
			   enum toe_handback_reason reason,
			   struct toe_tcp_state *st, struct sk_buff_head *unacked)
{
	return -EOPNOTSUPP;
}

static int toesim_ctl(struct toedev *tdev, unsigned int cmd, void *arg)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	switch (cmd) {
	case TOE_CTL_GET_TABLE_SIZE:
		*(u32 *)arg = toesim_hw_table_size(sd->hw);
		return 0;
	}
	return -EOPNOTSUPP;
}

static void toesim_neigh_update(struct toedev *tdev, struct net_device *dev,
				struct neighbour *n)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	atomic64_inc(&sd->neigh_updates);
}

static void toesim_redirect(struct toedev *tdev, struct net_device *dev,
			    struct netevent_redirect *r)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	atomic64_inc(&sd->redirects);
}

static void toesim_port_change(struct toedev *tdev, struct net_device *dev,
			       enum toe_port_change what)
{
	struct toesim_dev *sd = toedev_priv(tdev);

	atomic64_inc(&sd->port_changes);
}

static const struct toedev_ops toesim_ops = {
	.open		= toesim_open,
	.close		= toesim_close,
	.connect	= toesim_connect,
	.send		= toesim_send,
	.handback	= toesim_handback,
	.ctl		= toesim_ctl,
	.neigh_update	= toesim_neigh_update,
	.redirect	= toesim_redirect,
	.port_change	= toesim_port_change,
};

/**
 * toesim_tom_create() - create, register and bind the toedev of an instance
 * @parent: the instance's device on the toesim bus
 * @id: the instance ID (names its debugfs directory)
 * @port: the net_device to bind; the caller holds a reference
 * @table_size: connection table size, 1 to TOESIM_TABLE_MAX
 *
 * Context: process; may sleep; takes RTNL and the core's toe_mutex.
 * Return: the registered, bound and disabled toedev, or an ERR_PTR():
 * -EINVAL for a bad @table_size or a @port that is not Ethernet, -EBUSY
 * if @port is bound to a toedev already, -ENOMEM, or the error of
 * register_toedev().
 */
struct toedev *toesim_tom_create(struct device *parent, unsigned int id,
				 struct net_device *port, u32 table_size)
{
	struct toesim_dev *sd;
	struct toesim_hw *hw;
	struct toedev *tdev;
	int err;

	hw = toesim_hw_create(table_size);
	if (IS_ERR(hw))
		return ERR_CAST(hw);

	tdev = toedev_alloc(sizeof(*sd), &toesim_ops, THIS_MODULE);
	if (!tdev) {
		err = -ENOMEM;
		goto err_destroy_hw;
	}
	sd = toedev_priv(tdev);
	sd->tdev = tdev;
	sd->hw = hw;
	sd->id = id;
	tdev->supported = TOE_FAMILY_ALL;
	tdev->families = TOE_FAMILY_ALL;
	tdev->conn_limit = table_size;
	tdev->dev.parent = parent;

	err = register_toedev(tdev);
	if (err)
		goto err_free_tdev;
	err = toedev_bind(tdev, port);
	if (err)
		goto err_unregister_tdev;
	toesim_debugfs_add(sd);
	return tdev;

err_unregister_tdev:
	unregister_toedev(tdev);
err_free_tdev:
	toedev_free(tdev);
err_destroy_hw:
	toesim_hw_destroy(hw);
	return ERR_PTR(err);
}

/**
 * toesim_tom_destroy() - unregister and free the toedev of an instance
 * @tdev: a toedev from toesim_tom_create()
 *
 * unregister_toedev() disables the device (close() stops the engine) and
 * unbinds its port before the silicon is powered down.
 *
 * Context: process; may sleep; takes RTNL and the core's toe_mutex.
 */
void toesim_tom_destroy(struct toedev *tdev)
{
	struct toesim_dev *sd = toedev_priv(tdev);
	struct toesim_hw *hw = sd->hw;

	toesim_debugfs_del(sd);
	unregister_toedev(tdev);
	toedev_free(tdev);
	toesim_hw_destroy(hw);
}

static int __init toesim_init(void)
{
	int err;

	toesim_debugfs_init();
	err = toesim_bus_init();
	if (err)
		goto err_debugfs_exit;
	return 0;

err_debugfs_exit:
	toesim_debugfs_exit();
	return err;
}

static void __exit toesim_exit(void)
{
	/* Deletes every live instance first. */
	toesim_bus_exit();
	toesim_debugfs_exit();
}

module_init(toesim_init);
module_exit(toesim_exit);
MODULE_DESCRIPTION("Simulated TCP Offload Engine");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(TOE);
