"""The data the pipeline loads still looks like the data the notebook was built on.

`reference/data_profile.json` (columns, dtypes, null rates, ranges, categories
and distributions) was recorded by nb2prod from the notebook's data. The same
check runs in CI as `python scripts/check_data_quality.py [--data NEW.csv]`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabular_mlp.config import Config
from tabular_mlp.data_quality import check_tables, format_report, load_profiles
from tabular_mlp.pipeline import load_training_data

ROOT = Path(__file__).resolve().parent.parent
PROFILES = load_profiles(ROOT / "reference" / "data_profile.json")
SCRIPT = ROOT / "scripts" / "check_data_quality.py"


@pytest.fixture(scope="module")
def training_data() -> dict[str, Any]:
    return load_training_data(Config())


def errors_in(tables: dict[str, Any]) -> list[Any]:
    return [f for f in check_tables(PROFILES, tables) if f.severity == "error"]


def drifted(table: Any) -> Any:
    """A copy whose numeric values moved by one standard deviation (or, lacking
    numbers, that lost its first column)."""
    if isinstance(table, np.ndarray):
        return table + table.std(axis=0) + 1.0
    frame = table.to_frame() if isinstance(table, pd.Series) else table.copy()
    numeric = frame.select_dtypes("number").columns
    if len(numeric) == 0:
        return frame.drop(columns=frame.columns[0])
    frame[numeric] = frame[numeric] + frame[numeric].std() + 1.0
    return frame[table.name] if isinstance(table, pd.Series) else frame


def test_the_data_matches_its_reference_profile(training_data: dict[str, Any]) -> None:
    errors = errors_in(training_data)
    assert not errors, format_report(errors, training_data)


def test_a_drifted_copy_of_the_data_fails_the_check(
    training_data: dict[str, Any],
) -> None:
    tables = {name: value for name, value in training_data.items() if name in PROFILES}
    for name, table in tables.items():
        assert errors_in({name: drifted(table)}), f"drift in `{name}` went unnoticed"


def test_the_script_passes_the_data_and_fails_a_drifted_file(
    training_data: dict[str, Any], tmp_path: Path
) -> None:
    frames = [n for n in PROFILES if isinstance(training_data.get(n), pd.DataFrame)]
    if not frames:
        pytest.skip("the training data has no table with named columns to write as CSV")
    name = frames[0]
    original = training_data[name]
    original.to_csv(tmp_path / "original.csv", index=False)
    drifted(original).to_csv(tmp_path / "drifted.csv", index=False)
    same = check_file(name, tmp_path / "original.csv")
    assert same.returncode == 0, same.stdout + same.stderr
    moved = check_file(name, tmp_path / "drifted.csv")
    assert moved.returncode == 1, moved.stdout + moved.stderr


def check_file(table: str, path: Path) -> subprocess.CompletedProcess[str]:
    """`scripts/check_data_quality.py --table TABLE --data PATH`, as CI runs it."""
    command = [sys.executable, str(SCRIPT), "--table", table, "--data", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False)
