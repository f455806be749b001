"""One machine's addresses, rules and routes as tables (`netcfg show`)."""

from __future__ import annotations

from rich import box
from rich.table import Table

from netcfg.model.host import HostConfig, table_name


def _table(title: str, columns: tuple[str, ...], right: tuple[str, ...] = ()) -> Table:
    # Light borders and folding rather than "…": an address cut short is worse than a
    # wrapped one, and an 80-column pipe must still show every character.
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        table.add_column(column, overflow="fold", justify="right" if column in right else "left")
    return table


def _fit(table: Table) -> Table:
    """Columns at least as wide as their widest cell, so rich squeezes none of them
    while the table fits (one machine's table always does in 80 columns)."""
    for column in table.columns:
        cells = [str(c) for c in column.cells] + [str(column.header)]
        column.min_width = max(len(c) for c in cells)
    return table


def host_tables(config: HostConfig) -> list[Table]:
    """Addresses, rules and routes of one machine as rich tables."""
    addresses = _table("addresses", ("interface", "segment", "bridge", "address"))
    for iface in config.interfaces:
        if not iface.addresses:
            addresses.add_row(iface.name, iface.segment, "yes" if iface.bridge else "", "")
        for a in iface.addresses:
            addresses.add_row(iface.name, iface.segment, "yes" if iface.bridge else "", a.address)

    rules = _table("rules", ("v", "priority", "from", "to", "table"), ("priority",))
    for rule in config.rules:
        rules.add_row(
            str(rule.family), str(rule.priority), rule.src or "all", rule.dst or "all", table_name(rule.table)
        )

    routes = _table(
        "routes",
        ("v", "table", "destination", "via", "device", "scope", "metric", "proto"),
        ("metric",),
    )
    for r in config.routes:
        routes.add_row(
            str(r.family),
            table_name(r.table),
            "default" if r.is_default else r.dst,
            r.gateway or "",
            r.device or "",
            "" if r.scope == "global" else r.scope,
            "" if r.metric is None else str(r.metric),
            str(r.protocol),
        )
    return [_fit(addresses), _fit(rules), _fit(routes)]
