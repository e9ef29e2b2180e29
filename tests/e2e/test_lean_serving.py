"""A service the ONNX twin serves loads neither scikit-learn nor pandas (pandas only where
it runs the notebook's row-wise code on raw rows), and runs on its serving set alone.

Per example: convert, train, then (1) in a child, import service.py the way BentoML does,
start its ASGI app (which loads the model) and answer examples/request.json: with the twin
no training library is in `sys.modules`, with MODEL_RUNTIME=trained scikit-learn is, and
both answer what the notebook predicted; (2) build the serving venv with the project's
own `serving_set.py` (as the image's build stage does), check that it holds no
training-only distribution, and run `bentoml serve` from it, with nothing else on the path:
it must answer the notebook's predictions. Cold start (process start to /readyz 200) is
printed, not asserted (a shared machine's timings vary).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from nb2prod.commands.verify import service_tolerance
from tests.conftest import EXAMPLES, generated_env, run_cli, served, train_generated
from tests.tolerant import within

pytestmark = pytest.mark.e2e

TRAINING_ONLY = {
    "scikit-learn", "scipy", "skl2onnx", "onnx", "matplotlib", "pillow", "fonttools",
    "pandas", "joblib", "threadpoolctl", "pip", "papermill", "pytest",
}  # fmt: skip
"""Distributions training or tests need and a service the twin serves does not."""
LOADED = ("sklearn", "pandas", "scipy", "skl2onnx", "onnx", "matplotlib")
CHILD = """
import json, sys
sys.path.insert(0, ".")
from starlette.testclient import TestClient
import service
request = json.load(open("examples/request.json"))
with TestClient(app=getattr(service, sys.argv[1]).to_asgi()) as client:
    answer = client.post(request["path"], json=request["body"])
print(json.dumps({
    "status": answer.status_code,
    "answer": answer.json(),
    "loaded": sorted(m for m in sys.argv[2:] if m in sys.modules),
}))
"""


@pytest.fixture(
    scope="module", params=["wine_classifier", pytest.param("messy_churn", marks=pytest.mark.slow)]
)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A converted and trained example: its folder, environment and service class."""
    name = request.param
    root = tmp_path_factory.mktemp(f"lean-{name}")
    project = root / "project"
    converted = run_cli("convert", str(EXAMPLES / f"{name}.ipynb"), "-o", str(project))
    assert converted.returncode == 0, converted.stderr
    env = generated_env(project, root / "bentoml")
    train_generated(project, name, "artifacts", env)
    runtime = json.loads((project / "artifacts" / "model.json").read_text())["runtime"]
    assert runtime == "onnx", f"{name} was expected to be served by its ONNX twin"
    service_class = "".join(p.capitalize() for p in name.split("_")) + "Service"
    return {"name": name, "root": root, "project": project, "env": env, "class": service_class}


@pytest.mark.parametrize(
    ("runtime", "expected"), [("best", []), ("trained", ["pandas", "sklearn"])]
)
def test_the_twin_serves_without_training_libraries(
    trained: dict, runtime: str, expected: list[str]
) -> None:
    project = trained["project"]
    result = answer_in_child(project, trained["env"], trained["class"], runtime)
    if raw_rows(project) and runtime == "best":
        expected = ["pandas"]  # the notebook's row-wise code runs on a DataFrame: it needs it
    loaded = [m for m in result["loaded"] if m in ("pandas", "sklearn")]
    assert loaded == expected, result["loaded"]
    if runtime == "best":
        assert result["loaded"] == expected, result["loaded"]


def answer_in_child(project: Path, env: dict[str, str], service: str, runtime: str) -> dict:
    """CHILD's record of a fresh process that answered examples/request.json with
    MODEL_RUNTIME=`runtime`, after checking it answered what the notebook predicted."""
    child = subprocess.run(
        [sys.executable, "-c", CHILD, service, *LOADED],
        cwd=project,
        env={**env, "MODEL_RUNTIME": runtime},
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.splitlines()[-1])
    assert result["status"] == 200, result
    assert_as_predicted(project, result["answer"])
    return result


