"""Generate the bad-input fixtures used by tests/e2e/test_bad_inputs.py.

Run once and commit the output; the tests read the committed files and never
regenerate them:

    python tests/bad_inputs/make_fixtures.py

Every fixture is the same small churn-model notebook (parameters, load,
preprocess, train, evaluate and a skipped plotting cell) with exactly ONE
defect, so a failure can only be reported for the reason the test expects.
`churn_model_valid.ipynb` is the defect-free base. The output is
deterministic: fixed cell ids, sorted JSON keys, seeded random bytes.
"""

from __future__ import annotations

import ast
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from nbformat import v3, v4

HERE = Path(__file__).resolve().parent

PYTHON_METADATA: dict[str, Any] = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "version": "3.11.9"},
}

R_METADATA: dict[str, Any] = {
    "kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
    "language_info": {"name": "R", "version": "4.3.2"},
}

Spec = tuple[str, str, list[str]]
"""One cell as (kind, source, tags): kind is "code" or "md"."""

TITLE = "# Customer churn model\n\nLogistic regression on the monthly churn extract."
PARAMS = 'data_path = "data/churn.csv"\ntest_size = 0.2\nrandom_state = 42\nC = 1.0'
LOAD = "import pandas as pd\n\ndf = pd.read_csv(data_path)\ndf.head()"
PREPROCESS = (
    "from sklearn.model_selection import train_test_split\n"
    "\n"
    'df = df.dropna(subset=["churned"])\n'
    'X = df.drop(columns=["churned"])\n'
    'y = df["churned"]\n'
    "X_train, X_test, y_train, y_test = train_test_split(\n"
    "    X, y, test_size=test_size, random_state=random_state, stratify=y\n"
    ")"
)
TRAIN = (
    "from sklearn.linear_model import LogisticRegression\n"
    "\n"
    "model = LogisticRegression(C=C, max_iter=1000)\n"
    "model.fit(X_train, y_train)"
)
EVALUATE = (
    "from sklearn.metrics import accuracy_score, f1_score\n"
    "\n"
    "y_pred = model.predict(X_test)\n"
    "accuracy = accuracy_score(y_test, y_pred)\n"
    "f1 = f1_score(y_test, y_pred)\n"
    'print(f"accuracy={accuracy:.3f} f1={f1:.3f}")'
)
PLOT = (
    "import matplotlib.pyplot as plt\n"
    "from sklearn.metrics import ConfusionMatrixDisplay\n"
    "\n"
    "ConfusionMatrixDisplay.from_predictions(y_test, y_pred)\n"
    "plt.show()"
)


def base_cells() -> list[Spec]:
    """The defect-free notebook. Markdown cells sit at 0, 3 and 5 on purpose,
    so a tool that counts only code cells reports the wrong index."""
    return [
        ("md", TITLE, []),  # 0
        ("code", PARAMS, ["parameters"]),  # 1
        ("code", LOAD, ["nb2prod:load"]),  # 2
        ("md", "## Features", []),  # 3
        ("code", PREPROCESS, ["nb2prod:preprocess"]),  # 4
        ("md", "## Model", []),  # 5
        ("code", TRAIN, ["nb2prod:train"]),  # 6
        ("code", EVALUATE, ["nb2prod:evaluate"]),  # 7
        ("code", PLOT, ["nb2prod:skip"]),  # 8
    ]


def build(cells: list[Spec], metadata: dict[str, Any] | None = None) -> Any:
    nb = v4.new_notebook(metadata=dict(PYTHON_METADATA if metadata is None else metadata))
    nb.nbformat_minor = 5
    for i, (kind, source, tags) in enumerate(cells):
        cell_metadata: dict[str, Any] = {"tags": list(tags)} if tags else {}
        if kind == "md":
            cell = v4.new_markdown_cell(source, id=f"cell-{i:02d}", metadata=cell_metadata)
        else:
            cell = v4.new_code_cell(source, id=f"cell-{i:02d}", metadata=cell_metadata)
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def notebook_text(cells: list[Spec], metadata: dict[str, Any] | None = None) -> str:
    return nbformat.writes(build(cells, metadata)) + "\n"


