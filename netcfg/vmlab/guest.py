"""The guest: a Debian kernel and a busybox initramfs whose /init fills the guest's memory
with non-zero data and then rewrites it at a steady rate; and the QEMU command line that
runs it (identical on a migration's source and target, as QEMU requires).

docs/research/vm-lab-on-this-machine.md measured every choice here: `tb-size=16` and no
transparent huge pages keep QEMU's own memory near 69 MiB; the guest kernel and busybox
need about 72 MiB of the guest's RAM, so /init fills all but GUEST_RESERVE_MIB of it;
the fill is built from random bytes because QEMU sends zero pages as a flag only.
"""

from __future__ import annotations

import gzip
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GUEST_RESERVE_MIB = 80  # guest RAM the kernel and userspace keep: -m 128 fits fill <= 56
# Beyond 512 MiB the kernel keeps more (its page structures, 1.6 % of the RAM, and its
# free-page watermarks): -m 768 filled 600 MiB and ran out of memory at 650 with
# transparent huge pages (their watermarks take 35 MiB), at 677 without.
GUEST_RESERVE_ABOVE_512 = 1 / 8
MIN_GUEST_MIB = 112  # a guest needs RAM to fill: 32 MiB at least
DEFAULT_TICK_CS = 50  # the dirty loop's period: two bursts a second
QEMU = "qemu-system-x86_64"

INIT = r"""#!/bin/busybox sh
# The VM lab's guest /init (busybox ash), from netcfg/vmlab/guest.py. Kernel parameters:
#   fill=N   MiB of non-zero data to put in a tmpfs
#   dirty=D  KiB/s to rewrite continuously after the fill (0 = idle)
#   tick=T   pacing period in centiseconds
# Console lines the host reads: VMLAB READY (fill done), VMLAB HB (heartbeat, 1 s).
/bin/busybox mkdir -p /proc /sys /dev /mnt /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t sysfs sysfs /sys

FILL=32; DIRTY=0; TICK=50
for w in $(cat /proc/cmdline); do
  case "$w" in
    fill=*) FILL=${w#fill=} ;;
    dirty=*) DIRTY=${w#dirty=} ;;
    tick=*) TICK=${w#tick=} ;;
  esac
done

# centiseconds since boot, from /proc/uptime ("12.34 ...")
now_cs() { read up _ < /proc/uptime; CS=$(( ${up%.*} * 100 + 1${up#*.} - 100 )); }

now_cs; T_BOOT=$CS
echo "VMLAB BOOTED cs=$T_BOOT fill=$FILL dirty=$DIRTY"
mount -t tmpfs -o size=$((FILL + 6))m tmpfs /mnt
# 4 MiB of random data (16 units of 256 KiB); the fill is built from it, so every page
# is non-zero.
dd if=/dev/urandom of=/mnt/src bs=256k count=16 2>/dev/null
i=0
while [ $i -lt $FILL ]; do
  dd if=/mnt/src of=/mnt/fill bs=1M count=1 skip=$((i % 4)) seek=$i conv=notrunc 2>/dev/null
  i=$((i + 1))
done
now_cs
echo "VMLAB READY fill=$FILL fill_cs=$((CS - T_BOOT)) uptime_cs=$CS"

# Waiting without a process: `read -t` on a FIFO nobody writes (a fork costs about 15 ms
# of CPU under TCG).
mkfifo /tmp/tick
exec 4<>/tmp/tick
if [ "$DIRTY" -le 0 ] || [ "$FILL" -le 0 ]; then
  while :; do read -t 1 _ <&4; now_cs; echo "VMLAB HB cs=$CS dirtied_kib=0"; done
fi

# Dirty loop in units of 64 KiB: keeps units written == DIRTY/64 * elapsed seconds, one
# burst per tick; a catch-up after a stall (a migration's pause) is capped at 1 s worth.
# Unit OFF of the fill gets source unit (OFF + PASS) % 64, PASS = number of wraps, so
# the content really changes on every pass. One dd per burst: the shell's own printf
# would spare the fork but is slower still under TCG.
UNITS=$((FILL * 16)); RATE=$((DIRTY / 64)); [ $RATE -lt 1 ] && RATE=1
now_cs; T0=$CS; DONE=0; OFF=0; PASS=1; NEXT_HB=$((T0 + 100))
SLEEP=0.$(printf %02d $TICK)
[ "$TICK" -ge 100 ] && SLEEP=$((TICK / 100))
while :; do
  now_cs
  TARGET=$(( (CS - T0) * RATE / 100 ))
  N=$((TARGET - DONE))
  if [ $N -gt $RATE ]; then DONE=$((TARGET - RATE)); N=$RATE; fi
  while [ $N -gt 0 ]; do
    S=$(( (OFF + PASS) % 64 ))
    C=$N
    [ $C -gt $((UNITS - OFF)) ] && C=$((UNITS - OFF))
    [ $C -gt $((64 - S)) ] && C=$((64 - S))
    dd if=/mnt/src of=/mnt/fill bs=64k count=$C skip=$S seek=$OFF conv=notrunc 2>/dev/null
    OFF=$((OFF + C)); N=$((N - C)); DONE=$((DONE + C))
    [ $OFF -ge $UNITS ] && { OFF=0; PASS=$((PASS + 1)); }
  done
  if [ $CS -ge $NEXT_HB ]; then
    echo "VMLAB HB cs=$CS dirtied_kib=$((DONE * 64))"; NEXT_HB=$((NEXT_HB + 100))
  fi
  read -t $SLEEP _ <&4
done
"""


