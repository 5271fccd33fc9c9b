// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/class/toe/<name>/: administration of offload devices.
 *
 *   enabled   rw  0 or 1; 1 calls the driver's open(), 0 hands every
 *                 connection back and calls close()
 *   families  rw  "ipv4", "ipv6", "ipv4 ipv6" or "none"
 *   supported ro  families the driver supports
 *   features  ro  what the engine carries (TOE_F_*): "netfilter",
 *                 "timestamps", "sack", "wscale", "ecn", "keepalive",
 *                 or "none"
 *   driver    ro  the driver's module name
 *   ports     ro  bound net_devices
 *   state     ro  up, down, unregistering
 *   conns     ro  connections offloaded now
 *   conn_limit ro connection table size
 *   auto_offload rw 0 or 1: offload established connections automatically
 *   min_bytes rw  automatic offload after this many bytes (0: at once)
 *   low_rate  rw  hand back connections slower than this, bytes/s (0: off)
 *   low_rate_secs rw  ... for this many seconds running (1-3600)
 *   ulp_access rw "admin", "all" or "none": who may ask for offload with
 *                 TCP_ULP "toe" (enum toe_ulp_access)
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/kstrtox.h>
#include <linux/string.h>
#include <net/toe.h>

#include "toe_internal.h"

#define to_toedev(d) container_of(d, struct toedev, dev)

static ssize_t enabled_show(struct device *d, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_toedev(d)->enabled));
}

static ssize_t enabled_store(struct device *d, struct device_attribute *attr,
			     const char *buf, size_t len)
{
	bool val;
	int err;

	err = kstrtobool(buf, &val);
	if (err)
		return err;
	err = toedev_set_enabled(to_toedev(d), val);
	return err ? err : len;
}
static DEVICE_ATTR_RW(enabled);

static ssize_t toe_families_emit(char *buf, u32 f)
{
	if (!f)
		return sysfs_emit(buf, "none\n");
	return sysfs_emit(buf, "%s%s%s\n", f & TOE_FAMILY_IPV4 ? "ipv4" : "",
			  f == TOE_FAMILY_ALL ? " " : "",
			  f & TOE_FAMILY_IPV6 ? "ipv6" : "");
}

static ssize_t families_show(struct device *d, struct device_attribute *attr,
			     char *buf)
{
	return toe_families_emit(buf, READ_ONCE(to_toedev(d)->families));
}

static ssize_t families_store(struct device *d, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	char tmp[32], *s = tmp, *tok;
	u32 f = 0;
	int err;

	if (len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	while ((tok = strsep(&s, " ,\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strcmp(tok, "ipv4"))
			f |= TOE_FAMILY_IPV4;
		else if (!strcmp(tok, "ipv6"))
			f |= TOE_FAMILY_IPV6;
		else if (strcmp(tok, "none"))
			return -EINVAL;
	}
	err = toedev_set_families(to_toedev(d), f);
	return err ? err : len;
}
static DEVICE_ATTR_RW(families);

static ssize_t supported_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	return toe_families_emit(buf, to_toedev(d)->supported);
}
static DEVICE_ATTR_RO(supported);

static const char * const toe_feature_names[] = {
	"netfilter", "timestamps", "sack", "wscale", "ecn", "keepalive",
};

static_assert(BIT(ARRAY_SIZE(toe_feature_names)) == TOE_F_ALL + 1);

static ssize_t features_show(struct device *d, struct device_attribute *attr,
			     char *buf)
{
	u32 f = READ_ONCE(to_toedev(d)->features);
	ssize_t n = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(toe_feature_names); i++)
		if (f & BIT(i))
			n += sysfs_emit_at(buf, n, "%s%s", n ? " " : "",
					   toe_feature_names[i]);
	return n + sysfs_emit_at(buf, n, "%s\n", n ? "" : "none");
}
static DEVICE_ATTR_RO(features);

static ssize_t driver_show(struct device *d, struct device_attribute *attr,
			   char *buf)
{
	struct toedev *tdev = to_toedev(d);

	return sysfs_emit(buf, "%s\n",
			  tdev->owner ? module_name(tdev->owner) : "-");
}
static DEVICE_ATTR_RO(driver);

static ssize_t ports_show(struct device *d, struct device_attribute *attr,
			  char *buf)
{
	struct toedev *tdev = to_toedev(d);
	struct toe_port *port;
	ssize_t n = 0;

	mutex_lock(&toe_mutex);
	list_for_each_entry(port, &tdev->ports, node)
		n += sysfs_emit_at(buf, n, "%s%s", n ? " " : "",
				   port->dev->name);
	mutex_unlock(&toe_mutex);
	n += sysfs_emit_at(buf, n, "\n");
	return n;
}
static DEVICE_ATTR_RO(ports);

static ssize_t state_show(struct device *d, struct device_attribute *attr,
			  char *buf)
{
	struct toedev *tdev = to_toedev(d);
	ssize_t n;

	mutex_lock(&toe_mutex);
	n = sysfs_emit(buf, "%s\n", toedev_state_name(tdev));
	mutex_unlock(&toe_mutex);
	return n;
}
static DEVICE_ATTR_RO(state);

static ssize_t conns_show(struct device *d, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&to_toedev(d)->conn_count));
}
static DEVICE_ATTR_RO(conns);

