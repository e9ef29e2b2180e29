"""Write the 200-cell benchmark notebook, ``bench/data/notebook_200.ipynb``.

The notebook imitates a long, real data-science notebook: a ``parameters`` cell,
then sections tagged with nb2prod roles (``nb2prod:load``, ``nb2prod:preprocess``,
``nb2prod:train``, ``nb2prod:predict``, ``nb2prod:evaluate`` and ``nb2prod:skip``
for plots and exploration). Only the first cell of a section carries its tag;
the untagged cells after it join it. The preprocess section is a long chain of
feature-engineering cells on the scikit-learn wine data, each one reading the
feature the cell before it made, with two plotting interludes in the middle.

The output is deterministic: no randomness in this script, fixed cell ids and
no outputs, so running it twice gives the same bytes. The notebook runs top to
bottom (check it with papermill) and needs only pandas, numpy, scikit-learn and
matplotlib; it contains no ``!pip``.

Usage::

    python bench/make_notebook.py            # (re)write bench/data/notebook_200.ipynb
    python bench/make_notebook.py --check    # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "data" / "notebook_200.ipynb"

N_CELLS = 200
N_MARKDOWN = 60
N_CODE = N_CELLS - N_MARKDOWN

# Wine columns after the load section renames the awkward od280 column.
WINE_COLUMNS: tuple[str, ...] = (
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280_od315",
    "proline",
)

BLOCK_THEMES: tuple[str, ...] = (
    "interactions with alcohol content",
    "acidity and ash",
    "phenolic compounds",
    "colour and hue",
    "proline-driven ratios",
    "log-scaled magnitudes",
    "sign flips around the median",
    "re-standardised running features",
)


@dataclass
class NotebookBuilder:
    """Accumulates cells in order and gives each a fixed, readable id."""

    cells: list[NotebookNode] = field(default_factory=list)

    def _cell_id(self) -> str:
        return f"cell-{len(self.cells):03d}"

    def md(self, text: str) -> None:
        """Append a markdown cell."""
        cell = nbformat.v4.new_markdown_cell(text.strip("\n"), id=self._cell_id())
        self.cells.append(cell)

    def code(self, source: str, tags: list[str] | None = None) -> None:
        """Append a code cell, optionally tagged (metadata.tags)."""
        metadata = {"tags": list(tags)} if tags else {}
        cell = nbformat.v4.new_code_cell(source.strip("\n"), id=self._cell_id(), metadata=metadata)
        self.cells.append(cell)

    def notebook(self) -> NotebookNode:
        """Return the finished notebook (nbformat 4) with kernel metadata."""
        nb = nbformat.v4.new_notebook()
        nb.cells = self.cells
        nb.metadata = {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            # What Jupyter writes on save; nbconvert --to script needs
            # nbconvert_exporter/file_extension to pick its Python exporter.
            "language_info": {
                "codemirror_mode": {"name": "ipython", "version": 3},
                "file_extension": ".py",
                "mimetype": "text/x-python",
                "name": "python",
                "nbconvert_exporter": "python",
                "pygments_lexer": "ipython3",
                "version": "3.11.7",
            },
        }
        return nb


def _coef(k: int) -> float:
    """A deterministic, varied coefficient for feature ``k`` (0.3 .. 2.5)."""
    return round(0.3 + ((k * 7) % 23) / 10, 1)


def _column(k: int) -> str:
    """The wine column feature ``k`` mixes into the running feature."""
    return WINE_COLUMNS[(k * 5) % len(WINE_COLUMNS)]


def feature_cell(k: int) -> str:
    """Source of the cell that makes ``f_k`` from ``f_{k-1}`` and one wine column."""
    prev = f"f_{k - 1}"
    col = _column(k)
    c = _coef(k)
    kind = k % 7
    if kind == 0:
        return f'df["f_{k}"] = df["{col}"] * {c} + df["{prev}"]'
    if kind == 1:
        return (
            f"# damp the running feature so it does not grow without bound\n"
            f'df["f_{k}"] = np.log1p(df["{col}"].abs()) - 0.5 * df["{prev}"]'
        )
    if kind == 2:
        return f'df["f_{k}"] = add_ratio(df, "{prev}", "{col}")'
    if kind == 3:
        return (
            f'df["f_{k}"] = (df["{prev}"] - df["{prev}"].mean()) / df["{prev}"].std()\n'
            f'assert df["f_{k}"].notna().all(), "f_{k} has NaNs"'
        )
    if kind == 4:
        return (
            f'threshold = df["{col}"].median()\n'
            f'df["f_{k}"] = np.where(df["{col}"] > threshold, df["{prev}"], -df["{prev}"])'
        )
    if kind == 5:
        return f'df["f_{k}"] = df["{prev}"] * {c} + df["{col}"] ** 2 / 100'
    return (
        f"# interaction of {col} with the last two features\n"
        f'df["f_{k}"] = df["{col}"] * df["{prev}"] / {c + 1.0} + df["f_{max(k - 2, 0)}"] * 0.1'
    )


def _add_head(b: NotebookBuilder) -> None:
    b.md(
        """