def raw_rows(project: Path) -> bool:
    """Whether the service runs the notebook's row-wise preprocessing on raw rows."""
    probe = json.loads((project / "nb2prod.json").read_text())
    return bool(json.dumps(probe).count('"raw_input": {'))


def test_bentoml_serves_from_the_serving_set_alone(trained: dict) -> None:
    project, root, package = trained["project"], trained["root"], trained["name"]
    service = f"service:{trained['class']}"
    target = root / "serving"
    built = subprocess.run(
        [sys.executable, "-m", f"{package}.serving_set", service, "examples/request.json",
         str(target)],
        cwd=project, env=trained["env"], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    print(built.stdout.strip())
    pinned = (target / "serving-requirements.txt").read_text().split()
    names = {line.split("==")[0].lower() for line in pinned if "==" in line}
    assert {"bentoml", "onnxruntime", "numpy", "pydantic"} <= names
    allowed = {"pandas"} if raw_rows(project) else set()  # the row-wise code's DataFrame
    assert not names & (TRAINING_ONLY - allowed), sorted(names & TRAINING_ONLY)

    # Only the serving venv and the project's code: a missing package fails here.
    env = generated_env(project, root / "bentoml", path=[])
    started = time.monotonic()
    command = [str(target / "bin" / "python"), "-m", "bentoml", "serve", service,
               "--host", "127.0.0.1"]  # fmt: skip
    with served(command, env, project) as url:
        ready = time.monotonic() - started
        request = json.loads((project / "examples" / "request.json").read_text())
        answer = httpx.post(url + request["path"], json=request["body"], timeout=30)
        assert answer.status_code == 200, answer.text
        assert_as_predicted(project, answer.json())
    print(f"{package}: bentoml serve from the serving venv ready in {ready:.2f} s")


def assert_as_predicted(project: Path, answer: list[dict]) -> None:
    """The answer is what the pipeline predicted (examples/response.json): labels equal,
    probabilities within what training checked the twin to (the model's metadata)."""
    expected = json.loads((project / "examples" / "response.json").read_text())
    metadata = json.loads((project / "artifacts" / "model.json").read_text())
    rtol, atol, _ = service_tolerance(metadata)
    assert len(answer) == len(expected)
    for key in expected[0]:
        served, wanted = [row[key] for row in answer], [row[key] for row in expected]
        assert within(served, wanted, max(rtol, 1e-9), atol), (key, served, wanted)


@pytest.fixture(scope="module")
def tabular(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """tabular_mlp converted and trained: its folder and environment."""
    root = tmp_path_factory.mktemp("lean-tabular")
    project = root / "project"
    converted = run_cli("convert", str(EXAMPLES / "tabular_mlp.ipynb"), "-o", str(project))
    assert converted.returncode == 0, converted.stderr
    env = generated_env(project, root / "bentoml")
    train_generated(project, "tabular_mlp", "artifacts", env)
    return project, env


@pytest.mark.parametrize(("runtime", "scikit_learn"), [("best", False), ("trained", True)])
def test_a_fitted_scaler_in_the_state_is_served_by_its_twin(
    tabular: tuple[Path, dict[str, str]], runtime: str, scikit_learn: bool
) -> None:
    """tabular_mlp's predict code calls `scaler.transform`: training stores a float64 ONNX
    twin of the scaler, so the service loads no scikit-learn (nor scipy), and hands the twin
    the rows as an array (no pandas), unless asked for the state as trained; both answer
    what the notebook predicted."""
    project, env = tabular
    metadata = json.loads((project / "artifacts" / "model.json").read_text())
    assert metadata["state_runtime"]["scaler"].startswith("float64 ONNX twin"), metadata
    result = answer_in_child(project, env, "TabularMlpService", runtime)
    assert ("sklearn" in result["loaded"]) is scikit_learn, result["loaded"]
    assert ("scipy" in result["loaded"]) is scikit_learn, result["loaded"]
    assert ("pandas" in result["loaded"]) is scikit_learn, result["loaded"]  # rows: an array
