"""convert.py: a notebook in, a project written through the safe writer out.

A conversion that runs the pipeline trains the model (tests/e2e/); with
`run_pipeline=False` nothing runs, so a conversion takes about a second and is used
here to show that convert writes through `write_project` (its manifest, its refusal to
overwrite edits). The decisions made from a pipeline run are tested on hand-made probe
records: the cached probe, the model check, the warnings about the quick parameters,
printed values and a missing service.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2prod import __version__
from nb2prod.commands.convert import (
    _cached_probe,
    _check_model,
    _compiled_pipeline_before,
    _missing,
    _no_service,
    _printed_non_numbers,
    _weak_quick_run,
    convert,
    default_output,
)
from nb2prod.errors import UserError
from nb2prod.generate.write import MANIFEST, sha256
from nb2prod.plan.build import Plan, build_plan
from nb2prod.protocol import Contracts, MetricValues, ProbeResult
from nb2prod.read.notebook import from_node
from tests.unit.notebooks import REGRESSION, Cells, notebook_node, write_notebook


def plan_of(cells: Cells) -> Plan:
    return build_plan(from_node(notebook_node(cells), Path("nb.ipynb")))


def probe(
    defaults: dict[str, float] | None = None,
    quick: dict[str, float] | None = None,
    sources: tuple[str, ...] = (),
    model_problem: str | None = None,
) -> ProbeResult:
    """A pipeline run's record with the metrics it measured."""
    return ProbeResult(
        Contracts({}), {}, MetricValues(defaults or {}, quick), sources, model_problem
    )


# ---- writing ------------------------------------------------------------------------------


def test_convert_writes_through_the_writer_and_keeps_the_users_edits(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", REGRESSION)
    out = tmp_path / "out"
    conversion = convert(notebook, out, run_pipeline=False, service=False)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["source"] == {"path": "nb.ipynb", "sha256": sha256(notebook.read_bytes())}
    assert (manifest["project"], manifest["package"], manifest["probe"]) == ("nb", "nb", None)
    assert set(conversion.report.written) == {*manifest["files"], MANIFEST}
    assert all(sha256((out / p).read_bytes()) == h for p, h in manifest["files"].items())
    assert (out / "notebooks" / "nb.ipynb").is_file()  # the copy verify runs
    pipeline = out / "src" / "nb" / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "# mine\n")
    with pytest.raises(UserError) as raised:
        convert(notebook, out, run_pipeline=False, service=False)
    assert raised.value.problems[0].code == "edited-files"
    assert pipeline.read_text().endswith("# mine\n")


