"""The command line: fast help, documented exit codes, check's report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nb2prod import __version__
from tests.conftest import EXAMPLES, make_notebook, run_cli


def test_help_and_version_do_not_import_heavy_modules() -> None:
    code = (
        "import sys\nfrom nb2prod.frontends.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('nbformat', 'IPython', 'jinja2', 'bentoml', 'papermill', "
        "'jupyterlab', 'pandas') if m in sys.modules]\nprint(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert run_cli("--version").stdout.strip() == f"nb2prod {__version__}"


def test_check_json_reports_cells_roles_and_flow() -> None:
    result = run_cli("check", str(EXAMPLES / "wine_classifier.ipynb"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["convertible"] is True
    assert report["metrics"] == ["accuracy", "f1_macro"]
    by_index = {c["index"]: c for c in report["cells"]}
    assert by_index[9]["role"] == "train" and by_index[9]["function"] == "train_model"
    assert "X_train" in by_index[9]["inputs"] and by_index[9]["outputs"] == ["model"]


def test_check_suggests_roles_and_exits_1_on_blocking_problems(tmp_path: Path) -> None:
    path = make_notebook(
        tmp_path / "untagged.ipynb",
        [
            "n_estimators = 10",
            "import pandas as pd\ndf = pd.read_csv('data.csv')",
            "model.fit(X, y)",
        ],
    )
    result = run_cli("check", str(path), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [c["suggested_role"] for c in report["cells"]] == ["parameters", "load", "train"]
    text = run_cli("check", str(path))
    assert "suggested role: load" in text.stdout and "fix:" in text.stdout


def test_convert_prints_where_things_went(tmp_path: Path) -> None:
    result = run_cli("convert", str(EXAMPLES / "wine_classifier.ipynb"), "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert "train_model" in result.stdout and str(tmp_path / "o") in result.stdout
    assert "\033[" not in result.stdout + result.stderr  # no colours outside a terminal


def test_convert_refuses_blocking_problems_with_exit_2(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "bad.ipynb", [("%%bash\nls", ["nb2prod:load"])])
    result = run_cli("convert", str(path), "-o", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "cell 0" in result.stderr and "fix:" in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_v3_notebook_is_upgraded_and_converted(tmp_path: Path) -> None:
    import nbformat
    from nbformat import v3

    cells = [
        v3.new_code_cell(input="# nb2prod: parameters\nscale = 2"),
        v3.new_code_cell(input="# nb2prod: load\nvalues = [1, 2, 3]"),
        v3.new_code_cell(input="# nb2prod: evaluate\ntotal_score = float(sum(values) * scale)"),
    ]
    node = v3.new_notebook(worksheets=[v3.new_worksheet(cells=cells)])
    node.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(node, version=3))
    result = run_cli("convert", str(path), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    pipeline = (tmp_path / "out" / "src" / "old" / "pipeline.py").read_text()
    assert "def evaluate(values: Any, *, scale: int) -> Any:" in pipeline