# Wine cultivar classifier

This notebook explores the UCI wine data (178 wines, 13 chemical measurements,
3 cultivars), engineers a long chain of derived features, trains a random
forest and reports its accuracy and macro F1 on a held-out split.

It grew over several weeks of exploration, so it is long; the cells carry
nb2prod role tags so that it can be turned into a project.
"""
    )
    b.md(
        """
## Parameters

Everything a run may change lives in the next cell (papermill injects
overrides after it).
"""
    )
    b.code(
        """
SEED = 42  # random seed for the split, the noise columns and the model
TEST_SIZE = 0.4  # share of rows held out for evaluation
N_NOISE_FEATURES = 5  # pure-noise columns appended to check the model ignores them
N_ESTIMATORS = 200  # trees in the random forest
MAX_DEPTH = 8  # maximum depth of each tree
MIN_SAMPLES_LEAF = 2  # minimum rows in a leaf
CV_FOLDS = 5  # folds for cross-validation on the training split
TARGET = "target"  # name of the label column
""",
        tags=["parameters"],
    )


def _add_load(b: NotebookBuilder) -> None:
    b.md("## Load the data\n\nThe wine data ships with scikit-learn, so no download is needed.")
    b.code(
        """
import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, classification_report, f1_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
""",
        tags=["nb2prod:load"],
    )
    b.code(
        """
wine = load_wine(as_frame=True)
df = wine.frame.copy()
print(df.shape)
"""
    )
    b.md("The od280/od315 column name has a slash in it, which is awkward in formulas.")
    b.code('df = df.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})')
    b.code(
        """
wine_columns = [c for c in df.columns if c != TARGET]
len(wine_columns)
"""
    )
    b.md(
        """
A few pure-noise columns, drawn from a seeded generator, let us check later
that the forest does not lean on them.
"""
    )
    b.code(
        """
rng = np.random.default_rng(SEED)
for i in range(N_NOISE_FEATURES):
    df[f"noise_{i}"] = rng.normal(size=len(df))
"""
    )
    b.code(
        """
assert df.notna().all().all(), "the wine data should have no missing values"
assert df[TARGET].nunique() == 3
"""
    )


def _add_exploration(b: NotebookBuilder) -> None:
    b.md("## Exploration\n\nQuick looks at the data; none of this feeds the model.")
    b.code("%matplotlib inline\nimport matplotlib.pyplot as plt", tags=["nb2prod:skip"])
    b.code("df.describe().T")
    b.md("Classes are mildly imbalanced:")
    b.code("df[TARGET].value_counts().sort_index()")
    b.code(
        """
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, col in zip(axes, ["alcohol", "flavanoids", "proline"], strict=True):
    df[col].hist(ax=ax, bins=20)
    ax.set_title(col)
plt.tight_layout()
"""
    )
    b.md("Correlations between the raw measurements:")
    b.code(
        """
corr = df[wine_columns].corr()
plt.figure(figsize=(6, 5))
plt.imshow(corr, cmap="coolwarm", vmin=-1, vmax=1)
plt.colorbar()
plt.xticks(range(len(wine_columns)), wine_columns, rotation=90)
plt.yticks(range(len(wine_columns)), wine_columns);
"""
    )
    b.code('df.groupby(TARGET)[["alcohol", "flavanoids", "proline"]].mean()')
    b.md(
        """