def test_convert_to_json_says_what_was_written(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", REGRESSION)
    conversion = convert(notebook, tmp_path / "out", run_pipeline=False)
    shown = conversion.to_json()
    assert shown["output"] == str(tmp_path / "out") and shown["project"] == "nb"
    assert shown["unchanged"] == [] and shown["backup"] is None
    codes = [w["code"] for w in shown["warnings"]]
    assert "no-service" in codes  # asked for a service, but --no-run cannot describe it
    assert conversion.serving is None


def test_blocking_problems_stop_convert_before_anything_is_written(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", [("x = undefined_name", ["nb2prod:load"])])
    with pytest.raises(UserError) as raised:
        convert(notebook, tmp_path / "out", run_pipeline=False)
    assert raised.value.problems[0].code == "undefined-name"
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_a_file_is_refused_before_the_analysis(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", REGRESSION)
    (tmp_path / "out").write_text("mine")
    with pytest.raises(UserError) as raised:
        convert(notebook, tmp_path / "out", run_pipeline=False)
    assert raised.value.problems[0].code == "output-is-file"


def test_the_default_output_is_named_after_the_project() -> None:
    assert default_output(Path("work/My Notebook.ipynb")) == Path("work/my-notebook")
    assert default_output(Path("work/nb.ipynb"), "Churn") == Path("work/churn")
    assert default_output(Path("work/nb.ipynb"), None, Path("out")) == Path("out/nb")


# ---- from the pipeline's run --------------------------------------------------------------


def test_a_probe_is_reused_only_for_the_same_notebook_and_nb2prod(tmp_path: Path) -> None:
    """The run takes minutes; a stale or hand-edited record must not be trusted."""
    record = probe({"score": 1.0}, sources=("score",))

    def manifest(**changes: object) -> None:
        data = {
            "source": {"sha256": "s"},
            "nb2prod_version": __version__,
            "probe": record.to_json(),
            **changes,
        }
        (tmp_path / MANIFEST).write_text(json.dumps(data))

    assert _cached_probe(tmp_path, "s") is None  # no manifest yet
    manifest()
    assert _cached_probe(tmp_path, "s") == record
    assert _cached_probe(tmp_path, "other notebook") is None
    manifest(nb2prod_version="0.0.1")
    assert _cached_probe(tmp_path, "s") is None
    manifest(probe={"contracts": "damaged"})
    assert _cached_probe(tmp_path, "s") is None
    manifest(probe=None)
    assert _cached_probe(tmp_path, "s") is None


def test_a_model_that_cannot_be_the_model_stops_convert_at_its_cell() -> None:
    plan = plan_of(REGRESSION)
    _check_model(plan, probe())  # nothing wrong
    with pytest.raises(UserError) as raised:
        _check_model(plan, probe(model_problem="`model` is None after training"))
    problem = raised.value.problems[0]
    assert problem.code == "wrong-model"
    assert problem.message == "the model to save is unclear: `model` is None after training"
    assert problem.cell is not None and problem.cell.index == 2  # the train cell binds it


def test_quick_parameters_that_score_far_below_the_defaults_are_a_warning() -> None:
    """The generated smoke test holds the quick run to the notebook's scores."""
    quick_cells: Cells = [("n = 3\n# nb2prod: quick n=1", ["parameters"]), *REGRESSION[1:]]
    plan = plan_of(quick_cells)
    (warning,) = _weak_quick_run(plan, probe({"accuracy": 0.9}, {"accuracy": 0.5}))
    assert warning.code == "weak-quick-parameters" and not warning.blocking
    assert "accuracy 0.5 (notebook 0.9)" in warning.message
    assert warning.cell is not None and warning.cell.index == 0
    assert _weak_quick_run(plan, probe({"accuracy": 0.9}, {"accuracy": 0.85})) == []
    assert _weak_quick_run(plan, probe({"rmse": 1.0}, {"rmse": 0.5})) == []  # lower is better
    assert _weak_quick_run(plan, probe({"accuracy": 0.9})) == []  # no quick run


def test_printed_values_that_held_no_number_are_noted() -> None:
    """Kale's pipeline-metrics cells print parameters and matrices: not metrics, not errors."""
    cells: Cells = [
        *REGRESSION[:3],
        ("score = float(model.score(X, y))\nprint(rate)\nprint(score)", ["nb2prod:evaluate"]),
    ]
    plan = plan_of(cells)
    assert dict(plan.metrics.printed)
    notes = _printed_non_numbers(plan, probe({"score": 1.0}, sources=("score",)))
    assert [(n.code, n.message) for n in notes] == [
        (
            "printed-not-a-metric",
            "`rate` is printed as a metric but is a parameter: it is not recorded as one",
        )
    ]


@pytest.mark.parametrize(
    ("predict", "why"),
    [
        (None, "no cell has the predict role"),
        ("print('done')", "`predict` keeps its predictions in no variable"),
        ("predictions = [1, 2]", "`predict` does not read both the model and the rows"),
    ],
)
def test_no_service_says_why(predict: str | None, why: str) -> None:
    cells = [*REGRESSION[:4], *([(predict, ["nb2prod:predict"])] if predict else [])]
    problem = _no_service(plan_of(cells), True, probe())
    assert problem.code == "no-service" and why in problem.message
    assert not problem.blocking


def test_no_service_after_a_run_names_what_the_run_showed() -> None:
    plan = plan_of(REGRESSION)
    record = probe()
    assert "--no-run" in _no_service(plan, False, None).message
    shown = ProbeResult(record.contracts, {}, record.metrics, (), input_problem="a dict")
    assert "its input cannot be a request: a dict" in _no_service(plan, True, shown).message


def test_a_pipeline_stopped_by_an_import_names_the_cell_and_the_pip_line() -> None:
    cells: Cells = [("import sklearn", ["nb2prod:setup"]), *REGRESSION[1:]]
    problem = _missing(plan_of(cells), "sklearn", None)
    assert problem.code == "missing-package"
    assert problem.fix == "`pip install scikit-learn`, then convert again"
    assert problem.cell is not None and problem.cell.index == 0
    plan = plan_of(REGRESSION)
    train = next(s for s in plan.steps if s.role == "train")
    extra = _missing(plan, "bentoml", train)  # imported by generated code, not the notebook
    assert extra.fix == "`pip install 'nb2prod[serve]'`, then convert again"
    assert extra.cell is not None and extra.cell.index == 2


def test_a_project_whose_pipeline_was_compiled_keeps_it_on_a_plain_convert(
    tmp_path: Path,
) -> None:
    """`convert` without --kfp/--no-kfp keeps the earlier choice: a re-export does not
    remove pipelines/pipeline.yaml, which the user asked for once."""
    assert not _compiled_pipeline_before(tmp_path)  # no project yet
    (tmp_path / MANIFEST).write_text(json.dumps({"files": {"src/x.py": "0"}}))
    assert not _compiled_pipeline_before(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"files": {"pipelines/pipeline.yaml": "0"}}))
    assert _compiled_pipeline_before(tmp_path)
    (tmp_path / MANIFEST).write_text("[1, 2]")  # damaged: the writer reports it, not this
    assert not _compiled_pipeline_before(tmp_path)
