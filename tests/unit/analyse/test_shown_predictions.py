"""Predictions a cell only shows get one name on both sides of verify."""

from __future__ import annotations

from nb2prod.analyse.shown_predictions import bind_in_cell, bind_last_expression


def test_the_last_bare_model_call_is_bound() -> None:
    assert bind_last_expression("x = 1\nmodel.predict([[5, 2]])", "predictions", "model") == (
        "x = 1\npredictions = model.predict([[5, 2]])"
    )
    assert bind_last_expression("model.predict(\n    rows\n)\n", "p", "model") == (
        "p = model.predict(\n    rows\n)\n"
    )


def test_a_printed_model_call_is_bound_then_printed() -> None:
    source = 'some = X[:5]\nprint("Predictions:", lin_reg.predict(some))  # shown\n'
    assert bind_last_expression(source, "predictions", "lin_reg") == (
        "some = X[:5]\npredictions = lin_reg.predict(some)\n"
        'print("Predictions:", predictions)  # shown\n'
    )


def test_anything_else_is_left_alone() -> None:
    assert bind_last_expression("labels = model.predict(rows)", "p", "model") is None
    assert bind_last_expression("for r in rows:\n    model.predict(r)", "p", "model") is None
    assert bind_last_expression("model.predict(", "p", "model") is None
    assert bind_last_expression("other.predict(rows)", "p", "model") is None
    assert bind_last_expression("print(model.predict(a), model.predict(b))", "p", "model") is None


def test_a_cell_with_line_magics_is_bound_in_its_own_text() -> None:
    cell = "%matplotlib inline\nrows = X[:2]\nmodel.predict(rows)"
    assert bind_in_cell(cell, "predictions", "model") == (
        "%matplotlib inline\nrows = X[:2]\npredictions = model.predict(rows)"
    )


def test_a_cell_magic_is_not_guessed_at() -> None:
    assert bind_in_cell("%%time\nmodel.predict(rows)", "predictions", "model") is None


def test_printed_scores_are_bound_in_order_with_their_own_names() -> None:
    from nb2prod.analyse.printed_scores import bind_printed_scores

    given = iter(["score", "f1", "mse"])
    source = (
        "print('Test accuracy: %.3f' % clf.score(X_test, y_test))\n"
        "print('F1:', f1_score(y, p), 'MSE', mean_squared_error(y, p))\n"
        "for m in models:\n    print(m.score(X, y))\n"
        "print(classification_report(y, p))\n"
    )
    assert bind_printed_scores(source, lambda _call: next(given)) == (
        "score = clf.score(X_test, y_test)\n"
        "print('Test accuracy: %.3f' % score)\n"
        "f1 = f1_score(y, p)\nmse = mean_squared_error(y, p)\n"
        "print('F1:', f1, 'MSE', mse)\n"
        "for m in models:\n    print(m.score(X, y))\n"
        "print(classification_report(y, p))\n"
    )


def test_printed_scores_in_a_cell_with_magics_keep_the_magics() -> None:
    from nb2prod.analyse.printed_scores import bind_in_cell as bind_scores

    cell = "%time y_pred = clf.predict(X)\nprint(accuracy_score(y, y_pred))"
    assert bind_scores(cell, ["accuracy"]) == (
        "%time y_pred = clf.predict(X)\naccuracy = accuracy_score(y, y_pred)\nprint(accuracy)"
    )


def test_shown_scores_and_printed_score_attributes_are_bound() -> None:
    from nb2prod.analyse.printed_scores import bind_printed_scores

    given = iter(["accuracy", "rsquared"])
    source = 'accuracy_score(y_test, y_pred)\nprint("R2: ", results.rsquared)\n'
    assert bind_printed_scores(source, lambda _score: next(given)) == (
        "accuracy = accuracy_score(y_test, y_pred)\n"
        'rsquared = results.rsquared\nprint("R2: ", rsquared)\n'
    )
