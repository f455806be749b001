"""Rollout: how long a migration takes (estimate), hot waves (waves), evacuations that
keep the capacity invariant (evacuation), what no schedule can beat (bounds), the plan
(plan), a replay that checks it with code of its own (simulate), and the whole path
from a change to a checked plan (pipeline)."""
