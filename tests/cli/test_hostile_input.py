"""No input, however strange, makes a command fail with an internal error (exit 1): random
JSON as a plan or a report, random text in every string field of an inventory."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcfg.cli import main

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "incident-2017"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
# Values under the keys a plan and a report really have: deeper into the readers.
PLAN_KEYS = [
    "waves",
    "migrations",
    "maintenance",
    "makespan_s",
    "lower_bound_s",
    "index",
    "hosts",
    "vm",
    "from",
    "to",
    "start_s",
    "end_s",
    "gib",
    "host",
    "decision",
    "change",
    "name",
    "state",
]
shaped = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(PLAN_KEYS), inner, max_size=6),
    max_leaves=30,
)


def run(tmp_path: Path, capsys, argv: list[str]) -> int:
    code = main(argv)
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err, err
    return code


@FUZZ
@given(st.one_of(json_values, shaped))
def test_any_json_as_a_plan_or_a_report_is_exit_0_2_or_3(tmp_path_factory, capsys, value):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "input.json"
    path.write_text(json.dumps(value))
    inventory = str(INCIDENT / "after")
    assert run(tmp, capsys, ["simulate", str(path), "--inventory", inventory]) in (0, 2, 3)
    assert run(tmp, capsys, ["plan", "--from-report", str(path), "--inventory", inventory]) in (0, 2, 3, 6)


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_as_a_plan_is_exit_2(tmp_path_factory, capsys, data):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "input.json"
    path.write_bytes(data)
    assert run(tmp, capsys, ["simulate", str(path), "--inventory", str(INCIDENT / "after")]) in (0, 2, 3)


def test_utf16_deep_and_huge_numbers_are_input_errors(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    huge_time = b'{"migrations": [{"vm": "x", "from": "a", "to": "b", "start_s": 1' + b"0" * 400
    huge_time += b', "end_s": 1, "gib": 1}], "maintenance": []}'
    huge_int = b'{"migrations": [], "maintenance": [], "x": 1' + b"0" * 5000 + b"}"
    utf16 = json.dumps({"migrations": [], "maintenance": []}).encode("utf-16")
    for text in (utf16, b"[" * 100_000 + b"]" * 100_000, huge_time, huge_int):
        plan.write_bytes(text)
        assert run(tmp_path, capsys, ["simulate", str(plan), "--inventory", str(INCIDENT / "after")]) == 2


def test_where_a_json_file_stops_being_usable_is_named(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    for text, expected in (
        (b'{"migrations": [],\n "maintenance": [\xff]}', ":2:18: error: the plan is not UTF-8 JSON (byte 36)"),
        (b'{"migrations":\n [' + b"[" * 150 + b"]" * 151 + b"}", ":2:101: error: the plan nests deeper than 100"),
        (b'{"migrations": [],\n  "x": 1' + b"0" * 5000 + b"}", ":2:8: error: the plan has a number of more than 4,300"),
        (b'{"migrations": [],\n "maintenance": [], "migrations": []}', ":2:21: error: $: the plan names key"),
    ):
        plan.write_bytes(text)
        assert main(["simulate", str(plan), "--inventory", str(INCIDENT / "after")]) == 2
        assert expected in capsys.readouterr().err


TEMPLATE = """\
segments:
  {seg}: {{table: 2, priority: 20, description: {text}}}
networks:
  - {{prefix: {prefix}, segment: {seg}, gateway: {gateway}, description: {text}}}
machines:
  rt1: {{kind: router, interfaces: {{{seg}: {{addresses: [{gateway}]}}}}}}
  {name}:
    kind: {kind}
    memory_gib: 64
    description: {text}
    interfaces:
      {seg}: {{name: {ifname}, addresses: [{address}]}}
  vm1: {{kind: vm, host: {host}, memory_gib: 4, service: {service}, interfaces: {{{seg}: {{addresses: [192.0.2.20]}}}}}}
policy:
  design: {design}
  reconfigure: {reconfigure}
  seatbelt: {{approvers: [{approver}]}}
"""
FIELDS = {
    "seg": "fe",
    "text": "ok",
    "prefix": "192.0.2.0/24",
    "gateway": "192.0.2.1",
    "name": "kvm1",
    "kind": "kvm-host",
    "ifname": "brfe",
    "address": "192.0.2.10",
    "host": "kvm1",
    "service": "web",
    "design": "policy-routing",
    "reconfigure": "live",
    "approver": "alice",
}
texts = st.text(max_size=30) | st.sampled_from(
    ["[bold]x[/]", "</details>", "```", "`x`", "$(rm -rf /)", "a|b", "-x", "..", "a/b", "9" * 300, "é", "\t", "*"]
)


@FUZZ
@given(st.sampled_from(sorted(FIELDS)), texts, st.booleans())
def test_any_text_in_any_inventory_field_is_exit_0_or_2(tmp_path_factory, capsys, field, text, raw):
    tmp = tmp_path_factory.mktemp("fuzz")
    # Quoted as a JSON string (valid YAML, the text arrives as it is) or raw (YAML syntax too).
    value = text if raw else json.dumps(text)
    inventory = tmp / "inv.yaml"
    inventory.write_text(TEMPLATE.format(**{**FIELDS, field: value}), encoding="utf-8")
    assert run(tmp, capsys, ["validate", str(inventory)]) in (0, 2)
    code = run(
        tmp,
        capsys,
        [
            "check",
            "--base",
            str(inventory),
            "--inventory",
            str(inventory),
            "--report-md",
            str(tmp / "s.md"),
            "--report-json",
            str(tmp / "r.json"),
        ],
    )
    assert code in (0, 2)
    assert run(tmp, capsys, ["render", str(inventory), "--out", str(tmp / "out")]) in (0, 2)
