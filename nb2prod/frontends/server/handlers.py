"""REST handlers: `check` answers at once; `convert` and `verify` start jobs.

    POST /nb2prod/check    {"path": NB[, "notebook": {...}]} -> `nb2prod check --json`'s report
    POST /nb2prod/convert  {"path": NB[, "output": DIR][, "kfp": BOOL]} -> 202 {"job": ...};
           analyses the notebook at once (400: what blocks it), the job converts from that
           analysis; `"kfp": true` also compiles pipelines/pipeline.yaml (`convert --kfp`)
    POST /nb2prod/verify   {"path": DIR}                     -> 202 {"job": ...}
    GET    /nb2prod/jobs/ID -> {"job": ...}: poll while its status is queued or running
    DELETE /nb2prod/jobs/ID -> {"job": ...}: cancel it (killed with what it started)
    GET    /nb2prod/roles   -> the role vocabulary and the tags that declare roles
    GET    /nb2prod/doctor[?path=NB] -> `nb2prod doctor --json [NB]`: what works in the
           server's Python (the panel shows what is not ok when Export cannot run)

Paths are relative to the server's root (see `paths.py`): every path a job will
read or write (the notebook, the output folder, its default next to the
notebook, a verified project and the notebook its manifest names) is resolved
and refused with 403 when it leaves the root, and hidden files are refused
unless `ContentsManager.allow_hidden`. A folder a queued or running job writes
is refused with 409. A mistake in the notebook answers 400 with the problems
and their cells, as `UserError` carries them; every method is
`@tornado.web.authenticated` (a test checks each one).
`check` may send the notebook's unsaved content, so the panel follows edits
before they are saved; the report is then about that content.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from nb2prod.errors import Problem, UserError
from nb2prod.frontends.server.jobs import FolderBusy, Job, JobRunner
from nb2prod.frontends.server.paths import (
    OutsideRoot,
    UnusablePath,
    api_path_of,
    is_hidden,
    resolve_inside,
)
from nb2prod.frontends.server.tasks import error_json, pack_analysis, run_convert, run_verify

AUTH_RESOURCE = "contents"  # the extension reads and writes files, as the contents API does


class Nb2prodHandler(APIHandler):
    """Shared plumbing: the root, the job pool, JSON bodies and root-bound paths."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, root: Path, jobs: JobRunner) -> None:
        self.root = root
        self.jobs = jobs

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            raise web.HTTPError(400, "the request body is not JSON nb2prod can read") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return data

    def inside_root(self, api_path: object, *, must_exist: bool = True) -> Path:
        """The file the client means, refused (403) when outside the root, 404 when missing."""
        try:
            path = resolve_inside(self.root, api_path)
        except UnusablePath as unusable:
            raise web.HTTPError(400, str(unusable)) from None
        except OutsideRoot as refused:
            raise web.HTTPError(403, str(refused)) from None
        if is_hidden(self.root, path) and not self.contents_manager.allow_hidden:
            raise web.HTTPError(
                403,
                f"`{api_path}` is hidden, and this server does not serve hidden files "
                "(ContentsManager.allow_hidden)",
            )
        if must_exist and not path.exists():
            raise web.HTTPError(404, f"no such file: `{api_path}`")
        return path

    def notebook_file(self, api_path: object) -> Path:
        """A notebook the client names: inside the root, an existing file."""
        path = self.inside_root(api_path)
        if not path.is_file():
            raise web.HTTPError(400, f"`{api_path}` is a folder, not a notebook")
        return path

    def reply(self, data: dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=str))

    def user_error(self, error: UserError) -> None:
        self.reply(error_json(error, self.root), 400)

    def job_reply(self, job: Job, status: int = 200) -> None:
        self.reply({"job": job.to_json()}, status)

    def start_job(self, kind: str, subject: Path, folder: Path, task: Any, *args: Any) -> None:
        """Queue a job that writes `folder`: 202, or 409 while another job writes there."""
        try:
            job = self.jobs.submit(
                kind, api_path_of(self.root, subject) or "", task, *args, folder=folder
            )
        except FolderBusy as busy:
            name = api_path_of(self.root, folder) or folder.name
            message = (
                f"`{name}` is being written by another job ({busy.job.kind} of "
                f"`{busy.job.subject}`, {busy.job.status}): one job per folder at a time"
            )
            fix = "wait for that job to end or cancel it, or choose another output folder"
            problem = Problem("folder-busy", message, fix).to_json()
            self.reply({"message": message, "problems": [problem], "job": busy.job.id}, 409)
            return
        self.job_reply(job, 202)


class CheckHandler(Nb2prodHandler):
    @web.authenticated
    @authorized("read")
    async def post(self) -> None:
        body = self.body()
        path = self.notebook_file(body.get("path"))
        content = body.get("notebook")
        if content is not None and not isinstance(content, dict):
            raise web.HTTPError(400, "`notebook` must be the notebook's JSON content")
        try:
            report = await asyncio.to_thread(_check, path, content)
        except UserError as error:
            self.user_error(error)
            return
        report["notebook"] = api_path_of(self.root, path)
        self.reply(report)


