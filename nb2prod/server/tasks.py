"""What a job runs in its worker process: the CLI's own `convert` and `verify`.

Each task returns plain JSON-ready data, `{"result": ...}` or `{"error": ...}`,
because a `UserError` does not survive pickling between processes with its
problems intact. Paths in results are turned into server-root-relative names
here, so the front end can open the files it is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nb2prod.errors import UserError
from nb2prod.server.paths import api_path_of


def error_json(error: UserError, root: Path) -> dict[str, Any]:
    """A `UserError` as the front end shows it: message, notebook, problems with cells."""
    return {
        "message": error.summary(),
        "notebook": api_path_of(root, error.notebook) if error.notebook else None,
        "problems": [problem.to_json() for problem in error.problems],
    }


def run_convert(root: Path, notebook: Path, output: Path) -> dict[str, Any]:
    """`nb2prod convert NOTEBOOK -o OUTPUT --json`, with the files named for the client."""
    from nb2prod.convert import convert

    try:
        conversion = convert(notebook, output)
    except UserError as error:
        return {"error": error_json(error, root)}
    result = conversion.to_json()
    result["output_path"] = api_path_of(root, output)
    result["files"] = sorted(
        f"{result['output_path']}/{name}".lstrip("/")
        for name in [*conversion.report.written, *conversion.report.unchanged]
    )
    return {"result": result}


def run_verify(root: Path, project: Path) -> dict[str, Any]:
    """`nb2prod verify PROJECT` with the notebook's default parameters."""
    from nb2prod.verify import verify

    try:
        report = verify(project, {})
    except UserError as error:
        return {"error": error_json(error, root)}
    result = report.to_json()
    result["executed_notebook_path"] = api_path_of(root, report.executed_notebook)
    return {"result": result}
