"""The guest's initramfs and command line, without QEMU."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import pytest

from netcfg.vmlab.guest import (
    GUEST_RESERVE_MIB,
    INIT,
    Entry,
    Guest,
    heartbeats,
    initramfs,
    newc,
    qemu_argv,
    qemu_option,
    ready,
)


def parse_newc(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    """(path, mode, content, rdev) per entry: a reader of the format written independently."""
    entries, offset = [], 0
    while True:
        header = data[offset : offset + 110]
        assert header[:6] == b"070701"
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        mode, size, rdev, name_size = fields[1], fields[6], (fields[9], fields[10]), fields[11]
        name = data[offset + 110 : offset + 110 + name_size - 1].decode()
        offset += 110 + name_size
        offset += -offset % 4
        content = data[offset : offset + size]
        offset += size
        offset += -offset % 4
        if name == "TRAILER!!!":
            return entries
        entries.append((name, mode, content, rdev))


def test_initramfs_holds_busybox_init_and_a_console():
    image = gzip.decompress(initramfs(b"\x7fELF busybox"))
    entries = {path: (mode, content, rdev) for path, mode, content, rdev in parse_newc(image)}
    assert entries["bin/busybox"][1] == b"\x7fELF busybox"
    assert entries["bin/busybox"][0] == 0o100755
    assert entries["bin/sh"] == (0o120777, b"busybox", (0, 0))
    assert entries["init"][1] == INIT.encode()
    assert entries["dev/console"] == (0o020600, b"", (5, 1))
    # The same input gives the same bytes (a cache keyed on the content stays valid).
    assert initramfs(b"\x7fELF busybox") == initramfs(b"\x7fELF busybox")


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio is not installed (apt-get install cpio)")
def test_cpio_reads_the_archive():
    listing = (
        subprocess.run(
            ["cpio", "-t", "--quiet"],
            input=newc([Entry("a", 0o100644, b"x" * 5), Entry("dir", 0o040755)]),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split()
    )
    assert listing == ["a", "dir"]


def test_guest_fills_all_but_what_its_kernel_keeps():
    guest = Guest(memory_mib=192, dirty_mib_s=2.5)
    assert guest.fill_mib == 192 - GUEST_RESERVE_MIB
    assert f"fill={192 - GUEST_RESERVE_MIB} dirty=2560 tick=" in guest.kernel_args()


def test_a_large_guest_keeps_more_for_its_kernel():
    # -m 768 with 688 MiB to fill ran out of memory and panicked (exit: "no message").
    assert Guest(memory_mib=512, dirty_mib_s=0).fill_mib == 512 - GUEST_RESERVE_MIB
    assert Guest(memory_mib=768, dirty_mib_s=0).fill_mib == 768 - GUEST_RESERVE_MIB - 32
    assert "transparent_hugepage=never" in Guest(768, 0).kernel_args()


def test_qemu_argv_escapes_commas_in_paths_and_is_identical_but_for_incoming():
    guest = Guest(128, 0.0)
    common = {"kernel": "/k", "initramfs": "/i", "serial": "/run/a,b/s", "qmp": "/run/a,b/q", "name": "vml-0-g0"}
    source = qemu_argv(guest, **common)
    target = qemu_argv(guest, **common, incoming="tcp:10.231.0.2:10001")
    assert target[: len(source)] == source and target[len(source) :] == ["-incoming", "tcp:10.231.0.2:10001"]
    assert "file,id=ser0,path=/run/a,,b/s" in source
    assert "unix:/run/a,,b/q,server=on,wait=off" in source
    assert source[source.index("-m") + 1] == "128"
    assert qemu_option("x,y,,z") == "x,,y,,,,z"


def test_console_markers():
    text = "VMLAB BOOTED cs=200\nVMLAB READY fill=48 fill_cs=90 uptime_cs=300\nVMLAB HB cs=400 dirtied_kib=1024\n"
    assert ready(text) and not ready("VMLAB BOOTED cs=200\n")
    assert heartbeats(text) == [(400, 1024)]
