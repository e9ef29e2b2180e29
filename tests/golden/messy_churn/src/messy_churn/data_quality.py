"""Schema, null and drift checks of the data the notebook loads.

Training profiles each table the load section hands on (`profile_tables`) and saves
the profiles to `reference/data_profile.json` (`save_profiles`);
`scripts/check_data_quality.py` checks new data against them (`check_tables`).
A broken schema or a distribution that moved is an error, anything else worth a
look a warning.

Drift counts only when it is both large (PSI, KS distance) and more than chance
explains at the sample sizes compared (p < 0.01): a small batch then does not alarm
on noise, nor a huge one on a negligible shift. Needs numpy and pandas only.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_CATEGORIES = 50
"""Columns with more distinct values keep only their cardinality, not frequencies."""
KS_QUANTILES = 101
"""Quantiles kept per numeric column: the reference distribution to 1%, for KS."""
PSI_BINS = 10
"""Quantile bins of a numeric column's PSI (fewer when values repeat)."""
PSI_WARNING, PSI_ERROR = 0.1, 0.2
"""The usual PSI rule: below 0.1 stable, to 0.2 a moderate shift, then a large one."""
KS_WARNING, KS_ERROR = 0.05, 0.1
"""Largest gap between the cumulative distributions that counts as a shift."""
SIGNIFICANCE = 0.01
"""Drift must also be unlikely by chance alone: p below this."""
Z_SIGNIFICANCE = 2.326
"""The one-sided normal quantile of SIGNIFICANCE."""
NULL_RATE_TOLERANCE = 0.05
"""How far (absolute) the null rate may rise above the reference's."""
NUMERIC, CATEGORICAL = ("int", "float"), ("str", "bool")
READERS = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".jsonl": partial(pd.read_json, lines=True, dtype=False),  # true/null stay booleans
}
"""How `read_table` reads a data file, by suffix."""


@dataclass(frozen=True)
class Finding:
    """One problem of a table, or of one of its columns."""

    table: str
    column: str | None
    check: str
    severity: str
    """"error" (the data broke or moved: retrain or investigate) or "warning"."""
    message: str
    statistic: float | None = None
    """The number the check measured (a PSI, a KS distance, a share of rows)."""


# ---- profiles -------------------------------------------------------------------


def profile_table(table: pd.DataFrame | pd.Series | np.ndarray) -> dict[str, Any]:
    """The reference profile of a table, as plain JSON-ready data.

    A Series is a one-column table (named after it, else `value`); a 2-D array
    has columns `x0`, `x1`, ...
    """
    columns = _columns(table)
    return {
        "rows": len(table),
        "columns": [_profile_column(name, values) for name, values in columns.items()],
    }


