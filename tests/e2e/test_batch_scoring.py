"""Batch scoring of a generated project, run as users run it.

The wine example is converted and trained; 100,000 rows resampled from its own data
(seed 0, the request's columns: raw rows, which the service derives its features from)
are scored by `<name>-predict` in a child process whose peak RSS is read from `wait4`; a
sample of them is sent to the real `bentoml serve`, and the answers must be the batch's;
`scripts/batch_ray.py` on a local Ray must give the batch's predictions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb2prod.commands.verify import service_tolerance
from tests.conftest import EXAMPLES, Early, bentoml_server, generated_env, prepares

PACKAGE, PROJECT = "wine_classifier", "wine-classifier"
ROWS = 100_000
RAY_ROWS = 20_000
"""Fewer rows for Ray: starting it takes most of its time here, rows hardly count."""
SERVICE_SAMPLE = 200
OVER_FLOOR_MB = 120
"""Peak RSS allowed above the floor (interpreter, pandas, the model and ONNX Runtime,
measured by scoring one row): measured 24 MB (CSV) to 62 MB (Parquet) for 10,000-row
chunks of 14 float columns; a run holding the whole file would exceed it."""


@prepares("project")
def _convert_and_train(early: Early, root: Path) -> Path:
    """wine_classifier converted and trained, in the background from the session's start
    (tests/conftest.py, Early)."""
    early.convert(EXAMPLES / "wine_classifier.ipynb", root / "out")
    early.train(root / "out", PACKAGE, "artifacts", root / "bentoml")
    return root


@pytest.fixture(scope="module")
def project(early: Early) -> tuple[Path, dict[str, str]]:
    root = early.result(__name__, "project")
    env = generated_env(root / "out", root / "bentoml")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return root / "out", env


@pytest.fixture(scope="module")
def rows(project: tuple[Path, dict[str, str]]) -> Path:
    """The example's rows (the request's columns) resampled to ROWS rows (seed 0), as CSV
    and Parquet."""
    out, env = project
    script = (
        "import sys, pandas as pd\n"
        f"from {PACKAGE}.config import Config\n"
        f"from {PACKAGE}.pipeline import load_data, preprocess\n"
        f"from {PACKAGE}.schema import COLUMNS\n"
        "c = Config()\n"
        "X_train, X_test, *_ = preprocess(load_data(), test_size=c.test_size,"
        " random_state=c.random_state)\n"
        "features = pd.concat([X_train, X_test], ignore_index=True)[COLUMNS]\n"
        "rows = features.sample(n=int(sys.argv[1]), replace=True, random_state=0)\n"
        "rows = rows.reset_index(drop=True)\n"
        "rows.to_csv(sys.argv[2] + '.csv', index=False)\n"
        "rows.to_parquet(sys.argv[2] + '.parquet', index=False)\n"
    )
    stem = out.parent / "rows"
    made = subprocess.run(
        [sys.executable, "-c", script, str(ROWS), str(stem)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return stem


def predict_batch(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    """Run `<name>-predict ARGS`; its exit status, stderr and peak RSS in MB."""
    command = [sys.executable, "-m", f"{PACKAGE}.predict_batch", *args]
    with open(os.devnull, "wb") as quiet:
        child = subprocess.Popen(command, env=env, stdout=quiet, stderr=subprocess.PIPE)
    stderr = child.stderr.read().decode() if child.stderr else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, stderr, usage.ru_maxrss / 1024


def test_batch_scoring_stays_in_bounded_memory_and_answers_as_the_service(
    project: tuple[Path, dict[str, str]], rows: Path
) -> None:
    out, env = project
    one_row = out.parent / "one.csv"
    pd.read_csv(f"{rows}.csv", nrows=1).to_csv(one_row, index=False)
    status, stderr, floor = predict_batch(
        env, "--input", str(one_row), "--output", str(out.parent / "one.out.csv")
    )
    assert status == 0, stderr

    results = {}
    for suffix in ("csv", "parquet"):
        output = out.parent / f"predicted.{suffix}"
        status, stderr, peak = predict_batch(
            env, "--input", f"{rows}.{suffix}", "--output", str(output)
        )
        assert status == 0, stderr
        assert f"wrote {ROWS:,} predictions to {output}" in stderr
        assert peak - floor < OVER_FLOOR_MB, (suffix, peak, floor)
        results[suffix] = pd.read_csv(output) if suffix == "csv" else pd.read_parquet(output)
    csv, parquet = results["csv"], results["parquet"]
    assert list(csv.columns) == ["row", "predictions"]
    assert csv["row"].tolist() == list(range(ROWS))
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)

    sample = np.random.default_rng(0).choice(ROWS, SERVICE_SAMPLE, replace=False)
    inputs = pd.read_parquet(f"{rows}.parquet").iloc[sample]
    answers = ask_service(out, env, inputs.to_dict("records"))
    metadata = json.loads((out / "artifacts" / "model.json").read_text())
    rtol, atol, _ = service_tolerance(metadata)
    for answer, (_, batch_row) in zip(answers, csv.iloc[sample].iterrows(), strict=True):
        for name, value in answer.items():
            if isinstance(value, float):
                assert np.isclose(batch_row[name], value, rtol=rtol, atol=atol)
            else:
                assert batch_row[name] == value, (batch_row["row"], name)


def ask_service(out: Path, env: dict[str, str], records: list[dict[str, Any]]) -> Any:
    """The real service's answers for `records`, from `/predict_batch`."""
    import httpx

    bentoml = Path(sys.executable).parent / "bentoml"
    with bentoml_server(bentoml, "service:WineClassifierService", out, env) as url:
        answered = httpx.post(f"{url}/predict_batch", json=records, timeout=60)
    assert answered.status_code == 200, answered.text
    return answered.json()


