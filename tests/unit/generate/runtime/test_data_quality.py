"""The generated project's `data_quality.py`, tested where it lives (nb2prod/generate/runtime).

The wine data (bundled with scikit-learn) stands in for a notebook's training data, with
a derived text column so categories are checked too: the same data passes, a half
sample passes, and each kind of change (a shifted or scaled column, swapped categories,
a lost column, a new dtype, nulls) is an error naming its column.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb2prod.generate.runtime import data_quality as dq


def wine() -> pd.DataFrame:
    """The wine data plus a text column with one common and one rare category."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    strong = frame["alcohol"] > frame["alcohol"].quantile(0.8)
    frame["style"] = np.where(strong, "bold", "light")
    return frame


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The wine profile, saved as training saves it, as read back from JSON."""
    path = tmp_path_factory.mktemp("reference") / "data_profile.json"
    dq.save_profiles(path, dq.profile_tables({"wine": wine()}), "notebooks/shop.ipynb")
    return dq.load_profiles(path)["wine"]


def errors(findings: list[Any]) -> list[Any]:
    return [finding for finding in findings if finding.severity == "error"]


def test_it_needs_numpy_and_pandas_only() -> None:
    """Every generated project gets it, so it must not add a dependency (scipy...)."""
    from nb2prod.analyse.names import imported_modules

    tree = ast.parse(Path(dq.__file__).read_text())
    outside = {m for m in imported_modules([tree]) if m not in sys.stdlib_module_names}
    assert outside == {"numpy", "pandas"}


# ---- no false alarms ---------------------------------------------------------------------------


def test_the_original_data_passes_without_findings(reference: dict) -> None:
    assert dq.check_table(reference, wine(), "wine") == []


@pytest.mark.parametrize("seed", range(5))
def test_a_half_sample_passes_without_errors(reference: dict, seed: int) -> None:
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
    reference: dict, change: Callable, column: str, checks: set[str]
) -> None:
    found = errors(dq.check_table(reference, change(wine()), "wine"))
    assert {finding.column for finding in found} == {column}
    assert {finding.check for finding in found} == checks
    report = dq.format_report(found, {"wine": change(wine())})
    assert column in report and "FAIL" in report


def test_int_read_as_float_is_only_a_warning(reference: dict) -> None:
    frame = wine().astype({"target": float})
    (finding,) = dq.check_table(reference, frame, "wine")
    assert (finding.column, finding.check, finding.severity) == ("target", "dtype", "warning")


def test_an_empty_table_and_a_missing_one_are_errors(reference: dict) -> None:
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


def test_a_mixed_frame_profiles_through_json() -> None:
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
def test_a_mixed_frame_passes_after_a_file_round_trip(tmp_path: Path, suffix: str) -> None:
    frame = mixed()
    path = tmp_path / f"mixed{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, date_format="iso", double_precision=15)
    profile = round_trip(dq.profile_table(frame))
    assert dq.check_table(profile, dq.read_table(path)) == []


def test_a_series_and_an_array_profile_as_tables() -> None:
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


def test_match_table_picks_the_most_shared_columns(reference: dict) -> None:
    small = dq.profile_table(pd.DataFrame({"alcohol": [1.0], "other": [2.0]}))
    profiles = {"small": small, "wine": reference}
    assert dq.match_table(profiles, wine().drop(columns=["target"])) == "wine"
    with pytest.raises(ValueError, match="wrong file"):
        dq.match_table(profiles, pd.DataFrame({"unrelated": [1]}))


def test_a_file_that_is_no_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text('{"tables": [1, 2]}')
    with pytest.raises(ValueError, match="not a data profile"):
        dq.load_profiles(path)


def test_p_values_match_their_tables() -> None:
    assert dq._kolmogorov_p_value(1.358) == pytest.approx(0.05, abs=0.001)
    assert dq._kolmogorov_p_value(1.628) == pytest.approx(0.01, abs=0.0005)
    assert dq._chi_square_p_value(6.635, 1) == pytest.approx(0.01, abs=0.001)
    assert dq._chi_square_p_value(21.666, 9) == pytest.approx(0.01, abs=0.001)
