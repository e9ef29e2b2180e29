"""The generated project's `onnx_model.py`: an ONNX twin is kept only if it agrees on all rows.

Imported from nb2prod/generate/runtime, where it lives; real scikit-learn models, real
skl2onnx and ONNX Runtime. A distance-weighted KNN on the wine data agrees with its twin on a test
row, but float32 distances pick other neighbours for some training rows: the twin must
be refused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb2prod.generate.runtime import onnx_model
from tests.conftest import ROOT

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


def _data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, random_state=0)
    return X_train, X_test, y_train


def test_a_twin_that_agrees_on_one_row_but_not_all_is_refused() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    X_train, X_test, y_train = _data()
    model = KNeighborsClassifier(5, weights="distance").fit(X_train, y_train)
    one, _ = onnx_model.onnx_twin(model, X_test.iloc[:1])
    assert one is not None  # a one-row check would keep it
    onnx, why = onnx_model.onnx_twin(model, pd.concat([X_train, X_test]))
    assert onnx is None
    assert "differ" in why and f"of {len(X_train) + len(X_test)}" in why


def test_a_twin_that_agrees_everywhere_is_kept() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train = _data()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
    rows = pd.concat([X_train, X_test])
    onnx, why = onnx_model.onnx_twin(model, rows)
    assert onnx is not None, why
    assert f"on all {len(rows)} rows" in why
    twin = onnx_model.load_twin(onnx, onnx_model.twin_facts(model))
    gap = np.abs(twin.predict_proba(rows) - model.predict_proba(rows)).max()
    assert gap <= onnx_model.PROBABILITY_TOLERANCE
    assert (twin.predict(rows.iloc[:1]) == model.predict(rows.iloc[:1])).all()


def test_no_rows_means_no_twin() -> None:
    from sklearn.tree import DecisionTreeClassifier

    X_train, _, y_train = _data()
    model = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
    assert onnx_model.onnx_twin(model, X_train.iloc[:0]) == (
        None,
        "no reference rows to check an ONNX twin on",
    )


def test_the_twin_reads_columns_by_name_in_any_order() -> None:
    """A request's columns come in the client's order: the twin reorders them as fitted."""
    from sklearn.tree import DecisionTreeClassifier

    X_train, X_test, y_train = _data()
    model = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
    onnx, why = onnx_model.onnx_twin(model, X_test)
    assert onnx is not None, why
    twin = onnx_model.load_twin(onnx, onnx_model.twin_facts(model))
    assert twin.columns == list(X_train.columns)
    assert list(twin.classes_) == list(model.classes_)
    shuffled = X_test[list(reversed(X_test.columns))]
    assert (twin.predict(shuffled) == model.predict(X_test)).all()
    assert twin.predict_proba(shuffled).dtype == np.float64


def test_a_regressors_twin_computes_in_float64() -> None:
    """A linear regressor's twin agrees with scikit-learn to the last bits of summation
    order, well inside what float32 would give, in a vector as scikit-learn's."""
    from sklearn.linear_model import Ridge

    X_train, X_test, y_train = _data()
    target = X_train.to_numpy() @ np.linspace(-3, 5, X_train.shape[1]) + 1e3
    regressor = Ridge(alpha=0.5).fit(X_train, target)
    onnx, why = onnx_model.onnx_twin(regressor, X_test)
    assert onnx is not None, why
    assert why.startswith("float64, predictions within")
    twin = onnx_model.load_twin(onnx, onnx_model.twin_facts(regressor))
    expected = regressor.predict(X_test)
    got = twin.predict(X_test)
    assert got.shape == expected.shape and got.dtype == np.float64
    assert np.allclose(got, expected, rtol=onnx_model.REGRESSION_TOLERANCE, atol=0.0)
    assert onnx_model.twin_tolerance(regressor)["rtol"] == onnx_model.REGRESSION_TOLERANCE


def test_a_regressor_skl2onnx_cannot_convert_keeps_scikit_learn() -> None:
    from sklearn.base import BaseEstimator, RegressorMixin

    class Constant(RegressorMixin, BaseEstimator):
        def fit(self, X: pd.DataFrame, y: pd.Series) -> Constant:
            self.value_ = float(np.mean(y))
            return self

        def predict(self, X: pd.DataFrame) -> np.ndarray:
            return np.full(len(X), self.value_)

    X_train, X_test, y_train = _data()
    onnx, why = onnx_model.onnx_twin(Constant().fit(X_train, y_train), X_test)
    assert onnx is None and why.startswith("skl2onnx cannot convert it in float64")


