"""Check that the trained model answers like the notebook, through the service's code.

Usage: `python scripts/test_model_inference.py [--bentomodel artifacts/model.bentomodel]`

Loads the model the service would serve (the latest `tabular-mlp` in BentoML's
store, after importing an exported archive if one is given), predicts the rows of
`examples/request.json` and compares the answers with `examples/response.json`,
the notebook's own predictions for those rows. Exit status: 0 when they agree,
1 when they do not, 2 when there is no trained model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bentoml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # service.py lives at the project's root

from tabular_mlp.model_store import MODEL_NAME
from tabular_mlp.schema import TabularMlpRow

FLOAT_TOLERANCE = 1e-5
"""Probabilities may come from the model's ONNX twin, checked at training to this bound."""


def mismatches(
    answer: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> list[str]:
    """Where the answers differ from the notebook's predictions (labels exactly)."""
    if len(answer) != len(expected):
        return [f"{len(answer)} answers for {len(expected)} rows"]
    found = []
    for index, (got, want) in enumerate(zip(answer, expected, strict=True)):
        for name, value in want.items():
            if not close(got[name], value):
                found.append(
                    f"row {index} `{name}`: notebook {value!r}, model {got[name]!r}"
                )
    return found


def close(got: Any, want: Any) -> bool:
    """Equal, floats within FLOAT_TOLERANCE, lists element by element."""
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(close(g, w) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=FLOAT_TOLERANCE)
    return bool(got == want)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bentomodel", type=Path, help="an exported model to import first"
    )
    args = parser.parse_args(argv)
    if args.bentomodel:
        try:
            bentoml.models.import_model(str(args.bentomodel))
        except bentoml.exceptions.BentoMLException as error:
            if "exist" not in str(error):
                raise
    try:
        stored = bentoml.models.get(f"{MODEL_NAME}:latest")
    except bentoml.exceptions.NotFound:
        print(f"no trained `{MODEL_NAME}` model: run `tabular-mlp-train` first")
        return 2
    from service import TabularMlpService

    request = json.loads((ROOT / "examples" / "request.json").read_text())
    expected = json.loads((ROOT / "examples" / "response.json").read_text())
    service = TabularMlpService()
    rows = [TabularMlpRow.model_validate(row) for row in request["body"]]
    start = time.perf_counter()
    answer = [prediction.model_dump() for prediction in service.predict_rows(rows)]
    elapsed_ms = (time.perf_counter() - start) * 1000
    problems = mismatches(answer, expected)
    print(f"model {stored.tag}: {len(rows)} rows in {elapsed_ms:.1f} ms")
    for problem in problems:
        print(f"  MISMATCH {problem}")
    print("FAIL: the model does not answer as the notebook did" if problems else "OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
