"""row_picking.py: a predict section that picks its rows becomes `select_rows` + `predict`.

The service's request replaces what `select_rows` returns, so only the picking may
move there: feature code left in `predict` runs on every request.
"""

from __future__ import annotations

import ast

import pytest

from nb2prod.analyse.row_picking import Lifted, fresh_name, is_model_call, split_predict
from nb2prod.analyse.sections import SectionCode
from tests.unit.analyse.sections import analysed


def split(
    source: str, module: set[str] | None = None, taken: set[str] | None = None
) -> tuple[list[tuple[str, list[str]]], list[Lifted]]:
    """(role, body texts) of the sections a one-cell predict section becomes, and lifts."""
    code, _ = analysed("predict", source, first_index=3)
    codes, lifted = split_predict([code], "model", module or set(), taken or set())
    return [(c.section.role.name, [ch.text for ch in c.body]) for c in codes], list(lifted.values())


def test_rows_picked_from_a_table_become_their_own_step() -> None:
    """`sample = X_test.head(3)` is what a request replaces."""
    assert split("sample = X_test.head(3)\npred = model.predict(sample)") == (
        [("select", ["sample = X_test.head(3)"]), ("predict", ["pred = model.predict(sample)"])],
        [],
    )


def test_rows_built_from_constants_move_with_the_picking() -> None:
    """`np.column_stack([np.linspace(0, 1, 5)])` reads only modules: it is rows."""
    sections, _ = split(
        "grid = np.column_stack([np.linspace(0, 1, 5)])\npred = model.predict(grid)",
        module={"np"},
    )
    assert [role for role, _ in sections] == ["select", "predict"]


def test_a_pick_inside_the_call_is_lifted_into_a_fresh_name() -> None:
    """`model.predict(X_test[:2])` becomes `new_rows = X_test[:2]` when `rows` is taken."""
    assert split("labels = model.predict(X_test[:2])", taken={"rows"}) == (
        [("select", ["new_rows = X_test[:2]"]), ("predict", ["labels = model.predict(new_rows)"])],
        [Lifted("new_rows", "X_test[:2]")],
    )


@pytest.mark.parametrize(
    "source",
    [
        "pred = model.predict(X_test)",  # the whole table: nothing picked
        "cutoff = 0.5\nlabels = model.predict_proba(X)[:, 1] > cutoff",
        "scaled = X * 1.0\nlabels = model.predict(scaled[:2])",
    ],
)
def test_other_code_stays_in_predict(source: str) -> None:
    """No pick, a threshold, rows of something made here: one predict step."""
    sections, lifted = split(source, module={"np"})
    assert ([role for role, _ in sections], lifted) == (["predict"], [])


def test_a_fitted_transform_of_picked_rows_stays_in_predict() -> None:
    """`scaler.transform(sample)` runs per request; only `sample` is picked."""
    sections, _ = split(
        "sample = X.head(2)\nscaled = scaler.transform(sample)\npred = model.predict(scaled)"
    )
    assert sections == [
        ("select", ["sample = X.head(2)"]),
        ("predict", ["scaled = scaler.transform(sample)", "pred = model.predict(scaled)"]),
    ]


def test_without_a_model_nothing_is_split() -> None:
    """The model decides which call predicts; without one the section stays whole."""
    code, _ = analysed("predict", "sample = X.head(3)\npred = model.predict(sample)")
    other, _ = analysed("evaluate", "acc = 1")
    codes: list[SectionCode] = [other, code]
    assert split_predict(codes, None, set(), set()) == (codes, {})


def test_fresh_name_skips_taken_candidates_then_counts() -> None:
    """A lifted name never shadows a notebook variable."""
    assert fresh_name(set(), ("rows", "new_rows")) == "rows"
    assert fresh_name({"rows"}, ("rows", "new_rows")) == "new_rows"
    assert fresh_name({"rows", "new_rows", "rows_2"}, ("rows", "new_rows")) == "rows_3"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("model.predict(x)", True),
        ("model.named_steps['clf'].predict_proba(x)", True),
        ("model(x)", True),
        ("other.predict(x)", False),
        ("model.fit(x)", False),
    ],
)
def test_is_model_call(call: str, expected: bool) -> None:
    """Predict methods on the model (or under it), or calling the model itself."""
    node = ast.parse(call, mode="eval").body
    assert is_model_call(node, "model") is expected
    assert is_model_call(node, None) is False


def test_feature_code_on_picked_rows_stays_in_predict() -> None:
    """Only the literal rows are picked; `pd.get_dummies` runs per request."""
    sections, _ = split(
        "new = [[5.1, 3.5]]\nfeat = pd.get_dummies(new)\npred = model.predict(feat)",
        module={"pd"},
    )
    assert sections == [
        ("select", ["new = [[5.1, 3.5]]"]),
        ("predict", ["feat = pd.get_dummies(new)", "pred = model.predict(feat)"]),
    ]


def test_a_function_of_rows_picked_from_a_table_stays_in_predict() -> None:
    """`np.log1p(sample)` is a feature of the request's rows, not a pick."""
    sections, _ = split(
        "sample = X.head(3)\nlogged = np.log1p(sample)\npred = model.predict(logged)",
        module={"np"},
    )
    assert sections == [
        ("select", ["sample = X.head(3)"]),
        ("predict", ["logged = np.log1p(sample)", "pred = model.predict(logged)"]),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "new = [[5.1, 3.5]]\nrows = np.array(new)\npred = model.predict(rows)",
        # statsmodels' predict notebook (tests/realworld sm_predict): exog laid out as rows
        "x1n = np.linspace(20.5, 25, 10)\n"
        "Xnew = np.column_stack((x1n, np.sin(x1n), (x1n - 5) ** 2))\n"
        "Xnew = sm.add_constant(Xnew)\n"
        "pred = model.predict(Xnew)",
    ],
)
def test_picked_values_laid_out_as_rows_move_with_the_picking(source: str) -> None:
    """An array constructor or column stack of picked values is still the rows."""
    sections, _ = split(source, module={"np", "sm"})
    *picking, predict = source.splitlines()
    assert sections == [("select", picking), ("predict", [predict])]


@pytest.mark.parametrize(
    "pick", ["test_df[features].head(5)", 'test_df[["age", "bmi"]].tail(2)', 'df["bmi"].head()']
)
def test_rows_of_some_columns_are_picked_rows(pick: str) -> None:
    """`new = test_df[features].head(5)`: the feature columns of a few rows (the target
    column left out) are what a request replaces; the scaling after it stays."""
    source = f"new = {pick}\nscaled = scaler.transform(new)\npred = model(scaled)"
    assert split(source) == (
        [("select", [f"new = {pick}"]),
         ("predict", ["scaled = scaler.transform(new)", "pred = model(scaled)"])],
        [],
    )  # fmt: skip
