"""verify.py: what counts as "the generated code does what the notebook did".

A full verify runs papermill and trains twice (tests/e2e/test_verify.py). The
decisions are tested here on their own: how metrics and predictions are compared,
what the report says when nothing could be compared, how `-p` values are typed,
which paths of a manifest are trusted, and what a failing generated side is
reported as. The child of `GeneratedRun` is a few lines of Python that answers as
the real one would.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nb2prod.commands.verify import (
    FLOAT_ATOL,
    NO_METRICS,
    Check,
    GeneratedRun,
    VerifyReport,
    _compare_metadata,
    _compare_metrics,
    _compare_predictions,
    _compare_schema,
    _list_difference,
    _nothing,
    _recorded_input,
    _shown,
    _typed_parameters,
    _why_no_predictions,
    plan_of,
    service_tolerance,
    verify,
)
from nb2prod.errors import UserError
from nb2prod.generate.install_hints import MISSING_PACKAGE
from nb2prod.plan.build import Plan, build_plan
from nb2prod.protocol import InputColumn, InputProfile, VerifyResult
from nb2prod.read.notebook import from_node
from nb2prod.run.notebook_run import NotebookRun
from tests.unit.notebooks import REGRESSION, Cells, notebook_node, write_notebook

NAN = float("nan")


def plan(cells: Cells = REGRESSION) -> Plan:
    return build_plan(from_node(notebook_node(cells), Path("nb.ipynb")))


def run(**fields: Any) -> NotebookRun:
    """A papermill run's record, as `run_notebook` returns it."""
    return NotebookRun(**{"metrics": {}, "predictions": {}, "executed": Path("x"), **fields})


# ---- metrics ------------------------------------------------------------------------------


def test_metrics_must_agree_exactly_by_default() -> None:
    """Seeded runs of the same code give the same numbers: any difference is a change."""
    (check,) = _compare_metrics({"acc": 0.9}, {"acc": 0.9 + 1e-15}, 0.0)
    assert not check.passed and check.difference == pytest.approx(1e-15, abs=1e-16)
    (check,) = _compare_metrics({"acc": 0.9}, {"acc": 0.9}, 0.0)
    assert check.passed and check.difference == 0.0


def test_rtol_lets_metrics_differ_relatively() -> None:
    assert _compare_metrics({"loss": 100.0}, {"loss": 100.9}, 0.01)[0].passed
    assert not _compare_metrics({"loss": 100.0}, {"loss": 102.0}, 0.01)[0].passed
    assert not _compare_metrics({"loss": 0.0}, {"loss": 1e-300}, 0.5)[0].passed  # relative only


def test_a_metric_on_one_side_only_fails_and_both_sides_are_listed_in_order() -> None:
    checks = _compare_metrics({"b": 1.0, "a": 2.0}, {"a": 2.0, "c": 3.0}, 0.0)
    assert [(c.name, c.notebook, c.generated, c.passed) for c in checks] == [
        ("a", 2.0, 2.0, True),
        ("b", 1.0, None, False),
        ("c", None, 3.0, False),
    ]


def test_nan_agrees_with_nan_and_infinities_have_no_difference() -> None:
    """A metric that is NaN in both runs did not change; inf - inf has no size."""
    (nan,) = _compare_metrics({"m": NAN}, {"m": NAN}, 0.0)
    assert nan.passed and nan.difference is None
    assert not _compare_metrics({"m": NAN}, {"m": 1.0}, 0.0)[0].passed
    (inf,) = _compare_metrics({"m": math.inf}, {"m": math.inf}, 0.0)
    assert inf.passed and inf.difference is None


# ---- predictions --------------------------------------------------------------------------


