"""Rollout: how long a change takes (estimate), in what order (plan), whether that
order is safe (simulate, independent of the planner), and a picture of it (timeline)."""
