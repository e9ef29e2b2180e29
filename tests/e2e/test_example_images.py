"""Each example becomes a real image that answers with the notebook's own predictions.

Per example: convert, train (the model is exported to artifacts/model.bentomodel),
`nb2prod image` (podman here; the Docker API where one answers; `example_image` in
tests/e2e/conftest.py builds it once for this test and test_k8s_play), run the image
on a free loopback port, wait for /readyz, send the rows the notebook predicted
(from a papermill run) and compare with what the notebook predicted. Then check
what is inside: a non-root user, no notebooks, no data files, no training
artifacts, and hadolint's verdict on the generated Dockerfile.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from nb2prod.commands.verify import service_tolerance
from nb2prod.run import image
from tests.conftest import EXAMPLES, as_requests, free_port, notebook_results
from tests.e2e.conftest import NAMES, ExampleImage
from tests.tolerant import within

pytestmark = [pytest.mark.container, pytest.mark.e2e]

TRAINING_ONLY = {
    "scikit-learn", "scipy", "skl2onnx", "onnx", "matplotlib", "pillow", "fonttools",
    "joblib", "threadpoolctl", "pandas", "pip", "setuptools", "wheel", "pytest",
}  # fmt: skip
"""Distributions a service the ONNX twin serves must not carry (its predict code and
schema need none of them in the examples: `test_lean_serving.py` checks its imports)."""
NEEDED = {
    "wine_classifier": {"pandas"},
    "messy_churn": {"pandas"},
    "diabetes_regression": set(),
    "digits_cnn": {"setuptools"},
    "tabular_mlp": {"setuptools"},
}
"""Of TRAINING_ONLY, what an example's service does need: pandas, which the notebook's
row-wise code runs on (raw-row services); setuptools, which torch declares as a
dependency. diabetes_regression's Ridge and tabular_mlp's fitted scaler are served by
float64 ONNX twins (the scaler's reads the request rows as an array: no pandas)."""
FIRST_MB = {
    "wine_classifier": 747,
    "messy_churn": 843,
    "diabetes_regression": 631,
    "digits_cnn": 1710,
    "tabular_mlp": 1610,
}
"""Each example's image size when issue 15 was filed: the lean image is at most half."""
INSTALLED = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))"
)


@pytest.mark.parametrize(  # wine in `make test`, every example in `make test-slow`
    "name",
    [pytest.param(n, marks=[] if n == "wine_classifier" else [pytest.mark.slow]) for n in NAMES],
)
def test_example_image_serves_the_notebooks_predictions(
    name: str, example_image: Callable[[str], ExampleImage], tmp_path: Path
) -> None:
    made = example_image(name)  # its project folder holds a stray data file, STRAY_DATA
    project, tag = made.project, made.tag
    metadata = json.loads((project / "artifacts" / "model.json").read_text())
    check_serving_set(tag, name, metadata["runtime"])

    expected = notebook_results(EXAMPLES / f"{name}.ipynb", {}, tmp_path / "papermill", project)
    port = free_port()
    started = time.monotonic()
    container = image.run_container(tag, env={"BENTOML_PORT": str(port)}, engine="podman")
    try:
        image.wait_ready(container, f"http://127.0.0.1:{port}/readyz", timeout=120)
        ready = time.monotonic() - started
        size = podman_output("image", "inspect", "--format", "{{.Size}}", tag)
        print(f"\n{name}: image {int(size) / 1e6:.0f} MB, ready {ready:.2f} s after start")
        assert int(size) / 1e6 <= FIRST_MB[name] / 2, f"{name}'s image grew past half"
        answer = httpx.post(
            f"http://127.0.0.1:{port}/predict_batch",
            json=as_requests(project, expected["rows"]),
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        rtol, atol, _ = service_tolerance(metadata)
        for key, values in expected["predictions"].items():
            served = [row[key] for row in answer.json()]
            assert within(served, values, max(rtol, 1e-9), atol), (key, served, values)
        bad = httpx.post(f"http://127.0.0.1:{port}/predict", json={"x": 1}, timeout=30)
        assert bad.status_code == 400

        status, uid = image.container_exec(container, ["id", "-u"])
        assert status == 0 and uid.strip() != "0"
        # The project's own places hold code and the model store only; packages in
        # /opt/venv may ship data files of their own (numpy's test vectors, sklearn's datasets).
        status, found = image.container_exec(
            container,
            ["find", "/app", "/opt/app", "/home/app", "/tmp", "(", "-name", "*.ipynb",
             "-o", "-name", "*.csv", "-o", "-name", "*.parquet", "-o", "-name", "metrics.json",
             "-o", "-name", "model.json", "-o", "-name", "*.bentomodel", "-o", "-name", "tests",
             ")"],
        )  # fmt: skip
        assert status == 0 and found.strip() == "", found
        status, notebooks = image.container_exec(  # as the app user: unreadable dirs are skipped
            container, ["sh", "-c", "find / -xdev -name '*.ipynb' 2>/dev/null; true"]
        )
        assert notebooks.strip() == "", notebooks
    finally:
        image.stop_container(container)

    linter = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if os.access(linter, os.X_OK):
        lint = subprocess.run(
            [linter, "--no-color", str(project / "Dockerfile")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr


def podman_output(*args: str) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def check_serving_set(tag: str, name: str, runtime: str) -> None:
    """The image's Python holds exactly the measured serving set (the pinned list the
    build wrote), and none of training's packages the service does not need."""
    listed = podman_output("run", "--rm", "--network=none", "--entrypoint", "python", tag,
                           "-c", INSTALLED)  # fmt: skip
    own = name.replace("_", "-") + "=="  # the project's code, in /opt/app
    installed = {line.lower() for line in json.loads(listed) if not line.startswith(own)}
    written = podman_output(
        "run", "--rm", "--network=none", "--entrypoint", "cat", tag,
        "/opt/venv/serving-requirements.txt",
    )  # fmt: skip
    pinned = {line.lower() for line in written.splitlines() if "==" in line}
    assert installed == pinned, (sorted(installed - pinned), sorted(pinned - installed))
    names = {line.split("==")[0].replace("_", "-") for line in installed}
    assert {"bentoml", "numpy", "pydantic"} <= names
    unexpected = names & TRAINING_ONLY - NEEDED.get(name, set())
    assert not unexpected, f"{name} ({runtime}) carries {sorted(unexpected)}"
    print(f"\n{name}: {len(names)} distributions in the image ({runtime} serves)")