def test_labels_compare_exactly_and_floats_within_the_tolerance() -> None:
    assert _list_difference(["a", "b"], ["a", "b"], 0.0, FLOAT_ATOL) == (
        None,
        True,
    )  # labels: no difference to measure
    assert _list_difference(["a", "b"], ["a", "c"], 0.0, FLOAT_ATOL) == (None, False)
    assert _list_difference([1, 2], [1, 3], 0.0, FLOAT_ATOL) == (None, False)  # ints: labels
    difference, passed = _list_difference([1.0, 2.0], [1.0, 2.0 + 1e-13], 0.0, FLOAT_ATOL)
    assert passed and 0 < difference < 1e-12  # type: ignore[operator]
    assert _list_difference([1.0], [1.1], 0.0, FLOAT_ATOL) == (pytest.approx(0.1), False)


def test_the_tolerance_grows_with_rtol_and_with_the_services_atol() -> None:
    """The ONNX twin answers in float32: verify gives the service 1e-5."""
    assert not _list_difference([0.5], [0.5 + 1e-6], 0.0, FLOAT_ATOL)[1]
    assert _list_difference([0.5], [0.5 + 1e-6], 0.0, 1e-5)[1]
    assert _list_difference([100.0], [100.5], 0.01, FLOAT_ATOL)[1]


def test_nested_rows_are_compared_value_by_value_and_nans_agree() -> None:
    """predict_proba gives a list per row; a NaN in the same place is no difference."""
    assert _list_difference([[0.1, NAN], [0.9, 0.1]], [[0.1, NAN], [0.9, 0.1]], 0.0, 1e-12)[1]
    assert not _list_difference([[0.1, 0.2]], [[0.1, 0.3]], 0.0, 1e-12)[1]
    assert not _list_difference([NAN], [1.0], 0.0, 1e-12)[1]


def test_different_lengths_or_missing_predictions_fail_without_a_difference() -> None:
    assert _list_difference([1, 2], [1], 0.0, FLOAT_ATOL) == (None, False)
    assert _list_difference([[1, 2]], [[1]], 0.0, FLOAT_ATOL) == (None, False)
    assert _list_difference([1], None, 0.0, FLOAT_ATOL) == (None, False)
    assert _list_difference("a", "a", 0.0, FLOAT_ATOL) == (None, True)  # not lists: equality


def test_a_single_float_prediction_is_compared_within_the_tolerance() -> None:
    assert _list_difference(0.1 + 0.2, 0.3, 0.0, FLOAT_ATOL)[1]


def test_each_notebook_prediction_is_one_check_shown_shortened() -> None:
    """The table shows five values of each side; the notebook decides what is compared."""
    checks = _compare_predictions(
        {"labels": list(range(8)), "proba": [0.5]}, {"labels": list(range(8))}, 0.0, kind="service"
    )
    assert [(c.kind, c.name, c.passed) for c in checks] == [
        ("service", "labels", True),
        ("service", "proba", False),
    ]
    assert checks[0].notebook == [0, 1, 2, 3, 4, "..."] and checks[1].generated is None


# ---- the report ---------------------------------------------------------------------------


def report_of(*checks: Check) -> VerifyReport:
    return VerifyReport("p", {"n": 1}, 0.0, checks=list(checks))


def test_coverage_names_what_was_compared_never_a_bare_count() -> None:
    report = report_of(
        *_compare_metrics({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0}, 0.0),
        *_compare_predictions({"y": [1, 2, 3]}, {"y": [1, 2, 3]}, 0.0),
        *_compare_predictions({"y": [1, 2, 3]}, {"y": [1, 2, 3]}, 0.0, kind="service"),
        Check("schema", "rows", {}, {}, None, True),
        Check("metadata", "parameters", {}, {}, None, True),
    )
    assert report.coverage == "2 metrics, 3 predictions x 2 (function, service), schema, metadata"
    assert report.passed


def test_a_report_that_compared_nothing_says_so_and_fails() -> None:
    """A pass on nothing must not read like a pass."""
    report = report_of(_nothing("metric", NO_METRICS))
    assert report.coverage == "0 metrics, no predictions"
    assert not report.passed
    assert report.checks[0].name == "(none compared)" and report.checks[0].note == NO_METRICS
    one = report_of(*_compare_metrics({"a": 1.0}, {"a": 1.0}, 0.0))
    assert one.coverage == "1 metric, no predictions"


