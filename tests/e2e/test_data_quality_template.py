"""The generated project's data check script, `scripts/check_data_quality.py`, rendered
from its template with nb2prod's Jinja setup beside the `data_quality.py` it imports
(copied from nb2prod/generate/runtime, whose own tests are in tests/unit/generate/runtime).

The wine data (bundled with scikit-learn) stands in for a notebook's training data. The
script runs as users run it, in a subprocess (usage errors also in-process, for speed),
against a fake `pipeline.py` whose `load_training_data` reads that data from a CSV.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from nb2prod.generate.render import GENERATE, _environment
from nb2prod.generate.runtime import data_quality as dq
from tests.unit.generate.runtime.test_data_quality import shifted, wine

PACKAGE = "shop_model"
SCRIPT = ("scripts/check_data_quality.py.j2", "scripts/check_data_quality.py")
FAKES = {
    f"src/{PACKAGE}/__init__.py": "",
    f"src/{PACKAGE}/config.py": "class Config:\n    pass\n",
    f"src/{PACKAGE}/pipeline.py": """import os
from pathlib import Path

import pandas as pd

from shop_model.config import Config

DATA = Path(__file__).resolve().parent.parent.parent / "wine.csv"


def load_training_data(config):
    assert isinstance(config, Config)
    wine = pd.read_csv(DATA)
    if os.environ.get("SHOP_DRIFT"):
        wine["proline"] = wine["proline"] * 1.5
    return {"wine": wine, "rows_seen": len(wine)}
""",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minimal generated project: the rendered script, data_quality.py, fakes and the data.

    The script is as rendered, before nb2prod's ruff pass, so it must be clean as written.
    """
    root = tmp_path_factory.mktemp("project")
    source = SimpleNamespace(path=Path("notebooks/shop.ipynb"))
    context = {"plan": SimpleNamespace(package=PACKAGE, source=source)}
    rendered = {SCRIPT[1]: _environment().get_template(SCRIPT[0]).render(context)}
    copied = {f"src/{PACKAGE}/data_quality.py": (GENERATE / "runtime/data_quality.py").read_text()}
    for path, text in {**rendered, **copied, **FAKES}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    wine().to_csv(root / "wine.csv", index=False)
    return root


def import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script(project: Path, reference: dict) -> Iterator[ModuleType]:
    """The rendered script, imported here for the cases that need no subprocess."""
    src = str(project / "src")
    sys.path.insert(0, src)
    try:
        yield import_file(project / "scripts" / "check_data_quality.py", "check_data_quality")
    finally:
        sys.path.remove(src)
        for name in [n for n in sys.modules if n.startswith((PACKAGE, "check_data_quality"))]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def reference(project: Path) -> dict[str, Any]:
    """The wine profile, saved where training saves it, as read back from JSON."""
    path = project / "reference" / "data_profile.json"
    dq.save_profiles(path, dq.profile_tables({"wine": wine()}), "notebooks/shop.ipynb")
    return dq.load_profiles(path)["wine"]


# ---- the rendered code ------------------------------------------------------------------------


def test_rendered_code_is_ruff_clean_and_formatted(project: Path) -> None:
    from ruff.__main__ import find_ruff_bin

    for command in (
        ["check", "--select", "E,F,I,UP,B,SIM"],
        ["format", "--check"],
    ):
        done = subprocess.run(
            [find_ruff_bin(), *command, "--isolated", "--no-cache", "--line-length", "88", "."],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


# ---- the script ---------------------------------------------------------------------------------


def run_script(project: Path, *args: str, drift: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    env.pop("SHOP_DRIFT", None)
    if drift:
        env["SHOP_DRIFT"] = "1"
    return subprocess.run(
        [sys.executable, "scripts/check_data_quality.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_script_passes_the_original_file(project: Path, reference: dict) -> None:
    done = run_script(project, "--data", "wine.csv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wine: 178 rows" in done.stdout


def test_script_fails_a_drifted_file_naming_the_column(
    project: Path, reference: dict, tmp_path: Path
) -> None:
    shifted(wine()).to_csv(tmp_path / "drifted.csv", index=False)
    report = tmp_path / "report" / "findings.json"
    done = run_script(project, "--data", str(tmp_path / "drifted.csv"), "--json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "alcohol" in done.stdout and "retrain or investigate" in done.stdout
    assert {f["column"] for f in json.loads(report.read_text())["findings"]} == {"alcohol"}


def test_script_refuses_a_missing_file_without_a_traceback(project: Path, reference: dict) -> None:
    done = run_script(project, "--data", "missing.csv")
    assert done.returncode == 2
    assert "no file missing.csv" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "wine.csv", "--table", "nope"], "pass --table one of wine"),
        (["--profile", "nope.json"], "no reference profile at nope.json"),
        (["--profile", "wine.csv"], "wine.csv is not a data profile"),
        (["--data", "reference/data_profile.json"], "use a .csv, .parquet or .jsonl file"),
    ],
)
def test_script_usage_errors_exit_2_with_the_fix(
    script: ModuleType,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(project)
    assert script.main(args) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_script_without_data_checks_what_the_pipeline_loads(project: Path, reference: dict) -> None:
    done = run_script(project, drift=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "wine: 178 rows" in done.stdout and "proline" in done.stdout


def test_update_reference_makes_todays_data_the_reference(project: Path, tmp_path: Path) -> None:
    """After retraining on data the user checked, the drifted data becomes the reference."""
    profile = tmp_path / "profile.json"
    done = run_script(project, "--update-reference", "--profile", str(profile), drift=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wine" in json.loads(profile.read_text())["tables"]
    again = run_script(project, "--profile", str(profile), drift=True)
    assert again.returncode == 0, again.stdout + again.stderr
