"""Change impact: semantic diff, dependency graph and causes, seatbelt, reports.

`netcfg.impact.analysis.analyse` is the one entry point the CLI and the rollout planner use.
"""
