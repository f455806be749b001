"""Instructions a fresh `netcfg apply --from FILE` executes, beside `ip -batch` and,
with --against REV, beside the same apply at another git revision.

Wall times on a shared machine drift by up to 2x over a day; valgrind's instruction
count (user space only, bytecode cached, PYTHONHASHSEED=0) repeats to the last digit,
so it tells whether a change to the apply path made it cheaper. The kernel's work,
which is most of `ip -batch`'s time, is not counted on either side.

    python benchmarks/apply_instructions.py [--pairs 1000] [--against REV]

Needs root (a network namespace), iproute2, valgrind and, for --against, git. Writes
only under a temporary directory and removes it, its worktree and its namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.bench_apply import Namespace, _batch, _config

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = "import netcfg.cli.applying, netcfg.kernel.apply, netcfg.kernel.settled, netcfg.model.host_file"


def instructions(argv: list[str], env: dict[str, str], cwd: Path) -> int:
    """User-space instructions `argv` executes (valgrind, no cache simulation)."""
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise SystemExit(f"apply_instructions: {' '.join(argv[:4])} ... failed: {tail}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1000, help="rule+route pairs (default 1000)")
    parser.add_argument("--against", metavar="REV", help="also count the apply of this git revision")
    args = parser.parse_args()
    tools = ["ip", "valgrind", *(["git"] if args.against else [])]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if os.geteuid() != 0 or missing:
        print(f"apply_instructions: needs root and {', '.join(missing) or 'a namespace'}", file=sys.stderr)
        return 2
    ns = Namespace()
    with tempfile.TemporaryDirectory(prefix="netcfg-apply-instructions-") as tmp_dir:
        tmp = Path(tmp_dir)
        config, batch = tmp / "config.json", tmp / "config.batch"
        config.write_text(json.dumps(_config(args.pairs).to_dict()))
        batch.write_text(_batch(args.pairs))
        sides = {"this tree": ROOT}
        if args.against:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tmp / "rev"), args.against],
                check=True,
            )
            sides[args.against] = tmp / "rev"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env |= {"PYTHONHASHSEED": "0", "NETCFG_RUN_DIR": str(tmp / "run")}
        rows = []
        try:
            for name, tree in sides.items():
                # Run from the temporary directory: `python -m` and `-c` put the working
                # directory first on the path, ahead of PYTHONPATH.
                side = env | {"PYTHONPATH": str(tree)}
                apply = [sys.executable, "-m", "netcfg", "--quiet", "apply", "--from", str(config), "--netns", ns.name]
                for counted in (False, True):  # the first run writes the bytecode
                    ns.fresh()
                    if counted:
                        rows.append((f"netcfg apply ({name})", instructions(apply, side, tmp)))
                    else:
                        subprocess.run(apply, env=side, cwd=tmp, check=True, capture_output=True)
                imports = instructions([sys.executable, "-c", IMPORTS], side, tmp)
                rows.append((f"  of which starting and importing ({name})", imports))
            ns.fresh()
            rows.append(("ip -batch", instructions(["ip", "-n", ns.name, "-batch", str(batch)], env, tmp)))
        finally:
            ns.remove()
            if args.against:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "rev")], check=False)
    print(f"{args.pairs:,} rule+route pairs into a fresh namespace (million user-space instructions):")
    for name, count in rows:
        print(f"  {name:<48} {count / 1e6:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
