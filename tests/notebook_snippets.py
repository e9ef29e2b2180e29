"""Cell snippets, written the way people really write notebooks, for the fuzz test.

`tests/e2e/test_fuzz_notebooks.py` assembles notebooks from these with hypothesis. A
notebook is mostly a pipeline in the usual order (setup, parameters, load,
preprocess, train, evaluate, predict, test) whose sections are picked from the
variants below, marked with a tag, a directive, a Kale tag, a misspelt or
conflicting role or none, and sprinkled with noise: markdown and raw cells, empty
cells, magics, syntax errors, skipped plots. Some notebooks are pure chaos: random
cells with random roles in random order.

Every list starts with its simplest entry, because hypothesis shrinks a choice
towards the first one: a failing notebook shrinks to few, plain cells.

Two data flavours keep most notebooks runnable with scikit-learn's bundled data:
`frame` (a pandas frame `df` with a `target` column) and `array` (numpy `X`, `y`).
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
from dataclasses import dataclass, field

import nbformat
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------
# the pieces


@dataclass(frozen=True)
class CellSpec:
    """One generated cell: kind, source and tags."""

    source: str
    kind: str = "code"  # "code", "markdown" or "raw"
    tags: tuple[str, ...] = ()

    def __repr__(self) -> str:
        tags = f" tags={list(self.tags)}" if self.tags else ""
        return f"{self.kind}{tags}: {self.source!r}"


@dataclass(frozen=True)
class GeneratedNotebook:
    """A generated notebook: file name, cells and an execution-count scheme."""

    name: str
    cells: tuple[CellSpec, ...]
    counts: str = "none"  # "none", "in-order" or "out-of-order"
    metadata: dict = field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        lines = [f"GeneratedNotebook({self.name!r}, counts={self.counts!r}, cells=["]
        lines += [f"  [{i}] {cell!r}," for i, cell in enumerate(self.cells)]
        return "\n".join([*lines, "])"])

    def node(self) -> nbformat.NotebookNode:
        node = nbformat.v4.new_notebook()
        node.metadata.update(self.metadata)
        count = 0
        for cell in self.cells:
            metadata = {"tags": list(cell.tags)} if cell.tags else {}
            if cell.kind == "markdown":
                node.cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=metadata))
            elif cell.kind == "raw":
                node.cells.append(nbformat.v4.new_raw_cell(cell.source, metadata=metadata))
            else:
                new = nbformat.v4.new_code_cell(cell.source, metadata=metadata)
                if self.counts != "none":
                    count += 1
                    new.execution_count = count
                node.cells.append(new)
        if self.counts == "out-of-order":
            code = [c for c in node.cells if c.cell_type == "code"]
            if len(code) >= 2:
                code[0].execution_count, code[-1].execution_count = (
                    code[-1].execution_count,
                    code[0].execution_count,
                )
        return node

    def text(self) -> str:
        return nbformat.writes(self.node())


def notebook_json(cells: list[tuple[str, str, list[str]]]) -> str:
    """A notebook's JSON from (kind, source, tags) triples (for hand-written cases)."""
    spec = GeneratedNotebook(
        "notebook.ipynb", tuple(CellSpec(s, k, tuple(t)) for k, s, t in cells), metadata=KERNEL
    )
    return json.dumps(json.loads(spec.text()), indent=1)


KERNEL = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}
METADATA = [KERNEL, {}, {"kernelspec": {"name": "python3", "display_name": "Python 3"}}]

# --------------------------------------------------------------------------------------
# file names: plain, with spaces and dots, unicode, keywords, names of modules

NAMES = [
    "notebook.ipynb",
    "Untitled.ipynb",
    "01 - Train the model (copy).ipynb",
    "model.v2.ipynb",
    "données-été.ipynb",
    "class.ipynb",
    "___.ipynb",
    "train.ipynb",
    "pipeline.ipynb",
    "config.ipynb",
    "test.ipynb",
]
# Known bugs, excluded from generation until fixed (see tests/fuzz_findings/README.md):
# a project named after a module the generated code imports shadows it in the probe.
KNOWN_BUG_NAMES: list[str] = []
# Kale step names that break the generated code (see tests/fuzz_findings/README.md).
KNOWN_BUG_TAGS: list[str] = []

# --------------------------------------------------------------------------------------
# roles: how a cell says what it is for

ROLES = ("setup", "parameters", "load", "preprocess", "train", "evaluate", "predict", "test")
KALE = {
    "setup": ["imports", "functions"],
    "parameters": ["pipeline-parameters"],
    "load": ["step:load_data", "step:data-loading", "block:load", "step:ingest"],
    "preprocess": ["step:preprocess", "step:split-data", "step:kid1", "step:features"],
    "train": ["step:training", "step:train", "step:kid1", "step:model", "step:fit_model"],
    "evaluate": ["pipeline-metrics", "step:evaluation", "step:eval-model"],
    "predict": ["step:predict", "step:inference", "step:kid2"],
    "test": ["step:checks", "step:test"],
}
ODD_STEPS = [
    "step:model", "step:X", "step:données", "step:_", "step:print", "step:Any",
    "step:train model", "step:1st-step", "step:load_training_data", "step:config",
    "step:run_pipeline", "step:fingerprint", "step:class", "step:None", "step:lambda",
]  # fmt: skip
MISSPELT = {
    "setup": "setpu",
    "parameters": "params",
    "load": "laod",
    "preprocess": "preprocessing",
    "train": "trian",
    "evaluate": "evalute",
    "predict": "predcit",
    "test": "tests",
}
# Weighted: the proper ways most often.
MARKINGS = [
    "tag", "tag", "tag", "tag", "directive", "directive", "pipe", "kale", "kale",
    "none", "misspelt", "conflict", "case", "spaced", "skip", "nocolon", "kale-odd",
]  # fmt: skip


