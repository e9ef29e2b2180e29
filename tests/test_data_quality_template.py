"""The generated project's data checks: `src/<package>/data_quality.py` and
`scripts/check_data_quality.py`, rendered from their templates with nb2prod's Jinja setup.

The wine data (bundled with scikit-learn) stands in for a notebook's training data, with
a derived text column so categories are checked too. The script runs as users run it, in
a subprocess (usage errors also in-process, for speed), against a fake `pipeline.py`
whose `load_training_data` reads that data from a CSV.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb2prod.render import _environment

PACKAGE = "shop_model"
TEMPLATES = {
    "src/package/data_quality.py.j2": f"src/{PACKAGE}/data_quality.py",
    "scripts/check_data_quality.py.j2": "scripts/check_data_quality.py",
}
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


def wine() -> pd.DataFrame:
    """The wine data plus a text column with one common and one rare category."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    strong = frame["alcohol"] > frame["alcohol"].quantile(0.8)
    frame["style"] = np.where(strong, "bold", "light")
    return frame


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minimal generated project: the two rendered files, fakes and the data.

    The files are as rendered, before nb2prod's ruff pass, so they must be clean as written.
    """
    root = tmp_path_factory.mktemp("project")
    notebook = SimpleNamespace(path=Path("notebooks/shop.ipynb"))
    context = {"plan": SimpleNamespace(package=PACKAGE, notebook=notebook)}
    env = _environment()
    rendered = {target: env.get_template(t).render(context) for t, target in TEMPLATES.items()}
    for path, text in {**rendered, **FAKES}.items():
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


@pytest.fixture(scope="module")
def dq(project: Path) -> Iterator[ModuleType]:
    """The rendered data_quality module, imported from the project."""
    name = f"{PACKAGE}.data_quality"
    yield import_file(project / "src" / PACKAGE / "data_quality.py", name)
    del sys.modules[name]


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
            if name != f"{PACKAGE}.data_quality":
                del sys.modules[name]


@pytest.fixture(scope="module")
def reference(project: Path, dq: ModuleType) -> dict[str, Any]:
    """The wine profile, saved where training saves it, as read back from JSON."""
    path = project / "reference" / "data_profile.json"
    dq.save_profiles(path, dq.profile_tables({"wine": wine()}), "notebooks/shop.ipynb")
    return dq.load_profiles(path)["wine"]


def errors(findings: list[Any]) -> list[Any]:
    return [finding for finding in findings if finding.severity == "error"]


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
    module = (project / TEMPLATES["src/package/data_quality.py.j2"]).read_text()
    assert "shop.ipynb" in module.splitlines()[0]
    assert "scipy" not in module


# ---- no false alarms ---------------------------------------------------------------------------


def test_the_original_data_passes_without_findings(dq: ModuleType, reference: dict) -> None:
    assert dq.check_table(reference, wine(), "wine") == []


@pytest.mark.parametrize("seed", range(5))
def test_a_half_sample_passes_without_errors(dq: ModuleType, reference: dict, seed: int) -> None:
    half = wine().sample(frac=0.5, random_state=seed)
    assert errors(dq.check_table(reference, half, "wine")) == []


# ---- drift and schema changes are caught, naming the column -----------------------------------


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    frame["alcohol"] += frame["alcohol"].std()
    return frame


def scaled(frame: pd.DataFrame) -> pd.DataFrame:
    frame["magnesium"] *= 1.5
    return frame


def swapped(frame: pd.DataFrame) -> pd.DataFrame:
    frame["style"] = frame["style"].map({"bold": "light", "light": "bold"})
    return frame


def dropped(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["hue"])


def retyped(frame: pd.DataFrame) -> pd.DataFrame:
    frame["color_intensity"] = frame["color_intensity"].astype(str)
    return frame


def nulls(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[frame.sample(frac=0.2, random_state=0).index, "ash"] = np.nan
    return frame


CHANGES: list[tuple[Callable[[pd.DataFrame], pd.DataFrame], str, set[str]]] = [
    (shifted, "alcohol", {"psi", "ks"}),
    (scaled, "magnesium", {"psi", "ks"}),
    (swapped, "style", {"psi"}),
    (dropped, "hue", {"missing_column"}),
    (retyped, "color_intensity", {"dtype"}),
    (nulls, "ash", {"null_rate"}),
]


@pytest.mark.parametrize(
    ("change", "column", "checks"), CHANGES, ids=[c[0].__name__ for c in CHANGES]
)
def test_a_change_is_an_error_naming_its_column(
    dq: ModuleType, reference: dict, change: Callable, column: str, checks: set[str]
) -> None:
    found = errors(dq.check_table(reference, change(wine()), "wine"))
    assert {finding.column for finding in found} == {column}
    assert {finding.check for finding in found} == checks
    report = dq.format_report(found, {"wine": change(wine())})
    assert column in report and "FAIL" in report


def test_int_read_as_float_is_only_a_warning(dq: ModuleType, reference: dict) -> None:
    frame = wine().astype({"target": float})
    (finding,) = dq.check_table(reference, frame, "wine")
    assert (finding.column, finding.check, finding.severity) == ("target", "dtype", "warning")


def test_an_empty_table_and_a_missing_one_are_errors(dq: ModuleType, reference: dict) -> None:
    findings = dq.check_tables({"wine": reference, "gone": reference}, {"wine": wine().head(0)})
    assert [(f.table, f.check, f.severity) for f in findings] == [
        ("wine", "empty_table", "error"),
        ("gone", "missing_table", "error"),
    ]
    assert dq.findings_to_json(findings)["errors"] == 2


# ---- profiles of other tables ------------------------------------------------------------------


def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = 300
    colours = rng.choice(np.array(["red", "white", "rose", None], dtype=object), rows)
    return pd.DataFrame(
        {
            "count": rng.integers(0, 5, rows),
            "price": rng.normal(10, 2, rows),
            "colour": pd.Series(colours, dtype=object),
            "organic": rng.random(rows) < 0.3,
            "when": pd.date_range("2024-01-01", periods=rows, freq="h"),
            "nothing": np.full(rows, np.nan),
        }
    )


def round_trip(profile: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(profile, allow_nan=False))


def test_a_mixed_frame_profiles_through_json(dq: ModuleType) -> None:
    frame = mixed()
    profile = round_trip(dq.profile_table(frame))
    kinds = {column["name"]: column["kind"] for column in profile["columns"]}
    assert kinds == {
        "count": "int",
        "price": "float",
        "colour": "str",
        "organic": "bool",
        "when": "datetime",
        "nothing": "float",
    }
    colour = next(column for column in profile["columns"] if column["name"] == "colour")
    assert set(colour["frequencies"]) == {"red", "white", "rose"} and colour["null_rate"] > 0
    assert dq.check_table(profile, frame) == []
    assert dq.check_table(profile, frame.sample(frac=0.5, random_state=1)) == []


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_mixed_frame_passes_after_a_file_round_trip(
    dq: ModuleType, tmp_path: Path, suffix: str
) -> None:
    frame = mixed()
    path = tmp_path / f"mixed{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, date_format="iso", double_precision=15)
    profile = round_trip(dq.profile_table(frame))
    assert dq.check_table(profile, dq.read_table(path)) == []


def test_a_series_and_an_array_profile_as_tables(dq: ModuleType) -> None:
    series = pd.Series([1.0, 2.5, None, 4.0], name="price")
    array = np.random.default_rng(0).normal(size=(40, 3))
    tables = dq.profile_tables({"series": series, "array": array, "model": object(), "n": 3})
    tables = round_trip(tables)
    assert list(tables) == ["series", "array"]
    assert [column["name"] for column in tables["series"]["columns"]] == ["price"]
    assert [column["name"] for column in tables["array"]["columns"]] == ["x0", "x1", "x2"]
    assert dq.check_tables(tables, {"series": series, "array": array}) == []
    unnamed = round_trip(dq.profile_table(pd.Series([True, False])))
    assert unnamed["columns"][0]["name"] == "value"


def test_match_table_picks_the_most_shared_columns(dq: ModuleType, reference: dict) -> None:
    small = dq.profile_table(pd.DataFrame({"alcohol": [1.0], "other": [2.0]}))
    profiles = {"small": small, "wine": reference}
    assert dq.match_table(profiles, wine().drop(columns=["target"])) == "wine"
    with pytest.raises(ValueError, match="wrong file"):
        dq.match_table(profiles, pd.DataFrame({"unrelated": [1]}))


def test_a_file_that_is_no_profile_is_refused(dq: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text('{"tables": [1, 2]}')
    with pytest.raises(ValueError, match="not a data profile"):
        dq.load_profiles(path)


def test_p_values_match_their_tables(dq: ModuleType) -> None:
    assert dq._kolmogorov_p_value(1.358) == pytest.approx(0.05, abs=0.001)
    assert dq._kolmogorov_p_value(1.628) == pytest.approx(0.01, abs=0.0005)
    assert dq._chi_square_p_value(6.635, 1) == pytest.approx(0.01, abs=0.001)
    assert dq._chi_square_p_value(21.666, 9) == pytest.approx(0.01, abs=0.001)


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
