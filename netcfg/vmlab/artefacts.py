"""The guest's files: a Debian cloud kernel and a static busybox, downloaded once with
`apt-get download` and cached; the initramfs is built from the cached busybox and the
current /init (its name carries a digest of both, so a new /init gets a new file).

Cache layout (CACHE_DIR, default /var/cache/netcfg/vmlab, `NETCFG_VMLAB_CACHE`):
    vmlinuz                  the kernel (linux-image-*-cloud-amd64: the console and
                             every file system the guest uses are built in, no modules)
    busybox                  static busybox (busybox-static)
    packages.txt             the two package versions they came from
    initramfs-DIGEST.cpio.gz built on first use
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from netcfg.errors import InputError
from netcfg.files import write_atomic
from netcfg.vmlab.guest import INIT, initramfs

KERNEL_META = "linux-image-cloud-amd64"  # depends on the current versioned cloud kernel
BUSYBOX = "busybox-static"
# What the guest needs built into the kernel (=y): the console on the 8250 UART, the
# tmpfs it fills, the initramfs and /proc. Virtio is a module in the cloud kernel and
# the guest does not use it.
KERNEL_NEEDS = (
    "CONFIG_SERIAL_8250_CONSOLE",
    "CONFIG_TMPFS",
    "CONFIG_SHMEM",
    "CONFIG_DEVTMPFS",
    "CONFIG_BLK_DEV_INITRD",
    "CONFIG_RD_GZIP",
    "CONFIG_PROC_FS",
)


@dataclass(frozen=True, slots=True)
class Artefacts:
    kernel: str
    initramfs: str


def find(cache_dir: str) -> Artefacts | None:
    """The cached guest files, building the initramfs if only it is missing; None when
    the kernel or busybox has not been fetched."""
    kernel = Path(cache_dir, "vmlinuz")
    busybox = Path(cache_dir, "busybox")
    if not kernel.is_file() or not busybox.is_file():
        return None
    content = busybox.read_bytes()
    digest = hashlib.sha256(content + INIT.encode()).hexdigest()[:12]
    path = Path(cache_dir, f"initramfs-{digest}.cpio.gz")
    if not path.is_file():
        write_atomic(path, initramfs(content))
    return Artefacts(str(kernel), str(path))


def ensure(cache_dir: str) -> Artefacts:
    """The guest files, fetched from Debian's packages when not cached yet."""
    found = find(cache_dir)
    if found is not None:
        return found
    fetch(cache_dir)
    found = find(cache_dir)
    assert found is not None  # fetch wrote both files or raised
    return found


def fetch(cache_dir: str) -> list[str]:
    """Download the kernel and busybox packages and unpack the two files the guest needs
    into `cache_dir`; the package names and versions fetched."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise InputError(
                f"the VM lab's guest files are not in {cache_dir} and {tool} is not installed to fetch them: "
                f"put a Debian cloud kernel at {cache_dir}/vmlinuz and a static busybox at {cache_dir}/busybox"
            )
    kernel_package = _kernel_package()
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as work:
        _run(
            # As root into a root-owned directory, apt's sandbox user `_apt` could not write.
            ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", kernel_package, BUSYBOX],
            cwd=work,
            what="downloading the guest's kernel and busybox",
        )
        debs = sorted(Path(work).glob("*.deb"))
        root = Path(work, "root")
        for deb in debs:
            _run(["dpkg-deb", "-x", str(deb), str(root)], cwd=work, what=f"unpacking {deb.name}")
        kernels = sorted(root.glob("boot/vmlinuz-*"))
        configs = sorted(root.glob("boot/config-*"))
        busybox = root / "bin" / "busybox"
        if not kernels or not busybox.is_file():
            raise InputError(
                f"the packages {kernel_package} and {BUSYBOX} did not contain boot/vmlinuz-* and bin/busybox"
            )
        if configs:
            _check_kernel_config(configs[0].read_text(errors="replace"), kernel_package)
        shutil.copyfile(busybox, Path(work, "busybox"))
        os.chmod(Path(work, "busybox"), 0o755)
        os.replace(Path(work, "busybox"), Path(cache_dir, "busybox"))
        shutil.copyfile(kernels[0], Path(work, "vmlinuz"))
        os.replace(Path(work, "vmlinuz"), Path(cache_dir, "vmlinuz"))
        names = [deb.name for deb in debs]
    write_atomic(Path(cache_dir, "packages.txt"), "".join(f"{n}\n" for n in names).encode())
    return names


def _kernel_package() -> str:
    """The versioned kernel package the meta package points at today, so the lab keeps
    working after Debian's next kernel ABI bump."""
    result = _run(["apt-cache", "depends", KERNEL_META], what=f"resolving {KERNEL_META}")
    found = re.search(r"Depends:\s*(linux-image-\S+-cloud-amd64)", result)
    if found is None:
        raise InputError(
            f"apt-cache knows no {KERNEL_META} (run `apt-get update`, or add Debian's main archive to apt's sources)"
        )
    return found.group(1)


def _check_kernel_config(config: str, package: str) -> None:
    built_in = set(re.findall(r"^(CONFIG_\w+)=y$", config, re.M))
    missing = [option for option in KERNEL_NEEDS if option not in built_in]
    if missing:
        raise InputError(f"{package} does not build in {', '.join(missing)}, which the VM lab's guest needs")


def _run(argv: list[str], *, what: str, cwd: str | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise InputError(f"{what}: {argv[0]} did not finish in 10 minutes") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"{what}: {argv[0]} failed (exit {done.returncode}): {last}")
    return done.stdout
