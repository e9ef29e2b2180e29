"""Which code of a preprocess section a service could run on each request's rows.

A service that takes rows as the data had them before feature engineering must run
the notebook's own feature code on them, and only code whose every output row depends
on its own input row alone. Reading the code proposes a candidate; the probe
(`run/probe.py`, `raw_rows_problem`) decides by running it on the whole table and on
single rows and shuffled subsets. Two shapes are proposed, before the data is split
(the first statement binding several names, `X_train, X_test, ... = ...`):

- a run of consecutive statements that each change one table and nothing else
  (`X["share"] = X["a"] / X["b"]`, `X["a"] = X["a"].astype(int)`,
  `X.drop(columns=["id"], inplace=True)`, `X[cols] = encoder.transform(X[cols])`): they
  become a function of their own, ROW_FUNCTION, which the preprocess step calls in their
  place; other values they read (a fitted encoder, a parameter) become its arguments,
  and the service gets them from the state stored with the model (or the config);
- a call of a function the notebook defines, on one positional argument, bound to a name
  (`X = add_ratio_features(df.drop(columns=["target"]))`): that function is served as is.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nb2prod.analyse.names import BUILTINS, name_events

ROW_FUNCTION = "preprocess_rows"
"""The function nb2prod makes of a run of row-wise statements (renamed on a clash)."""


@dataclass(frozen=True)
class RowCandidate:
    """Code of a preprocess step that may compute each row's features on its own."""

    function: str
    """The function a service calls on the request's rows."""
    table: str
    """The name holding the rows in the step (`X`)."""
    statement: str
    """The first statement of the candidate, as written (for messages)."""
    lines: tuple[int, int] | None = None
    """For a run of statements nb2prod turns into a function: its first and last line
    in the step's body (1-based); None for a call of the notebook's own function."""
    arguments: tuple[str, ...] = ()
    """Other values the run reads (not module-level), in the order it first reads them."""


def row_candidate(
    body: str, module: set[str], functions: set[str], taken: set[str]
) -> RowCandidate | None:
    """The candidate in a preprocess step's `body` (see the module docstring), or None.

    `module` are the module-level names (imports, definitions, constants), `functions`
    those that are functions the notebook defines, `taken` the names the new function
    must not shadow.
    """
    try:
        statements = ast.parse(body).body
    except SyntaxError:
        return None
    before_split = []
    for statement in statements:
        if _binds_several(statement):
            break
        before_split.append(statement)
    run = _longest_run(before_split, module)
    if run is not None:
        first, last, table = run
        arguments = _reads(before_split[first : last + 1], module | {table})
        name = ROW_FUNCTION
        while name in taken or name in module:
            name += "_"
        return RowCandidate(
            function=name,
            table=table,
            statement=_first_line(body, before_split[first]),
            lines=(before_split[first].lineno, _end(before_split[last])),
            arguments=arguments,
        )
    for statement in before_split:
        call = _one_table_call(statement, functions)
        if call is not None:
            return RowCandidate(call[0], call[1], _first_line(body, statement))
    return None


def replace_run(body: str, candidate: RowCandidate) -> tuple[str, str]:
    """`body` with the candidate's statements replaced by a call of its function, and
    those statements as the function's body (dedented, as written)."""
    assert candidate.lines is not None
    lines = body.split("\n")
    first, last = candidate.lines
    taken = lines[first - 1 : last]
    given = ", ".join([candidate.table, *candidate.arguments])
    call = f"{candidate.table} = {candidate.function}({given})"
    return "\n".join([*lines[: first - 1], call, *lines[last:]]), "\n".join(taken)


def _longest_run(statements: list[ast.stmt], module: set[str]) -> tuple[int, int, str] | None:
    """(first, last, table) of the longest run of statements changing one table only."""
    best: tuple[int, int, str] | None = None
    start, table = 0, None
    for index, statement in enumerate([*statements, None]):
        changed = _changed_table(statement, module) if statement is not None else None
        if changed is not None and changed == table:
            continue
        if table is not None and (best is None or index - start > best[1] - best[0] + 1):
            best = (start, index - 1, table)
        start, table = index, changed
    return best


def _changed_table(statement: ast.stmt, module: set[str]) -> str | None:
    """The one name `statement` binds or changes, when it reads that name and changes
    nothing else: an assignment or an in-place call, never a loop or a branch."""
    if not isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)):
        return None
    if isinstance(statement, ast.Expr) and not _in_place(statement.value):
        return None  # `scaler.fit(X)`, `cols.append(c)`: changes an object, not a table
    events = list(name_events(statement))
    changed = {e.name for e in events if e.kind in {"store", "mutate"}}
    read = {e.name for e in events if e.kind == "load"} - module - BUILTINS
    if len(changed) != 1:
        return None
    (table,) = changed
    if table in module:
        return None
    if table not in read and not any(e.kind == "mutate" for e in events):
        return None  # `X = df[cols]` starts from another table: not a change of X
    return table


def _in_place(value: ast.expr) -> bool:
    """`frame.method(..., inplace=True)`: pandas changing a table in place."""
    return isinstance(value, ast.Call) and any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in value.keywords
    )


def _reads(statements: list[ast.stmt], known: set[str]) -> tuple[str, ...]:
    """Names the statements read besides `known` ones and builtins, first read first."""
    found: dict[str, None] = {}
    for statement in statements:
        for event in name_events(statement):
            if event.kind == "load" and event.name not in known and event.name not in BUILTINS:
                found[event.name] = None
    return tuple(found)


def _one_table_call(statement: ast.stmt, functions: set[str]) -> tuple[str, str] | None:
    """(function, name) of `name = function(rows)`, `function` the notebook's own."""
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        return None
    target, value = statement.targets[0], statement.value
    if not isinstance(target, ast.Name) or not isinstance(value, ast.Call):
        return None
    if not isinstance(value.func, ast.Name) or value.func.id not in functions:
        return None
    if len(value.args) != 1 or value.keywords or isinstance(value.args[0], ast.Starred):
        return None
    return value.func.id, target.id


def _binds_several(statement: ast.stmt) -> bool:
    """`X_train, X_test, y_train, y_test = train_test_split(...)`: the split."""
    targets = statement.targets if isinstance(statement, ast.Assign) else []
    return any(isinstance(t, (ast.Tuple, ast.List)) for t in targets) or len(targets) > 1


def _end(statement: ast.stmt) -> int:
    return statement.end_lineno or statement.lineno


def _first_line(body: str, statement: ast.stmt) -> str:
    return body.split("\n")[statement.lineno - 1].strip()