def test_a_classifier_without_probabilities_is_no_regressor() -> None:
    """LinearSVC has no predict_proba: no twin, and not a regressor's float64 attempt;
    a search wrapping a regressor is one."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import LinearSVC

    X_train, X_test, y_train = _data()
    onnx, why = onnx_model.onnx_twin(LinearSVC().fit(X_train, y_train), X_test)
    assert onnx is None and why.startswith("it has no predict_proba")
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=2).fit(X_train, y_train)
    onnx, why = onnx_model.onnx_twin(search, X_test)
    assert onnx is not None, why  # skl2onnx converts the best estimator, in float64
    assert onnx_model.twin_tolerance(search)["rtol"] == onnx_model.REGRESSION_TOLERANCE


def test_unconvertible_classifiers_keep_scikit_learn() -> None:
    from sklearn.base import BaseEstimator, ClassifierMixin

    X_train, X_test, y_train = _data()

    class Unknown(ClassifierMixin, BaseEstimator):
        def fit(self, X: pd.DataFrame, y: pd.Series) -> Unknown:
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    onnx, why = onnx_model.onnx_twin(Unknown().fit(X_train, y_train), X_test)
    assert onnx is None and why.startswith("skl2onnx cannot convert it")


def test_the_twin_checks_labels_it_saw_in_order_once_and_reorders_others() -> None:
    """The one-row frames a service builds share one label index: checked on first use, and
    frames whose labels are in another order are still reordered (same answers as arrays)."""
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train = _data()
    model = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    onnx, why = onnx_model.onnx_twin(model, X_test)
    assert onnx is not None, why
    twin = onnx_model.load_twin(onnx, onnx_model.twin_facts(model))
    labels = pd.Index(X_test.columns)
    rows = [pd.DataFrame(X_test.iloc[[i]].to_numpy(), columns=labels) for i in range(3)]
    arrays = [X_test.to_numpy()[i : i + 1] for i in range(3)]
    got = [twin.predict_proba(row) for row in rows]
    assert twin._in_order is labels
    assert all(np.array_equal(a, twin.predict_proba(b)) for a, b in zip(got, arrays, strict=True))
    reversed_rows = X_test.iloc[:3][list(reversed(X_test.columns))]
    expected = twin.predict_proba(X_test.to_numpy()[:3])
    assert np.array_equal(twin.predict_proba(reversed_rows), expected)
    assert twin._in_order is labels


def test_the_twin_loads_from_its_facts_without_scikit_learn(tmp_path: Path) -> None:
    """The stored facts unpickle with numpy alone: a fresh Python loads the twin, answers
    as the model does, and never imports scikit-learn (nor pandas)."""
    import pickle

    from sklearn.ensemble import RandomForestClassifier

    X_train, X_test, y_train = _data()
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_train, y_train)
    onnx, why = onnx_model.onnx_twin(model, X_test)
    assert onnx is not None, why
    (tmp_path / "model.onnx").write_bytes(onnx)
    (tmp_path / "facts.pkl").write_bytes(pickle.dumps(onnx_model.twin_facts(model)))
    np.save(tmp_path / "rows.npy", X_test.to_numpy())
    child = (
        "import pickle, sys; import numpy as np; from pathlib import Path\n"
        "from nb2prod.generate.runtime.onnx_model import load_twin\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "facts = pickle.loads((folder / 'facts.pkl').read_bytes())\n"
        "twin = load_twin((folder / 'model.onnx').read_bytes(), facts)\n"
        "print(twin.predict(np.load(folder / 'rows.npy')).tolist())\n"
        "print(sorted(m for m in ('sklearn', 'pandas', 'scipy') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True, cwd=ROOT
    )
    labels, loaded = run.stdout.splitlines()
    assert labels == str(model.predict(X_test).tolist())
    assert loaded == "[]"


def test_an_array_in_the_twins_column_order_reads_as_the_table() -> None:
    """The service hands the twin an array only where `reads_arrays` says it predicts the
    same as the table: the twin's own columns, in its order."""
    from sklearn.ensemble import RandomForestClassifier

    X_train, X_test, y_train = _data()
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_train, y_train)
    onnx, why = onnx_model.onnx_twin(model, X_test)
    assert onnx is not None, why
    twin = onnx_model.load_twin(onnx, onnx_model.twin_facts(model))
    columns = list(X_test.columns)
    assert onnx_model.reads_arrays(twin, columns)
    array = X_test.to_numpy(dtype="float64")
    assert (twin.predict(array) == twin.predict(X_test)).all()
    assert (twin.predict_proba(array) == twin.predict_proba(X_test)).all()
    assert not onnx_model.reads_arrays(twin, list(reversed(columns)))
    assert not onnx_model.reads_arrays(model, columns)  # scikit-learn itself gets the table


def test_a_fitted_scaler_in_the_state_gets_a_float64_twin() -> None:
    """The twin transforms the rows' values of its own columns, in any column order."""
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, _ = _data()
    scaler = StandardScaler().fit(X_train)
    rows = pd.concat([X_train, X_test])
    twins, why = onnx_model.transform_twins({"scaler": scaler, "n": 3}, ["scaler"], rows)
    assert set(twins) == {"scaler"} and f"on all {len(rows)} rows" in why["scaler"]
    twin = onnx_model.load_state_twins(twins)["scaler"]
    shuffled = X_test[list(reversed(X_test.columns))]
    gap = np.abs(twin.transform(shuffled) - scaler.transform(X_test))
    assert gap.max() <= onnx_model.REGRESSION_TOLERANCE


@pytest.mark.parametrize(
    ("fitted", "reason"),
    [
        ("array", "fitted on an array"),
        ("pandas output", "returns a DataFrame"),
        ("no converter", "no float64 ONNX twin"),
        ("not scikit-learn", "not a scikit-learn transformer"),
        ("other columns", "do not hold all of its columns"),
    ],
)
def test_a_transformer_whose_twin_cannot_be_checked_stays_as_trained(
    fitted: str, reason: str
) -> None:
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X_train, X_test, _ = _data()
    rows = pd.concat([X_train, X_test])
    transformer: object = {
        "array": lambda: StandardScaler().fit(X_train.to_numpy()),
        "pandas output": lambda: StandardScaler().set_output(transform="pandas").fit(X_train),
        "no converter": lambda: FunctionTransformer(np.log1p, validate=True).fit(X_train),
        "not scikit-learn": lambda: {"mean": 1.0},
        "other columns": lambda: StandardScaler().fit(X_train.rename(columns=str.upper)),
    }[fitted]()
    twins, why = onnx_model.transform_twins({"t": transformer}, ["t"], rows)
    assert twins == {} and reason in why["t"], why
