"""role_outputs.py: what each role hands on beyond what later cells read.

The model to save, the metrics to compare and the predictions to serve are
chosen here from the sections' code; a wrong choice serves the wrong object.
"""

from __future__ import annotations

from nb2prod.analyse.role_outputs import (
    ModelChoice,
    find_predictions,
    fit_inputs,
    looks_like_metric,
    metric_candidates,
    model_directive,
    predicting_objects,
    printed_names,
    trained_model,
    training_metric_candidates,
)
from tests.unit.analyse.sections import analysed


def test_the_model_is_the_last_object_fitted_outside_a_loop() -> None:
    """A loop over candidate models does not decide which one is saved."""
    code, _ = analysed(
        "train",
        "model = RandomForestClassifier()\nmodel.fit(X_train, y_train)\n"
        "for m in models:\n    m.fit(X, y)",
    )
    assert trained_model(code) == ModelChoice("model")
    assert fit_inputs(code) == ["X_train", "X"]


def test_a_best_name_wins_over_looped_fits() -> None:
    """`best_model = models['rf']` after a search loop is the one to save."""
    code, _ = analysed(
        "train", "for name, m in models.items():\n    m.fit(X, y)\nbest_model = models['rf']"
    )
    assert trained_model(code) == ModelChoice("best_model")


def test_fits_only_inside_a_loop_are_ambiguous() -> None:
    """Without a best name the reason lists the candidates."""
    code, _ = analysed("train", "for m in (a, b):\n    m.fit(X, y)")
    choice = trained_model(code)
    assert (choice.name, choice.candidates) == (None, ("m",))
    assert "only inside a loop" in choice.reason


def test_a_built_estimator_is_the_model_when_nothing_is_fitted() -> None:
    """A torch module built and trained by a loop of its own is still the model."""
    code, _ = analysed("train", "net = Network()\nloss = train_epochs(net)")
    assert trained_model(code) == ModelChoice("net")
    code, _ = analysed("train", "total = 1 + 2")
    assert trained_model(code).reason == "the train section fits no model that nb2prod can find"


def test_statsmodels_and_formula_inputs_are_fit_inputs() -> None:
    """`sm.OLS(y, X)` learns from `X`; `smf.ols(..., data=df)` from `df`."""
    code, _ = analysed("train", "res = sm.OLS(y, X).fit()\nres2 = smf.ols('y ~ x', data=df).fit()")
    assert fit_inputs(code) == ["X", "df"]


def test_the_model_directive_names_the_model_with_its_place() -> None:
    """`# nb2prod: model=NAME` decides when the code cannot: (name, cell, line)."""
    code, _ = analysed("train", "clf = make()", "# nb2prod: model=clf\nother.fit(X)", first_index=4)
    assert model_directive(code) == ("clf", 5, 1)
    code, _ = analysed("train", "clf = make()")
    assert model_directive(code) is None


def test_predicting_objects_come_from_earlier_sections() -> None:
    """`model.predict(x)` and `net(x)` name the model, if an earlier section made it."""
    code, _ = analysed(
        "predict",
        "preds = model.predict(X_new)\nout = net(x)\nlocal = Thing()\nv = local.predict(x)",
    )
    assert predicting_objects(code, {"model", "net", "local"}) == [("model", 1), ("net", 2)]


def test_predictions_are_names_assigned_from_a_model_call() -> None:
    """Predictions inside `with torch.inference_mode():` count; derived lists do not."""
    code, _ = analysed(
        "predict",
        "preds = model.predict(X_new)\nproba = model.predict_proba(X_new)[:, 1]\n"
        "with torch.inference_mode():\n    out = net(x)\nlabels = [str(v) for v in preds]",
    )
    assert find_predictions(code, "model") == ["preds", "proba"]
    assert find_predictions(code, "net") == ["preds", "proba", "out"]


def test_without_a_model_call_the_last_bound_name_is_the_prediction() -> None:
    """Something must be served: the section's last binding."""
    code, _ = analysed("predict", "a = f(x)\nb = g(a)")
    assert find_predictions(code, "model") == ["b"]


def test_metric_candidates_are_definite_bindings_and_printed_inputs() -> None:
    """Loop variables and parameters are no metrics; `print(mae)` of an earlier value is."""
    code, _ = analysed(
        "evaluate",
        "acc = accuracy_score(y, p)\nreport = {'f1': f}\nn = 3\n"
        "for i in range(2):\n    tmp = i\nprint(rmse_value)\nprint('done', mae)",
    )
    assert metric_candidates(code, {"n"}) == ["acc", "report", "rmse_value", "mae"]
    assert printed_names(code) == [("rmse_value", 0), ("mae", 0)]


def test_training_metric_candidates_are_named_like_scores() -> None:
    """With no evaluate section, a train section's `loss` is the metric, loops included."""
    code, _ = analysed(
        "train", "for epoch in range(3):\n    loss = step()\n    val_acc = check()\nloss_fn = f"
    )
    # `loss_fn` is a candidate by name; the probe drops it as it holds no number
    assert training_metric_candidates(code, set()) == ["loss", "val_acc", "loss_fn"]


def test_looks_like_metric() -> None:
    """Metric words match whole parts of the name, not any substring."""
    assert all(map(looks_like_metric, ["acc", "test_accuracy", "f1_score", "rmse2", "bic"]))
    assert not any(map(looks_like_metric, ["mapping", "basic", "accumulate", "sample"]))
