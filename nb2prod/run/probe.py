"""Run the generated pipeline once and record what the project's tests and service need.

- each function's inputs and outputs (type, shape, columns, dtypes), for the
  per-function unit tests (`reference/pipeline_contracts.json`);
- the training data's profile, for the data-quality and drift checks
  (`reference/data_profile.json`);
- the metrics with the default and the quick parameters, for the smoke test;
- the service's request schema from the data the notebook really has: the
  predict section's input (columns, dtypes), the ranges and categories
  observed in every frame with those columns, a few rows with predictions.

The describing code is the generated project's own (`contracts.py`,
`data_quality.py`), so the references and the tests that read them agree.
The pipeline runs in a separate process with this interpreter (where the
notebook's packages are installed), so a crash cannot take nb2prod down. It
gets a `ProbeSpec` and answers a `ProbeResult` (`protocol.py`), marking
each step function as it starts, so a failure names the function it was in.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from nb2prod.plan.rows import TENSOR_FIELD
from nb2prod.plan.rows import as_array as _as_array
from nb2prod.plan.rows import plain_value as _plain
from nb2prod.protocol import (
    Contracts,
    FunctionContract,
    InputProfile,
    MetricValues,
    ModelInfo,
    PredictOutput,
    ProbeResult,
    ProbeSpec,
    ProbeStep,
    mark_step,
    read_spec,
    write_result,
)
from nb2prod.run.child_process import ChildFailed, child_env, run_child

BETWEEN_STEPS = "(between steps)"
"""The step the child marks when no pipeline function runs (not a function name)."""
PROBE_TIMEOUT = 900  # seconds the pipeline may run at convert time
SAMPLE_ROWS = 5
MAX_CATEGORIES = 50
FLOAT32_RTOL, FLOAT32_ATOL = 1e-5, 1e-6
"""How far float32 results of the same rows may drift between batch sizes (BLAS kernels
differ with the batch's shape)."""


def run_probe(src_dir: Path, spec: ProbeSpec, timeout: int = PROBE_TIMEOUT) -> ProbeResult:
    """Run the generated pipeline (defaults, then the quick parameters) and record it."""
    env = child_env(src_dir)
    env.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory(prefix="nb2prod-probe-") as folder:
        try:
            return run_child(
                "nb2prod.run.probe",
                spec,
                ProbeResult.from_json,
                Path(folder),
                env=env,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise ProbeFailed(f"it ran longer than {timeout} s (convert --timeout)") from None
        except ChildFailed as failed:
            functions = {step.function for step in spec.steps}
            step = failed.failure.step if failed.failure.step in functions else None
            raise ProbeFailed(_last_error(failed.failure.lines), step) from None


class ProbeFailed(Exception):
    """The generated pipeline raised while nb2prod ran it (in `function`, when known)."""

    def __init__(self, message: str, function: str | None = None) -> None:
        super().__init__(message)
        self.function = function


def main() -> None:
    """Entry point of the probe process: run the pipeline, write what it saw as JSON."""
    import importlib

    spec = read_spec(ProbeSpec.from_json)
    package = spec.package
    config = importlib.import_module(f"{package}.config")
    pipeline = importlib.import_module(f"{package}.pipeline")
    contracts = importlib.import_module(f"{package}.contracts")
    data_quality = importlib.import_module(f"{package}.data_quality")
    recorded = _Recorded()
    originals = {step.function: getattr(pipeline, step.function) for step in spec.steps}
    for step in spec.steps:
        function = originals[step.function]
        wrapped = _recording(function, step, spec, recorded, contracts, data_quality)
        setattr(pipeline, step.function, wrapped)
    if spec.row_function:
        originals[spec.row_function] = getattr(pipeline, spec.row_function)
        setattr(
            pipeline, spec.row_function, _recording_rows(originals[spec.row_function], recorded)
        )
    try:
        values = pipeline.run_pipeline(config.Config())
    finally:
        for name, function in originals.items():
            setattr(pipeline, name, function)
    sources = list(spec.metric_sources)
    quick = (
        contracts.metric_values(pipeline.run_pipeline(config.quick_config()), sources)
        if spec.quick
        else None
    )
    result = ProbeResult(
        contracts=Contracts(recorded.functions),
        data_profile=recorded.data,
        metrics=MetricValues(contracts.metric_values(values, sources), quick),
        metric_sources=tuple(s for s in sources if contracts.metric_values(values, [s])),
    )
    if spec.model:
        problem = model_problem(spec.model, values.get(spec.model))
        result = dataclasses.replace(result, model_problem=problem, model_checked=True)
    if spec.model and spec.data_input and not result.model_problem:
        result = _with_predict_input(result, spec, values, recorded, contracts)
        if spec.row_function and result.input is not None and not result.not_row_wise:
            result = _with_raw_rows(result, spec, values, recorded)
    write_result(result, default=_plain)


@dataclasses.dataclass
class _Recorded:
    """What the wrapped step functions saw, as the pipeline ran."""

    functions: dict[str, FunctionContract] = dataclasses.field(default_factory=dict)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    predict_call: tuple[Any, dict[str, Any], dict[str, Any]] | None = None
    row_call: tuple[Any, Any, Any] | None = None
    """The row function's first call: the function on its other arguments, its input
    rows (copied before it ran) and what it returned."""


def _recording_rows(function: Any, recorded: _Recorded) -> Any:
    """The row function, recording its first call (the default run's)."""

    def run(rows: Any, *args: Any, **kwargs: Any) -> Any:
        given = _copy(rows)
        result = function(rows, *args, **kwargs)
        if recorded.row_call is None:
            alone = functools.partial(_call_on, function, args, kwargs)
            recorded.row_call = (alone, given, result)
        return result

    return run


def _call_on(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any], rows: Any) -> Any:
    """`function` on a copy of `rows` (it may change them in place), its other arguments
    as in the pipeline's call."""
    return function(_copy(rows), *args, **kwargs)


def _copy(rows: Any) -> Any:
    """A copy of a table the code may change in place; other values as they are (the
    verdict then says they are not a table)."""
    import pandas as pd

    return rows.copy() if isinstance(rows, pd.DataFrame) else rows


def _recording(
    function: Any,
    step: ProbeStep,
    spec: ProbeSpec,
    recorded: _Recorded,
    contracts: Any,
    data_quality: Any,
) -> Any:
    """`function` wrapped to record its contract (and the data, and the predict call),
    the step marked while it runs so that a failure names it."""
    signature = inspect.signature(function)
    name, outputs = step.function, step.outputs

    def run(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs).arguments
        inputs = {k: contracts.describe(v) for k, v in bound.items()}
        mark_step(name)
        result = function(*args, **kwargs)
        mark_step(BETWEEN_STEPS)
        returned = result if len(outputs) > 1 else (result,)
        values = dict(zip(outputs, returned, strict=True)) if outputs else {}
        described = {k: contracts.describe(v) for k, v in values.items()}
        recorded.functions[name] = FunctionContract(inputs, described)
        if name == spec.data_function:  # before later steps change it in place
            recorded.data = data_quality.profile_tables(values)
        if name == spec.predict_function:
            recorded.predict_call = (function, dict(bound), values)
        return result

    return run


def _with_predict_input(
    result: ProbeResult,
    spec: ProbeSpec,
    values: dict[str, Any],
    recorded: _Recorded,
    contracts: Any,
) -> ProbeResult:
    """`result` with what the service needs: the predict input's profile, the predictions
    for its sample rows and the model's kind, or why the input cannot be a request."""
    data_input = str(spec.data_input)
    model, rows = values[spec.model], values[data_input]
    profile: InputProfile | None = None
    outputs: dict[str, PredictOutput] | None = None
    problem: str | None = None
    try:
        profile = InputProfile.from_json(
            profile_input(data_input, rows, _alike(rows, values, list(spec.fit_tables)))
        )
        outputs = {
            name: PredictOutput.from_json(describe_output(contracts.plain(values[name])))
            for name in spec.outputs
        }
    except TypeError as error:
        problem = str(error)
    except Exception as error:  # never crash the probe: the reason no service was made
        profile, problem = None, f"describing it raised {type(error).__name__}: {error}"
    checked, reason = False, None
    if recorded.predict_call is not None and profile is not None:
        checked = True
        try:
            reason = not_row_wise(
                data_input, *recorded.predict_call, single_precision=is_torch_module(model)
            )
        except Exception as error:  # as above: no service, and why
            reason = f"checking it raised {type(error).__name__}: {error}"
    return dataclasses.replace(
        result,
        input=profile,
        outputs=outputs,
        input_problem=problem,
        model=ModelInfo(
            type(model).__module__,
            hasattr(model, "predict_proba"),
            "pytorch" if is_torch_module(model) else None,
        ),
        not_row_wise=reason,
        row_wise_checked=checked,
    )


def _with_raw_rows(
    result: ProbeResult, spec: ProbeSpec, values: dict[str, Any], recorded: _Recorded
) -> ProbeResult:
    """`result` with the raw rows the service takes (the profile of the row function's
    input, sampled at the predict input's rows), or why it takes feature rows."""
    name = str(spec.row_function)
    if recorded.row_call is None or recorded.predict_call is None:
        return dataclasses.replace(result, raw_rows_problem=f"`{name}` never ran in the pipeline")
    function, raw, _ = recorded.row_call
    sample = values[str(spec.data_input)]
    tables: dict[str, Any] = {}
    try:
        problem = _raw_rows_problem(name, spec, recorded, sample)
        if problem is None:
            rows = raw.loc[sample.index]
            tables = _raw_tables(raw, rows, values)
            profile = InputProfile.from_json(
                profile_input(str(spec.data_input), rows, [raw, *tables.values()])
            )
    except Exception as error:  # never crash the probe: feature rows, and why
        problem = f"checking `{name}` raised {type(error).__name__}: {error}"
    if problem is not None:
        return dataclasses.replace(result, raw_rows_problem=problem)
    return dataclasses.replace(result, raw_input=profile, raw_table=next(iter(tables), None))


def _raw_tables(raw: Any, rows: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's tables that hold the raw rows (the loaded data: `df`), by name, cut
    to the raw columns: they have the predicted rows, with the same values. Their ranges
    and categories bound the request's; verify looks the notebook's rows up in the first."""
    import pandas as pd

    from nb2prod.run.raw_rows import difference

    columns = list(raw.columns)
    found = {}
    for key, value in values.items():
        if not isinstance(value, pd.DataFrame) or not _has_columns(value, columns):
            continue
        if rows.index.isin(value.index).all():
            cut = value[columns]
            if difference(cut.loc[rows.index], rows) is None:
                found[key] = cut
    return found


def _raw_rows_problem(name: str, spec: ProbeSpec, recorded: _Recorded, sample: Any) -> str | None:
    """Why the predict input's raw rows, run through `name`, are not what the model takes."""
    import pandas as pd

    from nb2prod.run.raw_rows import row_wise_problem

    assert recorded.row_call is not None and recorded.predict_call is not None
    function, raw, output = recorded.row_call
    problem = row_wise_problem(function, raw)
    if problem is not None:
        return f"`{name}` is not row-wise: {problem}"
    if not isinstance(sample, pd.DataFrame):
        return f"the model's rows (`{spec.data_input}`) are a {type(sample).__name__}, not a table"
    if list(output.columns) != list(sample.columns):
        return (
            f"`{name}` gives other columns than the model's rows (`{spec.data_input}`) have: "
            "requests would have to carry columns the model does not take"
        )
    if not sample.index.isin(raw.index).all():
        return f"the predicted rows (`{spec.data_input}`) are not rows of `{name}`'s input"
    predict, arguments, outputs = recorded.predict_call
    again = predict(**{**arguments, str(spec.data_input): function(raw.loc[sample.index])})
    again = again if len(outputs) > 1 else (again,)
    for (output_name, expected), got in zip(outputs.items(), again, strict=True):
        if not _same(_as_array(expected), _as_array(got)):
            return f"`{output_name}` differs when the predicted rows go through `{name}` again"
    return None


def _same(expected: Any, got: Any) -> bool:
    import numpy as np

    if expected is None or got is None or expected.shape != got.shape:
        return False
    if expected.dtype.kind in "fc":
        return bool(np.allclose(got, expected, rtol=1e-9, atol=1e-12, equal_nan=True))
    return bool((got == expected).all())


def is_torch_module(model: Any) -> bool:
    """A PyTorch `nn.Module` (without importing torch when the notebook did not)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def model_problem(name: str, model: Any) -> str | None:
    """Why `model` cannot be what the service serves, or None: it must predict (a
    `predict` method, or a callable module) and, for scikit-learn, be fitted."""
    if model is None:
        return f"`{name}` is None after training"
    if not callable(getattr(model, "predict", None)) and not callable(model):
        return f"`{name}` is a {type(model).__name__}, which has no predict method"
    if type(model).__module__.startswith(("sklearn", "xgboost", "lightgbm", "imblearn")):
        try:
            from sklearn.exceptions import NotFittedError
            from sklearn.utils.validation import check_is_fitted

            check_is_fitted(model)
        except NotFittedError:
            return (
                f"`{name}` ({type(model).__name__}) is not fitted: the notebook fits another object"
            )
        except (TypeError, ImportError):
            pass
    return None


def _alike(rows: Any, values: dict[str, Any], fit_tables: list[str]) -> list[Any]:
    """Tables whose rows are the same kind as the predict input: their ranges bound the
    request's. Frames with those columns (and maybe more, as `test_df` holds the rows of
    `test_df[features].head(5)`), cut to them; arrays and tensors of the same row shape
    the model was fitted on, or that hold the input's rows (the table they were picked
    from)."""
    import numpy as np
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        columns = list(rows.columns)
        return [
            v if list(v.columns) == columns else v[columns]
            for v in values.values()
            if isinstance(v, pd.DataFrame) and _has_columns(v, columns)
        ]  # fmt: skip
    array = _as_array(rows)
    if array is None or array.ndim < 2:
        return [rows]
    alike = [array]
    row_axes = tuple(range(2, array.ndim + 1))
    for name, value in values.items():
        candidate = _as_array(value)
        if candidate is None or candidate is array or candidate.ndim != array.ndim:
            continue
        if candidate.shape[1:] != array.shape[1:] or candidate.dtype.kind not in "biuf":
            continue
        fitted_on = name in fit_tables
        holds_rows = (
            bool((candidate[:, None] == array[None, :5]).all(row_axes).any())
            if candidate[0].size * len(candidate) * min(len(array), 5) < 5_000_000
            else False
        )
        if fitted_on or holds_rows:
            alike.append(candidate)
    return [np.asarray(a) for a in alike]


def not_row_wise(
    data_input: str,
    function: Any,
    arguments: dict[str, Any],
    outputs: dict[str, Any],
    *,
    single_precision: bool = False,
) -> str | None:
    """Why the predict function cannot serve rows one request at a time, or None.

    A service calls it with the request's rows only: it must accept two rows on
    their own and answer them as it did inside the whole batch. A model that computes
    in float32 (`single_precision`: a torch module) may round a row differently in a
    smaller batch, within FLOAT32_RTOL.
    """
    import numpy as np

    rtol, atol = (FLOAT32_RTOL, FLOAT32_ATOL) if single_precision else (1e-9, 1e-12)

    rows = arguments[data_input]
    few = rows.head(2) if hasattr(rows, "head") else rows[:2]
    try:
        result = function(**{**arguments, data_input: few})
    except Exception as error:  # the user's code: any error means "not row-wise"
        return f"on 2 of its rows it raised {type(error).__name__}: {error}"
    returned = result if len(outputs) > 1 else (result,)
    for (name, full), alone in zip(outputs.items(), returned, strict=True):
        if np.ndim(full) == 0:  # `model.predict(X[:1])[0]`: one value, not one per row
            return f"`{name}` is a single value, not one per row (`{_short(full)}`)"
        expected, got = _as_array(full)[:2], _as_array(alone)
        if got.shape != expected.shape:
            return f"on 2 of its rows `{name}` has shape {got.shape}, not {expected.shape}"
        same = (
            np.allclose(got, expected, rtol=rtol, atol=atol)
            if got.dtype.kind in "fc"
            else bool((got == expected).all())
        )
        if not same:
            return f"`{name}` for 2 rows alone differs from the same rows in the whole batch"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def profile_input(name: str, value: Any, alike: list[Any]) -> dict[str, Any]:
    """Columns, dtypes, observed ranges and categories of the predict section's input.

    `alike` are the tables the ranges come from (see `_alike`). The input may be a
    DataFrame, a 2-D array, a list of rows or a 2-D tensor; anything else is a
    TypeError whose message says why no service can take it.
    """
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        columns = [_column(str(c), [f[c] for f in alike]) for c in value.columns]
        rows = value.head(SAMPLE_ROWS)
        return {
            "name": name,
            "kind": "dataframe",
            "columns": columns,
            "rows": [{str(k): _plain(v) for k, v in r.items()} for r in rows.to_dict("records")],
            "observed_rows": int(max(len(f) for f in alike)),
        }
    kind = _row_kind(value)
    array = _as_array(value)
    if kind is None or array is None or array.ndim < 2 or array.dtype.kind not in "biuf":
        shape = f" of shape {array.shape}" if array is not None else ""
        raise TypeError(
            f"`{name}` is a {type(value).__name__}{shape}, not numeric rows "
            "(a DataFrame, a list of rows, or an array or tensor of 2 or more dimensions)"
        )
    arrays = [_as_array(a) for a in alike]
    if array.ndim > 2:
        return _profile_tensor_rows(name, kind, value, array, arrays)
    columns = [
        _column(f"x{i}", [pd.Series(a[:, i]) for a in arrays]) for i in range(array.shape[1])
    ]
    rows = [{c["name"]: _plain(v) for c, v in zip(columns, row, strict=True)} for row in array[:5]]
    profile = {
        "name": name,
        "kind": kind,
        "columns": columns,
        "rows": rows,
        "observed_rows": int(max(len(a) for a in arrays)),
    }
    if kind == "tensor":
        profile["dtype"] = str(value.dtype).removeprefix("torch.")
        profile["device"] = value.device.type
    elif kind == "ndarray":
        profile["dtype"] = str(array.dtype)
    return profile


def _has_columns(frame: Any, columns: list[Any]) -> bool:
    return frame.columns.is_unique and set(columns) <= set(frame.columns)


def _profile_tensor_rows(
    name: str, kind: str, value: Any, array: Any, arrays: list[Any]
) -> dict[str, Any]:
    """Rows that are themselves arrays (an image per row: `(N, 1, 8, 8)`): one request
    field, TENSOR_FIELD, holds each row as nested lists of the row's shape; its range is
    that of every value in the alike arrays."""
    import numpy as np

    values = np.concatenate([a.reshape(-1) for a in arrays])
    integers = array.dtype.kind in "biu"
    column = {
        "name": TENSOR_FIELD,
        "nullable": bool(not integers and np.isnan(values).any()),
        "type": "int" if integers else "float",
        "min": _plain(np.nanmin(values)),
        "max": _plain(np.nanmax(values)),
    }
    profile = {
        "name": name,
        "kind": kind,
        "columns": [column],
        "rows": [{TENSOR_FIELD: row.tolist()} for row in array[:SAMPLE_ROWS]],
        "observed_rows": int(max(len(a) for a in arrays)),
        "shape": list(array.shape[1:]),
        "dtype": str(getattr(value, "dtype", array.dtype)).removeprefix("torch."),
    }
    if kind == "tensor":
        profile["device"] = value.device.type
    return profile


def _row_kind(value: Any) -> str | None:
    import numpy as np

    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return "tensor"
    if isinstance(value, np.ndarray):
        return "ndarray"
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(row, (list, tuple, np.ndarray)) for row in value)
    ):
        return "list"
    return None


def describe_output(value: Any) -> dict[str, Any]:
    """An output of the predict section: its element type and its values for the sample."""
    import numpy as np

    array = np.asarray(value)
    kind = (
        "float"
        if array.dtype.kind == "f"
        else "int"
        if array.dtype.kind in "iu"
        else ("bool" if array.dtype.kind == "b" else "str")
    )
    if array.ndim == 2:  # one list per row, like predict_proba's class probabilities
        rows = array[:SAMPLE_ROWS]
        return {"type": f"list[{kind}]", "values": [[_plain(v) for v in row] for row in rows]}
    return {"type": kind, "values": [_plain(v) for v in array.ravel()[:SAMPLE_ROWS]]}


def _column(name: str, series: list[Any]) -> dict[str, Any]:
    import pandas as pd

    merged = pd.concat(series, ignore_index=True)
    dtype = merged.dtype
    column: dict[str, Any] = {"name": name, "nullable": bool(merged.isna().any())}
    if pd.api.types.is_bool_dtype(dtype):
        column["type"] = "bool"
    elif pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        column["type"] = "int" if pd.api.types.is_integer_dtype(dtype) else "float"
        column["min"] = _plain(merged.min())
        column["max"] = _plain(merged.max())
    else:
        values = sorted({str(v) for v in merged.dropna().unique()})
        column["type"] = "str"
        if len(values) <= MAX_CATEGORIES:
            column["categories"] = values
    return column


def _last_error(lines: tuple[str, ...]) -> str:
    """The child's last line of output that is not blank: its exception, usually."""
    shown = [line for line in lines if line.strip()]
    return shown[-1] if shown else "the process ended without a message"