def _tag(role: str) -> str:
    return "parameters" if role == "parameters" else f"nb2prod:{role}"


@st.composite
def marked(draw: st.DrawFn, role: str, source: str, markings: list[str]) -> CellSpec:
    """`source` as a cell that declares `role` one way or another (or wrongly)."""
    how = draw(st.sampled_from(markings))
    if how == "tag":
        return CellSpec(source, tags=(_tag(role),))
    if how == "directive":
        return CellSpec(f"# nb2prod: {role}\n{source}")
    if how == "pipe":
        return CellSpec(f"#| nb2prod: {role}\n{source}")
    if how == "kale":
        tags = [draw(st.sampled_from(KALE[role]))]
        if draw(st.booleans()):
            tags.append(draw(st.sampled_from(["prev:load_data", "prev:training", "prev:kid1"])))
        return CellSpec(source, tags=tuple(tags))
    if how == "kale-odd":
        tag = draw(st.sampled_from([t for t in ODD_STEPS if t not in KNOWN_BUG_TAGS]))
        return CellSpec(source, tags=(tag,))
    if how == "none":
        return CellSpec(source)
    if how == "misspelt":
        wrong = MISSPELT[role]
        if draw(st.booleans()):
            return CellSpec(source, tags=(f"nb2prod:{wrong}",))
        return CellSpec(f"# nb2prod: {wrong}\n{source}")
    if how == "conflict":
        other = draw(st.sampled_from([r for r in ROLES if r != role]))
        if draw(st.booleans()):
            return CellSpec(source, tags=(_tag(role), _tag(other)))
        return CellSpec(f"# nb2prod: {other}\n{source}", tags=(_tag(role),))
    if how == "case":
        return CellSpec(source, tags=(f"NB2PROD:{role.upper()}",))
    if how == "spaced":
        return CellSpec(source, tags=(f" nb2prod:{role} ",))
    if how == "skip":
        return CellSpec(source, tags=("skip",))
    return CellSpec(f"# nb2prod {role}\n{source}")  # "nocolon": only a comment


# --------------------------------------------------------------------------------------
# setup: imports, magics, helpers

IMPORTS = """\
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier"""

IMPORT_VARIANTS = [
    IMPORTS,
    "%matplotlib inline\n" + IMPORTS + "\nimport matplotlib.pyplot as plt",
    IMPORTS + '\nimport warnings\nwarnings.filterwarnings("ignore")',
    "from __future__ import annotations\n" + IMPORTS,
    IMPORTS + "\nimport sklearn as sk\nimport os, sys",
    "%load_ext autoreload\n%autoreload 2\n" + IMPORTS,
    IMPORTS + "\ntry:\n    import xgboost\nexcept ImportError:\n    xgboost = None",
]

SETUP_EXTRAS = [
    "np.random.seed(0)",
    "%load_ext autoreload\n%autoreload 2",
    "!pip install -q scikit-learn",
    "%pip install pandas numpy",
    '%config InlineBackend.figure_format = "retina"',
    "%matplotlib inline",
    '!pip install "scikit-learn>=1.0,<2"',
    "!pip install git+https://github.com/example/pkg.git",
    "!pip install -r requirements.txt",
    "!pip install numpy==1.26.4 pandas[performance]",
    "!conda install -y numpy",
    "!uv pip install polars",
    "!pip install",
    "!nvidia-smi",
    "%who",
    "SEED = 42\nnp.random.seed(SEED)",
    'pd.set_option("display.max_columns", 50)',
    "%time warm_up = sum(range(10))",
    "%timeit -n 1 -r 1 sum(range(10))",
    "%prun -s cumulative sum(range(10))",
    "def add_ratio(frame):\n    out = frame.copy()\n"
    "    out['ratio'] = out.iloc[:, 0] / out.iloc[:, 1]\n    return out",
    "factor = 2.0\n\ndef scale(x):\n    return x * factor",
    "def evaluate(m, X, y):\n    return accuracy_score(y, m.predict(X))",
    "def predict(m, rows):\n    return m.predict(rows)",
    "clean = lambda s: s.strip().lower()",
    "import functools\n\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n"
    "    return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "class CentroidNet:\n"
    '    """A tiny nn.Module-like classifier: nearest centroid, torch-like API."""\n\n'
    "    def __init__(self, scale=1.0):\n"
    "        self.scale = scale\n"
    "        self.centroids = None\n\n"
    "    def forward(self, x):\n"
    "        x = np.asarray(x, dtype=float) * self.scale\n"
    "        return -((x[:, None, :] - self.centroids[None, :, :]) ** 2).sum(-1)\n\n"
    "    __call__ = forward\n\n"
    "    def fit(self, X, y):\n"
    "        X, y = np.asarray(X, dtype=float) * self.scale, np.asarray(y)\n"
    "        self.classes_ = np.unique(y)\n"
    "        self.centroids = np.stack([X[y == c].mean(0) for c in self.classes_])\n"
    "        return self\n\n"
    "    def predict(self, X):\n"
    "        return self.classes_[self.forward(X).argmax(1)]\n\n"
    "    def score(self, X, y):\n"
    "        return float((self.predict(X) == np.asarray(y)).mean())",
    "if __name__ == '__main__':\n    print('running as a script')",
    "import asyncio\nawait asyncio.sleep(0)",
]

