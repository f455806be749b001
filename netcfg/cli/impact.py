"""`netcfg diff`, `netcfg impact`, `netcfg who-uses` and `netcfg check`: what an inventory
change does to the fleet, and the CI gate that refuses fleet-wide changes unapproved.

BASE and HEAD are inventory directories or git revisions (read from git without
touching the work tree); HEAD defaults to the working tree's inventory directory.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from netcfg.cli.app import app
from netcfg.cli.common import err, out, reader_may_leave
from netcfg.errors import InputError
from netcfg.files import write_atomic
from netcfg.impact.analysis import analyse
from netcfg.present.markdown import summary
from netcfg.impact.report import invalid_report
from netcfg.present.text import diff_json, diff_text
from netcfg.impact.uses import who_uses as find_users
from netcfg.inventory.load import load_inventory
from netcfg.model.inventory import DesignName

BaseArg = typer.Argument(..., help="Base inventory: a directory, or a git revision (e.g. origin/main).")
HeadArg = typer.Argument(
    None, help="Head inventory: a directory or a git revision [default: the working tree's --inventory]."
)
InventoryDirOption = typer.Option(
    "inventory",
    "--inventory",
    help="Inventory directory: the head when HEAD is omitted, and the directory read inside git revisions.",
)
DesignOption = typer.Option(
    None, "--design", help="Render both sides with this design instead of the head inventory's policy."
)


class DiffFormat(str, Enum):
    text = "text"
    json = "json"


class ImpactFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


class UsesFormat(str, Enum):
    table = "table"
    json = "json"


def _emit(text: str) -> None:
    # Data goes to stdout verbatim: rich would reinterpret ":name:" and brackets.
    with reader_may_leave():
        sys.stdout.write(text)
        sys.stdout.flush()


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


@app.command(rich_help_panel="Change impact")
def diff(
    base: str = BaseArg,
    head: str | None = HeadArg,
    inventory: str = InventoryDirOption,
    design: DesignName | None = DesignOption,
    fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", help="Output format: text or json."),
) -> None:
    """Per machine, the rules, routes, addresses and interfaces the change adds (+) and
    removes (-), and machines added or removed: the semantic difference of the rendered
    configurations, never of the YAML text."""
    report = analyse(base, head, design=design, inventory_dir=inventory).report
    _emit(_json(diff_json(report)) if fmt is DiffFormat.json else diff_text(report))


@app.command(rich_help_panel="Change impact")
def impact(
    base: str = BaseArg,
    head: str | None = HeadArg,
    inventory: str = InventoryDirOption,
    design: DesignName | None = DesignOption,
    fmt: ImpactFormat = typer.Option(ImpactFormat.table, "--format", help="Output format: table, json or markdown."),
    limit: int = typer.Option(100, "--limit", min=0, help="Table format: show at most this many machines (0: all)."),
) -> None:
    """Preview a change: machines touched of all, per segment and kind, hot and
    disruptive, VMs to evacuate, the seatbelt's decision and why, then the affected
    machines with the inventory changes that touched them. Exits 0 even when the
    change would be blocked: `netcfg check` is the gate."""
    report = analyse(base, head, design=design, inventory_dir=inventory).report
    if fmt is ImpactFormat.json:
        _emit(_json(report))
    elif fmt is ImpactFormat.markdown:
        _emit(summary(report, title="netcfg impact"))
    else:
        with reader_may_leave():
            _print_table(report, limit)


def _print_table(report: dict[str, Any], limit: int) -> None:
    totals = report["totals"]
    out.print(
        f"{report['hosts_touched']} of {report['hosts_total']} machines touched "
        f"({report['fraction'] * 100:.1f} %) under {report['design']}, reconfigure {report['reconfigure']}: "
        f"{totals['hot']} hot, {totals['disruptive']} disruptive, {totals['evacuate']} VMs to evacuate",
        markup=False,
    )
    out.print(f"decision: {report['decision']}  (digest {report['digest']})", markup=False)
    for reason in report["reasons"]:
        out.print(f"  - {reason}", markup=False)
    for change in report["changes"]:
        out.print(f"  * {change['text']}: {change['touches']} touched", markup=False)
    groups = Table(title="touched / machines", title_justify="left")
    groups.add_column("group")
    groups.add_column("touched", justify="right")
    groups.add_column("machines", justify="right")
    for name, row in report["segments"].items():
        groups.add_row(f"segment {name}", str(row["touched"]), str(row["machines"]))
    for name, row in report["kinds"].items():
        groups.add_row(f"kind {name}", str(row["touched"]), str(row["machines"]))
    out.print(groups)
    hosts = report["hosts"]
    if not hosts:
        return
    shown = hosts if limit == 0 else hosts[:limit]
    table = Table(title="affected machines (most important first)", title_justify="left")
    for column in ("machine", "kind", "change", "segments", "+", "-"):
        table.add_column(column, no_wrap=True)
    for column in ("evacuate", "causes"):
        table.add_column(column, overflow="fold")
    for h in shown:
        table.add_row(
            h["name"],
            h["kind"],
            h["change"] + ("" if h["state"] == "changed" else f" ({h['state']})"),
            ",".join(h["segments"]),
            str(len(h["added"])),
            str(len(h["removed"])),
            ", ".join(h["evacuate"]),
            h["causes"][0] + (f" (+{len(h['causes']) - 1} more)" if len(h["causes"]) > 1 else ""),
        )
    out.print(table)
    if len(shown) < len(hosts):
        out.print(f"... and {len(hosts) - len(shown)} more (--limit 0 shows all)", markup=False)


@app.command(name="who-uses", rich_help_panel="Change impact")
def who_uses(
    query: str = typer.Argument(..., help="A prefix (198.51.100.64/27), an address (203.0.113.10) or a segment name (fe)."),
    inventory: Path = typer.Option(Path("inventory"), "--inventory", help="Inventory directory or file."),
    design: DesignName | None = typer.Option(
        None, "--design", help="Answer for this design instead of the inventory's policy."
    ),
    fmt: UsesFormat = typer.Option(UsesFormat.table, "--format", help="Output format: table or json."),
) -> None:
    """Which machines use a prefix, an address or a segment, and why: machines holding an
    address in it, and (policy-routing) every machine whose rules and routes list it.
    Answers "what does changing this touch?" before changing it."""
    inv = load_inventory(inventory)
    try:
        rows = find_users(inv, query, design)
    except ValueError as error:
        raise InputError(str(error)) from None
    if fmt is UsesFormat.json:
        _emit(_json({"query": query, "machines": len({r["machine"] for r in rows}), "uses": rows}))
        return
    if not rows:
        err.print(f"no machine uses {query}", markup=False)
        return
    count = len({r["machine"] for r in rows})
    table = Table(title=f"who uses {query}: {count} machine{'s' if count != 1 else ''}", title_justify="left")
    for column in ("machine", "kind", "segment", "why"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["machine"], r["kind"], r["segment"], r["why"])
    with reader_may_leave():
        out.print(table)


@app.command(rich_help_panel="Change impact")
def check(
    base: str = typer.Option(..., "--base", help="Base to compare against: a git revision (origin/main) or a directory."),
    inventory: str = typer.Option(
        "inventory",
        "--inventory",
        help="The head: this inventory directory in the working tree; also the directory read inside --base.",
    ),
    report_json: Path | None = typer.Option(None, "--report-json", help="Write the JSON report to this file."),
    report_md: Path | None = typer.Option(
        None, "--report-md", help="Write the Markdown summary to this file (default: print it to stdout)."
    ),
    design: DesignName | None = DesignOption,
) -> None:
    """The CI gate for inventory pull requests: analyse the change from --base to the
    working tree's inventory, write a Markdown summary (for a PR comment) and a JSON
    report. Exit 0 pass or stagger, 3 blocked by the seatbelt (until an approvals/*.yaml
    names the change's digest), 2 invalid inventory (its errors in the summary)."""
    try:
        report = analyse(base, None, design=design, inventory_dir=inventory).report
        code = 3 if report["decision"] == "block" else 0
    except InputError as error:
        report = invalid_report(error.problems)
        for problem in error.problems:
            err.print(str(problem), markup=False)
        code = 2
    markdown = summary(report)
    if report_json is not None:
        write_atomic(report_json, _json(report))
    if report_md is not None:
        write_atomic(report_md, markdown)
    else:
        _emit(markdown)
    err.print(f"netcfg check: {report['decision']} (exit {code})", markup=False)
    raise typer.Exit(code)