def test_predictions_of_another_shape_differ_even_with_the_same_values() -> None:
    (check,) = _compare_predictions({"y": [[1, 2], [3]]}, {"y": [[1], [2, 3]]}, 0.0)
    assert not check.passed


def test_coverage_counts_every_predicted_row() -> None:
    rows = list(range(100))
    report = report_of(*_compare_predictions({"y": rows}, {"y": rows}, 0.0))
    assert report.coverage == "0 metrics, 100 predictions x 1 (function)"


def test_the_json_report_carries_the_verdict_and_the_coverage() -> None:
    report = report_of(*_compare_metrics({"a": 1.0}, {"a": 2.0}, 0.0))
    data = json.loads(json.dumps(report.to_json()))
    assert data["passed"] is False and data["coverage"] == "1 metric, no predictions"
    assert data["checks"][0]["name"] == "a" and data["parameters"] == {"n": 1}


# ---- schema and metadata ------------------------------------------------------------------


def profile(**kinds: str) -> InputProfile:
    columns = tuple(InputColumn(name, False, kind) for name, kind in kinds.items())
    return InputProfile("rows", "dataframe", columns, (), 2)


def test_the_schema_check_lets_ints_fill_float_columns_and_nothing_else() -> None:
    assert _compare_schema(profile(x0="float"), {"x0": "int"})[0].passed  # `[[5, 2]]`
    assert not _compare_schema(profile(x0="int"), {"x0": "float"})[0].passed
    assert not _compare_schema(profile(x0="float"), {"x0": "str"})[0].passed
    assert not _compare_schema(profile(x0="float"), {"x1": "float"})[0].passed
    assert not _compare_schema(profile(a="int", b="int"), {"a": "int"})[0].passed


def test_no_schema_check_without_a_recorded_input_or_rows() -> None:
    """Converted without a service, no request schema was recorded."""
    assert _compare_schema(None, {"x0": "int"}) == []
    assert _compare_schema(profile(x0="int"), None) == []


def test_the_recorded_input_comes_from_the_manifests_probe(tmp_path: Path) -> None:
    assert _recorded_input(tmp_path, {}) is None
    with pytest.raises(UserError) as raised:
        _recorded_input(tmp_path, {"probe": {"contracts": {}}})
    assert raised.value.problems[0].code == "not-a-project"
    assert "the probe in the manifest is damaged" in raised.value.problems[0].message


def test_metadata_shows_hashes_short_and_of_mappings_only_what_differs() -> None:
    assert _shown("a" * 64, "b" * 64) == ("a" * 12, "b" * 12)
    assert _shown({"n": 1, "m": 2}, {"n": 1, "m": 3}) == ({"m": 2}, {"m": 3})
    assert _shown({"n": 1}, {"n": 1}) == ({"n": 1}, {"n": 1})
    assert _shown("short", "other") == ("short", "other")


def test_metadata_agrees_with_the_parameters_metrics_and_sources_of_the_run() -> None:
    """The model card must describe the model verify trained, with these parameters."""
    regression = plan()
    defaults = {p.name: p.default for p in regression.parameters}
    result = VerifyResult(
        {"score": 1.0},
        {
            "parameters": {**defaults, "n": 5},
            "metrics": {"score": 1.0},
            "source_sha256": "s" * 64,
            "data_sha256": "d" * 64,
        },
    )
    manifest = {"source": {"sha256": "s" * 64}}
    checks = _compare_metadata(regression, manifest, {"n": 5}, run(data_sha256="d" * 64), result)
    assert [(c.name, c.passed) for c in checks] == [
        ("parameters", True),
        ("metrics", True),
        ("source_sha256", True),
        ("data_sha256", True),
    ]
    stale = _compare_metadata(regression, manifest, {"n": 6}, run(), result)
    assert [(c.name, c.passed) for c in stale] == [
        ("parameters", False),
        ("metrics", True),
        ("source_sha256", True),
    ]  # no data fingerprint from the notebook: not compared
    assert (stale[0].notebook, stale[0].generated) == ({"n": 6}, {"n": 5})


