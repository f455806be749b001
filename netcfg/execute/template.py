"""Argv templates: `--run KIND=TEMPLATE` turned into the argv a step runs.

A template is split into words the way a POSIX shell would (shlex), and never run
through a shell. Placeholders are substituted inside each word after the split, so a
name in the plan can never add, remove or split an argument:

- `{id}`: the step's id; `{vm}`, `{from}`, `{to}`: a migration's VM and hosts;
- `{host}`: a maintenance's host, a migration's source; in a hot template, the template
  runs once per host of the wave (a few at a time, see process.FanOutRunning), and the
  step succeeds when every one does;
- `{hosts}`: the step's hosts (a wave's hosts, a maintenance's host, a migration's source
  and target). A word that is exactly `{hosts}` becomes one argument per host; inside a
  longer word (`--limit={hosts}`) they are joined with commas, as Ansible's --limit reads;
- `{{` and `}}` are a literal brace.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass

from netcfg.errors import InputError, quote
from netcfg.execute.driver import Step, StepKind
from netcfg.problems import Location, Problem

# `{{`, `}}`, a placeholder `{name}`, or a lone brace (refused: a typo like `{host-name}`
# or `{}` must not reach a command as literal text).
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
AVAILABLE = {
    StepKind.HOT: ("id", "host", "hosts"),
    StepKind.MIGRATION: ("id", "host", "hosts", "vm", "from", "to"),
    StepKind.MAINTENANCE: ("id", "host", "hosts"),
}


@dataclass(frozen=True, slots=True)
class Template:
    kind: StepKind
    words: tuple[str, ...]

    @property
    def per_host(self) -> bool:
        """A hot template naming {host} runs once per host of the wave."""
        return self.kind is StepKind.HOT and any("host" in _names(w) for w in self.words)


def _names(word: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(word) if m.group(1) is not None]


def _lone_braces(word: str) -> bool:
    return any(m.group(0) in ("{", "}") for m in PLACEHOLDER.finditer(word))


def parse_template(kind: StepKind, text: str, option: str = "--run") -> Template:
    """A template for steps of `kind`; InputError when it cannot be split, is empty, names
    a placeholder that does not exist for `kind`, or runs a program that is not there."""
    where = Location(f"{option} {kind.value}")
    try:
        words = shlex.split(text)
    except ValueError as error:  # an unclosed quote
        raise InputError([Problem(where, f"cannot split the template: {error}")]) from None
    if not words:
        raise InputError([Problem(where, "the template is empty")])
    problems = []
    for word in words:
        if _lone_braces(word):
            problems.append(Problem(where, f"a lone brace in {quote(word)}", "{{ and }} are literal braces"))
        for name in _names(word):
            if name not in AVAILABLE[kind]:
                known = " ".join(f"{{{n}}}" for n in AVAILABLE[kind])
                problems.append(
                    Problem(
                        where,
                        f"no placeholder {quote('{' + name + '}')} for a {kind.value} step",
                        f"known: {known}; {{{{ and }}}} are literal braces",
                    )
                )
    program = words[0]
    if not _names(program) and shutil.which(program) is None:
        problems.append(Problem(where, f"program {quote(program)} not found (not executable, or not on PATH)"))
    if problems:
        raise InputError(problems)
    return Template(kind, tuple(words))


def expand(template: Template, step: Step) -> list[list[str]]:
    """The argv lists `step` runs: one, or one per host for a per-host hot template."""
    if template.per_host:
        return [_argv(template, step, host) for host in step.hosts]
    host = step.source if step.kind is StepKind.MIGRATION else step.hosts[0]
    return [_argv(template, step, host)]


def _argv(template: Template, step: Step, host: str | None) -> list[str]:
    values = {
        "id": step.id,
        "host": host or "",
        "hosts": ",".join(step.hosts),
        "vm": step.vm or "",
        "from": step.source or "",
        "to": step.target or "",
    }
    argv: list[str] = []
    for word in template.words:
        if word == "{hosts}":
            argv.extend(step.hosts)
            continue
        argv.append(PLACEHOLDER.sub(lambda m: values[m.group(1)] if m.group(1) is not None else m.group(0)[0], word))
    return argv
