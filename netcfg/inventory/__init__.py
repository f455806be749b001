"""Loading, validating and synthesising inventories."""

from netcfg.inventory.load import load_inventory, load_inventory_texts
from netcfg.inventory.model import Inventory

__all__ = ["Inventory", "load_inventory", "load_inventory_texts"]
