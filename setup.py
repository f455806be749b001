"""Only here to add the top-level templates/ to the wheel as the netcfg.templates package,
which a pyproject-only find cannot express; all metadata lives in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["netcfg", "netcfg.*"]) + ["netcfg.templates"])