def replace(
    cells: list[Spec], index: int, source: str | None = None, tags: list[str] | None = None
) -> list[Spec]:
    """A copy of `cells` with cell `index` given a new source and/or tags."""
    kind, old_source, old_tags = cells[index]
    new = list(cells)
    new[index] = (
        kind,
        old_source if source is None else source,
        old_tags if tags is None else tags,
    )
    return new


# --- one function per fixture; each returns the file's exact bytes -------------------------


def churn_model_valid() -> bytes:
    """The defect-free base (used by the output-path-is-a-file case)."""
    return notebook_text(base_cells()).encode()


def invalid_json_truncated() -> bytes:
    """A download or copy that stopped half way: cut inside the preprocess cell."""
    text = notebook_text(base_cells())
    cut = text.index("train_test_split(\\n") + 10
    truncated = text[:cut]
    try:
        json.loads(truncated)
    except json.JSONDecodeError:
        return truncated.encode()
    raise AssertionError("truncated text still parses")


def not_a_notebook_cells_is_string() -> bytes:
    """Notebook-shaped JSON whose `cells` is a string, not a list of cells."""
    data = {"cells": "nope", "metadata": PYTHON_METADATA, "nbformat": 4, "nbformat_minor": 5}
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def not_a_notebook_json_list() -> bytes:
    """A JSON data file (list of records) saved with an .ipynb name."""
    rows = [
        {"customer_id": 1001, "tenure": 14, "monthly_charges": 70.35, "churned": 0},
        {"customer_id": 1002, "tenure": 2, "monthly_charges": 89.10, "churned": 1},
        {"customer_id": 1003, "tenure": 45, "monthly_charges": 42.25, "churned": 0},
    ]
    return (json.dumps(rows, indent=1) + "\n").encode()


def empty_file() -> bytes:
    """0 bytes: a notebook created by `touch` and never saved."""
    return b""


def binary_garbage() -> bytes:
    """2 KiB of seeded random bytes (not UTF-8, not JSON)."""
    data = random.Random(20240601).randbytes(2048)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    raise AssertionError("random bytes happen to be UTF-8")


def r_kernel() -> bytes:
    """A correctly tagged notebook, but for the IRkernel (R)."""
    cells: list[Spec] = [
        ("md", TITLE, []),
        ("code", 'data_path <- "data/churn.csv"\ntest_size <- 0.2', ["parameters"]),
        ("code", "library(readr)\n\ndf <- read_csv(data_path)\nhead(df)", ["nb2prod:load"]),
        (
            "code",
            "set.seed(42)\nidx <- sample(nrow(df), floor((1 - test_size) * nrow(df)))\n"
            "train <- df[idx, ]\ntest <- df[-idx, ]",
            ["nb2prod:preprocess"],
        ),
        ("code", "model <- glm(churned ~ ., data = train, family = binomial)", ["nb2prod:train"]),
        (
            "code",
            'pred <- predict(model, test, type = "response") > 0.5\n'
            "accuracy <- mean(pred == test$churned)\nprint(accuracy)",
            ["nb2prod:evaluate"],
        ),
    ]
    return notebook_text(cells, R_METADATA).encode()


def empty_notebook_no_cells() -> bytes:
    """Valid nbformat 4.5 with a Python kernel and zero cells."""
    return notebook_text([]).encode()


def no_roles() -> bytes:
    """The base with every tag removed: nothing says what a cell is for."""
    return notebook_text([(kind, source, []) for kind, source, _ in base_cells()]).encode()


def unknown_role_tag_trian() -> bytes:
    """Cell 6 tagged `nb2prod:trian` (typo for train)."""
    return notebook_text(replace(base_cells(), 6, tags=["nb2prod:trian"])).encode()


def syntax_error_in_preprocess() -> bytes:
    """Cell 4: `df.dropna(` is missing its closing parenthesis."""
    source = PREPROCESS.replace('df.dropna(subset=["churned"])', 'df.dropna(subset=["churned"]')
    assert source != PREPROCESS
    return notebook_text(replace(base_cells(), 4, source=source)).encode()