# Helper cells people put right after the parameters cell, untagged (so they join it).
HELPERS = [
    "def make(n=n_estimators):\n    return RandomForestClassifier(n_estimators=n, random_state=0)",
    "factor = 2.0\n\ndef scale(x):\n    return x * factor",
    "def scale(x):\n    return x * 2.0",
    "counter = 0\n\ndef bump():\n    global counter\n    counter += 1",
    "import math\n\ndef rounded(x):\n    return math.floor(x * 100) / 100",
]

# --------------------------------------------------------------------------------------
# parameters

PARAMETERS = """\
test_size = 0.25
seed = 0
n_estimators = 10
C = 1.0
max_iter = 200"""

PARAMETER_EXTRAS = [
    'model_name = "rf"',
    "max_depth = None",
    "layers = [8, 4]",
    "use_scaler = True",
    "lr = 1e-3",
    "epochs = 3",
    'class_weight = {"0": 1.0}',
    "shape = (2, 3)",
    "offset = -1",
    "empty = []",
    "mixed = [1, 'a', None]",
    "λ = 0.5",
    "input = 3",
    'id = "run-1"',
    'type = "clf"',
    "_ = 0",
    "label = 'it\\'s \"quoted\"'",
    'path = "/data/train.csv"',
    'pattern = r"\\d+\\s"',
    "batch_size: int = 32",
    'test_size_help = 0.1  # a "quoted" help with 100% and a \\ backslash',
    '# the fraction held out, """in triple quotes"""\nholdout = 0.2',
    "big = 10_000_000_000_000_000_000",
    "ratio = .5e-1",
    'drop_cols = {"petal width (cm)"}',
    "flags = (True, False)",
    "nested = [[1, 2], [3]]",
    "field = 1",
    "to_dict = False",
    "%matplotlib inline",
    "# nb2prod: quick n_estimators=5",
    "# nb2prod: quick n_estimators=5 test_size=0.5",
    "# nb2prod: quick n_estimators=5, max_iter=100",
    "# nb2prod: quick C=1",
    "# nb2prod: quick C=1 max_iter=50",
]
BAD_PARAMETER_EXTRAS = [
    "# nb2prod: quick max_depth=3",
    "# nb2prod: quick layers=[2]",
    "a = b = 1",
    "n = 2 ** 3",
    "x_annotated: int",
    "if True:\n    cond = 1",
    "# nb2prod: quick nope=1",
    '# nb2prod: quick n_estimators="five"',
    "# nb2prod: quick",
    "# nb2prod: quick n_estimators=",
    "api_key = 'abcdefgh'",
]
# Parameter names that collide with the generated project's own names (see findings).
KNOWN_BUG_PARAMETERS: list[str] = []

# --------------------------------------------------------------------------------------
# load

LOAD = {
    "frame": [
        "df = load_iris(as_frame=True).frame",
        "raw = load_iris(as_frame=True)\ndf = raw.frame.copy()\ndf.head()",
        "%%time\ndf = load_iris(as_frame=True).frame",
        "data = load_iris()\ndf = pd.DataFrame(data.data, columns=data.feature_names)\n"
        'df["target"] = data.target',
        "df = load_iris(as_frame=True).frame\n"
        'df.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in df.columns]',
        "données = load_iris(as_frame=True).frame\ndf = données",
        "df = load_iris(as_frame=True).frame\ndf",
        "df = load_iris(as_frame=True).frame\nprint(df.shape)\ndisplay(df.head())",
        "_ = load_iris(as_frame=True)\ndf = _.frame",
        "input = load_iris(as_frame=True).frame\ndf = input.copy()",
        "!pip install -q scikit-learn\ndf = load_iris(as_frame=True).frame",
        'df = pd.read_csv("data/iris.csv")',
        "df = load_wine(as_frame=True).frame",
        "df = load_iris(as_frame=True).frame\n"
        "df.loc[0, 'sepal length (cm)'] = None\ndf.isna().sum()",
    ],
    "array": [
        "X, y = load_iris(return_X_y=True)",
        "data = load_wine()\nX = data.data\ny = data.target",
        'X, y = load_iris(return_X_y=True)\nX = X.astype("float32")',
        "X, y = load_iris(return_X_y=True)\nX.shape, y.shape",
        "X, y = load_iris(return_X_y=True)\nX = X.tolist()",
    ],
}

