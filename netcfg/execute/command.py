"""The `command` driver: each step runs the argv template given for its kind.

For ssh, Ansible or a site's own tool: `--run maintenance='ssh {host} reconfigure'`. A
step succeeds when its process exits 0; see netcfg/execute/template.py for how a
template becomes argv.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from netcfg.execute.driver import Running, Step, StepKind, StepResult
from netcfg.execute.process import FanOutRunning, ProcessRunning
from netcfg.execute.template import Template, expand


class CommandDriver:
    name = "command"

    def __init__(self, templates: Mapping[StepKind, Template]):
        self.templates = dict(templates)

    def argvs(self, step: Step) -> list[list[str]]:
        return expand(self.templates[step.kind], step)

    def preview(self, step: Step) -> list[str]:
        return [shlex.join(argv) for argv in self.argvs(step)]

    def start(self, step: Step) -> Running:
        argvs = self.argvs(step)
        if self.templates[step.kind].per_host:
            return FanOutRunning(list(zip(step.hosts, argvs, strict=True)))
        return ProcessRunning(argvs[0])

    def recheck(self, step: Step) -> StepResult | None:
        return None  # a command's effect is the site's own: nothing to ask, run it again

    def close(self) -> None:
        pass
