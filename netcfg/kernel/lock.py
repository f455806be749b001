"""One apply per namespace at a time, and where a namespace's files in the run directory
are named: after the namespace itself, whatever name it is reached by."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from netcfg.errors import ApplyError, InputError
from netcfg.kernel.netlink import netns_path, no_such_netns


class LockedError(ApplyError):
    """Another apply holds the namespace; nothing was changed (exit 5)."""


def namespace_file(netns: str, run_dir: str, suffix: str) -> str:
    """A file of the namespace in `run_dir`, keyed on the device and inode of its nsfs
    mount (the inode is the namespace's): two names of one namespace (`ip netns
    attach`, a bind mount under /run/netns) share it."""
    status = os.stat(netns_path(netns))
    return os.path.join(run_dir, f"netns-{status.st_dev}-{status.st_ino}{suffix}")


def lock_path(netns: str, lock_dir: str) -> str:
    return namespace_file(netns, lock_dir, ".lock")


@contextmanager
def namespace_lock(netns: str, lock_dir: str) -> Iterator[None]:
    """One apply per namespace at a time, whatever name it is reached by: a second one
    fails at once, it does not wait."""
    try:
        path = lock_path(netns, lock_dir)
    except FileNotFoundError:
        raise no_such_netns(netns) from None
    fd = _open_lock_file(path, lock_dir)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise LockedError(
                f"netns {netns}: another netcfg apply (pid {holder}) holds {path}, the lock of this "
                "namespace under any of its names; nothing was changed"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _open_lock_file(path: str, lock_dir: str) -> int:
    """The lock file, a regular file of the run directory itself: never through a link
    planted there (the pid would be written into its target), never a FIFO."""
    try:
        os.makedirs(lock_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputError(f"{path} is a symbolic link: not a lock netcfg made; remove it") from None
        raise InputError(
            f"cannot use the run directory {lock_dir!r} (NETCFG_RUN_DIR) for {path}: {error.strerror}"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path} is not a regular file: not a lock netcfg made; remove it")
    return fd
