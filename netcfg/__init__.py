"""netcfg: per-machine routing configuration from a network inventory, with blast-radius control."""

__version__ = "0.2.0"
