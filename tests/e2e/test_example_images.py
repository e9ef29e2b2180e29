"""Each example becomes a real image that answers with the notebook's own predictions.

Per example: convert, train (the model is exported to artifacts/model.bentomodel),
`nb2prod image` (podman here; the Docker API where one answers), run the image
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
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nb2prod.commands.verify import service_tolerance
from nb2prod.run import image
from tests.conftest import (
    EXAMPLES,
    as_requests,
    free_port,
    generated_env,
    notebook_results,
    run_cli,
    train_generated,
)
from tests.tolerant import within

pytestmark = [pytest.mark.container, pytest.mark.e2e]

NAMES = ["wine_classifier", "diabetes_regression", "messy_churn", "digits_cnn", "tabular_mlp"]
TORCH = {"digits_cnn", "tabular_mlp"}
LOCAL_WHEELS = Path("/opt/wheels")
"""Where this machine keeps its PyTorch CPU wheel (see the env notes)."""


@pytest.fixture(scope="module")
def torch_cpu_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PyTorch's CPU index as the torch Dockerfile's TORCH_INDEX_URL reads it (PEP 503: a
    page per project linking its files), served from this machine's own CPU wheel at
    host.containers.internal, which the test base image's pip trusts: the real index,
    download.pytorch.org, is out of reach here, and PyPI's torch is the CUDA build (GBs)."""
    wheels = sorted(LOCAL_WHEELS.glob("torch-*+cpu-*.whl"))
    if not wheels:
        pytest.skip(f"no PyTorch CPU wheel in {LOCAL_WHEELS}")
    root = tmp_path_factory.mktemp("torch-index")
    (root / "torch").mkdir()
    for wheel in wheels:
        (root / "torch" / wheel.name).symlink_to(wheel)
    links = "".join(f'<a href="{w.name}">{w.name}</a>' for w in wheels)
    (root / "torch" / "index.html").write_text(f"<html><body>{links}</body></html>")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--directory", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://host.containers.internal:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(  # wine in `make test`, every example in `make test-slow`
    "name",
    [pytest.param(n, marks=[] if n == "wine_classifier" else [pytest.mark.slow]) for n in NAMES],
)
def test_example_image_serves_the_notebooks_predictions(
    name: str, podman_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    project = tmp_path / "project"
    converted = run_cli("convert", str(EXAMPLES / f"{name}.ipynb"), "-o", str(project))
    assert converted.returncode == 0, converted.stderr
    env = generated_env(project, tmp_path / "bentoml")
    train_generated(project, name, "artifacts", env)
    (project / "notes.csv").write_text("a,b\n1,2\n")  # a stray data file must stay out

    tag = f"localhost/nb2prod-example-{name.replace('_', '-')}:test"
    build_args = []
    if name in TORCH:
        index = request.getfixturevalue("torch_cpu_index")
        build_args = ["--build-arg", f"TORCH_INDEX_URL={index}"]
    built = run_cli(
        "image", str(project), "--tag", tag, "--engine", "podman", *build_args, timeout=1800
    )
    assert built.returncode == 0, built.stderr

    expected = notebook_results(EXAMPLES / f"{name}.ipynb", {}, tmp_path / "papermill", project)
    port = free_port()
    container = image.run_container(tag, env={"BENTOML_PORT": str(port)}, engine="podman")
    try:
        image.wait_ready(container, f"http://127.0.0.1:{port}/readyz", timeout=120)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/predict_batch",
            json=as_requests(project, expected["rows"]),
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        metadata = json.loads((project / "artifacts" / "model.json").read_text())
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
