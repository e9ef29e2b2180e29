"""The Kubeflow components rendered from a plan: ports, calls, metrics and the save step."""

from __future__ import annotations

from pathlib import Path

from nb2prod.generate.kfp_pipeline import kfp_pipeline
from nb2prod.plan.build import build_plan
from nb2prod.read.notebook import load_notebook
from tests.conftest import make_notebook

CELLS = [
    "import pandas as pd",
    ("n = 4\nlabels = ('a', 'b')", ["parameters"]),
    ("df = pd.DataFrame({'a': range(n), 'y': [0, 1] * (n // 2)})", ["nb2prod:load"]),
    ("df['b'] = df['a'] * len(labels)", ["nb2prod:preprocess"]),  # df in and out
    ("model = df[['a', 'b']].mean()", ["nb2prod:train"]),
    ("metrics = {'total': float(model.sum())}", ["nb2prod:evaluate"]),
]


def test_components_read_inputs_and_write_outputs(tmp_path: Path) -> None:
    plan = build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", CELLS)))
    pipeline = kfp_pipeline(plan)
    by_name = {c.name: c for c in pipeline.components}
    load, prep = by_name["load_data"], by_name["preprocess"]
    assert load.fingerprint == "data_sha256" and load.call == "load_data(n=n)"
    ports = {p.name: p.annotation for p in prep.ports}
    # the same name in and out: the output port gets a name of its own
    assert ports == {"df": "Input[Artifact]", "df_": "Output[Artifact]", "labels": "list"}
    assert prep.call == "preprocess(read_value(df), labels=tuple(labels))"
    assert prep.task_inputs == (("df", "load_data", "df"),)
    train = by_name["train_model"]
    assert train.task_inputs == (("df", "preprocess", "df_"),)


def test_the_metric_step_logs_and_the_save_step_reads_final_values(tmp_path: Path) -> None:
    plan = build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", CELLS)))
    pipeline = kfp_pipeline(plan)
    evaluate = next(c for c in pipeline.components if c.name == "evaluate")
    # the notebook's own `metrics` keeps its name; the Metrics port gets another
    assert evaluate.metrics == "metrics_" and pipeline.metrics_port == "metrics_"
    assert evaluate.metric_values == (("metrics", "result"),)
    save = pipeline.save
    assert save.values[0] == ("data_sha256", "data_sha256")
    assert ("df", "preprocess", "df_") in save.task_inputs  # the changed frame, not load's
    assert save.config == ("n", "labels") and save.model == "model_" and save.metrics is None
    assert [(p.name, p.default) for p in pipeline.parameters] == [
        ("n", "4"),
        ("labels", "['a', 'b']"),
    ]


def test_the_readmes_submit_example_is_in_ruffs_style() -> None:
    """ruff formats Python blocks in Markdown: the example must already be what it writes
    (double-quoted strings), or the generated project's `ruff format --check` fails."""
    from nb2prod.analyse.parameters import Parameter
    from nb2prod.generate.kfp_pipeline import _submit_arguments

    def parameter(name: str, default: object) -> Parameter:
        return Parameter(name, default, repr(default), type(default).__name__, "", 1)

    assert _submit_arguments(()) == "{}"
    assert _submit_arguments((parameter("solver", "lbfgs"),)) == '{"solver": "lbfgs"}'
    assert _submit_arguments((parameter("sizes", ("a", 2)),)) == '{"sizes": ["a", 2]}'
    assert _submit_arguments((parameter("flag", None),)) == '{"flag": None}'
