"""The typed, immutable values every stage passes on: the inventory as validated
(inventory.py) and one machine's rendered routing configuration (host.py)."""
