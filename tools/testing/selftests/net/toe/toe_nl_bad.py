#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Requests toectl never sends, to the "toe" netlink family through
# pyroute2: a required attribute missing, an attribute of the wrong
# size, one the operation does not take, one past the attribute set, a
# name too long, a value out of range. Each must be refused with EINVAL
# or ERANGE and change nothing; prints one line per case, "ok NAME" or
# "FAIL NAME: why", and exits 1 if any failed.
#
#   toe_nl_bad.py DEV      (a device visible in this netns)

import socket
import sys

from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import GenericNetlinkSocket

SOL_NETLINK = 270
NETLINK_EXT_ACK = 11

# include/uapi/linux/toe.h
TOE_CMD_DEV_GET, TOE_CMD_DEV_SET, TOE_CMD_CONN_GET = 1, 2, 3
TOE_CMD_RULE_ADD = 9


def msg_class(*types):
    """A genlmsg whose attribute N (from 0) has type types[N]."""
    class Msg(genlmsg):
        nla_map = tuple(("A%d" % i, t) for i, t in enumerate(types))
    return Msg


# The dev set as the kernel has it, and with ENABLED (6) as a u32.
DEV = msg_class("none", "none", "asciiz", "asciiz", "uint32", "uint8",
                "uint8", "uint32", "uint32", "uint32", "uint32", "uint32",
                "uint8", "uint64", "uint64", "uint32", "uint8", "none",
                "uint32", "uint32", "uint32")
DEV_WIDE = msg_class("none", "none", "asciiz", "asciiz", "uint32", "uint8",
                     "uint32")

dev = sys.argv[1]
failed = 0


def request(cls, cmd, attrs, flags=NLM_F_REQUEST | NLM_F_ACK):
    s = GenericNetlinkSocket()
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    s.bind("toe", cls)
    m = cls()
    m["cmd"] = cmd
    m["version"] = 1
    m["attrs"] = attrs
    try:
        return s.nlm_request(m, msg_type=s.prid, msg_flags=flags)
    finally:
        s.close()


def refused(name, errnos, cls, cmd, attrs, flags=NLM_F_REQUEST | NLM_F_ACK):
    global failed
    try:
        request(cls, cmd, attrs, flags)
    except NetlinkError as e:
        if e.code in errnos:
            print("ok %s (%s: %s)" % (name, errno_name(e.code), e.args[1]))
            return
        print("FAIL %s: %s (%s)" % (name, errno_name(e.code), e.args[1]))
    else:
        print("FAIL %s: accepted" % name)
    failed += 1


def errno_name(code):
    import errno
    return errno.errorcode.get(code, str(code))


def min_bytes():
    for m in request(DEV, TOE_CMD_DEV_GET, [("A2", dev)]):
        return m.get_attr("A13")


EINVAL, ERANGE = 22, 34
before = min_bytes()
refused("dev-get without a name", (EINVAL,), DEV, TOE_CMD_DEV_GET, [])
refused("dev-set without a name", (EINVAL,), DEV, TOE_CMD_DEV_SET,
        [("A13", 5)])
refused("enabled as 4 bytes", (EINVAL, ERANGE), DEV_WIDE, TOE_CMD_DEV_SET,
        [("A2", dev), ("A6", 1)])
refused("conns, which dev-set does not take", (EINVAL,), DEV,
        TOE_CMD_DEV_SET, [("A2", dev), ("A10", 5)])
refused("an attribute past the set", (EINVAL,), DEV, TOE_CMD_DEV_SET,
        [("A2", dev), ("A20", 5)])
refused("a name of 20 characters", (EINVAL, ERANGE), DEV, TOE_CMD_DEV_SET,
        [("A2", "x" * 20), ("A13", 5)])
refused("low_rate_secs 0", (EINVAL, ERANGE), DEV, TOE_CMD_DEV_SET,
        [("A2", dev), ("A13", 5), ("A15", 0)])
refused("ulp_access 7", (EINVAL, ERANGE), DEV, TOE_CMD_DEV_SET,
        [("A2", dev), ("A16", 7)])
refused("families beyond the mask", (EINVAL, ERANGE), DEV, TOE_CMD_DEV_SET,
        [("A2", dev), ("A7", 4)])
refused("rule-add without an action", (EINVAL,), DEV, TOE_CMD_RULE_ADD,
        [("A2", dev)])
refused("conn-get with an unknown attribute", (EINVAL,), DEV,
        TOE_CMD_CONN_GET, [("A20", 1)], NLM_F_REQUEST | NLM_F_DUMP)
after = min_bytes()
if before != after:
    print("FAIL min_bytes changed from %s to %s" % (before, after))
    failed += 1
else:
    print("ok nothing changed (min_bytes %s)" % after)
sys.exit(1 if failed else 0)
