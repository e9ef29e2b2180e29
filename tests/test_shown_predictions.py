"""Predictions a cell only shows get one name on both sides of verify."""

from __future__ import annotations

from nb2prod.shown_predictions import bind_in_cell, bind_last_expression


def test_the_last_bare_expression_is_bound() -> None:
    assert bind_last_expression("x = 1\nmodel.predict([[5, 2]])", "predictions") == (
        "x = 1\npredictions = model.predict([[5, 2]])"
    )
    assert (
        bind_last_expression("model.predict(\n    rows\n)\n", "p")
        == "p = model.predict(\n    rows\n)\n"
    )


def test_anything_else_is_left_alone() -> None:
    assert bind_last_expression("labels = model.predict(rows)", "p") is None
    assert bind_last_expression("for r in rows:\n    model.predict(r)", "p") is None
    assert bind_last_expression("model.predict(", "p") is None


def test_a_cell_with_line_magics_is_bound_in_its_own_text() -> None:
    cell = "%matplotlib inline\nrows = X[:2]\nmodel.predict(rows)"
    assert bind_in_cell(cell, "predictions") == (
        "%matplotlib inline\nrows = X[:2]\npredictions = model.predict(rows)"
    )


def test_a_cell_magic_is_not_guessed_at() -> None:
    assert bind_in_cell("%%time\nmodel.predict(rows)", "predictions") is None
