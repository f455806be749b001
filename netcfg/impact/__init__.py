"""Change impact: semantic diff, dependency graph and causes, seatbelt, reports.

`netcfg.impact.api.analyse` is the one entry point the CLI and the rollout planner use.
"""