def bash_cell_in_load() -> bytes:
    """Cell 3: an untagged `%%bash` cell right after the load cell, so in the load section."""
    cells = base_cells()
    cells.insert(3, ("code", "%%bash\nhead -n 3 data/churn.csv\nwc -l data/churn.csv", []))
    return notebook_text(cells).encode()


def use_before_def() -> bytes:
    """Cell 4 uses `label_col`; cell 5 (same section, kept) defines it afterwards."""
    source = PREPROCESS.replace('["churned"]', "[label_col]")
    assert source.count("label_col") == 3
    cells = replace(base_cells(), 4, source=source)
    define = 'label_col = "churned"\ndf[label_col].value_counts(normalize=True)'
    cells.insert(5, ("code", define, []))
    return notebook_text(cells).encode()


def defined_only_in_skip() -> bytes:
    """Cell 3 (bare `skip` tag) defines `numeric_cols`; kept cell 5 uses it."""
    cells = base_cells()
    cells.insert(
        3,
        (
            "code",
            'numeric_cols = df.select_dtypes("number").columns.drop("churned").tolist()\n'
            "df[numeric_cols].describe()",
            ["skip"],
        ),
    )
    source = PREPROCESS.replace('X = df.drop(columns=["churned"])', "X = df[numeric_cols]")
    assert source != PREPROCESS
    return notebook_text(replace(cells, 5, source=source)).encode()


def star_import_in_evaluate() -> bytes:
    """Cell 7: `from sklearn.metrics import *` on its second line."""
    source = "# Score the held-out split\n" + EVALUATE.replace(
        "from sklearn.metrics import accuracy_score, f1_score", "from sklearn.metrics import *"
    )
    return notebook_text(replace(base_cells(), 7, source=source)).encode()


def run_magic_in_load() -> bytes:
    """Cell 3: `%run ./plot_style.ipynb` in the load section (runs another notebook)."""
    cells = base_cells()
    cells.insert(3, ("code", "%run ./plot_style.ipynb", []))
    return notebook_text(cells).encode()


def shell_capture_in_load() -> bytes:
    """Cell 2 (load): `raw_files = !ls {data_glob}` - the data depends on a shell command."""
    cells = base_cells()
    params = PARAMS.replace('data_path = "data/churn.csv"', 'data_glob = "data/raw/*.csv"')
    assert params != PARAMS
    cells = replace(cells, 1, source=params)
    cells = replace(cells, 2, source="raw_files = !ls {data_glob}")
    cells.insert(
        3,
        (
            "code",
            "import pandas as pd\n\n"
            "df = pd.concat([pd.read_csv(f) for f in raw_files], ignore_index=True)\ndf.head()",
            [],
        ),
    )
    return notebook_text(cells).encode()


def directive_sources() -> list[Spec]:
    """The base, with roles given as first-line directives instead of tags."""
    cells: list[Spec] = []
    for kind, source, tags in base_cells():
        if kind == "code" and tags and tags[0].startswith("nb2prod:"):
            role = tags[0].split(":", 1)[1]
            cells.append((kind, f"# nb2prod: {role}\n{source}", []))
        else:
            cells.append((kind, source, tags))
    return cells


def unknown_directive_evalute() -> bytes:
    """Directive-only notebook; cell 7 starts with `# nb2prod: evalute` (typo)."""
    cells = directive_sources()
    _, source, _ = cells[7]
    assert source.startswith("# nb2prod: evaluate\n")
    cells = replace(cells, 7, source=source.replace("evaluate", "evalute", 1))
    return notebook_text(cells).encode()


def unknown_role_in_skip_only_notebook() -> bytes:
    """Only `skip` cells besides cell 2, which is tagged `nb2prod:trainn` (typo)."""
    cells: list[Spec] = [
        ("md", "# Churn quick model (draft)", []),
        ("code", "%matplotlib inline\nimport seaborn as sns\n\nsns.set_theme()", ["nb2prod:skip"]),
        (
            "code",
            "import pandas as pd\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "\n"
            'df = pd.read_csv("data/churn.csv").dropna()\n'
            'X = df.drop(columns=["churned"])\n'
            'y = df["churned"]\n'
            "model = LogisticRegression(max_iter=1000).fit(X, y)",
            ["nb2prod:trainn"],
        ),
        ("code", "sns.histplot(model.predict_proba(X)[:, 1])", ["nb2prod:skip"]),
    ]
    return notebook_text(cells).encode()


