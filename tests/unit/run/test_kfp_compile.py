"""Compiling the rendered pipeline with the kfp SDK, in a child process."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nb2prod.generate.render import render_project
from nb2prod.plan.build import build_plan
from nb2prod.read.notebook import load_notebook
from nb2prod.run.kfp_compile import (
    PIPELINE_SOURCE,
    CompileFailed,
    compile_pipeline,
    no_pipeline_error,
)
from tests.conftest import make_notebook

pytest.importorskip("kfp")

CELLS = [
    "from sklearn.linear_model import LinearRegression",
    ("n = 3", ["parameters"]),
    ("X, y = [[float(i)] for i in range(n)], list(range(n))", ["nb2prod:load"]),
    ("model = LinearRegression().fit(X, y)", ["nb2prod:train"]),
    ("score = float(model.score(X, y))", ["nb2prod:evaluate"]),
]


def test_the_rendered_pipeline_compiles_to_its_dag(tmp_path: Path) -> None:
    plan = build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", CELLS)))
    assert plan.model == "model"
    files = render_project(plan, [])
    spec = yaml.safe_load(compile_pipeline(files))
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["train-model"]["dependentTasks"] == ["load-data"]
    assert sorted(tasks["save-model"]["dependentTasks"]) == [
        "evaluate", "load-data", "train-model"
    ]  # fmt: skip
    assert spec["root"]["inputDefinitions"]["parameters"]["n"]["parameterType"] == (
        "NUMBER_INTEGER"
    )


def test_a_pipeline_kfp_refuses_is_reported_with_its_output() -> None:
    with pytest.raises(CompileFailed, match="could not compile"):
        compile_pipeline({PIPELINE_SOURCE: b"raise SystemExit('broken on purpose')\n"})


def test_no_model_means_no_pipeline() -> None:
    error = no_pipeline_error(Path("nb.ipynb"))
    assert "trains no model" in str(error.problems[0].message)
