# SPDX-License-Identifier: GPL-2.0
#
# Sphinx configuration for OpenTOE's pages (Documentation/index.rst), for
# `make check` (scripts/check.sh: sphinx-build -W). The kernel-doc
# directives run the kernel's own extension and script, from the
# linux-source tree in TOE_KSRC; in a kernel tree the pages build with
# the kernel's Documentation/conf.py instead.

import os
import sys

_top = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
_ksrc = os.environ.get("TOE_KSRC", "/var/tmp/opentoe/linux-source-6.1")
sys.path.insert(0, os.path.join(_ksrc, "Documentation", "sphinx"))

project = "OpenTOE"
copyright = "The OpenTOE authors"
extensions = ["kerneldoc", "rstFlatTable"]
kerneldoc_bin = os.path.join(_ksrc, "scripts", "kernel-doc")
kerneldoc_srctree = _top
primary_domain = "c"
highlight_language = "none"
exclude_patterns = ["ABI", "netlink"]
html_theme = "alabaster"