Flavanoids and proline separate the cultivars well; alcohol less so. The
feature chain below mixes every measurement into a running feature.
"""
    )


def _add_preprocess_start(b: NotebookBuilder) -> None:
    b.md(
        """
## Preprocessing and feature engineering

A small helper first, then cleaning, then the feature chain.
"""
    )
    b.code(
        '''
def add_ratio(frame: pd.DataFrame, numerator: str, denominator: str) -> pd.Series:
    """Ratio of two columns that is safe when the denominator is zero."""
    return frame[numerator] / (frame[denominator].abs() + 1.0)
''',
        tags=["nb2prod:preprocess"],
    )
    b.code("df = df.drop_duplicates().reset_index(drop=True)")
    b.md("Clip the raw measurements to their 1st..99th percentiles to tame outliers.")
    b.code(
        """
for col in wine_columns:
    low, high = df[col].quantile([0.01, 0.99])
    df[col] = df[col].clip(low, high)
"""
    )
    b.md(
        r"""
### The feature chain

Each feature $f_k$ combines one measurement $x$ with the previous feature, e.g.
$f_k = c \cdot x + f_{k-1}$, so every cell depends on the one before it.
"""
    )
    b.code('df["f_0"] = df["alcohol"] * df["malic_acid"]')


def _add_interlude(b: NotebookBuilder, k: int, first: bool) -> None:
    """Two exploration cells in the middle of the feature chain (role skip)."""
    b.md(f"Sanity check: how does `f_{k}` look per cultivar?")
    lines = "%matplotlib inline\n" if first else ""
    b.code(
        f'{lines}df.boxplot(column="f_{k}", by=TARGET, figsize=(5, 3))\nplt.suptitle("")',
        tags=["nb2prod:skip"],
    )
    b.code(f'df[["f_{k - 1}", "f_{k}"]].describe()')


def _add_train(b: NotebookBuilder, last_feature: int) -> None:
    b.md(
        f"""
## Training

All `f_0` .. `f_{last_feature}` features, the raw measurements and the noise
columns go into a scaled random forest.
"""
    )
    b.code(
        """
feature_columns = [c for c in df.columns if c != TARGET]
X = df[feature_columns]
y = df[TARGET]
""",
        tags=["nb2prod:train"],
    )
    b.code(
        """
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=TEST_SIZE, random_state=SEED, stratify=y
)
print(X_train.shape, X_test.shape)
"""
    )
    b.md("Fit the model (timed, since this is the slow part):")
    b.code(
        """
%%time
model = make_pipeline(
    StandardScaler(),
    RandomForestClassifier(
        n_estimators=N_ESTIMATORS,
        max_depth=MAX_DEPTH,
        min_samples_leaf=MIN_SAMPLES_LEAF,
        random_state=SEED,
        n_jobs=1,
    ),
)
model.fit(X_train, y_train)
""",
        tags=["nb2prod:train"],
    )
    b.md("Cross-validation on the training split, as a check on the single split:")
    b.code(
        """
cv_scores = cross_val_score(model, X_train, y_train, cv=CV_FOLDS)
print(f"CV accuracy: {cv_scores.mean():.3f} +/- {cv_scores.std():.3f}")
"""
    )


def _add_predict(b: NotebookBuilder) -> None:
    b.md("## Predict\n\nScore a batch of 'new' wines the way a service would.")
    b.code("new_batch = X_test.sample(n=10, random_state=SEED)")
    b.code(
        """
batch_predictions = model.predict(new_batch)
batch_proba = model.predict_proba(new_batch)
""",
        tags=["nb2prod:predict"],
    )
    b.code(
        """
predictions = pd.DataFrame(
    {"predicted": batch_predictions, "confidence": batch_proba.max(axis=1)},
    index=new_batch.index,
)
predictions.head()
"""
    )


def _add_evaluate(b: NotebookBuilder) -> None:
    b.md("## Evaluate\n\nThe numbers we report: accuracy and macro F1 on the held-out split.")
    b.code("y_pred = model.predict(X_test)", tags=["nb2prod:evaluate"])
    b.code("accuracy = accuracy_score(y_test, y_pred)")
    b.code('f1_macro = f1_score(y_test, y_pred, average="macro")')
    b.code('print(f"accuracy={accuracy:.4f} f1_macro={f1_macro:.4f}")')
    b.md("Per-class detail:")
    b.code("print(classification_report(y_test, y_pred, target_names=wine.target_names))")
    b.code(
        """
