"""What each install choice costs: disk, packages and time of `pip install` into a fresh venv.

The core/extras split in pyproject.toml is a trade between what works after a
plain `pip install nb2prod` and what it weighs. This measures each choice from
the wheel built from this tree, with pip's cache warm (downloads are not timed:
the numbers are the install itself, as on a CI runner with a cache).

    python bench/install_cost.py --markdown docs/install.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHOICES = {
    "nb2prod (core)": "",
    "nb2prod[serve]": "[serve]",
    "nb2prod[onnx]": "[onnx]",
    "nb2prod[image]": "[image]",
    "nb2prod[lab]": "[lab]",
    "nb2prod[all]": "[all]",
}
# The core without the regression check, to price papermill and the kernel.
WITHOUT_VERIFY = ["nbformat>=5.9", "nbconvert>=7", "ipython>=8.0", "jinja2>=3.1", "ruff>=0.6"]


def build_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), str(ROOT)],
        check=True,
    )
    return next(folder.glob("nb2prod-*.whl"))


def folder_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return total / 1e6


def measure(requirements: list[str], scratch: Path) -> tuple[float, float, int]:
    """Seconds to install, MB added and distributions added, over an empty venv."""
    env = scratch / "venv"
    venv.create(env, with_pip=True, clear=True)
    python = env / "bin" / "python"
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    )
    before_mb, before_n = folder_mb(env), len(listed.stdout.split())
    start = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        check=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    seconds = time.perf_counter() - start
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    )
    return seconds, folder_mb(env) - before_mb, len(listed.stdout.split()) - before_n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--markdown", type=Path, help="replace the table in this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nb2prod-install-") as folder:
        scratch = Path(folder)
        wheel = build_wheel(scratch / "dist")
        rows = [("core without papermill/ipykernel (not offered)", WITHOUT_VERIFY)]
        rows += [(name, [f"{wheel}{extra}"]) for name, extra in CHOICES.items()]
        lines = [
            "| install | added MB | distributions | seconds (median) |",
            "|---|---:|---:|---:|",
        ]
        for name, requirements in rows:
            runs = [measure(requirements, scratch) for _ in range(args.runs)]
            seconds = statistics.median(r[0] for r in runs)
            _, size, count = runs[-1]
            lines.append(f"| {name} | {size:.0f} | {count} | {seconds:.1f} |")
            print(lines[-1], flush=True)
    if args.markdown:
        text = args.markdown.read_text()
        start, end = "<!-- install-cost:start -->", "<!-- install-cost:end -->"
        head, rest = text.split(start)
        _, tail = rest.split(end)
        args.markdown.write_text(f"{head}{start}\n" + "\n".join(lines) + f"\n{end}{tail}")


if __name__ == "__main__":
    main()
