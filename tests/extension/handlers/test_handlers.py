"""The server extension's REST handlers against a real Jupyter Server (pytest-jupyter)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.web import RequestHandler, authenticated

from nb2prod.frontends.server.handlers import Nb2prodHandler, routes
from nb2prod.frontends.server.jobs import JobRunner
from tests.conftest import EXAMPLE_NOTEBOOKS, run_cli
from tests.extension.handlers.conftest import body_of

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
AUTHENTICATED_CODE = authenticated(lambda self: None).__code__
A_JOB_ID = "0" * 32


def handler_methods(handler: type[RequestHandler]) -> list[str]:
    """HTTP methods the handler implements itself (not tornado's or Jupyter's defaults)."""
    return [
        name for name in HTTP_METHODS if getattr(handler, name).__module__.startswith("nb2prod.")
    ]


def test_every_handler_method_is_authenticated(jp_serverapp: Any) -> None:
    """A new handler, or a new method, without @tornado.web.authenticated fails here.

    "Ours" is every handler the running server routes under /nb2prod/ or that nb2prod defines,
    so a handler registered some other way is caught too.
    """
    prefix = f"{jp_serverapp.base_url}nb2prod/"
    ours = {
        rule.target
        for rule in _rules(jp_serverapp.web_app.default_router)
        if isinstance(rule.target, type)
        and issubclass(rule.target, RequestHandler)
        and (_pattern(rule).startswith(prefix) or rule.target.__module__.startswith("nb2prod."))
    }
    assert ours == {handler for _, handler, _ in routes(Path("."), JobRunner())}
    assert all(
        _pattern(rule).startswith(prefix)
        for rule in _rules(jp_serverapp.web_app.default_router)
        if rule.target in ours
    )
    for handler in ours:
        assert issubclass(handler, Nb2prodHandler)
        methods = handler_methods(handler)
        assert methods, f"{handler.__name__} serves no method"
        for name in methods:
            assert getattr(handler, name).__code__ is AUTHENTICATED_CODE, (
                f"{handler.__name__}.{name} is not wrapped by @tornado.web.authenticated"
            )


def _rules(router: Any) -> list[Any]:
    """Every rule of a tornado router, nested routers flattened."""
    found = []
    for rule in getattr(router, "rules", []):
        found.append(rule)
        found += _rules(rule.target)
    return found


def _pattern(rule: Any) -> str:
    regex = getattr(rule.matcher, "regex", None)
    return regex.pattern if regex is not None else ""


def unauthenticated_requests() -> list[tuple[str, str]]:
    requests = []
    for pattern, handler, _ in routes(Path("."), JobRunner()):
        route = pattern.removeprefix("/nb2prod/").replace("([0-9a-f]{32})", A_JOB_ID)
        requests += [(route, method.upper()) for method in handler_methods(handler)]
    return requests


@pytest.mark.parametrize(("route", "method"), unauthenticated_requests())
async def test_requests_without_a_token_get_403(
    api: Any, served_root: Path, route: str, method: str
) -> None:
    body = json.dumps({"path": "wine_classifier.ipynb"}) if method == "POST" else None
    response = await api(route, headers={"Authorization": ""}, method=method, body=body)
    assert response.code == 403, (route, method, response.body)
    assert not list(served_root.glob("wine-classifier*")), "nothing may be written"


@pytest.mark.parametrize("notebook", EXAMPLE_NOTEBOOKS, ids=lambda p: p.stem)
async def test_check_answers_what_the_cli_answers(
    api: Any, served_root: Path, notebook: Path
) -> None:
    response = await api("check", {"path": notebook.name})
    assert response.code == 200
    report = body_of(response)
    cli = run_cli("check", "--json", notebook.name, cwd=served_root)
    expected = json.loads(cli.stdout)
    assert report["notebook"] == notebook.name
    report.pop("notebook"), expected.pop("notebook")
    assert report == expected


async def test_check_reads_unsaved_content(api: Any, served_root: Path) -> None:
    """The panel sends the notebook as edited; the report follows it, not the file on disk."""
    content = json.loads((served_root / "wine_classifier.ipynb").read_text())
    first_code = next(i for i, c in enumerate(content["cells"]) if c["cell_type"] == "code")
    content["cells"][first_code]["metadata"]["tags"] = ["nb2prod:trian"]
    response = await api("check", {"path": "wine_classifier.ipynb", "notebook": content})
    assert response.code == 200
    report = body_of(response)
    assert not report["convertible"]
    (problem,) = [p for p in report["problems"] if p["code"] == "unknown-role"]
    assert problem["cell"]["index"] == first_code
    assert report["notebook"] == "wine_classifier.ipynb"


@pytest.mark.parametrize(
    "path",
    ["../outside.ipynb", "/../../etc/passwd", "sub/../../outside.ipynb", "link/outside.ipynb"],
)
@pytest.mark.parametrize("route", ["check", "convert", "verify"])
async def test_paths_outside_the_root_are_refused(
    api: Any, served_root: Path, tmp_path_factory: pytest.TempPathFactory, route: str, path: str
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "outside.ipynb").write_text((served_root / "wine_classifier.ipynb").read_text())
    os.symlink(outside, served_root / "link")
    response = await api(route, {"path": path})
    assert response.code == 403, response.body
    assert "outside the server's root" in body_of(response)["message"]


async def test_convert_output_outside_the_root_is_refused(api: Any, served_root: Path) -> None:
    response = await api("convert", {"path": "wine_classifier.ipynb", "output": "../escaped"})
    assert response.code == 403
    assert not (served_root.parent / "escaped").exists()


async def test_a_notebook_that_cannot_convert_gets_400_naming_the_cell(
    api: Any, served_root: Path
) -> None:
    response = await api("convert", {"path": "syntax_error_in_preprocess.ipynb"})
    assert response.code == 400
    error = body_of(response)
    assert all(p["severity"] == "error" for p in error["problems"])
    (problem,) = [p for p in error["problems"] if p["code"] == "syntax-error"]
    assert problem["cell"]["index"] == 4  # as `nb2prod check` numbers it
    assert problem["cell"]["first_line"]
    assert error["notebook"] == "syntax_error_in_preprocess.ipynb"
    assert error["message"].startswith("syntax_error_in_preprocess.ipynb: ")
    assert str(served_root) not in response.body.decode()  # the server's folders stay its own


async def test_an_unreadable_file_gets_400_with_the_fix(api: Any, served_root: Path) -> None:
    response = await api("check", {"path": "binary_garbage.ipynb"})
    assert response.code == 400
    (problem,) = body_of(response)["problems"]
    assert "not text" in problem["message"] and problem["fix"]


async def test_missing_files_and_jobs_get_404(api: Any, served_root: Path) -> None:
    assert (await api("check", {"path": "nowhere.ipynb"})).code == 404
    assert (await api(f"jobs/{A_JOB_ID}")).code == 404


async def test_malformed_requests_get_400(api: Any, served_root: Path) -> None:
    assert (await api("check", {})).code == 403  # no path is no usable path: refused
    response = await api("check", method="POST", body="not json")
    assert response.code == 400
    (served_root / "folder").mkdir()
    assert (await api("check", {"path": "folder"})).code == 400
    unsaved = {"path": "wine_classifier.ipynb", "notebook": "not a notebook"}
    assert (await api("check", unsaved)).code == 400
    deep = "[" * 100_000 + "]" * 100_000  # nesting Python's JSON reader cannot follow
    assert (await api("check", method="POST", body=deep)).code == 400
    assert (await api("check", {"path": "x" * 5000 + ".ipynb"})).code == 400  # name too long
    not_a_flag = {"path": "wine_classifier.ipynb", "kfp": "yes"}
    assert (await api("convert", not_a_flag)).code == 400


async def test_convert_then_verify_as_jobs(api: Any, wait_for_job: Any, served_root: Path) -> None:
    """The whole export: a job converts (the server answers meanwhile), another verifies."""
    response = await api(
        "convert", {"path": "diabetes_regression.ipynb", "output": "out/diab", "kfp": True}
    )
    assert response.code == 202
    job = body_of(response)["job"]
    assert job["kind"] == "convert" and job["status"] in ("queued", "running")

    started = time.monotonic()
    assert (await api("roles")).code == 200
    assert time.monotonic() - started < 1, "the server must stay responsive during a job"

    job = await wait_for_job(job["id"])
    assert job["status"] == "done", job["error"]
    result = job["result"]
    assert result["output_path"] == result["output"] == "out/diab"
    assert str(served_root) not in json.dumps(result), "no absolute server path in a result"
    assert "out/diab/nb2prod.json" in result["files"]
    assert "out/diab/pipelines/pipeline.yaml" in result["files"]  # "kfp": true compiles it
    for name in result["files"]:
        assert (served_root / name).is_file(), name

    response = await api("verify", {"path": "out/diab"})
    assert response.code == 202
    job = await wait_for_job(body_of(response)["job"]["id"])
    assert job["status"] == "done", job["error"]
    assert job["result"]["passed"], job["result"]["checks"]
    assert job["result"]["executed_notebook_path"].startswith("out/diab/")
    assert str(served_root) not in json.dumps(job["result"]), "no absolute server path"


async def test_roles_name_the_tags_the_panel_writes(api: Any, served_root: Path) -> None:
    roles = body_of(await api("roles"))
    assert roles["tag_of"]["train"] == "nb2prod:train"
    assert roles["tag_of"]["parameters"] == "parameters"  # papermill's tag
    assert "skip" in roles["role_tags"]


async def test_doctor_answers_what_the_cli_answers(api: Any, served_root: Path) -> None:
    response = await api("doctor")
    assert response.code == 200, response.body
    report = body_of(response)
    expected = json.loads(run_cli("doctor", "--json").stdout)
    assert "notebook" not in report and "imports" not in report
    assert report["ok"] is expected["ok"] is True
    assert [c["name"] for c in report["checks"]] == [c["name"] for c in expected["checks"]]
    # pytest-jupyter gives the server its own Jupyter paths: compare what does not read them
    assert [(c["name"], c["status"]) for c in report["checks"] if c["core"]] == [
        (c["name"], c["status"]) for c in expected["checks"] if c["core"]
    ]


async def test_doctor_reads_a_notebook_inside_the_root_only(
    api: Any, served_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    report = body_of(await api("doctor", params={"path": "wine_classifier.ipynb"}))
    assert report["notebook"] == "wine_classifier.ipynb", "no absolute server path"
    sklearn = next(i for i in report["imports"] if i["module"] == "sklearn")
    assert sklearn["status"] == "ok" and sklearn["distribution"] == "scikit-learn"

    outside = tmp_path_factory.mktemp("outside")
    (outside / "outside.ipynb").write_text((served_root / "wine_classifier.ipynb").read_text())
    os.symlink(outside, served_root / "link")
    for path in ("../outside.ipynb", "link/outside.ipynb", ""):
        response = await api("doctor", params={"path": path})
        assert response.code == 403, (path, response.body)
    assert (await api("doctor", params={"path": "nowhere.ipynb"})).code == 404
    response = await api("doctor", params={"path": "binary_garbage.ipynb"})
    assert response.code == 400
    (problem,) = body_of(response)["problems"]
    assert "not text" in problem["message"] and problem["fix"]
