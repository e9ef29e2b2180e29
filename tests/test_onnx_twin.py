"""The generated `onnx_model.py`: an ONNX twin is kept only if it agrees on all rows.

Rendered from its template and imported; real scikit-learn models, real skl2onnx and
ONNX Runtime. A distance-weighted KNN on the wine data agrees with its twin on a test
row, but float32 distances pick other neighbours for some training rows: the twin must
be refused.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nb2prod.render import _environment

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    plan = SimpleNamespace(package="shop_model", notebook=SimpleNamespace(path=Path("nb.ipynb")))
    text = _environment().get_template("src/package/onnx_model.py.j2").render({"plan": plan})
    path = tmp_path_factory.mktemp("onnx") / "onnx_model.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("rendered_onnx_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, random_state=0)
    return X_train, X_test, y_train


def test_a_twin_that_agrees_on_one_row_but_not_all_is_refused(onnx_model: ModuleType) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    X_train, X_test, y_train = _data()
    model = KNeighborsClassifier(5, weights="distance").fit(X_train, y_train)
    one, _ = onnx_model.onnx_twin(model, X_test.iloc[:1])
    assert one is not None  # a one-row check would keep it
    onnx, why = onnx_model.onnx_twin(model, pd.concat([X_train, X_test]))
    assert onnx is None
    assert "differ" in why and f"of {len(X_train) + len(X_test)}" in why


def test_a_twin_that_agrees_everywhere_is_kept(onnx_model: ModuleType) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train = _data()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
    rows = pd.concat([X_train, X_test])
    onnx, why = onnx_model.onnx_twin(model, rows)
    assert onnx is not None, why
    assert f"on all {len(rows)} rows" in why
    twin = onnx_model.load_twin(onnx, model)
    gap = np.abs(twin.predict_proba(rows) - model.predict_proba(rows)).max()
    assert gap <= onnx_model.PROBABILITY_TOLERANCE
    assert (twin.predict(rows.iloc[:1]) == model.predict(rows.iloc[:1])).all()


def test_no_rows_means_no_twin(onnx_model: ModuleType) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X_train, _, y_train = _data()
    model = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
    assert onnx_model.onnx_twin(model, X_train.iloc[:0]) == (
        None,
        "no reference rows to check an ONNX twin on",
    )
