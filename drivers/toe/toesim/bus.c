// SPDX-License-Identifier: GPL-2.0
/*
 * toesim: instances, created and deleted at run time through the
 * "toesim" bus, as netdevsim does it:
 *
 *   echo "ID IFNAME [TABLE_SIZE]" > /sys/bus/toesim/new_device
 *   echo "ID" > /sys/bus/toesim/del_device
 *
 * new_device creates instance ID (0 to INT_MAX) with a connection table
 * of TABLE_SIZE entries (1 to TOESIM_TABLE_MAX, default
 * TOESIM_TABLE_DEFAULT), registers its toedev and binds it to IFNAME,
 * looked up in the writer's network namespace. The instance appears as
 * /sys/bus/toesim/devices/toesim<ID>, its toedev under it in toe/.
 *
 * Errors: -EINVAL for malformed input (also an IFNAME that is not a valid
 * interface name, or names a device that is not Ethernet), -EEXIST for an
 * ID in use, -ENODEV for an IFNAME not found, -EBUSY for a port bound to
 * a toedev already; del_device: -EINVAL, or -ENOENT for an unknown ID.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/err.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/toe.h>

#include "toesim.h"
#include "toesim_hw.h"

/* Serialises instance creation and deletion and protects toesim_bus_list
 * and toesim_bus_enable. Taken outside RTNL and the core's toe_mutex.
 */
static DEFINE_MUTEX(toesim_bus_lock);
static LIST_HEAD(toesim_bus_list);
/* Instances may be created: set once the bus is up, cleared at unload. */
static bool toesim_bus_enable;

/* Longest line new_device takes: INT_MAX, IFNAMSIZ - 1, 1000000. */
#define TOESIM_NEW_DEVICE_MAX	64

static struct toesim_bus_dev *to_toesim_bus_dev(struct device *dev)
{
	return container_of(dev, struct toesim_bus_dev, dev);
}

static void toesim_bus_dev_release(struct device *dev)
{
	kfree(to_toesim_bus_dev(dev));
}

static const struct device_type toesim_bus_dev_type = {
	.release = toesim_bus_dev_release,
};

static struct bus_type toesim_bus;

static struct toesim_bus_dev *toesim_bus_find(unsigned int id)
{
	struct toesim_bus_dev *bdev;

	lockdep_assert_held(&toesim_bus_lock);
	list_for_each_entry(bdev, &toesim_bus_list, list)
		if (bdev->dev.id == id)
			return bdev;
	return NULL;
}

static int toesim_parse_id(const char *s, unsigned int *id)
{
	if (kstrtouint(s, 10, id) || *id > INT_MAX)
		return -EINVAL;
	return 0;
}

/* "ID IFNAME [TABLE_SIZE]"; @ifname has IFNAMSIZ bytes. */
static int toesim_parse_new(const char *buf, size_t count, unsigned int *id,
			    char *ifname, u32 *table_size)
{
	char line[TOESIM_NEW_DEVICE_MAX], *s, *tok, *argv[3];
	int argc = 0;

	if (count >= sizeof(line))
		return -EINVAL;
	memcpy(line, buf, count);
	line[count] = '\0';
	s = strim(line);
	while ((tok = strsep(&s, " \t"))) {
		if (!*tok)
			continue;
		if (argc == ARRAY_SIZE(argv))
			return -EINVAL;
		argv[argc++] = tok;
	}
	if (argc < 2)
		return -EINVAL;

	if (toesim_parse_id(argv[0], id))
		return -EINVAL;
	if (strlen(argv[1]) >= IFNAMSIZ || !dev_valid_name(argv[1]))
		return -EINVAL;
	strscpy(ifname, argv[1], IFNAMSIZ);
	*table_size = TOESIM_TABLE_DEFAULT;
	if (argc == 3 && (kstrtou32(argv[2], 10, table_size) ||
			  !*table_size || *table_size > TOESIM_TABLE_MAX))
		return -EINVAL;
	return 0;
}

static void toesim_bus_dev_del(struct toesim_bus_dev *bdev)
{
	lockdep_assert_held(&toesim_bus_lock);
	list_del(&bdev->list);
	toesim_tom_destroy(bdev->tdev);
	device_unregister(&bdev->dev);
}

