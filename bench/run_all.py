"""Run every operator benchmark (issue 9's and the log view's), one after another (never two heavy ones at once).

Each script runs with the project's own virtual environment (`.venv` at the repository's top, made by
the README's install command), whichever Python started this one.

    python3 bench/run_all.py                     # quick: small sizes, short windows (~10 min)
    python3 bench/run_all.py --full              # issue 9's sizes and durations (~30+ min)
    add --write to put the figures into bench/RESULTS.md (section "Operator benchmarks (issue 9)")

Each script also runs alone; see bench/README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT_PYTHON = BENCH.parent / ".venv" / "bin" / "python"

QUICK = [
    ["startup.py", "--runs", "3"],
    ["initial_sync.py", "--runs", "2"],
    ["freshness.py", "--changes", "40"],
    ["churn.py", "--duration", "20", "--presses", "20"],
    ["ssh_cost.py", "--idle", "30", "--churn", "20", "--demo"],
    ["action_roundtrip.py", "--runs", "3"],
    ["logs.py", "--rate", "2000", "--presses", "30"],
    ["swarm_churn.py", "--services", "200", "--replicas", "5", "--duration", "20", "--presses", "20",
     "--changes", "20"],
]
FULL = [
    ["startup.py", "--runs", "5"],
    ["initial_sync.py", "--runs", "2", "--full"],
    ["freshness.py", "--changes", "100"],
    ["churn.py", "--duration", "60", "--presses", "40"],
    ["ssh_cost.py", "--idle", "60", "--churn", "60", "--demo"],
    ["action_roundtrip.py", "--runs", "5"],
    ["logs.py", "--rate", "2000", "--presses", "60"],
    ["swarm_churn.py", "--services", "2000", "--replicas", "5", "--duration", "60", "--presses", "40",
     "--changes", "40"],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    args = parser.parse_args()
    if not PROJECT_PYTHON.exists():
        print(f"no project environment at {PROJECT_PYTHON.parent.parent}: create it first with\n"
              "  python3 -m venv .venv && .venv/bin/pip install -e '.[test]'", file=sys.stderr)
        return 2
    failed = []
    for argv in FULL if args.full else QUICK:
        if args.only and argv[0] not in args.only and argv[0].removesuffix(".py") not in args.only:
            continue
        cmd = [str(PROJECT_PYTHON), str(BENCH / argv[0]), *argv[1:], *(["--write"] if args.write else [])]
        print(f"\n=== {' '.join(cmd)}", flush=True)
        t = time.monotonic()
        code = subprocess.call(cmd)
        print(f"=== {argv[0]}: exit {code} after {time.monotonic() - t:.0f} s", flush=True)
        if code:
            failed.append(argv[0])
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