# ---- why nothing was compared -------------------------------------------------------------


def with_predict(source: str) -> Plan:
    return plan([*REGRESSION[:4], (source, ["nb2prod:predict"])])


def test_a_predict_section_that_only_prints_is_told_to_assign() -> None:
    reason = _why_no_predictions(with_predict("print('done')"), run(), VerifyResult({}, {}))
    assert "keeps its predictions in no variable" in reason


def test_a_predict_section_without_the_model_cannot_be_called() -> None:
    reason = _why_no_predictions(with_predict("predictions = [1, 2]"), run(), VerifyResult({}, {}))
    assert reason.startswith("the predict section does not predict from the model")


@pytest.mark.parametrize(
    ("notebook_run", "result", "reason"),
    [
        (
            run(input_problem="PicklingError: no"),
            VerifyResult({}, {}),
            "the notebook's predict input could not be kept: PicklingError: no",
        ),
        (
            run(),
            VerifyResult({}, {}),
            "the notebook's predict section left no predictions to compare",
        ),
        (
            run(predictions={"predictions": [1]}),
            VerifyResult({}, {}, service_problem="rows cannot be a request"),
            "rows cannot be a request",
        ),
        (
            run(predictions={"predictions": [1]}),
            VerifyResult({}, {}),
            "the generated side returned no predictions",
        ),
    ],
)
def test_a_callable_predict_section_says_which_side_came_back_empty(
    notebook_run: NotebookRun, result: VerifyResult, reason: str
) -> None:
    assert _why_no_predictions(plan(), notebook_run, result) == reason


# ---- parameters ---------------------------------------------------------------------------


