"""Time ``nb2prod check`` (whole process) against what a hand-written checker pays first.

``nb2prod check`` runs from the JupyterLab panel and from pre-commit on every save, so
the whole process counts: interpreter start, imports, reading and analysing the
notebook. The strongest alternative an engineer would hand-write reads the notebook
with nbformat (``nbformat.read`` plus ``nbformat.validate``) and stops there: its
cost is the floor of any check built on nbformat. The two take turns run by run
(after one warm-up each), so drift in machine load hits both alike.

Usage::

    python bench/run_check.py --runs 5 [--notebook examples/wine_classifier.ipynb]

Prints a markdown table: median, min and max seconds, and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBFORMAT_READ = "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))"


def _time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--notebook", default="examples/wine_classifier.ipynb")
    args = parser.parse_args()
    tools = {
        "nb2prod check (whole process)": [sys.executable, "-m", "nb2prod", "check", args.notebook],
        "nbformat read + validate (floor)": [sys.executable, "-c", NBFORMAT_READ, args.notebook],
    }
    for command in tools.values():  # warm-up: file cache, .pyc files
        _time(command)
    times: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(args.runs):
        for name, command in tools.items():
            times[name].append(_time(command))
    floor = statistics.median(times["nbformat read + validate (floor)"])
    print(f"notebook: {args.notebook}, {args.runs} runs each, Python {sys.version.split()[0]}\n")
    print("| tool | median s | min s | max s | ratio to floor |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.3f} | {min(values):.3f} | {max(values):.3f} "
            f"| {median / floor:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
