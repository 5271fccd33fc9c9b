#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks: checkpatch --strict, sparse (C=2), coccicheck (report mode),
# kernel-doc, the Sphinx build of Documentation/, and shellcheck's errors in
# every shell script. Any finding fails.

set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC=${TOE_KSRC:-/var/tmp/opentoe/linux-source-6.1}
KVER=${KVER:-$("$TOP/scripts/kver.sh")}
KDIR=${KDIR:-/lib/modules/$KVER/build}
OUT=$TOP/out/check
mkdir -p "$OUT"
cd "$TOP" || exit 1

fail=0
step() { printf 'check: %-12s' "$1"; }
result() {
	if [ -s "$1" ]; then
		echo "FAILED"
		sed 's/^/  /' "$1"
		fail=1
	else
		echo "ok"
	fi
}

mapfile -t csrc < <(git ls-files '*.c' '*.h' | grep -v '^out/')

step checkpatch
perl "$SRC/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f "${csrc[@]}" 2>&1 |
	grep -E 'ERROR|WARNING|CHECK' |
	# One reviewed exception: the offloaded socket's proto_ops are a copy
	# built at run time from the socket's own (inet6_stream_ops is not
	# exported on 6.1), as net/tls/tls_main.c does; they cannot be const.
	grep -v '^net/toe/sock.c:[0-9]*: WARNING:CONST_STRUCT: struct proto_ops ' \
	> "$OUT/checkpatch.txt"
# The SPDX tag check is kept, but in our own form: every file must carry one.
for f in "${csrc[@]}"; do
	head -n 2 "$f" | grep -q 'SPDX-License-Identifier:' ||
		echo "$f: missing SPDX-License-Identifier" >> "$OUT/checkpatch.txt"
done
result "$OUT/checkpatch.txt"

step sparse
make -s -C "$KDIR" M="$TOP" CONFIG_TOE=m CONFIG_TOE_TEST=m CONFIG_TOESIM=m C=2 CHECK=sparse \
	modules > "$OUT/sparse.log" 2>&1 || echo "sparse build failed" >> "$OUT/sparse.log"
grep -E 'warning:|error:|failed' "$OUT/sparse.log" > "$OUT/sparse.txt"
result "$OUT/sparse.txt"

step coccicheck
# Only our tracked sources: out/ holds staged headers that are not ours.
rm -rf "$OUT/cocci-src"
mkdir -p "$OUT/cocci-src"
git ls-files '*.c' '*.h' | grep -v '^tools/' | cpio -pdm --quiet "$OUT/cocci-src"
make -s -C "$SRC" coccicheck MODE=report M="$OUT/cocci-src" J="$(nproc)" \
	> "$OUT/cocci.log" 2>&1 || echo "coccicheck failed to run" >> "$OUT/cocci.log"
grep -E '^/.*:[0-9]+:|failed to run|^Error' "$OUT/cocci.log" |
	sed "s|$OUT/cocci-src/||" > "$OUT/cocci.txt"
result "$OUT/cocci.txt"

step kernel-doc
mapfile -t kdoc < <(git ls-files 'include/net/toe*.h' 'include/uapi/linux/toe.h' \
	'net/toe/*.c' 'net/toe/*.h' \
	'drivers/toe/*.c' 'drivers/toe/*.h' 'drivers/toe/*/*.c' 'drivers/toe/*/*.h')
perl "$SRC/scripts/kernel-doc" -none "${kdoc[@]}" 2>&1 |
	grep -v "^$" > "$OUT/kdoc.txt"
result "$OUT/kdoc.txt"

# The pages, as Sphinx renders them (Documentation/conf.py), warnings
# fatal; and the API page naming every function the core exports (6.1's
# kernel-doc does not find EXPORT_SYMBOL_NS_GPL() itself).
step docs
rm -rf "$OUT/docs"
TOE_KSRC=$SRC sphinx-build -W -q -b html Documentation "$OUT/docs" \
	> "$OUT/docs.txt" 2>&1 || echo "sphinx-build failed" >> "$OUT/docs.txt"
python3 - Documentation/driver-api/toe.rst >> "$OUT/docs.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for m in re.finditer(r"^\.\. kernel-doc:: (\S+)\n((?:   .*\n)+)", text, re.M):
    opts = m.group(2)
    ids = re.search(r":identifiers:((?:.*\n)(?:      .*\n)*)", opts)
    if not ids:
        continue
    listed = set(ids.group(1).split())
    exported = set(re.findall(r"EXPORT_SYMBOL\w*\((\w+)", open(m.group(1)).read()))
    for n in sorted(exported - listed):
        print("%s: %s is exported, not in %s" % (m.group(1), n, sys.argv[1]))
    for n in sorted(listed - exported):
        print("%s: %s is in %s, not exported" % (m.group(1), n, sys.argv[1]))
PY
result "$OUT/docs.txt"

# Errors only: a stray line in a sourced library parses, runs as a command
# and fails every test that sources it; bash -n does not see it, this does.
step shellcheck
mapfile -t shsrc < <(git ls-files '*.sh' .ci/run)
shellcheck -s bash -S error -f gcc "${shsrc[@]}" > "$OUT/shellcheck.txt" 2>&1
result "$OUT/shellcheck.txt"

exit $fail
