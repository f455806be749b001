"""Reports written as JSON: the same data back, one line per top-level key and list item."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from netcfg.files import report_json

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=5), values, max_size=6))
def test_a_report_reads_back_as_the_same_data(data):
    assert json.loads(report_json(data)) == data


def test_each_machine_of_a_report_is_one_line():
    hosts = [{"name": f"web{n:02}", "added": ["rule from 10.0.0.0/24 lookup 3"]} for n in range(3)]
    lines = report_json({"decision": "pass", "hosts": hosts, "reasons": []}).splitlines()
    assert lines[1] == '  "decision": "pass",'
    assert [line.strip().rstrip(",") for line in lines[3:6]] == [json.dumps(h) for h in hosts]
    assert lines[-2] == '  "reasons": []'


def test_contained_paths_are_spelled_as_pathlib_spells_them(tmp_path, monkeypatch):
    from pathlib import Path

    from netcfg.files import contained, contained_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "json").mkdir()
    for root in (".", str(tmp_path), "out"):
        for relative in ("json/web01.json", "json//web01.json", "./json/web01.json"):
            checked: set[str] = set()
            path = contained_path(root, relative, checked)
            assert path == str(Path(root) / relative)
            assert checked == {str((Path(root) / relative).parent)}
            assert contained(Path(root), relative) == Path(root) / relative
