"""Output formats: a machine's HostConfig as text files, through Jinja2 templates.

    files = render_files(configs, ["iproute2", "json"])   # {relative path: text}

Each format is a module that registers itself (registry.py); the default templates ship
in the package (`netcfg.templates`) and `templates=DIR` puts a user's copies first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from netcfg.forked import can_fork, run_split
from netcfg.formats import iproute2, jsonfmt, netplan, networkd  # noqa: F401 - register
from netcfg.formats.inputs import InputKeys, fingerprint
from netcfg.formats.output import OutputDir, WriteReport, Written
from netcfg.formats.registry import FORMATS, Format, get_format
from netcfg.formats.safe_names import check_config
from netcfg.formats.sandbox import Templates, environment
from netcfg.model.host import HostConfig

PARALLEL_MIN = 2_000  # machines below which forking workers costs more than it saves

# The order formats are rendered and listed in; also the default of `netcfg render`.
FORMAT_NAMES: tuple[str, ...] = ("iproute2", "networkd", "netplan", "json")


def templates(directory: Path | None = None, *, create_links: bool = False) -> Templates:
    """Compiled-once templates: the defaults, or a user's directory over them.
    `create_links`: the iproute2 files create their links too (for an empty namespace)."""
    return Templates(environment(directory, create_links=create_links))


def render_host(config: HostConfig, formats: Iterable[str], compiled: Templates, check: bool = True) -> dict[str, str]:
    """{relative path: text} of one machine in `formats`; refuses unsafe names."""
    if check:
        check_config(config)
    files: dict[str, str] = {}
    for name in formats:
        files.update(get_format(name).render(config, compiled))
    return files


def iter_rendered(
    configs: Mapping[str, HostConfig],
    formats: Iterable[str] = FORMAT_NAMES,
    directory: Path | None = None,
    create_links: bool = False,
) -> Iterator[tuple[str, dict[str, str]]]:
    """(machine, its files) in machine-name order; lazily, for progress and memory."""
    chosen = tuple(dict.fromkeys(formats))
    for name in chosen:
        get_format(name)  # an unknown format fails before any rendering
    compiled = templates(directory, create_links=create_links)
    hosts = sorted(configs)
    _check_all(configs, hosts, chosen)
    for host in hosts:
        yield host, render_host(configs[host], chosen, compiled, check=False)


def _check_all(configs: Mapping[str, HostConfig], hosts: list[str], formats: tuple[str, ...]) -> None:
    # Every name is checked before the first file is rendered, so a bad machine stops
    # the run before anything is written, not half-way through the fleet.
    checks = [check for name in formats if (check := FORMATS[name].check) is not None]
    for host in hosts:
        check_config(configs[host])
        for check in checks:
            check(configs[host])


def render_files(
    configs: Mapping[str, HostConfig],
    formats: Iterable[str] = FORMAT_NAMES,
    directory: Path | None = None,
) -> dict[str, str]:
    """Every file of every machine: {relative path: text}."""
    files: dict[str, str] = {}
    for _, rendered in iter_rendered(configs, formats, directory):
        files.update(rendered)
    return files


def write_rendered(
    out: Path,
    configs: Mapping[str, HostConfig],
    formats: Iterable[str] = FORMAT_NAMES,
    directory: Path | None = None,
    advance: Callable[[], None] | None = None,
    covers: Callable[[str], bool] | None = None,
    create_links: bool = False,
    output: OutputDir | None = None,
    jobs: int = 1,
) -> WriteReport:
    """Render `configs` in `formats` under `out`, writing only changed files.

    Files an earlier run wrote for a machine name `covers` accepts (default: every name,
    so machines deleted from the inventory lose their files) in one of `formats`, and
    that this run no longer produces, are removed. `advance` is called once per machine
    (progress bars). `output`: `out` as the caller opened it already (with the run's key,
    inputs.run_key, to record), so its manifest and state are read once. `jobs`: worker
    processes for a large fleet (forked.py), each rendering and writing its machines."""
    chosen = tuple(dict.fromkeys(formats))
    for name in chosen:
        get_format(name)  # an unknown format fails before any rendering
    compiled = templates(directory, create_links=create_links)
    hosts = sorted(configs)
    _check_all(configs, hosts, chosen)
    key_of = InputKeys(fingerprint(chosen, directory, create_links))
    target = output if output is not None else OutputDir(out)
    if directory is not None:
        # A user's template may fail on any machine: every machine to render is rendered
        # once before the first file is written, so a failure leaves the directory as it was.
        for host in hosts:
            if target.previous_inputs.get(host) != key_of(configs[host]):
                render_host(configs[host], chosen, compiled, check=False)

    def write_part(part: Sequence[str], done: Callable[[int], None]) -> tuple[Written, BaseException | None]:
        """Render and write `part`; what was written, and the error that stopped it. The
        error is returned, not raised, so each worker's files are listed whatever fails."""
        try:
            for host in part:
                key = key_of(configs[host])
                if not target.reuse(host, key):
                    for path, text in render_host(configs[host], chosen, compiled, check=False).items():
                        fmt = path.split("/", 1)[0]
                        target.write(path, text, fmt, host, FORMATS[fmt].file_mode)
                    target.record(host, key)
                done(1)
        except BaseException as error:
            return target.state(), error
        return target.state(), None

    def done(count: int) -> None:
        if advance is not None:
            for _ in range(count):
                advance()

    try:
        if jobs > 1 and len(hosts) >= PARALLEL_MIN and can_fork():
            for name in chosen:
                target.prepare(name)
            results = run_split(write_part, hosts, jobs, done, "render")
            for written, _ in results[1:]:  # the first is this process's own, already here
                target.take(written)
        else:
            results = [write_part(hosts, done)]
        for _, error in results:
            if error is not None:
                raise error
    except BaseException:
        # A template failing on a later machine: the files already written stay listed
        # as ours, so a later run can still update or remove them.
        target.abort()
        raise
    accepts = covers or (lambda host: True)
    return target.finish(lambda fmt, host: fmt in chosen and accepts(host), accepts)


__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "Format",
    "Templates",
    "WriteReport",
    "iter_rendered",
    "render_files",
    "render_host",
    "templates",
    "write_rendered",
]
