// SPDX-License-Identifier: GPL-2.0
/*
 * Throw-away module for the VM runner's self-test: its init warns once, so
 * scripts/vm-selftest.sh can check that scripts/vm.sh fails a run whose
 * console shows a kernel splat. Never load it outside that guest.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init warn_mod_init(void)
{
	pr_info("warning on purpose\n");
	WARN_ON(1);
	return 0;
}

static void __exit warn_mod_exit(void)
{
}

module_init(warn_mod_init);
module_exit(warn_mod_exit);

MODULE_DESCRIPTION("OpenTOE VM runner self-test: WARN_ON() at load");
MODULE_LICENSE("GPL");
