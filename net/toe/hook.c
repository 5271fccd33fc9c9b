// SPDX-License-Identifier: GPL-2.0
/*
 * Built-in half of the TCP hook (in-tree builds only): a static key and
 * an RCU-protected handler that a modular TOE core installs.
 */

#define pr_fmt(fmt) "toe: " fmt

#include <linux/export.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <net/toe_hook.h>

DEFINE_STATIC_KEY_FALSE(toe_established_key);

/* Written under toe_hook_mutex, read under RCU from TCP. */
static void (__rcu *toe_established_fn)(struct sock *sk);
static DEFINE_MUTEX(toe_hook_mutex);

void __toe_established(struct sock *sk)
{
	void (*fn)(struct sock *sk);

	rcu_read_lock();
	fn = rcu_dereference(toe_established_fn);
	if (fn)
		fn(sk);
	rcu_read_unlock();
}

/**
 * toe_hook_register() - install the handler TCP calls on ESTABLISHED
 * @fn: handler; must not sleep
 *
 * Context: process context, may sleep.
 * Return: 0, or -EBUSY if a handler is already installed.
 */
int toe_hook_register(void (*fn)(struct sock *sk))
{
	int err = 0;

	mutex_lock(&toe_hook_mutex);
	if (rcu_access_pointer(toe_established_fn)) {
		err = -EBUSY;
	} else {
		rcu_assign_pointer(toe_established_fn, fn);
		static_branch_enable(&toe_established_key);
	}
	mutex_unlock(&toe_hook_mutex);
	return err;
}
EXPORT_SYMBOL_GPL(toe_hook_register);

/**
 * toe_hook_unregister() - remove the handler installed by toe_hook_register()
 * @fn: the handler that was installed
 *
 * Returns after every running call of @fn has finished.
 *
 * Context: process context, may sleep.
 */
void toe_hook_unregister(void (*fn)(struct sock *sk))
{
	mutex_lock(&toe_hook_mutex);
	if (rcu_access_pointer(toe_established_fn) == fn) {
		static_branch_disable(&toe_established_key);
		RCU_INIT_POINTER(toe_established_fn, NULL);
	}
	mutex_unlock(&toe_hook_mutex);
	synchronize_rcu();
}
EXPORT_SYMBOL_GPL(toe_hook_unregister);