def nbformat_v3_star_import() -> bytes:
    """An IPython 2 era (nbformat 3) notebook with directives; cell 6 has a star import."""
    code = [
        ("parameters", PARAMS),
        ("load", LOAD),
        ("preprocess", PREPROCESS),
        ("train", TRAIN),
        (
            "evaluate",
            EVALUATE.replace(
                "from sklearn.metrics import accuracy_score, f1_score",
                "from sklearn.metrics import *",
            ),
        ),
    ]
    cells: list[Any] = [
        v3.new_heading_cell("Customer churn model", level=1),
        v3.new_text_cell("markdown", source="Logistic regression on the monthly churn extract."),
    ]
    for role, source in code:
        cells.append(v3.new_code_cell(input=f"# nb2prod: {role}\n{source}", language="python"))
    # cells: 0 heading, 1 markdown, 2 parameters, 3 load, 4 preprocess, 5 train, 6 evaluate
    nb = v3.new_notebook(name="churn_model", worksheets=[v3.new_worksheet(cells=cells)])
    nb.metadata["name"] = "churn_model"
    text = v3.writes_json(nb)
    upgraded = nbformat.reads(text, as_version=4)
    nbformat.validate(upgraded)
    assert len(upgraded.cells) == 7
    assert upgraded.cells[6].source.startswith("# nb2prod: evaluate\nfrom sklearn.metrics import *")
    return (text + "\n").encode()


FIXTURES: dict[str, Callable[[], bytes]] = {
    "churn_model_valid.ipynb": churn_model_valid,
    "invalid_json_truncated.ipynb": invalid_json_truncated,
    "not_a_notebook_cells_is_string.ipynb": not_a_notebook_cells_is_string,
    "not_a_notebook_json_list.ipynb": not_a_notebook_json_list,
    "empty_file.ipynb": empty_file,
    "binary_garbage.ipynb": binary_garbage,
    "r_kernel.ipynb": r_kernel,
    "empty_notebook_no_cells.ipynb": empty_notebook_no_cells,
    "no_roles.ipynb": no_roles,
    "unknown_role_tag_trian.ipynb": unknown_role_tag_trian,
    "syntax_error_in_preprocess.ipynb": syntax_error_in_preprocess,
    "bash_cell_in_load.ipynb": bash_cell_in_load,
    "use_before_def.ipynb": use_before_def,
    "defined_only_in_skip.ipynb": defined_only_in_skip,
    "star_import_in_evaluate.ipynb": star_import_in_evaluate,
    "run_magic_in_load.ipynb": run_magic_in_load,
    "shell_capture_in_load.ipynb": shell_capture_in_load,
    "unknown_directive_evalute.ipynb": unknown_directive_evalute,
    "unknown_role_in_skip_only_notebook.ipynb": unknown_role_in_skip_only_notebook,
    "nbformat_v3_star_import.ipynb": nbformat_v3_star_import,
}


SYNTAX_ERROR_FIXTURE = "syntax_error_in_preprocess.ipynb"


def sanity_check(name: str, data: bytes) -> None:
    """Python notebooks: every code cell compiles (after IPython's magic transforms),
    except the one broken cell of the syntax-error fixture."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:
        return  # the unreadable fixtures
    if nb.metadata.get("kernelspec", {}).get("language", "python") != "python":
        return
    broken = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            ast.parse(TransformerManager().transform_cell(cell.source))
        except SyntaxError:
            broken.append(index)
    expected = [4] if name == SYNTAX_ERROR_FIXTURE else []
    assert broken == expected, f"{name}: cells {broken} do not compile, expected {expected}"


def main() -> None:
    for name, make in FIXTURES.items():
        data = make()
        sanity_check(name, data)
        (HERE / name).write_bytes(data)
        print(f"wrote {name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
