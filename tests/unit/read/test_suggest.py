"""Suggested roles for untagged cells come from what the cell calls."""

from __future__ import annotations

import pytest

from nb2prod.read.notebook import Cell
from nb2prod.read.suggest import suggest_role


def _cell(source: str) -> Cell:
    return Cell(index=0, kind="code", source=source, tags=(), execution_count=None)


@pytest.mark.parametrize(
    ("source", "role"),
    [
        # imports only: setup, even when they name plotting libraries
        ("import pandas as pd\nimport matplotlib.pyplot as plt\nimport seaborn as sns", "setup"),
        ('"""Imports."""\nfrom sklearn.metrics import accuracy_score, f1_score', "setup"),
        # a fit makes it train, even with a predict or a plot after it
        (
            "model = RandomForestClassifier()\nmodel.fit(X_train, y_train)\n"
            "train_pred = model.predict(X_train)",
            "train",
        ),
        ("history = model.fit(X, y, epochs=3)\nplt.plot(history.history['loss'])", "train"),
        ("clf.partial_fit(X_batch, y_batch)", "train"),
        # plotting: skip, not load
        ("sns.histplot(load_scores()['age'])", "skip"),
        ("fig, ax = plt.subplots()\nax.scatter(df['a'], df['b'])\nplt.show()", "skip"),
        ("df.plot.scatter(x='a', y='b')", "skip"),
        ("df['age'].hist(bins=20)", "skip"),
        ("fig = px.scatter(df, x='a', y='b')\nfig.show()", "skip"),
        ("df.head()", "skip"),
        ("display(df.describe())\nprint(df.shape)", "skip"),
        # ...but a cell that keeps the data it loads loads
        ("df = pd.read_csv('data.csv')\ndf.plot()", "load"),
        ("df = pd.read_csv('data.csv')\ndf.head()", "load"),
        ("tips = sns.load_dataset('tips')", "load"),
        # predict without fit
        ("labels = model.predict(sample)", "predict"),
        ("probabilities = model.predict_proba(sample)[:, 1]", "predict"),
        # load
        ("X, y = load_wine(return_X_y=True, as_frame=True)", "load"),
        ("data = fetch_openml('adult', version=2)", "load"),
        ("frame = pd.read_parquet(path)", "load"),
        # evaluate
        ("accuracy = accuracy_score(y_test, model.predict(X_test))", "evaluate"),
        ("print(classification_report(y_test, predictions))", "evaluate"),
        ("rmse = mean_squared_error(y_test, pred) ** 0.5", "evaluate"),
        # preprocess
        ("X_train, X_test = train_test_split(X, test_size=0.2)", "preprocess"),
        ("df = df.dropna()\ndf['a'] = df['a'].astype(int)", "preprocess"),
        # parameters and nothing in particular
        ("n_estimators = 100  # trees\nname = 'x'", "parameters"),
        ("total = a + b", None),
        # a cell that does not parse falls back to its text
        ("%time model.fit(X, y)", "train"),
        ("%matplotlib inline\nplt.plot(x)", "skip"),
    ],
)
def test_suggested_role(source: str, role: str | None) -> None:
    assert suggest_role(_cell(source)) == role
