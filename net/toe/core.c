// SPDX-License-Identifier: GPL-2.0
/*
 * TOE core: registry of offload devices.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

static int __init toe_init(void)
{
	return 0;
}

static void __exit toe_exit(void)
{
}

module_init(toe_init);
module_exit(toe_exit);
MODULE_DESCRIPTION("TCP Offload Engine framework");
MODULE_LICENSE("GPL");
