"""What a job runs in its worker process: the CLI's own `convert` and `verify`.

Each task returns plain JSON-ready data, `{"result": ...}` or `{"error": ...}`,
because a `UserError` does not survive pickling between processes with its
problems intact. Paths in results are turned into server-root-relative names
here, so the front end can open the files it is shown and no absolute server
path reaches the client. The handler checked every path against the root; the
task checks again as it starts (a symlink may have been swapped in meanwhile).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nb2prod.errors import UserError, user_error
from nb2prod.frontends.server.paths import api_path_of
from nb2prod.generate.install_hints import missing_package_error


def error_json(error: UserError, root: Path) -> dict[str, Any]:
    """A `UserError` as the front end shows it: message, notebook, problems with cells.

    Paths are named as the client names them, relative to the server's root: the
    browser has no business with where the server keeps its files.
    """
    notebook = api_path_of(root, error.notebook) if error.notebook else None
    first = error.problems[0].message if error.problems else "invalid input"
    problems = []
    for problem in error.problems:
        shown = problem.to_json()
        shown["message"] = _client_paths(shown["message"], root)
        shown["fix"] = _client_paths(shown["fix"], root)
        problems.append(shown)
    return {
        "message": _client_paths(f"{notebook}: {first}" if notebook else first, root),
        "notebook": notebook,
        "problems": problems,
    }


def _client_paths(text: str, root: Path) -> str:
    """`text` with the server root's absolute prefix dropped from the paths it names."""
    for prefix in dict.fromkeys([str(root.resolve()), str(root)]):
        text = text.replace(prefix.rstrip("/") + "/", "")
    return text


def run_convert(root: Path, notebook: Path, output: Path) -> dict[str, Any]:
    """`nb2prod convert NOTEBOOK -o OUTPUT --json`, with the files named for the client."""
    from nb2prod.commands.convert import convert

    try:
        _still_inside(root, notebook, output)
        conversion = convert(notebook, output)
    except UserError as error:
        return {"error": error_json(error, root)}
    except ModuleNotFoundError as error:
        return {"error": error_json(_missing(error), root)}
    result = conversion.to_json()
    result["output_path"] = api_path_of(root, output)
    result["output"] = result["output_path"]
    if result.get("backup"):
        result["backup"] = api_path_of(root, result["backup"])
    result["files"] = sorted(
        f"{result['output_path']}/{name}".lstrip("/")
        for name in [*conversion.report.written, *conversion.report.unchanged]
    )
    return {"result": result}


def run_verify(root: Path, project: Path) -> dict[str, Any]:
    """`nb2prod verify PROJECT` with the notebook's default parameters."""
    from nb2prod.commands.verify import verify

    try:
        _still_inside(root, project)
        report = verify(project, {})
    except UserError as error:
        return {"error": error_json(error, root)}
    except ModuleNotFoundError as error:
        return {"error": error_json(_missing(error), root)}
    result = report.to_json()
    result["executed_notebook_path"] = api_path_of(root, report.executed_notebook)
    result["executed_notebook"] = result["executed_notebook_path"]
    return {"result": result}


def _missing(error: ModuleNotFoundError) -> UserError:
    """A package the job needs that is not installed: the CLI's problem, not an internal
    error; any other missing module is a bug and goes on as one."""
    missing = missing_package_error(error)
    if missing is None:
        raise error
    return missing


def _still_inside(root: Path, *paths: Path) -> None:
    """Refuse (a `UserError`) when a path now resolves outside the server's root."""
    for path in paths:
        if api_path_of(root, path) is None:
            raise user_error(
                None,
                "path-outside-root",
                f"`{path.name}` now resolves outside the server's root (a symbolic link "
                "changed since the job was submitted)",
                "remove the link, or choose a folder inside the server's root",
            )