class ConvertHandler(Nb2prodHandler):
    @web.authenticated
    @authorized("write")
    async def post(self) -> None:
        """Analyse now (400 with the blocking problems), then generate in a job (202)."""
        from nb2prod.commands.convert import default_output

        body = self.body()
        notebook = self.notebook_file(body.get("path"))
        output_name = body.get("output")
        if not output_name:  # the CLI's default: next to the notebook, named after it,
            # checked as if the client had named it (it may be a link out of the root)
            output_name = default_output(notebook).relative_to(self.root).as_posix()
        output = self.inside_root(output_name, must_exist=False)
        kfp = body.get("kfp")  # absent: the project's earlier choice (`convert` without --kfp)
        if kfp is not None and not isinstance(kfp, bool):
            raise web.HTTPError(400, "`kfp` must be true or false")
        try:
            analysis = await asyncio.to_thread(_preflight, notebook)
        except UserError as error:
            self.user_error(error)
            return
        self.start_job(
            "convert", notebook, output, run_convert, self.root, notebook, output, analysis, kfp
        )


class VerifyHandler(Nb2prodHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        project = self.inside_root(self.body().get("path"))
        if not project.is_dir():
            raise web.HTTPError(400, "`path` must be a project folder written by convert")
        try:  # the notebook verify will run: confined to the project, then to the root
            notebook = await asyncio.to_thread(_project_notebook, project)
        except UserError as error:
            self.user_error(error)
            return
        notebook_name = api_path_of(self.root, project / "notebooks") or ""
        self.inside_root(f"{notebook_name}/{notebook}")
        self.start_job("verify", project, project, run_verify, self.root, project)


class JobHandler(Nb2prodHandler):
    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise web.HTTPError(404, f"no job {job_id} (jobs are forgotten when the server stops)")
        return job

    @web.authenticated
    @authorized("read")
    async def get(self, job_id: str) -> None:
        self.job_reply(self.job(job_id))

    @web.authenticated
    @authorized("execute")
    async def delete(self, job_id: str) -> None:
        """Cancel the job: a queued one never starts, a running one is killed with every
        process it started. A finished job is answered as it is."""
        self.job(job_id)
        job = await asyncio.to_thread(self.jobs.cancel, job_id)
        assert job is not None
        self.job_reply(job)


class RolesHandler(Nb2prodHandler):
    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        """The roles the panel offers and which cell tags declare a role (to replace them)."""
        from nb2prod.read.roles import BARE_TAGS, KALE_TAGS, PARAMETERS, ROLES

        # papermill's own tag for parameters, so `verify` can inject them
        tag_of = {role: role if role == PARAMETERS else f"nb2prod:{role}" for role in ROLES}
        self.reply(
            {
                "roles": list(ROLES),
                "tag_of": tag_of,
                "role_tags": sorted({*BARE_TAGS, *KALE_TAGS}),
                "role_tag_prefixes": ["nb2prod:", "step:", "block:"],
            }
        )


class DoctorHandler(Nb2prodHandler):
    @web.authenticated
    @authorized("read")
    async def get(self) -> None:
        """What works in the server's Python; with `path`, whether the notebook's imports
        resolve there (the notebook confined to the root like every other path)."""
        api_path = self.get_query_argument("path", None)
        notebook = self.notebook_file(api_path) if api_path is not None else None
        try:
            data = await asyncio.to_thread(_doctor, notebook)
        except UserError as error:
            self.user_error(error)
            return
        if notebook is not None:
            data["notebook"] = api_path_of(self.root, notebook)
        self.reply(data)


def _doctor(notebook: Path | None) -> dict[str, Any]:
    from nb2prod.commands.doctor import diagnose

    return diagnose(notebook).to_json()


def _check(path: Path, content: Any) -> dict[str, Any]:
    """`check_report` of the file, or of its unsaved `content` read as that file."""
    from nb2prod.commands.check import check_report, report_of
    from nb2prod.plan.build import build_plan
    from nb2prod.read.notebook import from_node

    if content is None:
        return check_report(path)
    return report_of(build_plan(from_node(content, path)))


def _preflight(notebook: Path) -> bytes | None:
    """What `convert` refuses before writing anything: `UserError` with the blocking
    problems. Else the analysis, packed for the job: it converts from it, not again."""
    from nb2prod.plan.build import analyse_notebook, plan_from
    from nb2prod.read.notebook import load_notebook

    analysis = analyse_notebook(load_notebook(notebook))
    blocking = plan_from(analysis).blocking
    if blocking:
        raise UserError(notebook, blocking)
    return pack_analysis(analysis)


def _project_notebook(project: Path) -> str:
    """The notebook a project's manifest names (relative to its `notebooks/`), refused as
    `verify` refuses it: not a plain relative path, or reached through a link."""
    from nb2prod.commands.verify import _manifest

    return str(_manifest(project)["source"]["path"])


def routes(root: Path, jobs: JobRunner) -> list[tuple[str, type[Nb2prodHandler], dict[str, Any]]]:
    """The URL patterns of the extension (the base URL is prefixed by the extension app)."""
    settings = {"root": root, "jobs": jobs}
    return [
        (r"/nb2prod/check", CheckHandler, settings),
        (r"/nb2prod/convert", ConvertHandler, settings),
        (r"/nb2prod/verify", VerifyHandler, settings),
        (r"/nb2prod/jobs/([0-9a-f]{32})", JobHandler, settings),
        (r"/nb2prod/roles", RolesHandler, settings),
        (r"/nb2prod/doctor", DoctorHandler, settings),
    ]