static ssize_t conn_limit_show(struct device *d, struct device_attribute *attr,
			       char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_toedev(d)->conn_limit));
}
static DEVICE_ATTR_RO(conn_limit);

static ssize_t auto_offload_show(struct device *d,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_toedev(d)->auto_offload));
}

static ssize_t auto_offload_store(struct device *d,
				  struct device_attribute *attr,
				  const char *buf, size_t len)
{
	bool val;
	int err;

	err = kstrtobool(buf, &val);
	if (err)
		return err;
	err = toedev_set_auto(to_toedev(d), val);
	return err ? err : len;
}
static DEVICE_ATTR_RW(auto_offload);

static ssize_t min_bytes_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(to_toedev(d)->min_bytes));
}

static ssize_t min_bytes_store(struct device *d, struct device_attribute *attr,
			       const char *buf, size_t len)
{
	u64 val;
	int err;

	err = kstrtou64(buf, 0, &val);
	if (err)
		return err;
	WRITE_ONCE(to_toedev(d)->min_bytes, val);
	return len;
}
static DEVICE_ATTR_RW(min_bytes);

static ssize_t low_rate_show(struct device *d, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(to_toedev(d)->low_rate));
}

static ssize_t low_rate_store(struct device *d, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	u64 val;
	int err;

	err = kstrtou64(buf, 0, &val);
	if (err)
		return err;
	WRITE_ONCE(to_toedev(d)->low_rate, val);
	return len;
}
static DEVICE_ATTR_RW(low_rate);

static ssize_t low_rate_secs_show(struct device *d,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_toedev(d)->low_rate_secs));
}

static ssize_t low_rate_secs_store(struct device *d,
				   struct device_attribute *attr,
				   const char *buf, size_t len)
{
	u32 val;
	int err;

	err = kstrtou32(buf, 0, &val);
	if (err)
		return err;
	if (!val || val > 3600)
		return -EINVAL;
	WRITE_ONCE(to_toedev(d)->low_rate_secs, val);
	return len;
}
static DEVICE_ATTR_RW(low_rate_secs);

static const char * const toe_ulp_access_names[] = {
	[TOE_ULP_ACCESS_ADMIN]	= "admin",
	[TOE_ULP_ACCESS_ALL]	= "all",
	[TOE_ULP_ACCESS_NONE]	= "none",
};

static ssize_t ulp_access_show(struct device *d, struct device_attribute *attr,
			       char *buf)
{
	u8 val = READ_ONCE(to_toedev(d)->ulp_access);

	return sysfs_emit(buf, "%s\n", toe_ulp_access_names[val]);
}

static ssize_t ulp_access_store(struct device *d, struct device_attribute *attr,
				const char *buf, size_t len)
{
	int val = sysfs_match_string(toe_ulp_access_names, buf);

	if (val < 0)
		return val;
	WRITE_ONCE(to_toedev(d)->ulp_access, val);
	return len;
}
static DEVICE_ATTR_RW(ulp_access);

static struct attribute *toedev_attrs[] = {
	&dev_attr_low_rate.attr,
	&dev_attr_low_rate_secs.attr,
	&dev_attr_auto_offload.attr,
	&dev_attr_min_bytes.attr,
	&dev_attr_enabled.attr,
	&dev_attr_families.attr,
	&dev_attr_supported.attr,
	&dev_attr_features.attr,
	&dev_attr_driver.attr,
	&dev_attr_ports.attr,
	&dev_attr_state.attr,
	&dev_attr_conns.attr,
	&dev_attr_conn_limit.attr,
	&dev_attr_ulp_access.attr,
	NULL,
};
ATTRIBUTE_GROUPS(toedev);

struct class toe_class = {
	.name		= "toe",
	.owner		= THIS_MODULE,
	.dev_groups	= toedev_groups,
};

int toe_sysfs_init(void)
{
	return class_register(&toe_class);
}

void toe_sysfs_exit(void)
{
	class_unregister(&toe_class);
}
