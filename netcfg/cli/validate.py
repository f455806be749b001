"""`netcfg validate`: every problem of an inventory at once, or a one-line summary."""

from __future__ import annotations

from pathlib import Path

from netcfg.cli.app import app
from netcfg.cli.console import out
from netcfg.cli.options import InventoryAlsoOption, InventoryArgument, inventory_path, load


@app.command(rich_help_panel="Inventory")
def validate(inventory: Path | None = InventoryArgument, inventory_option: Path | None = InventoryAlsoOption) -> None:
    """Check an inventory: every problem at once, one per line as
    file:line:col: error: message (hint), exit 2; a valid inventory prints a one-line
    summary and exits 0.

    INVENTORY (or --inventory): a directory of YAML files, merged, or one file;
    default inventory/."""
    from netcfg.inventory.summary import summary

    out.print(summary(load(inventory_path(inventory, inventory_option))), markup=False)