PREPROCESS = {
    "frame": [
        "df.dropna(inplace=True)",
        "df.drop_duplicates(inplace=True)",
        'df["ratio"] = df.iloc[:, 0] / df.iloc[:, 1]',
        "df = df[df.iloc[:, 0] > 0]",
        "df.fillna(0, inplace=True)",
        "df.reset_index(drop=True, inplace=True)",
        "df = add_ratio(df)",
        "df = df.apply(lambda col: col)",
        "df.iloc[:, 0] = scale(df.iloc[:, 0])",
        "for col in df.columns[:2]:\n    df[col] = df[col] * 1.0",
        "del df['ratio']",
        "df.iloc[:, 0] = scale(\n    df.iloc[:, 0],  # the first feature\n)",
        'print(f"scaled: {scale(2)}")\ndf.iloc[:, 1] = scale(df.iloc[:, 1])',
        "bump()",
        'config = {"max_iter": max_iter}',
    ],
    "array": [
        "X = X.copy()\nX += 1",
        "X[:, 0] = X[:, 0] * 2",
        "X = np.asarray(X)",
        "X = scale(X)",
        "arr = X\narr += 0.0",
        "X = np.asarray(X)\nX = X[:, :4]",
        "X = scale(\n    X,  # the features\n)",
        'print(f"scaled: {scale(2)}")\nX = scale(X)',
        "bump()",
        'config = {"max_iter": max_iter}',
    ],
}

XY = {
    "frame": [
        'X = df.drop(columns=["target"])\ny = df["target"]',
        'feature_cols = [c for c in df.columns if c != "target"]\nX = df[feature_cols]\n'
        "y = df.target",
        'features = []\nfor c in df.columns:\n    if c != "target":\n        features.append(c)\n'
        'X = df[features]\ny = df["target"]',
        'y = df.pop("target")\nX = df',
        'X = df.drop("target", axis=1).values\ny = df["target"].values',
    ],
    "array": ["y = np.asarray(y)"],
}

SPLIT = [
    "X_train, X_test, y_train, y_test = train_test_split(\n"
    "    X, y, test_size=test_size, random_state=seed\n)",
    "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)",
    "X_train, X_test, y_train, y_test = train_test_split(\n"
    "    X, y, test_size=test_size, random_state=seed, stratify=y\n)",
    "from sklearn.preprocessing import StandardScaler\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
    "scaler = StandardScaler()\nX_train = scaler.fit_transform(X_train)\n"
    "X_test = scaler.transform(X_test)",
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
    "X_train.shape, X_test.shape",
]

# --------------------------------------------------------------------------------------
# train

TRAIN = [
    "model = LogisticRegression(C=C, max_iter=max_iter)\nmodel.fit(X_train, y_train)",
    "model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed)"
    ".fit(X_train, y_train)",
    "%%time\nmodel = DecisionTreeClassifier(random_state=0)\nmodel.fit(X_train, y_train);",
    'models = {"lr": LogisticRegression(max_iter=max_iter),\n'
    '          "tree": DecisionTreeClassifier(random_state=seed)}\n'
    "scores = {}\n"
    "for name, m in models.items():\n"
    "    m.fit(X_train, y_train)\n"
    "    scores[name] = m.score(X_test, y_test)\n"
    "best_name = max(scores, key=scores.get)\n"
    "model = models[best_name]",
    "best_model, best_score = None, -1.0\n"
    "for depth in [1, 2, 3]:\n"
    "    candidate = DecisionTreeClassifier(max_depth=depth, random_state=0)\n"
    "    candidate.fit(X_train, y_train)\n"
    "    score = candidate.score(X_test, y_test)\n"
    "    if score > best_score:\n"
    "        best_model, best_score = candidate, score\n"
    "model = best_model",
    "for m in [LogisticRegression(max_iter=300), DecisionTreeClassifier(random_state=0)]:\n"
    "    m.fit(X_train, y_train)\n"
    "model = m",
    "class Net:\n"
    '    """Like an nn.Module: layers in __init__, forward, a training step."""\n\n'
    "    def __init__(self, hidden=8):\n"
    "        self.hidden = hidden\n"
    "        self.centroids = None\n\n"
    "    def forward(self, x):\n"
    "        x = np.asarray(x, dtype=float)\n"
    "        return -((x[:, None, :] - self.centroids[None, :, :]) ** 2).sum(-1)\n\n"
    "    def fit(self, X, y):\n"
    "        X, y = np.asarray(X, dtype=float), np.asarray(y)\n"
    "        self.classes_ = np.unique(y)\n"
    "        self.centroids = np.stack([X[y == c].mean(0) for c in self.classes_])\n"
    "        return self\n\n"
    "    def predict(self, X):\n"
    "        return self.classes_[self.forward(X).argmax(1)]\n\n"
    "    def predict_proba(self, X):\n"
    "        z = np.exp(self.forward(X))\n"
    "        return z / z.sum(1, keepdims=True)\n\n"
    "    def score(self, X, y):\n"
    "        return float((self.predict(X) == np.asarray(y)).mean())\n\n\n"
    "net = Net(hidden=16)\n"
    "losses = []\n"
    "for epoch in range(3):\n"
    "    net.fit(X_train, y_train)\n"
    "    losses.append(1.0 - net.score(X_train, y_train))\n"
    "model = net",
    "class Net:\n"
    "    def __init__(self):\n"
    "        self.width = n_estimators\n\n"
    "    def fit(self, X, y):\n"
    "        self.inner = LogisticRegression(max_iter=300).fit(X, y)\n"
    "        return self\n\n"
    "    def predict(self, X):\n"
    "        return self.inner.predict(X)\n\n\n"
    "model = Net().fit(X_train, y_train)",
    "model = CentroidNet().fit(X_train, y_train)",
    "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
    "model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))\n"
    "model.fit(X_train, y_train)",
    "clf = LogisticRegression(max_iter=300)\nclf.fit(X_train, y_train)\nmodel = clf",
    "model = LogisticRegression(max_iter=300)\n%time model.fit(X_train, y_train)",
    "model = LogisticRegression(max_iter=300)\n%prun -s cumulative model.fit(X_train, y_train)",
    "model = LogisticRegression(max_iter=300)\n"
    "%timeit -n 1 -r 1 model.fit(X_train, y_train)\nmodel.fit(X_train, y_train)",
    "sum = 0\nfor i in range(3):\n    sum += i\n"
    "model = LogisticRegression(max_iter=300).fit(X_train, y_train)",
    "model = LogisticRegression(max_iter=300)\n_ = model.fit(X_train, y_train)\nmodel",
    "def fit_model(X, y):\n    return LogisticRegression(max_iter=max_iter).fit(X, y)\n\n"
    "model = fit_model(X_train, y_train)",
    "def fit_model(X, y):\n    return LogisticRegression(max_iter=300).fit(X, y)\n\n"
    "model = fit_model(X_train, y_train)",
    "model = LogisticRegression(max_iter=300)\nmodel.fit(X_train, y_train)\n"
    "model.classes_ = model.classes_",
    "if n_estimators > 5:\n"
    "    model = RandomForestClassifier(n_estimators=n_estimators, random_state=0)\n"
    "else:\n"
    "    model = DecisionTreeClassifier(random_state=0)\n"
    "model.fit(X_train, y_train)",
    "config = dict(max_iter=300)\nmodel = LogisticRegression(**config).fit(X_train, y_train)",
    "model = LogisticRegression(**config).fit(X_train, y_train)",
    "model = make().fit(X_train, y_train)",
    "model = LogisticRegression(max_iter=300)\n"
    "try:\n    model.fit(X_train, y_train)\nexcept ValueError as error:\n    print(error)",
    "with open('/dev/null') as sink:\n"
    "    model = LogisticRegression(max_iter=300).fit(X_train, y_train)",
    "model = LogisticRegression(max_iter=300)\n"
    "model.fit(X_train, y_train)\n"
    "coefs = model.coef_\ncoefs[0] = coefs[0]",
    "from sklearn.linear_model import LogisticRegression as LR\n"
    "λ_model = LR(max_iter=300).fit(X_train, y_train)\nmodel = λ_model",
    "model = LogisticRegression(max_iter=300).fit(X_train, y_train)\n"
    "history = []\nhistory.append(model.score(X_train, y_train))\nhistory.extend([1.0])",
]

