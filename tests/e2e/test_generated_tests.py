"""The generated project's own tests copy nothing and leave nothing behind.

The notebook hands a value that `copy.deepcopy` cannot copy (like statsmodels'
`Dataset` or anything holding a lock) from its load section to the next. The generated
tests must still pass, and afterwards the temporary folder (TMPDIR), the user's home
(no `~/bentoml`) and the project must hold nothing new: every file they write goes to
pytest's `tmp_path`, here under `--basetemp`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nb2prod.commands.convert import convert
from tests.conftest import make_notebook

CELLS: list[tuple[str, list[str]] | str] = [
    "import threading\n\nimport numpy as np\nfrom sklearn.linear_model import LinearRegression",
    ("scale = 2.0  # multiplies the inputs", ["parameters"]),
    (
        'data = {"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.1, 5.9, 8.0], "lock": threading.Lock()}',
        ["nb2prod:load"],
    ),
    (
        'X = np.array(data["x"]).reshape(-1, 1) * scale\ny = np.array(data["y"])',
        ["nb2prod:preprocess"],
    ),
    ("model = LinearRegression().fit(X, y)", ["nb2prod:train"]),
    ("r2 = float(model.score(X, y))", ["nb2prod:evaluate"]),
]


def _files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if "__pycache__" not in path.parts and path.name != "__pycache__"
    }


def test_generated_tests_pass_on_uncopyable_values_and_leave_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    convert(make_notebook(tmp_path / "locked.ipynb", CELLS), project)
    tests = "\n".join(p.read_text() for p in (project / "tests").glob("*.py"))
    assert "deepcopy" not in tests and "tempfile" not in tests and "mkdtemp" not in tests
    before = _files(project)
    scratch, home = tmp_path / "tmpdir", tmp_path / "home"
    scratch.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "BENTOML_HOME"}
    env.update(TMPDIR=str(scratch), HOME=str(home), PYTHONPATH=str(project / "src"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "basetemp"), "tests"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert list(scratch.iterdir()) == []
    assert not list(home.rglob("bentoml"))
    assert _files(project) == before
    assert list((tmp_path / "basetemp").rglob("models"))  # the models went there instead
