"""The first process of every lab QEMU: `python -m netcfg.vmlab.spawn PROCS -- ARGV...`.

It joins the memory cgroup whose `cgroup.procs` file is PROCS, switches transparent huge
pages off for itself (QEMU madvises guest RAM as huge; inherited across exec), then
execs ARGV (`ip netns exec NS qemu-system-x86_64 ...`, which execs QEMU in turn), so
the QEMU is this very process: its pid, its cgroup, from its first page on. A wrapper
process instead of Popen's preexec_fn, which is unsafe in the driver's threads.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_THP_DISABLE = 41


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m netcfg.vmlab.spawn CGROUP_PROCS -- ARGV...", file=sys.stderr)
        return 2
    procs, command = argv[0], argv[2:]
    with open(procs, "w", encoding="ascii") as handle:
        handle.write(str(os.getpid()))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces the process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
