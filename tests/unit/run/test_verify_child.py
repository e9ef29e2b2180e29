"""verify_child.py: the generated side of verify, driven with a small hand-made project.

The child imports a project's `config`, `pipeline`, `train`, `model_store`, `contracts`
and `schema` modules and its `service.py`, by the names the templates give them; the
project here has each in a few lines (the model a real BentoML model in a store of its
own), so training, the predict call with arguments from the model, the rows, the
stored state and the config, and the service's answers are checked in seconds.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy
import pytest

from nb2prod.protocol import (
    RESULT_FILE,
    PredictArgument,
    PredictCall,
    RowsRequest,
    ServiceClass,
    VerifyResult,
    VerifySpec,
    write_spec,
)
from nb2prod.run.child_process import child_command, child_env
from nb2prod.run.verify_child import _plain, run
from tests.conftest import ROOT

PACKAGE = "toyproj"
FILES = {
    "config.py": """
from dataclasses import dataclass


@dataclass
class Config:
    scale: float = 2.0
    n: int = 3
""",
    "pipeline.py": """
class Model:
    def predict(self, rows):
        return [row[0] for row in rows]


def run_pipeline(config):
    return {"model": Model(), "rows": [[float(i), 1.0] for i in range(config.n)]}


def predict(model, rows, offset, scale):
    values = [v * scale + offset for v in model.predict(rows)]
    return values, len(values)
""",
    "train.py": """
import json

from toyproj.model_store import save_model


def save_artifacts(outputs, config, artifacts):
    artifacts.mkdir(parents=True, exist_ok=True)
    metrics = {"rows": float(len(outputs["rows"]))}
    tag = save_model(outputs["model"], {"offset": 10.0})
    metadata = {"bentoml_tag": tag, "parameters": {"scale": config.scale, "n": config.n},
                "metrics": metrics, "runtime": "python"}
    (artifacts / "model.json").write_text(json.dumps(metadata))
    return metrics
""",
    "model_store.py": """
import pickle
from pathlib import Path

import bentoml


def save_model(model, state):
    with bentoml.models.create("toyproj") as stored:
        Path(stored.path_of("model.pkl")).write_bytes(pickle.dumps(model))
        Path(stored.path_of("state.pkl")).write_bytes(pickle.dumps(state))
    return str(stored.tag)


def load_model(stored, *, runtime="best"):
    return pickle.loads((Path(stored.path) / "model.pkl").read_bytes())


def load_state(stored):
    return pickle.loads((Path(stored.path) / "state.pkl").read_bytes())
""",
    "schema.py": """
from pydantic import BaseModel


class Row(BaseModel):
    x0: float
    x1: float


class Answer(BaseModel):
    value: float
""",
}
SERVICE = """
from toyproj.schema import Answer


class ToyService:
    def predict_rows(self, rows):
        return [Answer(value=row.x0 * 100) for row in rows]
"""
CALL = PredictCall(
    "predict",
    ("values", "count"),
    (
        PredictArgument("model", "model"),
        PredictArgument("rows", "rows"),
        PredictArgument("offset", "state"),
        PredictArgument("scale", "config"),
    ),
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The hand-made project: its package under src/, service.py at the top."""
    folder = tmp_path / "project"
    package = folder / "src" / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, source in FILES.items():
        (package / name).write_text(source)
    shutil.copy(ROOT / "nb2prod/generate/runtime/contracts.py", package / "contracts.py")
    (folder / "service.py").write_text(SERVICE)
    return folder


def spec(project: Path, **fields: Any) -> VerifySpec:
    base = {
        "package": PACKAGE,
        "project": str(project),
        "parameters": {"scale": 3.0},
        "artifacts": str(project / "scratch" / "artifacts"),
    }
    return VerifySpec(**{**base, **fields})


