"""What the CLI reads from the environment and passes to the library, which never reads
it itself."""

from __future__ import annotations

import os

DEFAULT_RUN_DIR = "/run/netcfg"
DEFAULT_VMLAB_CACHE = "/var/cache/netcfg/vmlab"


def jobs() -> int:
    """NETCFG_JOBS: worker processes for large impact analyses, renders and plan checks (default: the
    CPUs); 1: none."""
    configured = os.environ.get("NETCFG_JOBS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    from netcfg.forked import default_jobs  # multiprocessing: only for the commands that fork

    return default_jobs()


def run_dir() -> str:
    """NETCFG_RUN_DIR: where apply's locks and the labs' state files live (empty: unset)."""
    return os.environ.get("NETCFG_RUN_DIR") or DEFAULT_RUN_DIR


def vmlab_cache() -> str:
    """NETCFG_VMLAB_CACHE: where the VM lab keeps its guest kernel and busybox."""
    return os.environ.get("NETCFG_VMLAB_CACHE", DEFAULT_VMLAB_CACHE)


def colour_allowed() -> bool:
    """Colour off in CI and with NO_COLOR (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and not os.environ.get("CI")
