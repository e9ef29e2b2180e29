"""A missing package is named, with the line that installs it; never an internal error.

The decisions themselves (which module is absent, which line installs it, a bug or a
package) are tested in tests/unit/generate/test_install_hints.py. Every case here runs
for real: notebooks that import a module no environment has, a module
the notebook finds only through its own `sys.path` line (not part of the project), and
a virtual environment that sees this one's packages except those a test hides, as a
user's venv without nb2prod's extras or without the project's requirements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from nb2prod.generate.install_hints import absent_module
from tests.conftest import ROOT, make_notebook

SETUP = (
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
    ["nb2prod:setup"],
)
PARAMETERS = ("c = 1.0", ["parameters"])
TRAIN = ("model = LogisticRegression(C=c).fit(X, y)", ["nb2prod:train"])
EVALUATE = ("accuracy = float(model.score(X, y))", ["nb2prod:evaluate"])
PREDICT = ("predictions = model.predict(X.head(3))", ["nb2prod:predict"])
FRAME = "df = pd.DataFrame({'a': [0.1, 0.4, 2.0, 2.4] * 5, 'label': [0, 0, 1, 1] * 5})"
STUBMOD = 'def scale(values):\n    """The values as they are."""\n    return values\n'


def _load(module: str | None) -> tuple[str, list[str]]:
    """A load cell that imports and uses `module` (an unused import is dropped)."""
    if module is None:
        return f"{FRAME}\nX = df[['a']]\ny = df['label']", ["nb2prod:load"]
    return f"import {module}\n{FRAME}\nX = {module}.scale(df[['a']])\ny = df['label']", [
        "nb2prod:load"
    ]


def _nb2prod(
    *args: str, python: str = sys.executable, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`python -m nb2prod ARGS` with this checkout (and `path`) importable, no colours."""
    pythonpath = os.pathsep.join([str(ROOT), *map(str, path)])
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": pythonpath}
    return subprocess.run(
        [python, "-m", "nb2prod", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _clean(result: subprocess.CompletedProcess[str]) -> str:
    """stderr of a run that ended in exit 2 without a traceback or an internal error."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return result.stderr


def _venv_without(folder: Path, *hidden: str) -> str:
    """A real venv seeing this environment's packages except those named `hidden`: what a
    user has after `pip install nb2prod` without an extra, or without a project's
    requirements. Its Python, as every process nb2prod starts there runs."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    visible = folder / "visible"
    visible.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not any(name in entry.name.lower() for name in (*hidden, "_editable_impl_nb2prod")):
            (visible / entry.name).symlink_to(entry)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "visible.pth").write_text(f"import site; site.addsitedir({str(visible)!r})\n")
    return str(python)


# ---- convert ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("nb2prod_absent_pkg", "pip install nb2prod-absent-pkg"),
        ("skimage", "pip install scikit-image"),
    ],
)
def test_convert_names_the_missing_module_its_cell_and_the_pip_line(
    tmp_path: Path, module: str, line: str
) -> None:
    assert absent_module(module) == module, f"{module} is installed here: pick another"
    cells = [SETUP, PARAMETERS, _load(module), TRAIN, EVALUATE]
    notebook = make_notebook(tmp_path / "absent.ipynb", cells)
    stderr = _clean(_nb2prod("convert", str(notebook), "-o", str(tmp_path / "out")))
    assert f"cell 2, line 1 (`import {module}`): `{module}` is not installed" in stderr
    assert f"({sys.executable})" in stderr
    assert f"fix: `{line}`, then convert again" in stderr
    assert not (tmp_path / "out").exists()


# ---- verify -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `stubmod`: on the path at convert time, not at verify time."""
    folder = tmp_path_factory.mktemp("stubs")
    (folder / "stubmod.py").write_text(STUBMOD)
    return folder


def _convert_with(stubs: Path, folder: Path, name: str, cells: list) -> Path:
    notebook = make_notebook(folder / f"{name}.ipynb", cells)
    converted = _nb2prod("convert", str(notebook), "-o", str(folder / name), path=(stubs,))
    assert converted.returncode == 0, converted.stderr
    return folder / name


