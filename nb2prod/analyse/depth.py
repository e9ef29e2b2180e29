"""Room for deeply nested code, and a clear error when even that is not enough.

nb2prod's walks over a cell's syntax tree recurse once per level (a few frames each),
so a long chained expression (`x = a + b + ... ` with a thousand terms, which Python
itself runs) would exhaust the default recursion limit and end as an internal error.
Analysis runs with more room; a cell deeper than that is named, with a fix.
"""

from __future__ import annotations

import ast
import contextlib
import sys
from collections.abc import Iterator

from nb2prod.errors import Problem, Severity, UserError
from nb2prod.read.notebook import Notebook

ROOM = 20_000
"""The recursion limit analysis runs under (Python's default is 1000)."""


@contextlib.contextmanager
def room_for_deep_code(notebook: Notebook) -> Iterator[None]:
    """Run the block with `ROOM`; a `RecursionError` becomes a `UserError` at the deepest cell."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, ROOM))
    try:
        yield
    except RecursionError:
        raise too_deep(notebook) from None
    finally:
        sys.setrecursionlimit(previous)


def too_deep(notebook: Notebook) -> UserError:
    """The error for a notebook whose code nests too deeply, at its deepest code cell."""
    depths = [(nesting(cell.source), cell) for cell in notebook.cells if cell.kind == "code"]
    depth, cell = max(depths, key=lambda pair: pair[0], default=(0, None))
    how_deep = (
        "deeper than Python itself can compile"
        if depth == TOO_DEEP_TO_PARSE
        else f"{depth} levels deep, more than nb2prod can follow"
    )
    return UserError(
        notebook.path,
        [
            Problem(
                "too-deeply-nested",
                f"this cell's code nests {how_deep}",
                "split the long expression into several statements (sum partial results, "
                "or build the list in a loop)",
                Severity.ERROR,
                cell.ref() if cell is not None else None,
            )
        ],
    )


TOO_DEEP_TO_PARSE = sys.maxsize
"""The nesting of code Python's own parser gives up on."""


def nesting(source: str) -> int:
    """How deep `source`'s syntax tree goes (0 when it does not parse), without recursing."""
    try:
        tree = ast.parse(source)
    except RecursionError:
        return TOO_DEEP_TO_PARSE
    except (SyntaxError, ValueError):
        return 0
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest
