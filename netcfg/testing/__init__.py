"""Helpers for tests and benchmarks only, never used by netcfg itself: synthetic
hypervisor fleets, reading rendered files back into the model, comparing configs."""
