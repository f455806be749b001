"""What the real-component tests need, each a skip marker that prints why: root for
namespaces, and the Debian packages `.ci/run` installs (README "Quick start")."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

# command -> the Debian package that provides it
PACKAGES = {
    "ip": "iproute2",
    "ping": "iputils-ping",
    "git": "git",
    "netplan": "netplan.io",
    "chromium": "chromium",
    "setpriv": "util-linux",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "virsh": "libvirt-clients",
}


def needs(*commands: str, root: bool = False) -> list[pytest.MarkDecorator]:
    """Markers skipping a test (with the reason printed) unless it runs as root when
    `root`, and every command is installed."""
    marks = [pytest.mark.root] if root else []
    if root:
        marks.append(pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create network namespaces"))
    for command in commands:
        package = PACKAGES.get(command, command)
        marks.append(
            pytest.mark.skipif(
                shutil.which(command) is None, reason=f"{command} is not installed (apt-get install {package})"
            )
        )
    return marks


def needing(*commands: str, root: bool = False) -> Callable[[T], T]:
    """`needs` as one decorator, for a single test in a module that needs less."""

    def mark(test: T) -> T:
        for marker in needs(*commands, root=root):
            test = marker(test)
        return test

    return mark