# --------------------------------------------------------------------------------------
# evaluate

EVALUATE = [
    "y_pred = model.predict(X_test)\naccuracy = accuracy_score(y_test, y_pred)",
    'metrics = {\n    "accuracy": accuracy_score(y_test, model.predict(X_test)),\n'
    '    "f1_macro": f1_score(y_test, model.predict(X_test), average="macro"),\n}',
    "print(classification_report(y_test, model.predict(X_test)))",
    'print("accuracy:", model.score(X_test, y_test))',
    "accuracy = model.score(X_test, y_test)\nprint(accuracy)",
    "accuracy = model.score(X_test, y_test)\nprint(n_estimators)",
    "y_pred = model.predict(X_test)\nprint(y_pred)",
    "acc = (model.predict(X_test) == y_test).mean()",
    "score = model.score(X_test, y_test)",
    'metrics = {"accuracy": model.score(X_test, y_test),\n'
    '           "confusion": confusion_matrix(y_test, model.predict(X_test))}',
    'metrics = {}\nmetrics["accuracy"] = model.score(X_test, y_test)',
    'f1 = round(f1_score(y_test, model.predict(X_test), average="macro"), 4)',
    'accuracy = f"{model.score(X_test, y_test):.3f}"',
    "error_rate = 1 - model.score(X_test, y_test)",
    "accuracy = None\nif model is not None:\n    accuracy = model.score(X_test, y_test)",
    "for name, m in models.items():\n    print(name, m.score(X_test, y_test))",
    'metrics = {"accuracy": model.score(X_test, y_test), "n_test": len(y_test)}',
    "accuracy = accuracy_score(y_test, model.predict(X_test))\n"
    "accuracy_history = [accuracy]\nprint(accuracy_history)",
    'metrics = {"accuracy": model.score(X_test, y_test), "model": "logistic"}',
    "loss = losses[-1]\nprint(loss)",
    "accuracy = model.score(X_test, y_test)\naccuracy = float(accuracy)\nprint(accuracy)",
    "scores = [model.score(X_test, y_test)]\nmean_score = sum(scores) / len(scores)",
    "metrics = {1: model.score(X_test, y_test)}",
    "accuracy = model.score(X_test, y_test)\nmetrics = dict(accuracy=accuracy)",
]

# --------------------------------------------------------------------------------------
# predict

