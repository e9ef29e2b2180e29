"""Batch scoring throughput: `<name>-predict`, the Ray job and plain pandas, side by side.

Converts and trains an example (default wine_classifier), resamples its features to
`--rows` rows (seed 0) as Parquet, then times whole processes (model load included):

- `predict`: `<name>-predict --input rows.parquet --output out.parquet`;
- `ray`: `scripts/batch_ray.py` on a local Ray (`--num-cpus`, one actor);
- `pandas`: the strongest hand-written alternative, read the whole file, `model.predict`
  on all rows at once with the trained model from the same store, write the output.

Prints a Markdown table of medians over `--runs` runs, rows/s and peak RSS (wait4).

    python bench/batch/bench_batch.py --runs 3 [--example diabetes_regression] [--no-ray]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PANDAS = """
import sys, bentoml, pandas as pd
from {package}.model_store import MODEL_NAME, load_model
from {package}.schema import COLUMNS
model = load_model(bentoml.models.get(MODEL_NAME + ":latest"), runtime="trained")
rows = pd.read_parquet(sys.argv[1])
pd.DataFrame({{"predictions": model.predict(rows[COLUMNS])}}).to_parquet(sys.argv[2])
"""
ROWS = """
import sys, pandas as pd
from {package}.config import Config
from {package}.pipeline import load_data, preprocess
c = Config()
X_train, X_test, *_ = preprocess(load_data(), test_size=c.test_size, random_state=c.random_state)
features = pd.concat([X_train, X_test], ignore_index=True)
rows = features.sample(n=int(sys.argv[1]), replace=True, random_state=0).reset_index(drop=True)
rows.to_parquet(sys.argv[2], index=False)
"""


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one whole process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)  # fmt: skip
    stderr = child.stderr.read() if child.stderr else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--example", default="wine_classifier")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    package = args.example
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    out = work / "out"
    env = {**os.environ, "BENTOML_HOME": str(work / "bentoml"), "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([str(out / "src"), *sys.path])}  # fmt: skip
    python = sys.executable
    subprocess.run([python, "-m", "nb2prod", "convert", str(ROOT / "examples" / f"{package}.ipynb"),
                    "-o", str(out)], check=True, env=env, capture_output=True)  # fmt: skip
    subprocess.run([python, "-m", f"{package}.train", "--output-dir", "artifacts"], cwd=out,
                   env=env, check=True, capture_output=True)  # fmt: skip
    source = work / "rows.parquet"
    subprocess.run([python, "-c", ROWS.format(package=package), str(args.rows), str(source)],
                   env=env, check=True)  # fmt: skip
    commands = {
        "pandas, whole file": lambda o: [
            python,
            "-c",
            PANDAS.format(package=package),
            str(source),
            str(o),
        ],
        f"{package.replace('_', '-')}-predict": lambda o: [
            python,
            "-m",
            f"{package}.predict_batch",
            "--input",
            str(source),
            "--output",
            str(o),
        ],
    }
    if not args.no_ray:
        commands["scripts/batch_ray.py"] = lambda o: [
            python, "scripts/batch_ray.py", "--input", str(source), "--output", str(o),
            "--num-cpus", str(args.num_cpus), "--concurrency", "1"]  # fmt: skip
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for run in range(args.runs):  # interleaved, so load on the machine hits all alike
        for name, command in commands.items():
            output = work / f"{run}-{len(results[name])}-{abs(hash(name))}.parquet"
            results[name].append(timed(command(output), env, out))
    print(f"| {args.example}, {args.rows:,} rows | median s | rows/s | peak RSS MB |")
    print("| --- | ---: | ---: | ---: |")
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        rss = max(r for _, r in runs)
        print(f"| {name} | {seconds:.1f} | {args.rows / seconds:,.0f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