@pytest.mark.slow  # starting Ray took 35-150 s on the shared 2-core machine
def test_ray_job_gives_the_local_batch_predictions(
    project: tuple[Path, dict[str, str]], rows: Path
) -> None:
    out, env = project
    source = out.parent / "ray_rows.parquet"
    pd.read_parquet(f"{rows}.parquet").head(RAY_ROWS).to_parquet(source, index=False)
    local = out.parent / "ray_local.parquet"
    status, stderr, _ = predict_batch(env, "--input", str(source), "--output", str(local))
    assert status == 0, stderr

    output = out.parent / "ray_predicted.parquet"
    started = time.monotonic()
    job = subprocess.run(
        [sys.executable, "scripts/batch_ray.py", "--input", str(source),
         "--output", str(output), "--num-cpus", "2", "--concurrency", "1"],
        cwd=out, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    files = sorted(output.glob("*.parquet"))
    by_ray = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    pd.testing.assert_frame_equal(by_ray, pd.read_parquet(local), check_dtype=False)
    print(f"ray job: {time.monotonic() - started:.1f} s for {RAY_ROWS:,} rows")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.drop(columns=["hue"]), "no column 'hue'; add it"),
        (
            lambda f: f.assign(alcohol=f["alcohol"].where(f.index != 12_345, 99.0)),
            "row 12345: column 'alcohol' value 99.0 is outside the service's range",
        ),
    ],
    ids=["missing column", "out of range"],
)
def test_bad_input_is_one_line_and_no_output(
    project: tuple[Path, dict[str, str]], rows: Path, change: Any, expected: str
) -> None:
    out, env = project
    source, output = out.parent / "bad.csv", out.parent / "bad_predicted.csv"
    change(pd.read_csv(f"{rows}.csv", nrows=20_000)).to_csv(source, index=False)
    status, stderr, _ = predict_batch(env, "--input", str(source), "--output", str(output))
    assert status == 2
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith(f"{PROJECT}-predict: {source}")
    assert expected in stderr
    assert not output.exists()
    assert not list(out.parent.glob(".bad_predicted.csv.*"))