@pytest.mark.e2e
def test_verify_names_the_module_the_generated_code_misses_and_pip_install_e(
    stubs: Path, tmp_path: Path
) -> None:
    """The notebook finds `stubmod` through a skipped `sys.path` line (it runs under
    verify); the generated code, without that line, does not."""
    path_cell = (f"import sys\nsys.path.insert(0, {str(stubs)!r})", ["nb2prod:skip"])
    cells = [path_cell, SETUP, PARAMETERS, _load("stubmod"), TRAIN, EVALUATE]
    project = _convert_with(stubs, tmp_path, "generated_side", cells)
    stderr = _clean(_nb2prod("verify", str(project)))
    assert "cell 3, line 1 (`import stubmod`): the generated code stopped on an import: " in stderr
    assert f"`stubmod` is not installed in the Python nb2prod runs on ({sys.executable})" in stderr
    assert f"fix: `pip install -e {project}` (the project with the requirements its " in stderr
    assert "`stubmod` among them), then verify again" in stderr


@pytest.mark.e2e
def test_verify_names_the_module_the_notebook_misses_at_its_cell(
    stubs: Path, tmp_path: Path
) -> None:
    cells = [SETUP, PARAMETERS, _load("stubmod"), TRAIN, EVALUATE]
    project = _convert_with(stubs, tmp_path, "notebook_side", cells)
    stderr = _clean(_nb2prod("verify", str(project)))
    assert "cell 2 (`import stubmod`): the notebook failed under papermill: " in stderr
    assert "`stubmod` is not installed in the Python nb2prod runs on" in stderr
    assert "fix: `pip install stubmod`, then verify again" in stderr


@pytest.fixture(scope="module")
def plain_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plain")
    cells = [SETUP, PARAMETERS, _load(None), TRAIN, EVALUATE, PREDICT]
    converted = _nb2prod("convert", str(make_notebook(folder / "plain.ipynb", cells)))
    assert converted.returncode == 0, converted.stderr
    return folder / "plain"


@pytest.mark.e2e
def test_verify_without_the_projects_requirements_says_pip_install_e(
    plain_project: Path, tmp_path: Path
) -> None:
    """The report of issue 11: `verify out --quick` where the wheel alone is installed."""
    python = _venv_without(tmp_path / "venv", "bentoml")
    stderr = _clean(_nb2prod("verify", str(plain_project), python=python))
    assert "the generated code stopped on an import: `bentoml` is not installed" in stderr
    assert f"fix: `pip install -e {plain_project}` (the project with the requirements" in stderr
    assert "`bentoml==" in stderr


@pytest.mark.e2e
def test_commands_without_nb2prods_extra_or_core_package_end_in_exit_2(
    plain_project: Path, tmp_path: Path
) -> None:
    """`serve` without BentoML says the extra; a package missing where nb2prod itself
    imports it (papermill, for verify) reaches the CLI's catch-all: exit 2, not 3."""
    python = _venv_without(tmp_path / "venv", "bentoml", "papermill")
    serve = _clean(_nb2prod("serve", str(plain_project), python=python))
    assert "`bentoml` is not installed in the Python nb2prod runs on" in serve
    assert "fix: `pip install 'nb2prod[serve]'`, then run the command again" in serve
    verify = _clean(_nb2prod("verify", str(plain_project), python=python))
    assert "`papermill` is not installed" in verify
    assert "fix: `pip install papermill`, then run the command again" in verify


@pytest.mark.e2e
def test_the_nbconvert_exporter_and_a_server_job_report_the_package_not_a_bug(
    tmp_path: Path,
) -> None:
    """Without IPython (nbconvert does not need it; nb2prod's cell reading does)."""
    python = _venv_without(tmp_path / "venv", "ipython")
    notebook = make_notebook(tmp_path / "plain.ipynb", [SETUP, PARAMETERS, _load(None), TRAIN])
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    exported = subprocess.run(
        [python, "-m", "nbconvert", "--to", "nb2prod", str(notebook)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    stderr = _clean(exported)
    assert "plain.ipynb: `IPython` is not installed in the Python nb2prod runs on" in stderr
    assert "fix: `pip install ipython`, then run the command again" in stderr
    job = (
        "import json, sys; from pathlib import Path;"
        "from nb2prod.frontends.server.tasks import run_convert;"
        "root = Path(sys.argv[1]);"
        "print(json.dumps(run_convert(root, root / 'plain.ipynb', root / 'out')))"
    )
    ran = subprocess.run(
        [python, "-c", job, str(tmp_path)], capture_output=True, text=True, env=env, check=True
    )
    problem = json.loads(ran.stdout)["error"]["problems"][0]
    assert problem["code"] == "missing-package" and "`IPython`" in problem["message"]
    assert problem["fix"] == "`pip install ipython`, then run the command again"
