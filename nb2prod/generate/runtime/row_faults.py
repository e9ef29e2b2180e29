"""Whose fault is an error the notebook's code raises on a request: the row's, or ours.

A request that passed the row schema can still carry a value the notebook's code
refuses: a category its fitted encoder never saw, a key its lookup table lacks, a
`None` its arithmetic cannot take. Left alone that is HTTP 500, as if the service were
broken, and the client never learns which value to fix. `row_faults` turns those
errors into HTTP 400 with one line naming the notebook's function:

    with row_faults(predict, preprocess_rows):
        predictions = predict(self.model, preprocess_rows(to_input(rows)))

The rule: a ValueError, KeyError or TypeError (or a subclass: pandas' and
scikit-learn's value errors are ValueErrors) raised while one of `functions` runs is the
row's fault. Code that fails for every row fails on the example request too (the tests
and the image build serve it), so what reaches production fails for some values only:
those of the row. Anything else (an OSError of a missing file, a MemoryError, a
RuntimeError of a broken model), or one of those three raised outside the notebook's
functions (the service's own code: `to_input`, `to_predictions`), stays a 500 with its
traceback in the log: a bug to fix on the server.

BentoML answers the `InvalidArgument` raised here with 400, and the request guard logs
it as one WARNING line (`request_guard.py`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, TracebackType
from typing import Any

from bentoml.exceptions import InvalidArgument

ROW_ERRORS = (ValueError, KeyError, TypeError)
"""Errors of the notebook's code that a row's values cause (see the module)."""


@contextmanager
def row_faults(*functions: Callable[..., Any]) -> Iterator[None]:
    """Turns ROW_ERRORS raised inside one of `functions` into `InvalidArgument`
    (HTTP 400) naming the function; everything else passes through unchanged."""
    codes = _codes(functions)
    try:
        yield
    except ROW_ERRORS as error:
        name = _failing_function(error.__traceback__, codes)
        if name is None:
            raise
        raise InvalidArgument(
            f"{name} failed on this input: {type(error).__name__}: {_message(error)}"
        ) from error


def _codes(functions: tuple[Callable[..., Any], ...]) -> dict[CodeType, str]:
    """The code objects of `functions` (decorators unwrapped), by function name."""
    codes = {}
    for function in functions:
        code = getattr(inspect.unwrap(function), "__code__", None)
        if code is not None:
            codes[code] = function.__name__
    return codes


def _failing_function(
    trace: TracebackType | None, codes: dict[CodeType, str]
) -> str | None:
    """The first of the functions the traceback passes through (the one the service
    called), or None when the error never entered them."""
    while trace is not None:
        name = codes.get(trace.tb_frame.f_code)
        if name is not None:
            return name
        trace = trace.tb_next
    return None


def _message(error: BaseException) -> str:
    """The error's text; a KeyError's is the key's repr, which says little alone."""
    if isinstance(error, KeyError) and len(error.args) == 1:
        return f"no entry for {error.args[0]!r}"
    return str(error) or "(no message)"