def run_child(project: Path, verify_spec: VerifySpec, rows: Any) -> tuple[int, str, Path]:
    """`verify_child.main` as verify starts it: spec file in, rows on stdin, result out.

    A BentoML store of its own (BENTOML_HOME) keeps the test's model out of ~/bentoml."""
    scratch = project / "scratch"
    scratch.mkdir(exist_ok=True)
    input_path = None
    if rows is not None:
        input_path = str(scratch / "rows.pkl")
        Path(input_path).write_bytes(pickle.dumps(rows))
    env = child_env(project / "src", BENTOML_HOME=str(scratch / "bentoml"))
    command = child_command("nb2prod.run.verify_child", *write_spec(scratch, verify_spec))
    done = subprocess.run(
        command,
        input=json.dumps(RowsRequest(input_path).to_json()),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr, scratch / RESULT_FILE


def result_of(project: Path, verify_spec: VerifySpec, rows: Any) -> VerifyResult:
    code, stderr, path = run_child(project, verify_spec, rows)
    assert code == 0, stderr
    return VerifyResult.from_json(json.loads(path.read_text()))


def test_the_child_trains_predicts_and_serves_the_notebooks_rows(project: Path) -> None:
    """Each predict argument comes from where the spec says: the model, the rows, the
    stored state, the config with the verified parameters."""
    rows = [[0.0, 1.0], [1.0, 1.0]]
    result = result_of(
        project, spec(project, predict=CALL, service=ServiceClass("ToyService", "Row")), rows
    )
    assert result.metrics == {"rows": 3.0}
    assert result.metadata["parameters"] == {"scale": 3.0, "n": 3}  # trained with -p scale 3
    assert result.predictions == {"values": [10.0, 13.0], "count": 2}
    assert result.schema == {"x0": "float", "x1": "float"}
    assert result.service_predictions == {"value": [0.0, 100.0]}
    assert result.service_problem is None


def test_the_child_marks_each_phase_so_a_failure_names_it(project: Path) -> None:
    (project / "service.py").write_text("raise RuntimeError('service broke')\n")
    code, stderr, path = run_child(
        project,
        spec(project, predict=CALL, service=ServiceClass("ToyService", "Row")),
        [[0.0, 1.0]],
    )
    assert code != 0 and not path.exists()
    markers = [line for line in stderr.splitlines() if line.startswith("nb2prod-child: step ")]
    assert markers == [f"nb2prod-child: step {s}" for s in ("training", "predict", "service")]
    assert stderr.rstrip().endswith("RuntimeError: service broke")


TRAIN_ONLY = """
import json


def save_artifacts(outputs, config, artifacts):
    artifacts.mkdir(parents=True, exist_ok=True)
    metrics = {"rows": float(len(outputs["rows"]))}
    metadata = {"parameters": {"scale": config.scale, "n": config.n}, "metrics": metrics}
    (artifacts / "model.json").write_text(json.dumps(metadata))
    return metrics
"""
"""A training that stores no model: BentoML's store is chosen once per process, so the
tests that run the child in this process keep away from it."""


def in_process(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import the project's package here, trained without a model store."""
    (project / "src" / PACKAGE / "train.py").write_text(TRAIN_ONLY)
    monkeypatch.syspath_prepend(str(project / "src"))
    for name in [PACKAGE, *(f"{PACKAGE}.{m[:-3]}" for m in FILES)]:
        monkeypatch.delitem(sys.modules, name, raising=False)


def no_rows() -> RowsRequest:
    raise AssertionError("a project without a predict call waits for no rows")


def test_without_a_predict_call_the_child_only_trains(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The train module's save_artifacts, as `<project>-train` runs it; no rows awaited."""
    in_process(project, monkeypatch)
    result = run(spec(project, parameters={"n": 5}), read_rows=no_rows)
    assert result == VerifyResult(
        {"rows": 5.0}, {"parameters": {"scale": 2.0, "n": 5}, "metrics": {"rows": 5.0}}
    )
    artifacts = Path(spec(project).artifacts)
    assert json.loads((artifacts / "model.json").read_text())["metrics"] == {"rows": 5.0}


def test_when_the_notebook_kept_no_rows_nothing_is_predicted(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_process(project, monkeypatch)
    asked: list[bool] = []

    def rows() -> RowsRequest:
        asked.append(True)
        return RowsRequest(None)

    result = run(spec(project, predict=CALL), read_rows=rows)
    assert asked == [True] and result.predictions is None and result.schema is None


def test_rows_that_are_no_table_are_a_service_problem_not_a_crash(project: Path) -> None:
    """The predict function takes them as they are; the service's request cannot."""
    rows = ((0.0, 1.0), (1.0, 1.0, 2.0))  # ragged: no table of rows
    result = result_of(
        project, spec(project, predict=CALL, service=ServiceClass("ToyService", "Row")), rows
    )
    assert result.predictions == {"values": [10.0, 13.0], "count": 2}
    assert result.schema is None and result.service_predictions is None
    assert result.service_problem is not None
    assert result.service_problem.startswith("the notebook's rows cannot be a request: a tuple")


@pytest.mark.parametrize(
    ("value", "plain"),
    [(numpy.float32(0.5), 0.5), (numpy.int64(3), 3), (Path("x"), "x")],
)
def test_values_json_cannot_hold_are_made_plain(value: Any, plain: Any) -> None:
    assert _plain(value) == plain