static ssize_t new_device_store(struct bus_type *bus, const char *buf,
				size_t count)
{
	struct toesim_bus_dev *bdev;
	char ifname[IFNAMSIZ];
	struct net_device *port;
	unsigned int id;
	u32 table_size;
	int err;

	err = toesim_parse_new(buf, count, &id, ifname, &table_size);
	if (err) {
		pr_err_ratelimited("new_device takes \"ID IFNAME [TABLE_SIZE]\": ID 0-%d, TABLE_SIZE 1-%u\n",
				   INT_MAX, TOESIM_TABLE_MAX);
		return err;
	}

	mutex_lock(&toesim_bus_lock);
	if (!toesim_bus_enable) {
		err = -EBUSY;
		goto err_unlock;
	}
	if (toesim_bus_find(id)) {
		err = -EEXIST;
		goto err_unlock;
	}
	port = dev_get_by_name(current->nsproxy->net_ns, ifname);
	if (!port) {
		err = -ENODEV;
		goto err_unlock;
	}

	bdev = kzalloc(sizeof(*bdev), GFP_KERNEL);
	if (!bdev) {
		err = -ENOMEM;
		goto err_put_port;
	}
	bdev->dev.id = id;
	bdev->dev.bus = &toesim_bus;
	bdev->dev.type = &toesim_bus_dev_type;
	err = device_register(&bdev->dev);
	if (err) {
		/* The release function frees it. */
		put_device(&bdev->dev);
		goto err_put_port;
	}

	bdev->tdev = toesim_tom_create(&bdev->dev, id, port, table_size);
	if (IS_ERR(bdev->tdev)) {
		err = PTR_ERR(bdev->tdev);
		goto err_unregister_bdev;
	}
	list_add_tail(&bdev->list, &toesim_bus_list);
	mutex_unlock(&toesim_bus_lock);
	dev_put(port);
	return count;

err_unregister_bdev:
	device_unregister(&bdev->dev);
err_put_port:
	dev_put(port);
err_unlock:
	mutex_unlock(&toesim_bus_lock);
	return err;
}
static BUS_ATTR_WO(new_device);

static ssize_t del_device_store(struct bus_type *bus, const char *buf,
				size_t count)
{
	struct toesim_bus_dev *bdev;
	unsigned int id;
	int err = 0;

	if (toesim_parse_id(buf, &id)) {
		pr_err_ratelimited("del_device takes \"ID\": 0-%d\n", INT_MAX);
		return -EINVAL;
	}

	mutex_lock(&toesim_bus_lock);
	bdev = toesim_bus_enable ? toesim_bus_find(id) : NULL;
	if (bdev)
		toesim_bus_dev_del(bdev);
	else
		err = toesim_bus_enable ? -ENOENT : -EBUSY;
	mutex_unlock(&toesim_bus_lock);
	return err ? err : count;
}
static BUS_ATTR_WO(del_device);

static struct attribute *toesim_bus_attrs[] = {
	&bus_attr_new_device.attr,
	&bus_attr_del_device.attr,
	NULL
};
ATTRIBUTE_GROUPS(toesim_bus);

static struct bus_type toesim_bus = {
	.name		= KBUILD_MODNAME,
	.dev_name	= KBUILD_MODNAME,
	.bus_groups	= toesim_bus_groups,
};

/**
 * toesim_bus_init() - register the toesim bus
 *
 * Context: process; may sleep.
 * Return: 0 or the error of bus_register().
 */
int toesim_bus_init(void)
{
	int err;

	err = bus_register(&toesim_bus);
	if (err)
		return err;
	mutex_lock(&toesim_bus_lock);
	toesim_bus_enable = true;
	mutex_unlock(&toesim_bus_lock);
	return 0;
}

/**
 * toesim_bus_exit() - delete every instance and unregister the bus
 *
 * Context: process; may sleep.
 */
void toesim_bus_exit(void)
{
	struct toesim_bus_dev *bdev, *tmp;

	mutex_lock(&toesim_bus_lock);
	toesim_bus_enable = false;
	list_for_each_entry_safe(bdev, tmp, &toesim_bus_list, list)
		toesim_bus_dev_del(bdev);
	mutex_unlock(&toesim_bus_lock);
	bus_unregister(&toesim_bus);
}