metrics = {"accuracy": accuracy, "f1_macro": f1_macro, "cv_accuracy": float(cv_scores.mean())}
metrics
"""
    )


def _add_tail(b: NotebookBuilder) -> None:
    b.md("## Plots for the write-up")
    b.code(
        """
%matplotlib inline
from sklearn.metrics import ConfusionMatrixDisplay

ConfusionMatrixDisplay.from_predictions(y_test, y_pred);
""",
        tags=["nb2prod:skip"],
    )
    b.md("Which features does the forest use? The noise columns should be near the bottom.")
    b.code(
        """
importances = pd.Series(model[-1].feature_importances_, index=feature_columns)
importances.nlargest(15).sort_values().plot.barh(figsize=(6, 5));
"""
    )
    b.code('importances[[c for c in feature_columns if c.startswith("noise_")]]')
    b.md(
        """
## Conclusions

* The engineered chain plus the raw measurements separate the cultivars well.
* Noise columns get little importance, as they should.
* Next: prune the chain; most of it is redundant.
"""
    )


def build_notebook() -> NotebookNode:
    """Build the benchmark notebook: exactly 60 markdown and 140 code cells."""
    # Lay out everything except the feature chain once on a scratch builder to
    # learn how many code and markdown cells the fixed parts take.
    fixed = NotebookBuilder()
    _add_head(fixed)
    _add_load(fixed)
    _add_exploration(fixed)
    _add_preprocess_start(fixed)
    _add_interlude(fixed, 2, first=True)
    _add_interlude(fixed, 2, first=False)
    _add_train(fixed, 0)
    _add_predict(fixed)
    _add_evaluate(fixed)
    _add_tail(fixed)
    fixed_code = sum(c.cell_type == "code" for c in fixed.cells)
    fixed_md = len(fixed.cells) - fixed_code

    n_chain = N_CODE - fixed_code  # feature cells f_1 .. f_n_chain
    n_headings = N_MARKDOWN - fixed_md  # "### Feature block" headings in the chain
    if n_chain < 10 or n_headings < 1:
        raise RuntimeError(f"layout does not fit: {n_chain=} {n_headings=}")
    heading_at = {1 + (i * n_chain) // n_headings for i in range(n_headings)}
    interlude_at = {n_chain // 3: True, (2 * n_chain) // 3: False}

    b = NotebookBuilder()
    _add_head(b)
    _add_load(b)
    _add_exploration(b)
    _add_preprocess_start(b)
    block = 0
    resume = False
    for k in range(1, n_chain + 1):
        if k in heading_at:
            theme = BLOCK_THEMES[block % len(BLOCK_THEMES)]
            block += 1
            b.md(f"### Feature block {block}: {theme}\n\nStarts at `f_{k}`.")
        if resume:
            # The section re-opens after a plotting interlude; real notebooks
            # also de-fragment here once pandas starts warning about inserts.
            source = "df = df.copy()  # de-fragment after many column inserts\n"
            b.code(source + feature_cell(k), tags=["nb2prod:preprocess"])
        else:
            b.code(feature_cell(k))
        resume = False
        if k in interlude_at:
            _add_interlude(b, k, first=interlude_at[k])
            resume = True  # the next feature cell re-opens the preprocess section
    _add_train(b, n_chain)
    _add_predict(b)
    _add_evaluate(b)
    _add_tail(b)

    nb = b.notebook()
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    if (len(nb.cells), n_code) != (N_CELLS, N_CODE):
        raise RuntimeError(f"built {len(nb.cells)} cells, {n_code} code; want {N_CELLS}, {N_CODE}")
    nbformat.validate(nb)
    return nb


def render() -> str:
    """The notebook as the exact text written to disk."""
    return nbformat.writes(build_notebook()) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the notebook, or with --check compare it to the file on disk."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the notebook"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file on disk differs from the script"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is stale: run python bench/make_notebook.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({N_CELLS} cells: {N_MARKDOWN} markdown, {N_CODE} code)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
