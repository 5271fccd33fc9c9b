// SPDX-License-Identifier: GPL-2.0
/*
 * toesim: simulated TCP offload engine, socket-layer half.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

static int __init toesim_init(void)
{
	return 0;
}

static void __exit toesim_exit(void)
{
}

module_init(toesim_init);
module_exit(toesim_exit);
MODULE_DESCRIPTION("Simulated TCP Offload Engine");
MODULE_LICENSE("GPL");
