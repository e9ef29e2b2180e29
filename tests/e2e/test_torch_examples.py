"""The PyTorch examples as a user runs them: convert, train, serve, and ask.

`digits_cnn` predicts on images, a `(N, 1, 8, 8)` tensor: a request row holds one image
as nested lists, a wrong shape gets a 400 with one reason. Both examples train a torch
module whose ONNX twin training checks; the service answers the notebook's own
predictions for `examples/request.json`. (`make test-slow` also runs both through a
fresh venv, verify and an image: `test_examples_e2e.py`, `test_example_images.py`.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES, PREPARATIONS, Early, prepares, served
from tests.tolerant import within

pytestmark = pytest.mark.e2e

pytest.importorskip("torch")


def _convert_and_train(early: Early, root: Path, name: str) -> tuple[Path, dict[str, str], str]:
    """`name`'s example converted and trained, its model in a BentoML store of its own."""
    project = root / "project"
    early.convert(EXAMPLES / f"{name}.ipynb", project)
    package = json.loads((project / "nb2prod.json").read_text())["package"]
    env = {
        **early.environ,
        "BENTOML_HOME": str(root / "bentoml"),
        "PYTHONPATH": f"{project / 'src'}{os.pathsep}{project}",
        "BENTOML_DO_NOT_TRACK": "True",
    }
    command = [sys.executable, "-m", f"{package}.train", "--output-dir", "artifacts"]
    training = early.run(command, project, env, timeout=600)
    assert training.returncode == 0, training.stderr[-3000:]
    return project, env, training.stderr


@prepares("trained[digits_cnn]")
def _digits(early: Early, root: Path) -> tuple[Path, dict[str, str], str]:
    return _convert_and_train(early, root, "digits_cnn")


@pytest.fixture(
    scope="module",
    # digits (rows that are images) in `make test`; tabular_mlp (a frame scaled by the predict
    # code) in `make test-slow`, where test_examples_e2e.py also runs both in a fresh venv
    params=["digits_cnn", pytest.param("tabular_mlp", marks=pytest.mark.slow)],
)
def trained(request: pytest.FixtureRequest, early: Early, tmp_path_factory: pytest.TempPathFactory):
    """An example converted and trained (digits in the background from the session's start:
    tests/conftest.py, Early)."""
    name: str = request.param
    if (__name__, f"trained[{name}]") in PREPARATIONS:
        return name, *early.result(__name__, f"trained[{name}]")
    return name, *_convert_and_train(early, tmp_path_factory.mktemp(name), name)


def test_training_keeps_a_checked_onnx_twin_and_says_where(trained) -> None:
    """model.json names the framework, device and class; model.onnx agrees with torch on
    every reference row, and training prints how to run it with onnxruntime alone."""
    _, project, _, stderr = trained
    metadata = json.loads((project / "artifacts" / "model.json").read_text())
    assert metadata["framework"] == "pytorch" and metadata["device"] == "cpu"
    assert metadata["runtime"] in {"onnx", "torch"}, metadata
    twin = metadata["onnx"]
    assert twin["rows"] > len(json.loads((project / "examples" / "response.json").read_text()))
    assert twin["max_abs_difference"] <= twin["atol"] + twin["rtol"] * 1e3
    assert (project / "artifacts" / "model.onnx").is_file()
    assert "onnxruntime.InferenceSession(" in stderr and "model.onnx" in stderr

    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(project / "artifacts" / "model.onnx"))
    shape = [2 if d == "batch" else d for d in twin["input_shape"]]
    assert metadata["input"]["shape"][0] == "batch"
    [output] = session.run(None, {"input": np.zeros(shape, dtype=np.float32)})
    assert output.shape[0] == 2  # the batch dimension is dynamic


def test_the_service_answers_the_notebooks_predictions_and_rejects_bad_shapes(trained) -> None:
    """A real `nb2prod serve`: request.json gets response.json (float32 within the twin's
    checked tolerance); a row of the wrong shape, depth or range gets a 400 with a reason."""
    name, project, env, _ = trained
    request = json.loads((project / "examples" / "request.json").read_text())
    expected = json.loads((project / "examples" / "response.json").read_text())
    command = [sys.executable, "-m", "nb2prod", "serve", str(project), "--host", "127.0.0.1"]
    with served(command, env, project, timeout=180) as url:
        answer = httpx.post(f"{url}{request['path']}", json=request["body"], timeout=30)
        assert answer.status_code == 200, answer.text
        assert within(answer.json(), expected, rtol=1e-4, atol=1e-5), (answer.json(), expected)
        one = httpx.post(f"{url}/predict", json=request["body"][0], timeout=30)
        assert one.status_code == 200 and within(one.json(), expected[0], 1e-4, 1e-5)
        for row, reason in _bad_rows(name, request["body"][0]):
            refused = httpx.post(f"{url}/predict", json=row, timeout=30)
            assert refused.status_code == 400, (row, refused.text)
            assert reason in refused.json()["error"], refused.json()


def _bad_rows(name: str, row: dict[str, Any]) -> list[tuple[Any, str]]:
    """Rows a client may get wrong, and a word of the reason each must get."""
    if name == "tabular_mlp":
        return [({**row, "bmi": 1e6}, "less than or equal"), ({**row, "age": "61"}, "number")]
    image = row["input"]
    short_line = [[image[0][0][:7], *image[0][1:]]]
    return [
        ({"input": short_line}, "[0][0] has 7 entries, not 8 (shape (1, 8, 8))"),
        ({"input": image[0]}, "has 8 entries, not 1"),
        ({"input": [[[[0.0]] * 8] * 8]}, "is a list, not a number"),
        ({"input": [[[2.0] * 8] * 8]}, "less than or equal"),
        ({"input": [[[[[[0.0]]]]]]}, "nested deeper"),
        ({"image": image}, "input"),
    ]


LOAD_EACH_RUNTIME = """
import bentoml
from {package}.model_store import load_model
stored = bentoml.models.get("{name}:latest")
print(type(load_model(stored, runtime="trained")).__name__)
print(type(load_model(stored, runtime="onnx")).__name__)
try:
    load_model(stored, runtime="fastest")
except ValueError as error:
    print(error)
"""


def test_model_runtime_chooses_the_module_or_its_twin(trained) -> None:
    """The service's MODEL_RUNTIME: `trained` is the module on the serving device, `onnx` the
    checked twin; anything else is refused with the choices."""
    name, project, env, _ = trained
    package = json.loads((project / "nb2prod.json").read_text())["package"]
    script = LOAD_EACH_RUNTIME.format(package=package, name=name.replace("_", "-"))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    module, twin, refused = done.stdout.strip().splitlines()[-3:]
    assert module != "OnnxModule" and twin == "OnnxModule"
    assert refused == "runtime 'fastest' is not one of best, trained, onnx"