def test_p_values_take_the_type_of_the_parameters_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As papermill injects them: `-p n 3` is the int 3, `-p sizes [4]` a list."""
    given = {"n": "3", "rate": "2", "flag": "yes", "name": "7", "sizes": "[4]", "label": "a"}
    typed = _typed_parameters(plan(), given, Path("p"))
    assert typed == {"n": 3, "rate": 2.0, "flag": True, "name": "7", "sizes": [4], "label": "a"}
    assert isinstance(typed["rate"], float)
    assert _typed_parameters(plan(), {"flag": "0"}, Path("p")) == {"flag": False}
    assert capsys.readouterr().err == ""


def test_a_float_for_an_int_parameter_is_kept_with_a_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """papermill would inject `n = 0.5` as written; so does verify, and says so."""
    assert _typed_parameters(plan(), {"n": "0.5"}, Path("p")) == {"n": 0.5}
    assert "`n` defaults to an int; given the float 0.5" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("n", "three", "`n` takes a int, not `three`"),
        ("flag", "maybe", "`flag` takes a bool, not `maybe`"),
        ("sizes", "[1,", "`sizes` takes a list[int], not `[1,`"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_user_error(name: str, text: str, says: str) -> None:
    with pytest.raises(UserError) as raised:
        _typed_parameters(plan(), {name: text}, Path("p"))
    assert raised.value.problems[0].code == "bad-parameter"
    assert raised.value.problems[0].message == says


def test_an_unknown_parameter_lists_the_known_ones() -> None:
    with pytest.raises(UserError) as raised:
        _typed_parameters(plan(), {"epochs": "3"}, Path("p"))
    problem = raised.value.problems[0]
    assert problem.code == "unknown-parameter"
    assert problem.fix == "use one of: n, rate, flag, name, sizes, label"
    with pytest.raises(UserError) as raised:
        _typed_parameters(plan(REGRESSION[1:]), {"epochs": "3"}, Path("p"))
    assert "(the notebook has no parameters cell)" in raised.value.problems[0].fix


# ---- the project and its manifest ---------------------------------------------------------


def project(tmp_path: Path, cells: Cells = REGRESSION, path: str = "nb.ipynb") -> Path:
    """A generated project as far as verify reads it before running anything."""
    folder = tmp_path / "project"
    (folder / "notebooks").mkdir(parents=True)
    write_notebook(folder / "notebooks" / "nb.ipynb", cells)
    manifest = {"project": "nb", "source": {"path": path, "sha256": "s" * 64}}
    (folder / "nb2prod.json").write_text(json.dumps(manifest))
    return folder


def verify_error(folder: Path, parameters: dict[str, str], **kw: Any) -> str:
    """The problem code verify stops with; it must stop before running anything."""
    with pytest.raises(UserError) as raised:
        verify(folder, parameters, **kw)
    assert not (folder / "verification").exists()
    return raised.value.problems[0].code


def test_verify_refuses_bad_parameters_before_running_anything(tmp_path: Path) -> None:
    assert verify_error(project(tmp_path), {"epochs": "3"}) == "unknown-parameter"


def test_quick_without_a_quick_line_is_refused(tmp_path: Path) -> None:
    assert verify_error(project(tmp_path), {}, quick=True) == "no-quick-parameters"


def test_the_manifests_notebook_must_stay_in_the_projects_notebooks(tmp_path: Path) -> None:
    """verify runs that notebook: a path in a manifest anyone can edit is untrusted."""
    assert verify_error(project(tmp_path, path="../../x.ipynb"), {}) == "path-outside-project"


def test_a_missing_notebook_copy_says_to_convert_again(tmp_path: Path) -> None:
    assert verify_error(project(tmp_path, path="gone.ipynb"), {}) == "no-notebook"


def test_a_folder_without_a_manifest_is_not_a_project(tmp_path: Path) -> None:
    assert verify_error(tmp_path, {}) == "not-a-project"


def test_plan_of_builds_the_plan_with_the_metrics_convert_measured(tmp_path: Path) -> None:
    folder = project(tmp_path)
    manifest = json.loads((folder / "nb2prod.json").read_text())
    assert plan_of(folder, manifest).project == "nb"
    measured = {**manifest, "metric_sources": ["score"], "metrics": ["score"]}
    assert plan_of(folder, measured).metrics.names == ("score",)


# ---- the generated side -------------------------------------------------------------------


CHILD_ANSWERS = """
import json, sys
request = json.load(sys.stdin)
result = {"metrics": {"score": 1.0}, "metadata": {"rows": request["input_path"]}}
open(sys.argv[1], "w").write(json.dumps(result))
"""


def generated_run(tmp_path: Path, code: str, regression: Plan | None = None) -> GeneratedRun:
    """A `GeneratedRun` whose child is `code`: the verify child's protocol in a few lines."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with (scratch / "output.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(scratch / "result.json")],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
        )
    return GeneratedRun(process, scratch, regression or plan(), tmp_path / "project")


def test_finish_hands_the_child_the_notebooks_rows_and_reads_its_result(tmp_path: Path) -> None:
    pickled = tmp_path / "rows.pkl"
    notebook = run(input_path=pickled, predictions={"predictions": [1.0]})
    result = generated_run(tmp_path, CHILD_ANSWERS).finish(notebook, timeout=60)
    assert result == VerifyResult({"score": 1.0}, {"rows": str(pickled)})


def test_without_predictions_the_child_gets_no_rows(tmp_path: Path) -> None:
    """The notebook kept an input but predicted nothing: nothing for the child to predict."""
    notebook = run(input_path=tmp_path / "rows.pkl")
    result = generated_run(tmp_path, CHILD_ANSWERS).finish(notebook, timeout=60)
    assert result.metadata == {"rows": None}


