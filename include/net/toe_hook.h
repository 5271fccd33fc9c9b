/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where Linux TCP calls into the TOE framework.
 *
 * In a kernel tree with CONFIG_TOE the call sits behind a static key that
 * is enabled only while a TOE core has registered a handler, so a kernel
 * with no active offload device pays one patched-out branch. Out of tree
 * (stock kernels) there is no such call, and the core attaches to the
 * sock:inet_sock_set_state tracepoint instead.
 */
#ifndef _NET_TOE_HOOK_H
#define _NET_TOE_HOOK_H

#include <linux/jump_label.h>

struct sock;

#if IS_ENABLED(CONFIG_TOE)
DECLARE_STATIC_KEY_FALSE(toe_established_key);

void __toe_established(struct sock *sk);

/**
 * toe_established() - tell the TOE core a TCP socket becomes ESTABLISHED
 * @sk: the socket; sk_state still holds the old state (SYN_SENT or
 *	SYN_RECV), as for the sock:inet_sock_set_state tracepoint
 *
 * Called from tcp_set_state(). For active opens the socket is owned by
 * the user; for the child of a passive open this runs in softirq under
 * bh_lock_sock(). The handler must not sleep.
 */
static inline void toe_established(struct sock *sk)
{
	if (static_branch_unlikely(&toe_established_key))
		__toe_established(sk);
}

int toe_hook_register(void (*fn)(struct sock *sk));
void toe_hook_unregister(void (*fn)(struct sock *sk));
#else
static inline void toe_established(struct sock *sk)
{
}
#endif

#endif /* _NET_TOE_HOOK_H */
