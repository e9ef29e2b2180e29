"""The plan is plain frozen data: later stages read it, jobs pickle it, tests compare it.

No notebook node, AST node or analysed section anywhere inside (a stage that reached
into them would depend on the analysis), nothing assignable, and equal to itself after
a pickle round trip.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat import NotebookNode

from nb2prod.analyse.sections import Chunk, SectionCode
from nb2prod.plan.build import Plan, build_plan
from nb2prod.plan.source import source_of
from nb2prod.read.notebook import Notebook, load_notebook
from tests.conftest import ROOT, make_notebook

EXAMPLES = sorted((ROOT / "examples").glob("*.ipynb"))
FORBIDDEN = (ast.AST, NotebookNode, Notebook, SectionCode, Chunk)


def _inside(value: Any, path: str = "plan") -> Iterator[tuple[str, Any]]:
    """Every value reachable from `value` (dataclass fields, containers), with its path."""
    yield path, value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _inside(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _inside(key, f"{path}[{key!r}] (key)")
            yield from _inside(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            yield from _inside(item, f"{path}[{index}]")


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda path: path.stem)
def plan(request: pytest.FixtureRequest) -> Plan:
    return build_plan(load_notebook(request.param))


def test_a_plan_holds_no_notebook_node_ast_or_analysed_section(plan: Plan) -> None:
    found = [f"{path}: {type(v).__name__}" for path, v in _inside(plan) if isinstance(v, FORBIDDEN)]
    assert found == []


def test_plan_steps_and_arguments_are_frozen_with_tuples(plan: Plan) -> None:
    step = plan.predict
    assert step is not None
    for record, field in ((plan, "model"), (step, "outputs"), (step.arguments[0], "name")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, field, None)
    for record in (plan, *plan.steps, *plan.tests, *step.arguments):
        mutable = [
            f.name
            for f in dataclasses.fields(record)
            if isinstance(getattr(record, f.name), (list, set))
        ]
        assert mutable == [], type(record).__name__


def test_a_plan_is_equal_to_itself_after_a_pickle_round_trip(plan: Plan) -> None:
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan
    assert again.predict == plan.predict


def test_the_predict_step_is_decided_once_and_is_one_of_the_steps(plan: Plan) -> None:
    assert plan.predict is not None
    assert plan.predict in plan.steps
    assert plan.predict.role == "predict"


def test_the_source_keeps_the_notebook_without_outputs_as_plain_json(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "nb.ipynb", ["x = 1", ("y = x + 1", ["nb2prod:train"])])
    node = json.loads(path.read_text())
    node["cells"][0].update(
        execution_count=3,
        outputs=[{"output_type": "stream", "name": "stdout", "text": "1\n"}],
        metadata={"execution": {"iopub.status.busy": "2024-01-01"}, "tags": ["a"]},
    )
    path.write_text(json.dumps(node))
    notebook = load_notebook(path)
    source = source_of(notebook)
    first = source.stripped["cells"][0]
    assert (first["outputs"], first["execution_count"], first["metadata"]) == (
        [],
        None,
        {"tags": ["a"]},
    )
    assert notebook.node["cells"][0]["outputs"], "the loaded notebook is left as it was"
    assert json.loads(json.dumps(source.stripped)) == source.stripped
    assert (source.path, source.sha256, source.name) == (path, notebook.sha256, "nb")
    assert source.cell_ref(1, 1) == notebook.cells[1].ref(1)
    from_nbformat = source_of(dataclasses.replace(notebook, node=nbformat.from_dict(node)))
    assert not [p for p, v in _inside(from_nbformat.stripped) if isinstance(v, NotebookNode)]