@dataclass(frozen=True, slots=True)
class Guest:
    """What one VM runs: its RAM and how fast it dirties it (lab units)."""

    memory_mib: int
    dirty_mib_s: float
    tick_cs: int = DEFAULT_TICK_CS

    @property
    def fill_mib(self) -> int:
        reserve = GUEST_RESERVE_MIB + max(self.memory_mib - 512, 0) * GUEST_RESERVE_ABOVE_512
        return max(self.memory_mib - math.ceil(reserve), 0)

    def kernel_args(self) -> str:
        # Numbers only: nothing of the inventory reaches the kernel command line.
        dirty_kib = round(self.dirty_mib_s * 1024)
        return (
            "console=ttyS0 quiet panic=-1 mitigations=off init_on_alloc=0 transparent_hugepage=never "
            f"fill={self.fill_mib} dirty={dirty_kib} tick={self.tick_cs}"
        )


def qemu_option(value: str) -> str:
    """A value inside a QEMU option string: a comma is written twice."""
    return value.replace(",", ",,")


def qemu_argv(
    guest: Guest,
    *,
    kernel: str,
    initramfs: str,
    serial: str,
    qmp: str,
    name: str,
    incoming: str | None = None,
) -> list[str]:
    """QEMU's argv for `guest`; `incoming` (tcp:ADDRESS:PORT) makes it a migration target.
    `name` is generated by the lab (letters, digits, '-'), never an inventory string."""
    argv = [
        QEMU,
        "-name",
        name,
        "-machine",
        "pc",
        "-accel",
        "tcg,tb-size=16",  # QEMU's default TCG cache is 1 GiB virtual, 44 MiB resident
        "-cpu",
        "qemu64",
        "-smp",
        "1",
        "-m",
        str(guest.memory_mib),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-kernel",
        kernel,
        "-initrd",
        initramfs,
        "-append",
        guest.kernel_args(),
        "-chardev",
        f"file,id=ser0,path={qemu_option(serial)}",
        "-serial",
        "chardev:ser0",
        "-qmp",
        f"unix:{qemu_option(qmp)},server=on,wait=off",
    ]
    if incoming is not None:
        argv += ["-incoming", incoming]
    return argv


# newc ("SVR4 with no CRC") cpio, the format the kernel unpacks an initramfs from.
_S_IFDIR, _S_IFREG, _S_IFLNK, _S_IFCHR = 0o040000, 0o100000, 0o120000, 0o020000


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # without a leading '/'
    mode: int  # type and permission bits
    data: bytes = b""  # file content, or a link's target
    rdev: tuple[int, int] = (0, 0)


def newc(entries: Iterable[Entry]) -> bytes:
    out = io.BytesIO()

    def pad() -> None:
        out.write(b"\0" * (-out.tell() % 4))

    def header(ino: int, entry: Entry) -> None:
        name = entry.path.encode() + b"\0"
        fields = (ino, entry.mode, 0, 0, 1, 0, len(entry.data), 0, 0, *entry.rdev, len(name), 0)
        out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.write(name)
        pad()
        out.write(entry.data)
        pad()

    for ino, entry in enumerate(entries, 1):
        header(ino, entry)
    header(0, Entry("TRAILER!!!", 0))
    return out.getvalue()


def initramfs(busybox: bytes) -> bytes:
    """The gzip'd initramfs: busybox, /init, and /dev/console so init has a console
    before devtmpfs is mounted."""
    entries: Sequence[Entry] = (
        Entry("bin", _S_IFDIR | 0o755),
        Entry("dev", _S_IFDIR | 0o755),
        Entry("dev/console", _S_IFCHR | 0o600, rdev=(5, 1)),
        Entry("bin/busybox", _S_IFREG | 0o755, busybox),
        Entry("bin/sh", _S_IFLNK | 0o777, b"busybox"),
        Entry("init", _S_IFREG | 0o755, INIT.encode()),
    )
    # mtime 0: the same busybox and /init give the same bytes.
    return gzip.compress(newc(entries), compresslevel=6, mtime=0)


_READY = re.compile(r"^VMLAB READY fill=(\d+)", re.M)
_HEARTBEAT = re.compile(r"^VMLAB HB cs=(\d+) dirtied_kib=(\d+)", re.M)


def ready(console: str) -> bool:
    """Whether the guest's console says its memory is filled."""
    return _READY.search(console) is not None


def heartbeats(console: str) -> list[tuple[int, int]]:
    """(centiseconds since boot, KiB dirtied) per heartbeat line of the console."""
    return [(int(a), int(b)) for a, b in _HEARTBEAT.findall(console)]
