"""Names that become file names or words in generated files must be harmless.

Host names become file names under `--out`, interface names become file names
(networkd) and words in `ip -batch` lines and YAML. The inventory checks names already;
this second check sits right before writing, so a bug or a hand-built inventory can
never write outside the output directory or smuggle a second command into a batch line.
"""

from __future__ import annotations

from netcfg.errors import InputError
from netcfg.model.host import HostConfig
from netcfg.names import INTERFACE_NAME, MACHINE_NAME
from netcfg.problems import Location, Problem


def safe_host_name(name: str, where: Location | None = None) -> str:
    if not MACHINE_NAME.fullmatch(name):
        raise InputError(
            [
                Problem(
                    where or Location(name),
                    f"machine name {name!r} cannot be used as a file name",
                    "use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63",
                )
            ]
        )
    return name


def safe_interface_name(host: str, name: str, where: Location | None = None) -> str:
    if not INTERFACE_NAME.fullmatch(name):
        raise InputError(
            [
                Problem(
                    where or Location(host),
                    f"interface name {name!r} of {host} cannot be written safely",
                    "use letters, digits, '.', '_' and '-', at most 15",
                )
            ]
        )
    return name


def check_config(config: HostConfig, where: Location | None = None) -> None:
    """Refuse a config whose names could escape a file or a line."""
    safe_host_name(config.name, where)
    names = {iface.name for iface in config.interfaces} | {r.device for r in config.routes if r.device is not None}
    for name in sorted(names):
        safe_interface_name(config.name, name, where)
