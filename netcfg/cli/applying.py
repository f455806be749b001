"""What `netcfg apply` does once its command line is read, and the one command line read
without the parser: `apply --from FILE --netns NAME`, the form automation runs on every
host. Loading typer and rich took about 0.1 s of every such run, more than a no-op apply
of 10,000 pairs needs in all, so that exact form is recognised here; anything else,
`--help` included, goes through the parser to the same functions."""

from __future__ import annotations

from collections.abc import Sequence

from netcfg.cli import settings
from netcfg.cli.console import emit, say
from netcfg.gc_tuning import collector_off

# typing itself is not imported: a few milliseconds of the start-up this module saves.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from netcfg.kernel.reconcile import Plan
    from netcfg.model.host import DesignName, HostConfig


def plan_text(present: Sequence[str], steps: Sequence[str]) -> str:
    """What apply prints of its plan on stdout."""
    lines = [f"= {entry} (present, not netcfg's: left alone)" for entry in present]
    lines += steps
    lines.append(f"{len(steps)} change{'s' if len(steps) != 1 else ''}")
    return "\n".join(lines) + "\n"


def _shown(plan: Plan) -> None:
    from netcfg.kernel.reconcile import describe_provided

    emit(plan_text([describe_provided(entry) for entry in plan.present], [str(step) for step in plan.steps]))


def apply_config(config: HostConfig, source: str | None, netns: str, dry_run: bool) -> None:
    """Apply `config` (read from bytes of digest `source`, if from a file) and say so."""
    from netcfg.kernel.apply import apply_host
    from netcfg.kernel.netlink import netns_path
    from netcfg.kernel.state import ownership
    from netcfg.words import plural

    netns_path(netns)  # a name that is none is refused before it is printed
    verb = "would change" if dry_run else "applying"
    say(f"{config.name} -> netns {netns} ({config.design}): {verb}")
    outcome = apply_host(
        config,
        ownership(None, config),
        netns,
        dry_run=dry_run,
        show=_shown,
        lock_dir=settings.run_dir(),
        source=source,
    )
    if outcome.applied:
        say(f"{config.name} -> netns {netns}: {plural(len(outcome.plan), 'change')} applied and verified")
    elif dry_run:
        say("dry run: nothing was changed")


def config_from_file(path: str | Path, host: str | None, design: DesignName | None) -> tuple[HostConfig, str]:
    """The config in a rendered JSON file, and the digest of its bytes."""
    from netcfg.files import read_bytes
    from netcfg.kernel.settled import config_digest

    data = read_bytes(path, "rendered machine")
    return config_from_bytes(data, path, host, design), config_digest(data)


def config_from_bytes(data: bytes, path: str | Path, host: str | None, design: DesignName | None) -> HostConfig:
    from netcfg.errors import InputError, quote
    from netcfg.files import json_value, positions_in
    from netcfg.model.host_file import host_config_from_json

    value = json_value(data, path, "rendered machine")
    with positions_in(path, data):
        config = host_config_from_json(value, str(path))
    if host is not None and host != config.name:
        raise InputError.at(path, f"is the config of {quote(config.name)}, not of {quote(host)}")
    if design is not None and design != config.design:
        raise InputError.at(path, f"was rendered under {config.design}, not {design}")
    return config


def applied_without_parser(args: Sequence[str]) -> bool:
    """Run the command line if it is exactly `apply --from FILE --netns NAME` (either
    order, `--option=value` too): True. Any other: False, nothing done."""
    shape = _from_and_netns(args)
    if shape is None:
        return False  # having imported nothing: every other command line comes here first
    from netcfg import limits
    from netcfg.regular import regular_file_bytes

    path, netns = shape
    with collector_off():
        # Read once, here; anything but a regular file of a sane size is read (and
        # refused) the way the parsed command reads it.
        data = regular_file_bytes(path, limits.JSON_FILE_BYTES)
        if data is None:
            config, source = config_from_file(path, None, None)
        else:
            from netcfg.kernel.settled import config_digest

            source = config_digest(data)
            if _settled(source, netns):
                return True
            config = config_from_bytes(data, path, None, None)
        apply_config(config, source, netns, dry_run=False)
    return True


def _from_and_netns(args: Sequence[str]) -> tuple[str, str] | None:
    if not args or args[0] != "apply":
        return None
    values: dict[str, str] = {}
    words = iter(args[1:])
    for word in words:
        option, equals, value = word.partition("=")
        if option not in ("--from", "--netns") or option in values:
            return None
        if not equals:
            value = next(words, "")
        if not value or value.startswith("-") or (option == "--from" and _respelled(value)):
            return None
        values[option] = value
    if len(values) != 2:
        return None
    return values["--from"], values["--netns"]


def _respelled(path: str) -> bool:
    """Whether the parser would read `path` otherwise (its Path drops a trailing `/`, `.`
    components and doubled slashes): then the parser reads it."""
    return path.endswith(("/", "/.")) or path.startswith("./") or path == "." or "//" in path or "/./" in path


def _settled(source: str, netns: str) -> bool:
    """True when the namespace holds the config of these bytes (of digest `source`)
    already (kernel/settled.py), said as the whole apply would have said it; False,
    having said nothing, on any doubt."""
    from netcfg.errors import NetcfgError
    from netcfg.kernel.settled import settled_apply

    try:
        found = settled_apply(source, netns, settings.run_dir())
    except (OSError, NetcfgError):
        return False  # the whole apply says what is wrong
    if found is None:
        return False
    say(f"{found.host} -> netns {netns} ({found.design}): applying")
    emit(plan_text(found.present, []))
    return True
