"""Argv templates: split like a shell, filled in per word, never through a shell."""

from __future__ import annotations

import pytest

from netcfg.errors import InputError
from netcfg.execute.driver import Step, StepKind
from netcfg.execute.template import expand, parse_template

WAVE = Step("hot-1", StepKind.HOT, (), ("web01", "web02", "db01"))
MOVE = Step("migrate-3", StepKind.MIGRATION, (), ("kvm01", "kvm02"), vm="vm7", source="kvm01", target="kvm02")
WINDOW = Step("maint-kvm01", StepKind.MAINTENANCE, (), ("kvm01",))


def test_each_kind_fills_its_placeholders_per_word():
    # The program must exist (checked up front): `env` stands in for ssh and Ansible.
    t = parse_template(StepKind.MIGRATION, "env {from} 'virsh migrate --live {vm} qemu+ssh://{to}/system' --tag={id}")
    assert expand(t, MOVE) == [["env", "kvm01", "virsh migrate --live vm7 qemu+ssh://kvm02/system", "--tag=migrate-3"]]
    t = parse_template(StepKind.MAINTENANCE, "env -l {host} site.yml")
    assert expand(t, WINDOW) == [["env", "-l", "kvm01", "site.yml"]]


def test_hosts_alone_is_one_argument_per_host_inside_a_word_comma_joined():
    t = parse_template(StepKind.HOT, "env --limit={hosts} site.yml -e {hosts}")
    assert expand(t, WAVE) == [["env", "--limit=web01,web02,db01", "site.yml", "-e", "web01", "web02", "db01"]]
    t = parse_template(StepKind.HOT, "echo {hosts}")
    assert expand(t, WAVE) == [["echo", "web01", "web02", "db01"]]


def test_host_in_a_hot_template_runs_once_per_host():
    t = parse_template(StepKind.HOT, "env {host} netcfg apply {host} --netns main")
    assert t.per_host
    assert expand(t, WAVE) == [["env", h, "netcfg", "apply", h, "--netns", "main"] for h in WAVE.hosts]


def test_data_never_adds_or_splits_arguments():
    odd = Step("a b; touch /tmp/x", StepKind.MIGRATION, (), ("h1", "h2"), vm="$(reboot) 'q'", source="h1", target="h2")
    t = parse_template(StepKind.MIGRATION, "echo {id} {vm}")
    assert expand(t, odd) == [["echo", "a b; touch /tmp/x", "$(reboot) 'q'"]]


def test_literal_braces():
    t = parse_template(StepKind.MAINTENANCE, "echo {{host}} {{{host}}} }}")
    assert expand(t, WINDOW) == [["echo", "{host}", "{kvm01}", "}"]]


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (StepKind.MAINTENANCE, "echo {vm}", "no placeholder '{vm}' for a maintenance step"),
        (StepKind.HOT, "echo {from}", "no placeholder '{from}' for a hot step"),
        (StepKind.MIGRATION, "echo {hostname}", "no placeholder '{hostname}'"),
        (StepKind.MAINTENANCE, "echo {host-name}", "no placeholder '{host-name}'"),
        (StepKind.MAINTENANCE, "echo {1} {}", "no placeholder '{1}'"),
        (StepKind.MAINTENANCE, "echo {}", "no placeholder '{}'"),
        (StepKind.MAINTENANCE, "echo {host", "a lone brace in '{host'"),
        (StepKind.MAINTENANCE, "awk }", "a lone brace in '}'"),
        (StepKind.HOT, "echo 'unclosed", "cannot split the template"),
        (StepKind.HOT, "  ", "the template is empty"),
        (StepKind.HOT, "no-such-program-netcfg {hosts}", "program 'no-such-program-netcfg' not found"),
    ],
)
def test_bad_templates(kind, text, message):
    with pytest.raises(InputError) as caught:
        parse_template(kind, text)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"--run {kind.value}: error:")
