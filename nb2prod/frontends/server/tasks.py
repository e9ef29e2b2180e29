"""What a job runs in its worker process: the CLI's own `convert` and `verify`.

Each task returns plain JSON-ready data, `{"result": ...}` or `{"error": ...}`,
because a `UserError` does not survive pickling between processes with its
problems intact. Paths in results are turned into server-root-relative names
here, so the front end can open the files it is shown and no absolute server
path reaches the client. The handler checked every path against the root; the
task checks again as it starts (a symlink may have been swapped in meanwhile).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2prod.errors import UserError, user_error
from nb2prod.frontends.server.paths import api_path_of
from nb2prod.generate.install_hints import missing_package_error

if TYPE_CHECKING:
    from nb2prod.plan.build import Analysis


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


def pack_analysis(analysis: Analysis) -> bytes | None:
    """The analysis the server made as it accepted a convert job, for the job to reuse;
    None when it does not pickle (an expression nested hundreds deep exceeds pickle's
    recursion limit sooner than the analysis's): the job then analyses on its own."""
    from nb2prod import __version__

    try:
        return pickle.dumps((__version__, analysis))
    except (RecursionError, pickle.PicklingError, TypeError, AttributeError):
        return None


def unpack_analysis(packed: bytes | None) -> Analysis | None:
    """The analysis `pack_analysis` made, or None when this nb2prod cannot use it: made
    by another version (nb2prod upgraded under the running server) or not one at all."""
    from nb2prod import __version__
    from nb2prod.plan.build import Analysis

    if packed is None:
        return None
    try:
        version, analysis = pickle.loads(packed)  # written by this server for this job
    except Exception:  # noqa: BLE001 - any unreadable analysis only costs the job its own
        return None
    return analysis if version == __version__ and isinstance(analysis, Analysis) else None


def run_convert(
    root: Path, notebook: Path, output: Path, analysis: bytes | None = None, kfp: bool | None = None
) -> dict[str, Any]:
    """`nb2prod convert NOTEBOOK -o OUTPUT --json [--kfp]`, with the files named for the
    client; from `analysis` (`pack_analysis`) when the notebook has not changed since."""
    from nb2prod.commands.convert import convert

    try:
        _still_inside(root, notebook, output)
        conversion = convert(notebook, output, analysis=unpack_analysis(analysis), kfp=kfp)
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
