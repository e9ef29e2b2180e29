"""Where and how the notebook's own run records its metrics: one rule, two proofs.

Two things run the notebook with papermill and compare its metrics with the
pipeline's: `nb2prod verify` (`run/notebook_run.py`) and the generated project's
`tests/test_notebook_regression.py`, which its CI runs. Both take the rule from here,
so a project that verify passes does not fail its own test:

- where: one cell inserted right after the evaluate section (after the train section
  when the training loop scores the model, or nb2prod scores it), not at the end:
  later cells, skipped ones included, may rebind the metrics' names;
- printed scores: the evaluate cells that only print a score run with it bound to the
  name the pipeline gives it (`analyse/printed_scores.py`), or there is nothing to read;
- nb2prod's score: when the notebook computes no metric, the cell first runs the score
  step nb2prod added to the pipeline (`analyse/fit_score.py`);
- how: the cell reads the metric sources with the project's own
  `contracts.metric_values` and writes them as JSON, its names prefixed so that the
  cells after it see the notebook's names as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from nb2prod.analyse.printed_scores import bind_in_cell
from nb2prod.plan.build import Plan
from nb2prod.read.roles import EVALUATE, TRAIN

SRC = "<src>"
RECORD_PATH = "<record-path>"
"""Placeholders of the record cell, each replaced by a path as a Python string literal."""
RECORD_CELL = """\
import json as _nb2prod_json
import sys as _nb2prod_sys
_nb2prod_sys.path.insert(0, {src})
from {package}.contracts import metric_values as _nb2prod_metric_values
_nb2prod_sys.path.remove({src})
{score}with open({record_path}, "w") as _nb2prod_file:
    _nb2prod_json.dump(_nb2prod_metric_values(globals(), {sources!r}), _nb2prod_file)
"""
SCORE = "# the notebook computes no metric: nb2prod's `{function}` step scores the model\n"


@dataclass(frozen=True)
class MetricsRecord:
    """How a papermill run of the notebook records its metrics."""

    after_cell: int
    """The record cell goes right after this cell of the notebook (its index, from 0)."""
    named_scores: dict[int, str]
    """Cells (by index) that print scores, as they run: each score bound to its name."""
    cell: str
    """The record cell's code, with `SRC` (the project's `src/`) and `RECORD_PATH` (the
    JSON file it writes) to be replaced by Python string literals."""

    def code(self, src: str, record_path: str) -> str:
        """The record cell, reading the project's `src` and writing `record_path`."""
        return self.cell.replace(SRC, repr(src)).replace(RECORD_PATH, repr(record_path))


def metrics_record(plan: Plan) -> MetricsRecord | None:
    """Where and how the notebook's metrics are recorded; None when it has none."""
    sources = list(plan.metrics.sources)
    evaluate = [cell for step in plan.steps if step.role == EVALUATE for cell in step.cells]
    train = [cell for step in plan.steps if step.role == TRAIN for cell in step.cells]
    cells = evaluate or train  # no evaluate section: the training loop scores the model
    if not sources or not cells:
        return None
    scored = "".join(
        SCORE.format(function=step.function) + f"{step.body.strip()}\n"
        for step in plan.steps
        if step.added_by_nb2prod
    )
    named: dict[int, str] = {}
    for step in plan.steps:
        for index, names in step.named_scores.items():
            bound = bind_in_cell(plan.source.cells[index].source, names)
            if bound is not None:
                named[index] = bound
    cell = RECORD_CELL.format(
        src=SRC, record_path=RECORD_PATH, package=plan.package, score=scored, sources=sources
    )
    return MetricsRecord(max(cells), named, cell)
