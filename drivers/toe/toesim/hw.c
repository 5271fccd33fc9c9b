// SPDX-License-Identifier: GPL-2.0
/*
 * toesim: the simulated silicon. For now the connection table and the
 * engine's run state; the TCP engine that uses them comes with the
 * offloaded-sockets work. See toesim_hw.h for the interface.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/bug.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>

#include "toesim_hw.h"

/**
 * toesim_hw_create() - power up an instance of the silicon
 * @table_size: connection table size, 1 to TOESIM_TABLE_MAX
 * @host_ops: the host's callbacks
 *
 * Allocates the connection table: a hash of buckets, as many as
 * @table_size rounded up to a power of two, so that a bucket holds about
 * one entry when the table is full. The engine starts stopped.
 *
 * Context: process; may sleep.
 * Return: the instance, ERR_PTR(-EINVAL) for a bad @table_size or
 * ERR_PTR(-ENOMEM).
 */
struct toesim_hw *toesim_hw_create(u32 table_size,
				   const struct toesim_host_ops *host_ops)
{
	struct toesim_hw *hw;
	u32 nbuckets;

	BUILD_BUG_ON(sizeof(struct toesim_tuple) % sizeof(u32));

	if (!table_size || table_size > TOESIM_TABLE_MAX)
		return ERR_PTR(-EINVAL);
	nbuckets = roundup_pow_of_two(table_size);

	hw = kzalloc(sizeof(*hw), GFP_KERNEL);
	if (!hw)
		return ERR_PTR(-ENOMEM);
	hw->buckets = kvcalloc(nbuckets, sizeof(*hw->buckets), GFP_KERNEL);
	if (!hw->buckets) {
		kfree(hw);
		return ERR_PTR(-ENOMEM);
	}
	/* kvcalloc() zeroed them: an empty hlist_head is all zeroes. */
	spin_lock_init(&hw->lock);
	INIT_LIST_HEAD(&hw->conns);
	spin_lock_init(&hw->l2_lock);
	skb_queue_head_init(&hw->rxq);
	spin_lock_init(&hw->work_lock);
	INIT_LIST_HEAD(&hw->work);
	init_waitqueue_head(&hw->wait);
	hw->host_ops = host_ops;
	hw->cpu = -1;
	hw->netfilter = true;
	hw->hash_mask = nbuckets - 1;
	hw->size = table_size;
	return hw;
}

/**
 * toesim_hw_destroy() - power down an instance of the silicon
 * @hw: an instance from toesim_hw_create(), stopped, its table empty
 *
 * Context: process; may sleep.
 */
void toesim_hw_destroy(struct toesim_hw *hw)
{
	if (!hw)
		return;
	WARN_ON_ONCE(hw->running);
	WARN_ON_ONCE(hw->used);
	kvfree(hw->buckets);
	kfree(hw);
}

/**
 * toesim_hw_start() - start the engine on a port
 * @hw: the instance
 * @port: the Ethernet device it sends and receives on
 *
 * Context: process; RTNL held; may sleep.
 * Return: 0, -EBUSY if it already runs, or the engine's error.
 */
int toesim_hw_start(struct toesim_hw *hw, struct net_device *port)
{
	int err;

	ASSERT_RTNL();
	if (hw->running)
		return -EBUSY;
	err = toesim_engine_start(hw, port);
	if (err)
		return err;
	spin_lock_bh(&hw->lock);
	hw->running = true;
	spin_unlock_bh(&hw->lock);
	return 0;
}

/**
 * toesim_hw_stop() - stop the engine
 * @hw: the instance
 *
 * The caller has taken every connection out of the table first. Stopping
 * a stopped engine does nothing.
 *
 * Context: process; RTNL held; may sleep.
 */
void toesim_hw_stop(struct toesim_hw *hw)
{
	spin_lock_bh(&hw->lock);
	WARN_ON_ONCE(hw->used);
	hw->running = false;
	spin_unlock_bh(&hw->lock);
	toesim_engine_stop(hw);
}

/**
 * toesim_hw_table_size() - how many connections the table takes
 * @hw: the instance
 *
 * Context: any.
 * Return: the table size.
 */
u32 toesim_hw_table_size(const struct toesim_hw *hw)
{
	return READ_ONCE(hw->size);
}

/**
 * toesim_hw_table_shrink() - take slots out of service
 * @hw: the instance
 * @size: the new table size, 1 to the current size
 *
 * The buckets stay as they are, so lookups stay O(1); only the number of
 * entries the table accepts drops, as when firmware reserves slots.
 *
 * Context: process or softirq; must not sleep.
 * Return: 0; -EINVAL if @size is 0 or above the current size; -EBUSY if
 * more than @size entries are in use.
 */
int toesim_hw_table_shrink(struct toesim_hw *hw, u32 size)
{
	int err = 0;

	spin_lock_bh(&hw->lock);
	if (!size || size > hw->size)
		err = -EINVAL;
	else if (size < hw->used)
		err = -EBUSY;
	else
		WRITE_ONCE(hw->size, size);
	spin_unlock_bh(&hw->lock);
	return err;
}
