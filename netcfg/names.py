"""The one rule for names that become file names and words in generated files.

`netcfg validate` applies it to the inventory and the formats apply it again right
before writing; both read it from here, so a name validate accepts always renders.
"""

from __future__ import annotations

import re

# Machine and segment names become file names: one path component, never '.' or '..'.
MACHINE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
# The iproute2 format writes HOST.batch and HOST.6.batch: a machine named like another
# one plus this suffix would overwrite the other's IPv6 file with its own IPv4 one.
IPV6_FILE_SUFFIX = ".6"

# Interface names become kernel names (15 bytes) and words in `ip` command lines and
# YAML: a leading '-' would be an option, '#' a comment, quotes and spaces break words.
INTERFACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}")
