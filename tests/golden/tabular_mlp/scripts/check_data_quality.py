"""Check data against the training data's reference profile: schema, nulls and drift.

    python scripts/check_data_quality.py                  # what the pipeline loads now
    python scripts/check_data_quality.py --data new.csv   # or .parquet, .jsonl

Exit status: 0 when nothing is wrong (warnings allowed); 1 when the schema broke or
the distribution moved, so retrain or investigate; 2 when the command needs fixing.
The checks themselves live in `tabular_mlp.data_quality`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from tabular_mlp.config import Config
    from tabular_mlp.data_quality import (
        check_tables,
        findings_to_json,
        format_report,
        load_profiles,
        match_table,
        profile_tables,
        read_table,
        save_profiles,
    )
    from tabular_mlp.pipeline import load_training_data
except ModuleNotFoundError as missing:
    print(f"check_data_quality: {missing}: run `pip install -e .`", file=sys.stderr)
    sys.exit(2)

PROFILE = Path(__file__).resolve().parent.parent / "reference" / "data_profile.json"
"""The training data's profile, recorded by nb2prod from the notebook's data."""

Profiles = dict[str, dict[str, Any]]


class UsageError(Exception):
    """A mistake in the command, such as a wrong path: exit 2, with the fix."""


def main(argv: Sequence[str] | None = None) -> int:
    """Check the data and print the report; return the exit status."""
    args = parse_arguments(argv)
    if args.update_reference:
        return update_reference(args.profile)
    try:
        profiles = reference_profiles(args.profile, args.table)
        profiles, tables = data_to_check(args.data, profiles)
    except UsageError as error:
        print(f"check_data_quality: {error}", file=sys.stderr)
        return 2
    findings = check_tables(profiles, tables)
    print(format_report(findings, {name: tables.get(name) for name in profiles}))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(findings_to_json(findings), indent=2) + "\n")
    if any(finding.severity == "error" for finding in findings):
        print("\nThe data moved away from the training data: retrain or investigate.")
        return 1
    return 0


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check data against the reference profile of the training data."
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="a .csv, .parquet or .jsonl file to check (default: the pipeline's data)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=PROFILE,
        help="the reference profile (default: reference/data_profile.json)",
    )
    parser.add_argument(
        "--table",
        help="the reference table to check against (default: all of them, or with "
        "--data the one sharing the most columns)",
    )
    parser.add_argument("--json", type=Path, help="also write the findings here")
    parser.add_argument(
        "--update-reference",
        action="store_true",
        help="profile the data the pipeline loads now and make it the new reference "
        "(after retraining on data you checked)",
    )
    return parser.parse_args(argv)


def update_reference(path: Path) -> int:
    """Replace the reference profile with one of today's data; exit status 0."""
    tables = load_training_data(Config())
    save_profiles(path, profile_tables(tables), source="tabular_mlp.ipynb")
    print(f"reference profile of {', '.join(profile_tables(tables))} written to {path}")
    return 0


def reference_profiles(path: Path, table: str | None) -> Profiles:
    """The profiles to check against: all, or the one `table` names."""
    if not path.is_file():
        raise UsageError(
            f"no reference profile at {path}: convert the notebook again, run with "
            "--update-reference, or pass --profile FILE"
        )
    try:
        profiles = load_profiles(path)
    except ValueError as error:
        raise UsageError(str(error)) from error
    if table is None:
        return profiles
    if table not in profiles:
        known = ", ".join(profiles)
        raise UsageError(f"no table {table!r} in {path}: pass --table one of {known}")
    return {table: profiles[table]}


def data_to_check(
    data: Path | None, profiles: Profiles
) -> tuple[Profiles, dict[str, Any]]:
    """The profiles and tables to compare: a file and its table, else the pipeline's."""
    if data is None:
        try:
            return profiles, load_training_data(Config())
        except FileNotFoundError as error:
            raise UsageError(
                f"the pipeline cannot load its data ({error}): restore it, "
                "or check a file with --data FILE"
            ) from error
    if not data.is_file():
        raise UsageError(f"no file {data}: pass --data an existing data file")
    try:
        frame = read_table(data)
        name = match_table(profiles, frame)
    except ValueError as error:
        raise UsageError(str(error)) from error
    return {name: profiles[name]}, {name: frame}


if __name__ == "__main__":
    sys.exit(main())