def profile_tables(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Profiles of the values that are tables; others (models, numbers) are skipped."""
    return {
        name: profile_table(value) for name, value in values.items() if _is_table(value)
    }


def save_profiles(
    path: Path | str, profiles: dict[str, dict[str, Any]], source: str
) -> None:
    """Write `profiles`, made from the data of the `source` notebook, to `path`."""
    document = {"tables": profiles, "created_by": __name__, "source_notebook": source}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def load_profiles(path: Path | str) -> dict[str, dict[str, Any]]:
    """The table profiles `save_profiles` wrote to `path`, by table name."""
    try:
        tables = json.loads(Path(path).read_text())["tables"]
    except (ValueError, TypeError, KeyError):  # not JSON, or JSON of another shape
        tables = None
    if not isinstance(tables, dict) or not all(
        isinstance(profile, dict) and "columns" in profile
        for profile in tables.values()
    ):
        raise ValueError(f"{path} is not a data profile: train again to rewrite it")
    return tables


def _is_table(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 2
    return isinstance(value, (pd.DataFrame, pd.Series))


def _columns(table: Any) -> dict[str, pd.Series]:
    """The columns of a table by name, named as in its profile."""
    if isinstance(table, pd.DataFrame):
        return {str(label): table.iloc[:, i] for i, label in enumerate(table.columns)}
    if isinstance(table, pd.Series):
        return {"value" if table.name is None else str(table.name): table}
    if _is_table(table):
        return {f"x{i}": pd.Series(table[:, i]) for i in range(table.shape[1])}
    raise TypeError(f"not a table: {type(table).__name__}")


def _profile_column(name: str, values: pd.Series) -> dict[str, Any]:
    kind = _kind(values)
    profile = {
        "name": name,
        "kind": kind,
        "dtype": str(values.dtype),
        "null_rate": _null_rate(values),
    }
    if kind in NUMERIC:
        profile.update(_numeric_profile(_numbers(values)))
    elif kind == "datetime":
        profile.update(_datetime_profile(values))
    else:
        profile.update(_category_profile(_categories(values)))
    return profile


def _numeric_profile(numbers: np.ndarray) -> dict[str, Any]:
    """Summary statistics, quantiles for the KS test and bins for the PSI."""
    if len(numbers) == 0:
        return {"count": 0}
    edges = _bin_edges(numbers)
    return {
        "count": len(numbers),
        "min": float(numbers.min()),
        "max": float(numbers.max()),
        "mean": float(numbers.mean()),
        "std": float(numbers.std()),
        "quantiles": np.quantile(numbers, np.linspace(0, 1, KS_QUANTILES)).tolist(),
        "bin_edges": edges.tolist(),
        "bin_proportions": _bin_shares(numbers, edges).tolist(),
    }


def _bin_edges(numbers: np.ndarray) -> np.ndarray:
    """Inner edges of PSI_BINS quantile bins, merged where values repeat.

    Edges are data values and bins are closed on the right, so every bin holds
    reference data: a column of a few integers gets one bin per value.
    """
    levels = np.linspace(0, 1, PSI_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(numbers, levels, method="inverted_cdf"))
    return edges[edges < numbers.max()]


def _bin_shares(numbers: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of `numbers` in each bin: up to edges[0], ..., above edges[-1]."""
    bins = np.searchsorted(edges, numbers, side="left")
    return np.bincount(bins, minlength=len(edges) + 1) / len(numbers)


def _category_profile(categories: pd.Series) -> dict[str, Any]:
    shares = categories.value_counts(normalize=True)
    frequencies = None
    if len(shares) <= MAX_CATEGORIES:
        frequencies = {
            str(category): float(share) for category, share in shares.items()
        }
    return {
        "count": len(categories),
        "cardinality": len(shares),
        "frequencies": frequencies,
    }


def _datetime_profile(values: pd.Series) -> dict[str, Any]:
    """The time span covered: time moves on, so timestamps get no drift checks."""
    times = pd.to_datetime(values.dropna(), errors="coerce").dropna()
    if times.empty:
        return {"count": 0, "min": None, "max": None}
    return {
        "count": len(times),
        "min": times.min().isoformat(),
        "max": times.max().isoformat(),
    }


_OBJECT_KINDS = {
    "boolean": "bool",
    "integer": "int",
    "floating": "float",
    "mixed-integer-float": "float",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
}
"""The kind of an object column, by what pandas infers its values to be."""


def _kind(values: pd.Series) -> str:
    """What a column holds, as checks see it: int, float, bool, str or datetime."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_object_dtype(dtype):  # e.g. booleans with nulls in them
        return _OBJECT_KINDS.get(pd.api.types.infer_dtype(values, skipna=True), "str")
    return "str"


def _null_rate(values: pd.Series) -> float:
    return float(values.isna().mean()) if len(values) else 0.0


def _numbers(values: pd.Series) -> np.ndarray:
    """The finite values of a numeric column, as floats."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(float, na_value=np.nan)
    return numbers[np.isfinite(numbers)]


def _categories(values: pd.Series) -> pd.Series:
    """The non-null values of a column as text: categories compare as strings."""
    return values.dropna().astype(str)


# ---- checks ---------------------------------------------------------------------


def check_tables(
    profiles: dict[str, dict[str, Any]], tables: dict[str, Any]
) -> list[Finding]:
    """Findings of each profiled table; one missing from `tables` is an error."""
    findings = []
    for name, profile in profiles.items():
        table = tables.get(name)
        if _is_table(table):
            findings += check_table(profile, table, name)
        else:
            message = (
                "missing" if table is None else f"not a table: {type(table).__name__}"
            )
            findings.append(Finding(name, None, "missing_table", "error", message))
    return findings


def check_table(
    profile: dict[str, Any], table: Any, name: str = "table"
) -> list[Finding]:
    """Schema, null and drift findings of `table` against its reference `profile`.

    `name` is the table's name in the findings.
    """
    columns = _columns(table)
    reference = {column["name"]: column for column in profile["columns"]}
    findings = [
        Finding(name, column, "missing_column", "error", "not in the data")
        for column in reference
        if column not in columns
    ]
    findings += [
        Finding(name, column, "extra_column", "warning", "not in the reference")
        for column in columns
        if column not in reference
    ]
    if len(table) == 0:
        return [Finding(name, None, "empty_table", "error", "no rows"), *findings]
    for column, values in columns.items():
        if column in reference:
            findings += _check_column(name, reference[column], values)
    return findings


def _check_column(
    table: str, reference: dict[str, Any], values: pd.Series
) -> list[Finding]:
    expected, kind = reference["kind"], _kind(values)
    if expected == "datetime" and kind == "str":  # CSV and JSON files hold time as text
        values, kind = pd.to_datetime(values, errors="coerce"), "datetime"
    findings = []
    if kind != expected and values.notna().any():  # a column of nulls has no kind
        findings.append(_kind_finding(table, reference, kind))
        if {kind, expected} != set(NUMERIC):
            return findings  # statistics of different kinds do not compare
    findings += _check_nulls(table, reference, values)
    if expected in NUMERIC:
        findings += _check_numbers(table, reference, _numbers(values))
    elif expected in CATEGORICAL:
        findings += _check_categories(table, reference, _categories(values))
    return findings


def _kind_finding(table: str, reference: dict[str, Any], kind: str) -> Finding:
    """An error; int against float only a warning, as a null turns ints to floats."""
    expected = reference["kind"]
    severity = "warning" if {kind, expected} == set(NUMERIC) else "error"
    message = f"{kind} values, the reference has {expected}"
    return Finding(table, reference["name"], "dtype", severity, message)


def _check_nulls(
    table: str, reference: dict[str, Any], values: pd.Series
) -> list[Finding]:
    """An error when nulls rose by more than the tolerance, and by more than chance."""
    rate, expected = _null_rate(values), reference["null_rate"]
    noise = math.sqrt(expected * (1 - expected) / len(values))
    if rate - expected <= max(NULL_RATE_TOLERANCE, Z_SIGNIFICANCE * noise):
        return []
    message = f"{rate:.1%} nulls, the reference has {expected:.1%}"
    return [Finding(table, reference["name"], "null_rate", "error", message, rate)]


def _check_numbers(
    table: str, reference: dict[str, Any], numbers: np.ndarray
) -> list[Finding]:
    if len(numbers) == 0 or reference["count"] == 0:
        return []
    shares = _bin_shares(numbers, np.asarray(reference["bin_edges"]))
    expected = np.asarray(reference["bin_proportions"])
    psi = _psi_finding(table, reference, expected, shares, len(numbers))
    return [
        *_check_range(table, reference, numbers),
        *psi,
        *_check_ks(table, reference, numbers),
    ]


def _check_range(
    table: str, reference: dict[str, Any], numbers: np.ndarray
) -> list[Finding]:
    """A warning for values outside the reference's range: the model never saw such."""
    low, high = reference["min"], reference["max"]
    outside = int(np.count_nonzero((numbers < low) | (numbers > high)))
    if outside == 0:
        return []
    share = outside / len(numbers)
    values = _count(outside, "value")
    message = f"{values} ({share:.1%}) outside the reference [{low:.4g}, {high:.4g}]"
    return [
        Finding(table, reference["name"], "out_of_range", "warning", message, share)
    ]


def _check_ks(
    table: str, reference: dict[str, Any], numbers: np.ndarray
) -> list[Finding]:
    """The two-sample Kolmogorov-Smirnov test against the reference's quantiles."""
    distance = _ks_distance(np.asarray(reference["quantiles"]), numbers)
    n = _effective_size(reference["count"], len(numbers))
    p_value = _kolmogorov_p_value(distance * math.sqrt(n))
    severity = _severity(distance, KS_WARNING, KS_ERROR, p_value)
    if severity is None:
        return []
    message = f"KS distance {distance:.2f} (p={p_value:.2g}): the distribution moved"
    return [Finding(table, reference["name"], "ks", severity, message, distance)]


def _check_categories(
    table: str, reference: dict[str, Any], categories: pd.Series
) -> list[Finding]:
    """Unseen categories, and the PSI over category frequencies (unseen ones pooled)."""
    frequencies = reference["frequencies"]
    if frequencies is None or categories.empty:  # too many categories to follow
        return []
    shares = categories.value_counts(normalize=True)
    unseen = shares[~shares.index.isin(list(frequencies))]
    expected = np.append(list(frequencies.values()), 0.0)  # nothing was unseen
    actual = np.append(shares.reindex(list(frequencies), fill_value=0.0), unseen.sum())
    psi = _psi_finding(table, reference, expected, actual, len(categories))
    return [*_unseen_finding(table, reference, unseen), *psi]


def _unseen_finding(
    table: str, reference: dict[str, Any], unseen: pd.Series
) -> list[Finding]:
    """A warning naming the most common categories the reference never saw."""
    if unseen.empty:
        return []
    names = ", ".join(repr(category) for category in unseen.index[:3])
    more = f" and {len(unseen) - 3} more" if len(unseen) > 3 else ""
    share = float(unseen.sum())
    message = (
        f"{share:.1%} of values in categories the reference never saw: {names}{more}"
    )
    return [
        Finding(
            table, reference["name"], "unseen_categories", "warning", message, share
        )
    ]


def _psi_finding(
    table: str,
    reference: dict[str, Any],
    expected: np.ndarray,
    actual: np.ndarray,
    count: int,
) -> list[Finding]:
    """The population stability index of `count` values over a column's bins."""
    psi = _psi(expected, actual, reference["count"], count)
    n = _effective_size(reference["count"], count)
    p_value = _chi_square_p_value(psi * n, len(expected) - 1)
    severity = _severity(psi, PSI_WARNING, PSI_ERROR, p_value)
    if severity is None:
        return []
    message = f"PSI {psi:.2f} (p={p_value:.2g}): the distribution moved"
    return [Finding(table, reference["name"], "psi", severity, message, psi)]


def _severity(size: float, warning: float, error: float, p_value: float) -> str | None:
    """The severity of a shift of `size` that is unlikely by chance, or None."""
    if size < warning or p_value >= SIGNIFICANCE:
        return None
    return "error" if size >= error else "warning"


# ---- statistics -----------------------------------------------------------------


def _psi(
    expected: np.ndarray, actual: np.ndarray, n_expected: int, n_actual: int
) -> float:
    """Population stability index: the sum of (actual - expected) * ln(actual/expected).

    An empty bin counts as half a value, so that one rare value missing from a small
    batch does not read as an infinite shift.
    """
    expected = np.maximum(expected, 0.5 / n_expected)
    actual = np.maximum(actual, 0.5 / n_actual)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _effective_size(n: int, m: int) -> float:
    """The sample size that two samples of n and m values amount to in a comparison."""
    return n * m / (n + m)


def _chi_square_p_value(statistic: float, dof: int) -> float:
    """P(chi-square(dof) >= statistic), by the Wilson-Hilferty normal approximation.

    Without drift, PSI times the effective sample size is about chi-square
    distributed with one degree of freedom less than there are bins.
    """
    if dof < 1:
        return 1.0
    spread = 2 / (9 * dof)
    z = ((statistic / dof) ** (1 / 3) - (1 - spread)) / math.sqrt(spread)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _ks_distance(quantiles: np.ndarray, numbers: np.ndarray) -> float:
    """The largest gap between the cumulative distributions of `numbers` and reference.

    Both are compared at each value and each reference quantile; the reference's
    is linear between its quantiles, so the distance is exact to about 1/100.
    """
    points = np.union1d(quantiles, numbers)
    observed = np.searchsorted(np.sort(numbers), points, side="right") / len(numbers)
    return float(np.max(np.abs(observed - _reference_cdf(quantiles, points))))


def _reference_cdf(quantiles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """P(X <= point) for the reference: linear between quantiles, a step at repeats."""
    levels = np.linspace(0, 1, len(quantiles))
    above = np.searchsorted(quantiles, points, side="right")  # first quantile > point
    cdf = np.where(above == len(quantiles), 1.0, 0.0)
    inside = (above > 0) & (above < len(quantiles))
    low = above[inside] - 1  # quantiles[low] <= point < quantiles[low + 1]
    fraction = (points[inside] - quantiles[low]) / (quantiles[low + 1] - quantiles[low])
    cdf[inside] = levels[low] + fraction * (levels[low + 1] - levels[low])
    return cdf


def _kolmogorov_p_value(statistic: float) -> float:
    """P(K >= statistic), K Kolmogorov distributed: the KS test's asymptotic p-value."""
    if statistic < 0.2:  # the series converges slowly here, and p rounds to 1
        return 1.0
    k = np.arange(1, 101)
    terms = 2 * (-1.0) ** (k - 1) * np.exp(-2 * k**2 * statistic**2)
    return float(np.clip(terms.sum(), 0.0, 1.0))


# ---- files and reports ----------------------------------------------------------


def read_table(path: Path | str) -> pd.DataFrame:
    """A data file as a DataFrame: .csv, .parquet or .jsonl (a JSON object per line)."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"cannot read {path.name}: use a .csv, .parquet or .jsonl file"
        )
    try:
        return reader(path)
    except ImportError as error:  # pandas reads Parquet with pyarrow
        raise ValueError(f"cannot read {path}: `pip install pyarrow` first") from error
    except (OSError, ValueError) as error:  # a malformed file
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"cannot read {path}: {reason}") from error


def match_table(profiles: dict[str, dict[str, Any]], frame: pd.DataFrame) -> str:
    """The reference table sharing the most columns with `frame` (the first of ties)."""
    columns = set(_columns(frame))
    shared = {
        name: len(columns & {column["name"] for column in profile["columns"]})
        for name, profile in profiles.items()
    }
    best = max(shared, key=lambda name: shared[name], default=None)
    if best is None or shared[best] == 0:
        tables = ", ".join(profiles) or "none"
        raise ValueError(
            f"the data has no column of the reference tables ({tables}): wrong file?"
        )
    return best


def format_report(findings: list[Finding], tables: dict[str, Any]) -> str:
    """A text report: per table its rows, a line per finding, then a verdict."""
    widths = [max((len(_cells(f)[i]) for f in findings), default=0) for i in range(3)]
    lines = []
    for name in dict.fromkeys([*tables, *(finding.table for finding in findings)]):
        table = tables.get(name)
        lines.append(f"{name}: {len(table)} rows" if _is_table(table) else f"{name}:")
        own = [finding for finding in findings if finding.table == name]
        lines += [_line(finding, widths) for finding in own]
        lines.append(f"  {_verdict(own)}")
    return "\n".join(lines)


def findings_to_json(findings: list[Finding]) -> dict[str, Any]:
    """The findings and their counts as JSON-ready data."""
    errors = sum(finding.severity == "error" for finding in findings)
    return {
        "passed": errors == 0,
        "errors": errors,
        "warnings": len(findings) - errors,
        "findings": [asdict(finding) for finding in findings],
    }


def _cells(finding: Finding) -> tuple[str, str, str]:
    return finding.severity, finding.column or "-", finding.check


def _line(finding: Finding, widths: list[int]) -> str:
    """A finding as one report line, its first cells padded to `widths`."""
    cells = zip(_cells(finding), widths, strict=True)
    padded = "  ".join(cell.ljust(width) for cell, width in cells)
    return f"  {padded}  {finding.message}"


def _verdict(findings: list[Finding]) -> str:
    errors = sum(finding.severity == "error" for finding in findings)
    warnings = len(findings) - errors
    if errors:
        return f"FAIL: {_count(errors, 'error')}, {_count(warnings, 'warning')}"
    return f"OK, {_count(warnings, 'warning')}" if warnings else "OK"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
