"""The `libvirt` driver: live migrations through `virsh migrate --live`, maintenance
(and hot waves) through argv templates as the command driver runs them.

`virsh -c SOURCE-URI migrate --live [OPTIONS] --domain VM --desturi DEST-URI`: the VM and
the destination are given as named options rather than positionally, so no option a
site adds (`--migrate-option`) can shift which word virsh reads as the domain. URIs
come from templates over `{host}`: the source host for `--connect`, the target for
`--dest-uri`. A cancel sends SIGINT, on which virsh aborts the migration job
(virDomainAbortJob) before it exits.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence

from netcfg.errors import InputError, quote
from netcfg.execute.driver import Running, Step, StepKind, StepResult
from netcfg.execute.process import FanOutRunning, ProcessRunning
from netcfg.execute.template import PLACEHOLDER, Template, expand
from netcfg.problems import Location, Problem

DEFAULT_CONNECT = "qemu+ssh://{host}/system"
RECHECK_TIMEOUT_S = 60.0


def parse_uri_template(option: str, text: str) -> str:
    """A URI template: `{host}` is its one placeholder; InputError otherwise."""
    names = [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1)]
    unknown = [n for n in names if n != "host"]
    if unknown or not text:
        what = f"no placeholder {quote('{' + unknown[0] + '}')}" if unknown else "an empty URI"
        raise InputError([Problem(Location(option), what, "a URI template knows {host} only")])
    return text


def uri(template: str, host: str) -> str:
    return PLACEHOLDER.sub(lambda m: host if m.group(1) else m.group(0)[0], template)


class LibvirtDriver:
    name = "libvirt"

    def __init__(
        self,
        templates: Mapping[StepKind, Template],
        connect: str = DEFAULT_CONNECT,
        dest_uri: str | None = None,
        migrate_options: tuple[str, ...] = (),
        virsh: str = "virsh",
    ):
        self.templates = dict(templates)
        self.connect = connect
        self.dest_uri = dest_uri or connect
        self.migrate_options = migrate_options
        self.virsh = virsh

    def check_tools(self, steps: Sequence[Step]) -> None:
        """Before anything runs: a plan with migrations needs virsh (else its maintenance
        steps would run and every migration fail)."""
        if any(s.kind is StepKind.MIGRATION for s in steps) and shutil.which(self.virsh) is None:
            raise InputError(
                [
                    Problem(
                        Location("--driver libvirt"),
                        f"{self.virsh} is not installed or not on PATH: the migrations run `virsh migrate --live`",
                        "install libvirt's client (Debian: apt-get install libvirt-clients)",
                    )
                ]
            )

    def migrate_argv(self, step: Step) -> list[str]:
        assert step.vm is not None and step.source is not None and step.target is not None
        return [
            self.virsh,
            "-c",
            uri(self.connect, step.source),
            "migrate",
            "--live",
            *self.migrate_options,
            "--domain",
            step.vm,
            "--desturi",
            uri(self.dest_uri, step.target),
        ]

    def argvs(self, step: Step) -> list[list[str]]:
        if step.kind is StepKind.MIGRATION:
            return [self.migrate_argv(step)]
        return expand(self.templates[step.kind], step)

    def preview(self, step: Step) -> list[str]:
        return [shlex.join(argv) for argv in self.argvs(step)]

    def start(self, step: Step) -> Running:
        if step.kind is StepKind.MIGRATION:
            return ProcessRunning(self.migrate_argv(step), cancel_signal=signal.SIGINT)
        argvs = self.argvs(step)
        if self.templates[step.kind].per_host:
            return FanOutRunning(list(zip(step.hosts, argvs, strict=True)))
        return ProcessRunning(argvs[0])

    def recheck(self, step: Step) -> StepResult | None:
        """A migration is in place when its VM runs on the target, asked through the
        target's `--connect` URI (the client's view of it); anything else runs again."""
        if step.kind is not StepKind.MIGRATION:
            return None
        assert step.vm is not None and step.target is not None
        argv = [self.virsh, "-c", uri(self.connect, step.target), "domstate", "--domain", step.vm]
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=RECHECK_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode == 0 and done.stdout.decode("utf-8", "replace").strip() == "running":
            return StepResult(True, f"{step.vm} already runs on {step.target}")
        return None

    def close(self) -> None:
        pass
