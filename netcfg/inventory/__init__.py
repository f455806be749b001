"""The inventory: reading it from YAML (load.py) with every
problem at file:line:col, the semantic checks (checks.py), where it comes from (a
directory or a git revision: sources.py), the approvals stored beside it, and synth."""