PREDICT = [
    "sample = X_test[:3]\npred = model.predict(sample)",
    "sample = X_test[:5]\npredictions = model.predict(sample)\n"
    "probabilities = model.predict_proba(sample)",
    "predictions = model.predict(X_test[:5])",
    "sample = X_test.head(5)\npredictions = model.predict(sample)",
    "sample = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]\npredictions = model.predict(sample)",
    "sample = np.array([[5.1, 3.5, 1.4, 0.2]])\npredictions = model.predict(sample)",
    "print(model.predict(X_test[:3]))",
    "pred = model.predict(X_test[:1])[0]",
    "predictions = model.predict(X_test[:4]).tolist()",
    "sample = X_test[:3]\npredictions = [int(p) for p in model.predict(sample)]",
    "sample = X_test[-3:]\nlabels = model.predict(sample)\nlabels",
    "sample = X_test[:3]\nproba = model.predict_proba(sample)[:, 1]",
    "sample = X_test[:3].copy()\nsample[:] = sample\npredictions = model.predict(sample)",
    "sample = X_test.iloc[:3]\npredictions = model.predict(sample)\n"
    "sample['prediction'] = predictions",
    "rows = X_test[:3]\nmodel = model\npredictions = model.predict(rows)",
    "sample = X_test[:3]\npredictions = predict(model, sample)",
    "sample = X_test[:3]\npredictions = model(sample)",
    "sample = X_test[:3]\npred = model.predict(sample)\nprint(dict(zip(range(3), pred)))",
    "predictions = {}\nfor i in range(3):\n    predictions[i] = model.predict(X_test[i:i + 1])[0]",
    "sample = X_test[:3]\nsample = scaler.transform(sample)\npredictions = model.predict(sample)",
]

TEST = [
    "assert accuracy > 0.5",
    "assert len(predictions) == len(sample)",
    "assert model is not None",
    'assert 0 <= metrics["accuracy"] <= 1',
    "assert X_train.shape[0] > X_test.shape[0]",
    "import math\nassert not math.isnan(score)",
]

# --------------------------------------------------------------------------------------
# noise: cells that sit anywhere

MARKDOWN = [
    "# Iris classifier",
    '## Train the "best" model \\ with a backslash',
    "",
    "Some text with `code`, $x^2$ and a [link](http://example.com).",
    "A docstring breaker: \"\"\" and ''' and \\",
    "# nb2prod: train",
    "## Évaluation 🎯",
    "   \n\n## after blank lines",
    "## Title {{ jinja }} {% raw %}",
    '## ends with a quote"',
]
RAW = ["raw text", "# nb2prod: train\nmodel = None", "%%bash\necho raw", ""]
NOISE_CODE = [
    "",
    "   \n\n",
    "# just a comment",
    "# nb2prod: train",
    "pass",
    "df.head()",
    "X_train.shape",
    "len(X)",
    "display(df)",
    "model",
    "df?",
    "?load_iris",
    "model.fit??",
    "%who",
    "%time x_time = 1 + 1",
    "!echo hello",
    "!ls -la",
    "def f(:\n    pass",
    'print "hello"',
    "x = (1,",
    "    indented = 1",
    "if True:\nprint(1)",
    "x_tab = 1\nif x_tab:\n\ty = 2\n        z = 3",
    "%%bash\necho hi",
    "%run helpers.py",
    "files = !ls",
    "%cd /tmp",
    "%env FOO=1",
    "%%writefile helper.py\nprint(1)",
    "%store model",
    "%%sql\nselect 1",
    "%reset -f",
    "%%capture captured\nprint('quiet')",
    "%%html\n<b>hi</b>",
    "%%",
    "from sklearn import *",
    "%timeit -r 1 -n 1 1 + 1",
    "%time !ls",
    "%%timeit -n 1 -r 1\nsum(range(5))",
    "%%time\n",
    "doc = '''\n%matplotlib inline\n'''",
    "for f in ['a']:\n    !echo {f}",
    "x_walrus = (n_walrus := 5)",
    "match 1:\n    case 1:\n        matched = True",
    "del X_test",
    "global g_value\ng_value = 1",
    "exec('dyn = 1')",
    "nums = [i * factor for i in range(3)]",
    "df.apply(scale)",
    "values = list(map(scale, [1, 2]))",
    "password = 'hunter22'",
    'token = "ghp_' + "a" * 36 + '"',
    "api_key = os.environ['API_KEY']",
    "\ufeffbom_value = 1",
    "nbsp_value\u00a0= 1",
    "crlf_value = 1\r\ncrlf_other = 2\r\n",
    "emoji = '🐍'",
    "long_line = " + repr("x" * 400),
    "plt.plot([1, 2, 3])\nplt.show()",
    "fig, ax = plt.subplots()\nax.hist(y_train)",
    "print(type(model).__name__)",
    "import this",
    "1 / 0",
    "raise SystemExit(0)",
    "x_semicolon = 1; y_semicolon = 2;",
    "lst = [1, 2]\nlst.append(3)\nlst += [4]",
    "d = {}\nd['k'] = 1\nd.update(a=2)",
    "arr = np.zeros(3)\narr += 1\narr[0] = 5",
]
# Exact cell sources that reproduce a known bug (see tests/fuzz_findings/README.md),
# left out of generation until the bug is fixed. Remove an entry once its fix lands.
SAFE_NOISE = [
    "",
    "   \n\n",
    "# just a comment",
    "pass",
    "%who",
    "%time x_time = 1 + 1",
    "!echo hello",
    "!ls -la",
    "%%capture captured\nprint('quiet')",
    "%%html\n<b>hi</b>",
    "%%timeit -n 1 -r 1\nsum(range(5))",
    "%%time\n",
    "doc = '''\n%matplotlib inline\n'''",
    "for f in ['a']:\n    !echo {f}",
    "x_walrus = (n_walrus := 5)",
    "match 1:\n    case 1:\n        matched = True",
    "exec('dyn = 1')",
    "emoji = '🐍'",
    "x_semicolon = 1; y_semicolon = 2;",
    "lst = [1, 2]\nlst.append(3)\nlst += [4]",
    "d = {}\nd['k'] = 1\nd.update(a=2)",
    "crlf_value = 1\r\ncrlf_other = 2\r\n",
]
KNOWN_BUG_SNIPPETS: list[str] = []


