#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The "toe" netlink family's YAML spec against its code, both ways:
# every enum, flag, attribute and command of the spec has the C name and
# value include/uapi/linux/toe.h gives it (the values read from a
# program compiled against the header), and every member of the header's
# enums is in the spec; each operation of net/toe/netlink.c's genl_ops is
# in the spec with the same do/dump handlers, the same admin-perm flag,
# and a request of exactly the attributes its policy accepts; and each
# policy's min, max and min-len checks are the spec's.
#
#   toe_spec.py TOP    (the source tree: Documentation/, include/, net/)

import os
import re
import subprocess
import sys
import tempfile

import yaml

top = sys.argv[1]
spec = yaml.safe_load(open(os.path.join(top, "Documentation/netlink/specs/toe.yaml")))
header = os.path.join(top, "include/uapi/linux/toe.h")
code = open(os.path.join(top, "net/toe/netlink.c")).read()
errors = []


def cname(prefix, name):
    return (prefix + name).upper().replace("-", "_")


# name -> expected value, from the spec
want = {}
for d in spec["definitions"]:
    for i, e in enumerate(d["entries"]):
        want[cname(d["name-prefix"], e)] = (1 << i) if d["type"] == "flags" else i
sets = {}
for s in spec["attribute-sets"]:
    val = 0
    sets[s["name"]] = s
    for a in s["attributes"]:
        val = a.get("value", val)
        want[cname(s["name-prefix"], a["name"])] = val
        val += 1
ops = {}
val = 0
for o in spec["operations"]["list"]:
    val = o.get("value", val)
    want[cname(spec["operations"]["name-prefix"], o["name"])] = val
    ops[cname(spec["operations"]["name-prefix"], o["name"])] = o
    val += 1

# the values the header gives them
with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "v.c")
    with open(src, "w") as f:
        f.write("#include <stdio.h>\n#include <linux/toe.h>\nint main(void)\n{\n")
        for n in want:
            f.write('\tprintf("%s %%lld\\n", (long long)%s);\n' % (n, n))
        f.write("\treturn 0;\n}\n")
    out = subprocess.run(["cc", "-I", os.path.join(top, "include/uapi"), "-o",
                          os.path.join(tmp, "v"), src],
                         capture_output=True, text=True)
    if out.returncode:
        for line in out.stderr.splitlines():
            m = re.search(r"'(TOE_[A-Z0-9_]+)' undeclared", line)
            if m:
                errors.append("spec: %s is not in the header" % m.group(1))
        if not errors:
            errors.append("cannot compile against the header:\n" + out.stderr)
    else:
        got = dict(line.split() for line in
                   subprocess.run([os.path.join(tmp, "v")], capture_output=True,
                                  text=True).stdout.splitlines())
        for n, v in want.items():
            if int(got[n]) != v:
                errors.append("%s: the spec says %d, the header %s" % (n, v, got[n]))

# the header's members the spec must have
prefixes = ("TOE_A_DEV_", "TOE_A_STAT_", "TOE_A_CONN_", "TOE_A_RULE_", "TOE_RULE_",
            "TOE_CMD_", "TOE_HB_",
            "TOE_REFUSE_", "TOE_ULP_ACCESS_", "TOE_DEV_STATE_", "TOE_NL_FAMILY_",
            "TOE_NL_F_")
text = open(header).read()
names = set(re.findall(r"^\s+(TOE_[A-Z0-9_]+)[,\s=]", text, re.M))
names |= set(re.findall(r"^#define\s+(TOE_NL_[A-Z0-9_]+)\s", text, re.M))
for n in sorted(names):
    if n.startswith(prefixes) and not n.endswith("_MAX") and n not in want:
        errors.append("header: %s is not in the spec" % n)
if spec["mcast-groups"]["list"][0]["name"] != \
        re.search(r'#define TOE_MCGRP_EVENTS\s+"([^"]+)"', text).group(1):
    errors.append("the events group's name differs")

# the kernel's operations and policies, and each policy entry's checks
# (NLA_POLICY_MIN, _MAX, _RANGE, _MIN_LEN) as the spec's "checks"
policies = {}
checks = {}


def value(v):
    v = v.strip()
    return int(got[v]) if v in got else int(v, 0)


for m in re.finditer(r"static const struct nla_policy (\w+)\[[^\]]+\] = \{(.*?)\n\};",
                     code, re.S):
    policies[m.group(1)] = set(re.findall(r"\[(TOE_A_[A-Z0-9_]+)\]", m.group(2)))
    for e in re.finditer(r"\[(TOE_A_[A-Z0-9_]+)\]\s*=\s*(NLA_POLICY_\w+)\(([^)]*)\)",
                         m.group(2).replace("\n", " ")):
        args = [a for a in e.group(3).split(",")]
        kind = e.group(2)
        c = {}
        if kind == "NLA_POLICY_MAX":
            c = {"max": value(args[1])}
        elif kind == "NLA_POLICY_MIN":
            c = {"min": value(args[1])}
        elif kind == "NLA_POLICY_RANGE":
            c = {"min": value(args[1]), "max": value(args[2])}
        elif kind == "NLA_POLICY_MIN_LEN":
            c = {"min-len": value(args[0])}
        else:
            continue
        checks.setdefault(e.group(1), []).append((m.group(1), c))
kops = {}
for m in re.finditer(r"\{\s*\.cmd\s*=\s*(TOE_CMD_\w+),(.*?)\}", code, re.S):
    body = m.group(2)
    kops[m.group(1)] = {
        "do": ".doit" in body,
        "dump": ".dumpit" in body,
        "admin": "GENL_ADMIN_PERM" in body,
        "policy": policies.get((re.search(r"\.policy\s*=\s*(\w+)", body) or
                                [None, None])[1], set()),
    }
for cmd, o in ops.items():
    if cmd.endswith("_UNSPEC"):
        continue
    if "event" in o:
        if cmd in kops:
            errors.append("%s: an event in the spec, an operation in the code" % cmd)
        continue
    k = kops.get(cmd)
    if not k:
        errors.append("%s: in the spec, not in genl_ops" % cmd)
        continue
    for kind in ("do", "dump"):
        if (kind in o) != k[kind]:
            errors.append("%s: %s in the spec %s, in the code %s" %
                          (cmd, kind, kind in o, k[kind]))
    if ("admin-perm" in o.get("flags", [])) != k["admin"]:
        errors.append("%s: admin-perm differs" % cmd)
    aset = sets[o["attribute-set"]]
    req = set()
    for kind in ("do", "dump"):
        for a in o.get(kind, {}).get("request", {}).get("attributes", []):
            req.add(cname(aset["name-prefix"], a))
    if req != k["policy"]:
        errors.append("%s: the spec's request %s, the policy %s" %
                      (cmd, sorted(req), sorted(k["policy"])))
for cmd in kops:
    if cmd not in ops:
        errors.append("%s: in genl_ops, not in the spec" % cmd)
speced = {}
for s_ in spec["attribute-sets"]:
    for a in s_["attributes"]:
        speced[cname(s_["name-prefix"], a["name"])] = a.get("checks", {})
for attr, uses in checks.items():
    for pol, c in uses:
        if speced.get(attr, {}) != c:
            errors.append("%s: %s checks %s, the spec %s" %
                          (attr, pol, c, speced.get(attr, {})))

for e in errors:
    print(e)
print("spec: %d names, %d operations checked, %d problems" %
      (len(want), len(kops), len(errors)))
sys.exit(1 if errors else 0)
