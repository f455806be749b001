"""A problem a JSON reader names by path gets the line and column of that value."""

from __future__ import annotations

import json

from netcfg.json_positions import located
from netcfg.problems import Location, Problem

TEXT = """{
  "name": "web1",
  "rules": [
    {"table": 3, "src": null},
    {"table": true,
     "src": "10.0.0.1/8"}
  ],
  "kind": "first", "kind": "second"
}
"""


def where(message: str, text: str = TEXT) -> str:
    (problem,) = located([Problem(Location("m.json"), message)], text, "m.json")
    return str(problem.location)


def test_each_path_is_found_where_its_value_starts():
    assert where("$.name: expected a machine name") == "m.json:2:11"
    assert where("$.rules[1]: missing key 'dst'") == "m.json:5:5"
    assert where("$.rules[1].table: expected an integer, found bool") == "m.json:5:15"
    assert where("$.rules[1].src: has host bits set") == "m.json:6:13"
    assert where("$: not an object") == "m.json:1:1"
    # json keeps the last of a key named twice: so is it found.
    assert where("$.kind: unknown") == "m.json:8:28"
    # Paths without `$` (a plan's `migrations[3]`), and after a prefix of words.
    plan = '{"waves": [],\n "migrations": [{"id": "a"},\n  {"id": 42}]}'
    assert where("not a plan file: migrations[1] has no id", plan) == "m.json:3:3"


def test_what_names_no_value_of_the_text_is_left_as_it_was():
    for message in (
        "not a plan file: waves is not a list",  # a bare word names no place
        "$.rules[7].table: out of range",  # no such entry
        "$.name.first: not an object",  # a string has no keys
        "$.rules.table: not a list index",
        "value 'rules[1]' is quoted: the user's text, not a path",
        # A user's value unquoted, inside a message that names no path of its own.
        "the report is of another inventory: it records inventory digest $ x, see rules[1]",
        "the dependencies form a cycle: 2 steps can never start (among them a, rules[1])",
    ):
        assert where(message) == "m.json", message
    problem = Problem(Location("m.json"), "$.name: bad")
    assert located([problem], TEXT, "x.json") == [problem]  # about another file
    lined = Problem(Location("m.json", 9, 9), "$.name: bad")
    assert located([lined], TEXT, "m.json") == [lined]  # a line already known


def test_a_text_cut_short_locates_what_comes_before_the_cut():
    cut = TEXT[: TEXT.index('"src": "10')]
    assert where("$.rules[0].table: bad", cut) == "m.json:4:15"
    assert where("$.rules[1].src: bad", cut) == "m.json"


def test_thousands_of_bad_entries_each_get_their_own_line():
    entries = [{"table": "x"} for _ in range(5000)]
    text = json.dumps({"rules": entries}, indent=1)
    problems = [Problem(Location("m.json"), f"$.rules[{n}].table: expected an integer") for n in range(5000)]
    lines = [p.location.line for p in located(problems, text, "m.json")]
    assert lines == [4 + 3 * n for n in range(5000)]