# --------------------------------------------------------------------------------------
# which names a snippet reads before binding them, and which it binds (careful notebooks
# only pick snippets whose names an earlier cell provides)

TIMED = re.compile(r"^\s*%(?:time|timeit|prun)\s+(?:-[a-z]\s+(?:\d+\s+)?)*(.*)$")
IGNORED_NAMES = frozenset(dir(builtins)) | {"display", "get_ipython"}


@functools.cache
def flow(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """(names read before any binding, names bound) of a cell; empty if it does not parse."""
    lines = source.lstrip().splitlines()
    if lines and lines[0].startswith("%%"):  # %%time and friends run their body
        lines = lines[1:]
    source = "\n".join(TIMED.sub(r"\1", line) for line in lines)  # so does %time
    try:
        tree = ast.parse(_transformer().transform_cell(source))
    except (SyntaxError, ValueError):
        return frozenset(), frozenset()
    bound: set[str] = set()
    needs: set[str] = set()
    _statements(tree.body, bound, needs)
    return frozenset(needs - IGNORED_NAMES), frozenset(bound)


@functools.cache
def _transformer():  # noqa: ANN202 - IPython's TransformerManager
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def _statements(body: list[ast.stmt], bound: set[str], needs: set[str]) -> None:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            _reads(node.iter, bound, needs)
            bound.update(_stored(node.target))
            _statements(node.body + node.orelse, bound, needs)
        elif isinstance(node, (ast.If, ast.While)):
            _reads(node.test, bound, needs)
            _statements(node.body + node.orelse, bound, needs)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                _reads(item.context_expr, bound, needs)
                if item.optional_vars is not None:
                    bound.update(_stored(item.optional_vars))
            _statements(node.body, bound, needs)
        elif isinstance(node, ast.Try):
            _statements(node.body, bound, needs)
            for handler in node.handlers:
                if handler.name:
                    bound.add(handler.name)
                _statements(handler.body, bound, needs)
            _statements(node.orelse + node.finalbody, bound, needs)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None:
                _reads(node.value, bound, needs)
            for target in targets:
                if isinstance(node, ast.AugAssign) or not isinstance(target, ast.Name):
                    _reads(target, bound, needs)
                bound.update(_stored(target))
        else:
            _reads(node, bound, needs)
            bound.update(_stored(node))


def _stored(node: ast.AST) -> set[str]:
    return {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _reads(node: ast.AST, bound: set[str], needs: set[str]) -> None:
    local = _stored(node)  # comprehension and walrus targets
    for sub in ast.walk(node):
        if isinstance(sub, ast.Lambda):
            local |= {a.arg for a in sub.args.args}
    for sub in ast.walk(node):
        loaded = isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)
        if loaded and sub.id not in bound and sub.id not in local:
            needs.add(sub.id)


# --------------------------------------------------------------------------------------
# strategies


def optional(probability_tenths: int = 8) -> st.SearchStrategy[bool]:
    """True with about this chance; shrinks to False (leave the part out)."""
    return st.integers(0, 9).map(lambda v: v >= 10 - probability_tenths)


def choice(options: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from([o for o in options if o not in KNOWN_BUG_SNIPPETS])


class Builder:
    """The cells so far, and the names they provide (for careful notebooks)."""

    def __init__(self, draw: st.DrawFn, careful: bool) -> None:
        self.draw, self.careful = draw, careful
        self.cells: list[CellSpec] = []
        self.provided: set[str] = set()
        self.last_role: str | None = None

    def pick(self, options: list[str]) -> str | None:
        """One of `options`; a careful notebook only picks what can run here."""
        options = [o for o in options if o not in KNOWN_BUG_SNIPPETS]
        if self.careful:
            options = [o for o in options if flow(o)[0] <= self.provided]
        return self.draw(st.sampled_from(options)) if options else None

    def picks(self, options: list[str], max_size: int) -> list[str]:
        chosen: list[str] = []
        for _ in range(self.draw(st.integers(0, max_size))):
            source = self.pick([o for o in options if o not in chosen])
            if source is not None:
                chosen.append(source)
                self.provided |= flow(source)[1]
        return chosen

    def section(self, role: str, sources: list[str]) -> None:
        """Cells of `role`: the first marks the role, the rest follow it untagged."""
        markings = CAREFUL_MARKINGS if self.careful else MARKINGS
        if self.careful and self.last_role in ("parameters", "test"):  # untagged would join it
            markings = [m for m in markings if m != "none"]
        first = self.draw(marked(role, sources[0], markings))
        self.last_role = role
        self.add([first, *(CellSpec(source) for source in sources[1:])])

    def add(self, cells: list[CellSpec]) -> None:
        for cell in cells:
            self.cells.append(cell)
            if cell.kind == "code" and not {"skip", "nb2prod:skip"} & set(cell.tags):
                self.provided |= flow(cell.source)[1]


CAREFUL_MARKINGS = [
    "tag", "tag", "tag", "tag", "directive", "directive", "pipe", "kale", "none", "kale-odd",
]  # fmt: skip


@st.composite
def noise_cell(draw: st.DrawFn, careful: bool) -> CellSpec:
    kind = draw(st.sampled_from(["code", "code", "code", "markdown", "raw", "skip"]))
    if kind == "markdown":
        return CellSpec(draw(st.sampled_from(MARKDOWN)), "markdown")
    if kind == "raw":
        tags = draw(st.sampled_from([(), ("nb2prod:train",), ("skip",)]))
        return CellSpec(draw(st.sampled_from(RAW)), "raw", tags)
    if careful and kind == "code":
        return CellSpec(draw(choice(SAFE_NOISE)))
    source = draw(choice(NOISE_CODE))
    if kind == "skip":
        return CellSpec(source, tags=(draw(st.sampled_from(["skip", "nb2prod:skip"])),))
    return CellSpec(source)


@st.composite
def pipeline_notebook(draw: st.DrawFn, careful: bool) -> list[CellSpec]:
    """A notebook in the usual order, each section in one of its usual shapes."""
    flavor = draw(st.sampled_from(["frame", "array"]))
    nb = Builder(draw, careful)
    if draw(optional(9)):
        imports = draw(st.sampled_from(IMPORT_VARIANTS))
        nb.provided |= flow(imports)[1]
        setup = [imports, *nb.picks(SETUP_EXTRAS, 3)]
        if draw(st.booleans()):  # setup cells are usually untagged
            nb.add([CellSpec(s) for s in setup])
        else:
            nb.section("setup", setup)
    if draw(optional(8)):
        pool = PARAMETER_EXTRAS if careful else PARAMETER_EXTRAS + BAD_PARAMETER_EXTRAS
        pool = [p for p in pool if p not in KNOWN_BUG_PARAMETERS]
        extras = draw(st.lists(choice(pool), max_size=4, unique=True))
        nb.section("parameters", ["\n".join([PARAMETERS, *extras])])
        if draw(optional(3)) and (helper := nb.pick(HELPERS)):
            nb.add([CellSpec(helper)])  # untagged: joins the parameters section
    if draw(optional(9)) and (source := nb.pick(LOAD[flavor])):
        nb.section("load", [source])
    preprocess = nb.picks(PREPROCESS[flavor], 2)
    for pool in (XY[flavor], SPLIT):
        if draw(optional(9)) and (source := nb.pick(pool)):
            nb.provided |= flow(source)[1]
            preprocess.append(source)
    if preprocess:
        if draw(st.booleans()):
            preprocess = ["\n".join(preprocess)]
        nb.section("preprocess", preprocess)
    if draw(optional(9)) and (source := nb.pick(TRAIN)):
        nb.section("train", [source])
    if draw(optional(8)):
        evaluate = nb.picks(EVALUATE, 2)
        if evaluate:
            nb.section("evaluate", evaluate)
    if draw(optional(7)) and (source := nb.pick(PREDICT)):
        nb.section("predict", [source])
    for source in nb.picks(TEST, 2):
        nb.section("test", [source])
    return nb.cells


@st.composite
def chaos_notebook(draw: st.DrawFn) -> list[CellSpec]:
    """Cells from every pool, any role, any order."""
    pools = [
        IMPORT_VARIANTS, SETUP_EXTRAS, PARAMETER_EXTRAS, BAD_PARAMETER_EXTRAS, LOAD["frame"],
        LOAD["array"], PREPROCESS["frame"], PREPROCESS["array"], XY["frame"], SPLIT, TRAIN,
        EVALUATE, PREDICT, TEST, NOISE_CODE,
    ]  # fmt: skip
    cells = []
    for _ in range(draw(st.integers(1, 8))):
        source = draw(choice(draw(st.sampled_from(pools))))
        role = draw(st.sampled_from([*ROLES, "skip"]))
        if role == "skip":
            cells.append(CellSpec(source, tags=("skip",)))
        else:
            cells.append(draw(marked(role, source, MARKINGS)))
    return cells


@st.composite
def notebooks(draw: st.DrawFn) -> GeneratedNotebook:
    """A whole notebook: a pipeline (mostly, most of them careful) or chaos, plus noise.

    A careful notebook reads only names that earlier cells provide and marks its roles
    properly, so it usually converts and runs; a sloppy one has the usual mistakes.
    """
    careful = False
    if draw(optional(8)):
        careful = draw(optional(6))
        cells = draw(pipeline_notebook(careful))
    else:
        cells = draw(chaos_notebook())
    noise = draw(st.lists(st.tuples(st.integers(0, 50), noise_cell(careful)), max_size=4))
    for position, cell in noise:
        cells.insert(position % (len(cells) + 1), cell)
    if not cells:
        cells = [CellSpec("x = 1", tags=("nb2prod:load",))]
    name = draw(st.sampled_from([n for n in NAMES if n not in KNOWN_BUG_NAMES]))
    counts = draw(st.sampled_from(["none", "in-order", "out-of-order"]))
    metadata = draw(st.sampled_from(METADATA))
    return GeneratedNotebook(name, tuple(cells), counts, metadata)