def failing_child(step: str, error: str) -> str:
    """A child that marks `step`, then dies of `error` with a traceback."""
    traceback = f"Traceback (most recent call last):\n{error}"
    return (
        "import sys\n"
        f"print({f'nb2prod-child: step {step}'!r}, file=sys.stderr)\n"
        f"print({traceback!r}, file=sys.stderr)\n"
        "sys.exit(1)\n"
    )


@pytest.mark.parametrize(
    ("step", "what"),
    [
        ("training", "the generated training failed"),
        ("predict", "the generated predict function failed on the notebook's rows"),
        ("service", "the generated service failed on the notebook's rows"),
    ],
)
def test_a_failing_child_names_the_phase_and_its_error(
    tmp_path: Path, step: str, what: str
) -> None:
    child = generated_run(tmp_path, failing_child(step, "ValueError: boom"))
    with pytest.raises(UserError) as raised:
        child.finish(run(), timeout=60)
    problem = raised.value.problems[0]
    assert problem.code == "generated-failed"
    assert problem.message.startswith(f"{what}:\n")
    assert problem.message.endswith("ValueError: boom") and "nb2prod-child" not in problem.message


def test_a_child_that_runs_too_long_is_killed(tmp_path: Path) -> None:
    child = generated_run(tmp_path, "import time; time.sleep(60)")
    with pytest.raises(UserError) as raised:
        child.finish(run(), timeout=1)
    assert "the generated code timed out" in raised.value.problems[0].message
    assert "it did not finish in 1 s" in raised.value.problems[0].message
    assert child.process.poll() is not None


NO_SKLEARN = "ModuleNotFoundError: No module named 'sklearn'"


def hide_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if scikit-learn were not installed here (a name no environment has would cost a
    scan of every installed distribution to name what installs it)."""
    monkeypatch.setitem(sys.modules, "sklearn", None)


def test_a_missing_module_in_the_child_is_a_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notebook's kernel had it, the generated code does not: name its cell and pip line."""
    child = generated_run(tmp_path, failing_child("training", NO_SKLEARN))
    hide_sklearn(monkeypatch)
    with pytest.raises(UserError) as raised:
        child.finish(run(), timeout=60)
    problem = raised.value.problems[0]
    assert problem.code == MISSING_PACKAGE
    assert problem.message.startswith("the generated code stopped on an import: ")
    assert problem.fix == "`pip install scikit-learn`, then verify again"
    assert problem.cell is not None and problem.cell.index == 2  # the train cell imports it


def test_a_missing_project_requirement_says_to_install_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its pyproject.toml pins it: installing the project installs the right version."""
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "pyproject.toml").write_text(
        'dependencies = [\n  "numpy>=1",\n  "scikit-learn==1.5.0",\n]\n'
    )
    monkeypatch.chdir(tmp_path)
    child = generated_run(tmp_path, failing_child("training", NO_SKLEARN))
    hide_sklearn(monkeypatch)
    with pytest.raises(UserError) as raised:
        child.finish(run(), timeout=60)
    fix = raised.value.problems[0].fix
    assert fix.startswith("`pip install -e project` (the project with the requirements")
    assert "`scikit-learn==1.5.0` among them" in fix


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"runtime": "python"}, (0.0, FLOAT_ATOL, None)),
        ({"runtime": "onnx"}, (0.0, 1e-5, "from the ONNX twin")),  # scikit-learn's twin
        ({"runtime": "onnx", "onnx": {"rtol": 1e-4, "atol": 1e-5}}, (1e-4, 1e-5, "ONNX twin")),
        ({"runtime": "torch", "framework": "pytorch"}, (1e-5, 1e-6, "float32")),
    ],
)
def test_the_service_is_held_to_what_training_checked(
    metadata: dict[str, Any], expected: tuple[float, float, str | None]
) -> None:
    """The tolerance comes from the model's metadata, and the report says why."""
    rtol, atol, why = service_tolerance(metadata)
    assert (rtol, atol) == expected[:2]
    assert (why is None) if expected[2] is None else (expected[2] in why)
