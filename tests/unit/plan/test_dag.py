"""The steps as a graph: data edges from the last step returning a value, Kale's prev: edges."""

from __future__ import annotations

from pathlib import Path

from nb2prod.plan.build import Plan, build_plan
from nb2prod.plan.dag import last_providers, tasks
from nb2prod.read.notebook import load_notebook
from tests.conftest import make_notebook

FLOW = [
    "import pandas as pd",
    ("n = 4", ["parameters"]),
    ("df = pd.DataFrame({'a': range(n), 'y': [0, 1] * (n // 2)})", ["nb2prod:load"]),
    ("df['b'] = df['a'] * 2", ["nb2prod:preprocess"]),  # changes df in place
    ("model = df[['a', 'b']].mean()", ["nb2prod:train"]),
    ("score = float(model.sum())", ["nb2prod:evaluate"]),
]
KALE = [
    ("import pandas as pd", ["imports"]),
    ("df = pd.DataFrame({'a': [1.0, 2.0], 'b': [3.0, 4.0]})", ["step:load_data"]),
    ("a = df['a'] * 2", ["step:left", "prev:load_data"]),
    ("b = df['b'] * 2", ["step:right", "prev:load_data"]),
    ("print('joined')", ["step:join", "prev:left", "prev:right", "prev:nowhere"]),
    ("model = (a + b).mean()", ["step:train_model", "prev:join"]),
]


def _plan(tmp_path: Path, cells: list) -> Plan:
    return build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells)))


def test_a_value_comes_from_the_last_step_that_returned_it(tmp_path: Path) -> None:
    found = {t.step.function: t for t in tasks(_plan(tmp_path, FLOW))}
    assert [(i.name, i.provider) for i in found["train_model"].inputs] == [("df", "preprocess")]
    assert found["preprocess"].upstream == ("load_data",)
    assert found["evaluate"].upstream == ("train_model",)
    assert found["load_data"].upstream == () and found["evaluate"].after_only == ()


def test_last_providers_name_the_final_version_of_each_value(tmp_path: Path) -> None:
    providers = last_providers(_plan(tmp_path, FLOW))
    assert providers["df"] == "preprocess" and providers["model"] == "train_model"


def test_kale_prev_tags_are_edges_even_where_no_value_flows(tmp_path: Path) -> None:
    plan = _plan(tmp_path, KALE)
    found = {t.step.function: t for t in tasks(plan)}
    join = next(t for name, t in found.items() if name not in {"load_data", "train_model"}
                and not t.inputs)  # fmt: skip
    left, right = (
        found[p] for p in sorted(set(found) - {"load_data", "train_model", join.step.function})
    )
    assert left.upstream == right.upstream == ("load_data",)
    assert set(join.upstream) == {left.step.function, right.step.function}  # `nowhere` dropped
    train = found["train_model"]
    assert set(train.upstream) == {left.step.function, right.step.function, join.step.function}
    assert train.after_only == (join.step.function,)
