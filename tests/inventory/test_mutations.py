"""Mutated valid inventories: loading raises nothing but InputError, the CLI exits 0 or 2."""

from __future__ import annotations

import copy
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from netcfg.cli import main
from netcfg.designs import render
from netcfg.errors import InputError
from netcfg.inventory.load import load_inventory_texts
from netcfg.model.host import DesignName
from tests.inventory.test_validate import BASE

_yaml = YAML(typ="safe", pure=True)
VALID = _yaml.load(BASE)
VALID["policy"] = {
    "design": "policy-routing",
    "reconfigure": "live",
    "seatbelt": {"max_fraction": 0.25, "max_hosts": 50, "stagger_above": 5},
    "rollout": {"max_parallel_evacuations": 2, "reconfigure_s": 60},
}

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(0, 300), max_size=3),
    st.dictionaries(st.sampled_from(["kind", "x", "prefix", "addresses"]), st.integers(), max_size=2),
    st.sampled_from(
        [
            "10.20.1.10",
            "203.0.113.0/26",
            "2001:db8:20::/64",
            "::",
            "256.1.1.1",
            "10.20.0.0/33",
            "kvm01",
            "vm",
            "flat",
            "1e400",
            "0x10",
            "-1",
        ]
    ),
)


def paths(node, prefix=()):
    """Every (container path, key) in a nested structure of dicts and lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix, key
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield prefix, index
            yield from paths(value, prefix + (index,))


def container(data, path):
    for step in path:
        data = data[step]
    return data


def corrupt_text(text: str, draw) -> str:
    position = draw(st.integers(0, len(text)))
    insert = draw(st.sampled_from(["", "0", "9", ":", "/", ".", "/40", "x", " ", "::"]))
    cut = draw(st.integers(0, 3))
    return text[:position] + insert + text[position + cut :]


@st.composite
def mutated_inventories(draw):
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        places = list(paths(data))
        if not places:
            break
        path, key = draw(st.sampled_from(places))
        parent = container(data, path)
        operation = draw(st.sampled_from(["drop", "retype", "corrupt", "duplicate"]))
        if operation == "drop":
            del parent[key]
        elif operation == "retype":
            parent[key] = draw(ODD_VALUES)
        elif operation == "corrupt" and isinstance(parent[key], str):
            parent[key] = corrupt_text(parent[key], draw)
        elif operation == "duplicate":
            if isinstance(parent, list):
                parent.append(copy.deepcopy(parent[key]))
            elif isinstance(parent, dict):
                parent[f"{key}-copy"] = copy.deepcopy(parent[key])
    stream = io.StringIO()
    _yaml.dump(data, stream)
    return stream.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_inventories())
def test_mutated_inventory_loads_or_raises_input_error(text):
    try:
        inventory = load_inventory_texts({"inv.yaml": text})
    except InputError as error:
        assert error.problems, "an InputError always names at least one problem"
        for problem in error.problems:
            assert problem.location.file == "inv.yaml"
            assert problem.location.line >= 1, str(problem)
    else:
        # Whatever validates must render under both designs.
        for design in DesignName:
            assert set(render(inventory, design)) == set(inventory.machines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated_inventories())
def test_cli_exits_only_0_or_2_on_mutated_inventories(tmp_path, capsys, text):
    (tmp_path / "inv.yaml").write_text(text)
    code = main(["validate", str(tmp_path)])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err


@given(st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_arbitrary_bytes_never_crash_the_loader(raw):
    text = raw.decode("utf-8", errors="replace")
    try:
        load_inventory_texts({"junk.yaml": text})
    except InputError:
        pass
