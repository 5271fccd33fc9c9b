/* SPDX-License-Identifier: GPL-2.0 */
/*
 * toesim: the interface between the socket-layer half (tom*.c, which
 * talks to the TOE core) and the simulated silicon (hw*.c). On real
 * hardware this boundary is the driver's firmware/register interface;
 * tom*.c uses nothing of the engine but what this header declares.
 *
 * The silicon holds a connection table of a size fixed when the
 * instance is created (TOESIM_TABLE_DEFAULT entries unless the
 * administrator asked for another, at most TOESIM_TABLE_MAX). The table
 * is a hash of buckets sized to the table, so that the engine finds the
 * connection of a received frame by its 4-tuple in O(1); the entries and
 * the TCP engine that fills them land with the offloaded-sockets work.
 *
 * Locking: &toesim_hw.lock protects the table and the run state; it is
 * taken from process and softirq context (the receive path), so
 * process-context holders disable BHs. Lookups on the receive path will
 * walk a bucket under RCU.
 */
#ifndef _TOESIM_HW_H
#define _TOESIM_HW_H

#include <linux/in6.h>
#include <linux/jhash.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#define TOESIM_TABLE_DEFAULT	2048
#define TOESIM_TABLE_MAX	1000000

/**
 * struct toesim_tuple - the key of a connection table entry
 * @saddr: local address (IPv4 in @saddr.s6_addr32[3], the rest zero)
 * @daddr: remote address, same layout as @saddr
 * @sport: local TCP port, network order
 * @dport: remote TCP port, network order
 * @family: AF_INET or AF_INET6
 *
 * Compared with memcmp(): callers zero the whole structure first.
 */
struct toesim_tuple {
	struct in6_addr	saddr;
	struct in6_addr	daddr;
	__be16		sport;
	__be16		dport;
	u32		family;
};

/**
 * struct toesim_conn - one connection table entry
 * @hnode: entry in its bucket of &toesim_hw.buckets; written under
 *	&toesim_hw.lock, walked under RCU
 * @tuple: the connection's 4-tuple; constant while hashed
 *
 * The engine's per-connection state (sequence space, queues, timers)
 * will follow @tuple.
 */
struct toesim_conn {
	struct hlist_node	hnode;
	struct toesim_tuple	tuple;
};

/**
 * struct toesim_hw - one instance of the simulated silicon
 * @lock: protects @used, @size, @running and the bucket lists; BH-safe
 * @buckets: the connection table, @hash_mask + 1 hash buckets
 *	(kvcalloc()); constant pointer from create to destroy
 * @hash_mask: number of buckets minus one (a power of two, at least
 *	@size when created); constant
 * @size: most entries the table takes (the "slots" of the silicon);
 *	written under @lock, READ_ONCE() for lockless readers
 * @used: entries in use; @lock
 * @running: the engine was started (toesim_hw_start()); @lock
 */
struct toesim_hw {
	spinlock_t		lock; /* table, size, run state */
	struct hlist_head	*buckets;
	u32			hash_mask;
	u32			size;
	u32			used;
	bool			running;
};

/**
 * toesim_hw_bucket() - the bucket of a 4-tuple
 * @hw: the instance
 * @t: the tuple, zeroed before it was filled in
 *
 * Return: the bucket head in @hw's table.
 */
static inline struct hlist_head *toesim_hw_bucket(struct toesim_hw *hw,
						  const struct toesim_tuple *t)
{
	u32 h = jhash2((const u32 *)t, sizeof(*t) / sizeof(u32), 0);

	return &hw->buckets[h & hw->hash_mask];
}

struct toesim_hw *toesim_hw_create(u32 table_size);
void toesim_hw_destroy(struct toesim_hw *hw);
int toesim_hw_start(struct toesim_hw *hw);
void toesim_hw_stop(struct toesim_hw *hw);
u32 toesim_hw_table_size(const struct toesim_hw *hw);
int toesim_hw_table_shrink(struct toesim_hw *hw, u32 size);

#endif /* _TOESIM_HW_H */
