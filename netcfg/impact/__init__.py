"""Change impact: the inventory diff, the dependency graph and causes, the semantic diff
of rendered configs, hot/disruptive classification, the seatbelt, and the typed Impact
(model.py). `analysis.analyse` is the one entry point."""
