"""Shared fixtures and paths for nb2prod's tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def run_cli(
    *args: str, cwd: Path | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m nb2prod ARGS` as a user would, without colours."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "nb2prod", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli():
    return run_cli


def make_notebook(path: Path, cells: list[tuple[str, list[str]] | str], **metadata: object) -> Path:
    """Write a small v4 notebook; a cell is source or (source, tags); '#md ' marks markdown."""
    import nbformat

    node = nbformat.v4.new_notebook()
    node.metadata.update(
        {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            **metadata,
        }
    )
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        if source.startswith("#md "):
            node.cells.append(nbformat.v4.new_markdown_cell(source[4:]))
        else:
            node.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nbformat.write(node, path)
    return path


def generated_env(
    project: Path,
    bentoml_home: Path,
    environ: dict[str, str] | None = None,
    path: list[str] | None = None,
) -> dict[str, str]:
    """Environment that runs a generated project's code with this interpreter: os.environ
    (or `environ`) and sys.path (or `path`) with the project's src/ first."""
    return {
        **(os.environ if environ is None else environ),
        "BENTOML_HOME": str(bentoml_home),
        "PYTHONPATH": os.pathsep.join(
            [str(project / "src"), *(sys.path if path is None else path)]
        ),
        "NO_COLOR": "1",
    }


def train_generated(project: Path, package: str, output_dir: str, env: dict[str, str]) -> None:
    """Run the generated training (`python -m <package>.train`) from the project folder."""
    trained = subprocess.run(
        [sys.executable, "-m", f"{package}.train", "--output-dir", output_dir],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def bentoml_server(
    bentoml: Path, service: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> Iterator[str]:
    """A real `bentoml serve` on a free loopback port; yields its URL once /readyz answers."""
    command = [str(bentoml), "serve", service, "--host", "127.0.0.1"]
    with served(command, env, cwd, timeout=timeout) as url:
        yield url


@contextmanager
def served(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> Iterator[str]:
    """Run a server command with `--port <free>` in its own process group until /readyz
    answers; yield its URL; stop the whole group afterwards."""
    import httpx

    port = free_port()
    log = cwd / f"server-{port}.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise AssertionError(f"the server exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never became ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


# ---- containers (see tests/e2e/test_image.py) ----

SETUP_PODMAN = ROOT / "scripts" / "podman-setup.sh"
SESSION_START = time.time()
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def podman_env(early: Early) -> Iterator[dict[str, str]]:
    """podman as scripts/podman-setup.sh sets it up (a preparation, `_prepare_podman`),
    its environment used for the whole session."""
    env = early.result(SHARED, "podman_env")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("DOCKER_HOST", raising=False)
        try:
            yield env
        finally:  # what this session built, the preparations' images included
            remove_test_images(created_after=SESSION_START)


STALE_IMAGE_AGE = 3 * 3600
"""Seconds after which an image in the test storage counts as debris of an earlier run (a
younger one may belong to a test session running beside this one)."""


def remove_test_images(
    *, older_than: float = 0, created_after: float = 0, env: dict[str, str] | None = None
) -> None:
    """Remove the images tests built, with the build stages they leave behind.

    The podman storage under /var/tmp outlives a run (it caches the base image): without
    this, each run left about 2 GB and a CI machine ran out of disk after 200 images.
    Only the base images of scripts/podman-setup.sh stay.
    """
    listed = subprocess.run(
        ["podman", "images", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if listed.returncode != 0:
        return
    now = time.time()
    doomed = [
        image["Id"]
        for image in json.loads(listed.stdout or "[]")
        if not any(name.startswith(BASE_IMAGES) for name in image.get("Names") or [])
        and image.get("Names")  # untagged build stages go with `prune` below
        and image["Created"] >= created_after
        and now - image["Created"] >= older_than
    ]
    if doomed:
        subprocess.run(["podman", "rmi", "-f", *doomed], capture_output=True, check=False, env=env)
    subprocess.run(["podman", "image", "prune", "-f"], capture_output=True, check=False, env=env)


BASE_IMAGES = (
    "localhost/nb2prod-pybase:",
    "localhost/nb2prod-pysite:",
    "docker.io/library/python:",
)


@pytest.fixture(scope="session")
def podman_socket(
    podman_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A Docker-compatible API on podman, for the docker SDK; stopped at the end."""
    pytest.importorskip("docker", reason="the Docker API path needs `pip install docker`")
    socket = tmp_path_factory.mktemp("podman") / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            if socket.exists():
                break
            time.sleep(0.1)
        assert socket.exists(), "podman system service did not create its socket"
        yield f"unix://{socket}"
    finally:
        service.terminate()
        try:
            service.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()


def notebook_results(
    notebook: Path, parameters: dict[str, Any], workdir: Path, project: Path
) -> dict[str, Any]:
    """Metrics, predicted rows (as a request's rows) and predictions of a papermill run
    (nb2prod's own runner), for the generated `project` of `notebook`."""
    from nb2prod.commands.verify import plan_of
    from nb2prod.generate.write import read_manifest
    from nb2prod.run.notebook_run import run_notebook

    plan = plan_of(project, read_manifest(project))
    run = run_notebook(notebook, plan, parameters, workdir, project_src=project / "src")
    return {"metrics": run.metrics, "rows": run.rows, "predictions": run.predictions}


# ---- slow preparations, started early (issue 12: `make test` time) ----


@dataclass(frozen=True)
class Preparation:
    """Slow work of a module's fixture (a fresh venv, a built wheel, converted notebooks) that
    needs nothing from the tests before it: `work(early, folder)` runs in the background
    from the session's first test on, when a selected test of `module` uses `fixture`, after
    the preparations of the module's fixtures it `needs`."""

    module: str
    fixture: str
    work: Callable[[Early, Path], Any]
    needs: tuple[str, ...] = ()


PREPARATIONS: dict[tuple[str, str], Preparation] = {}
"""(module, fixture) -> Preparation; test modules register theirs with `@prepares`."""


SHARED = "*"
"""The module of preparations that fixtures of several modules share (`prepares(...,
shared=True)`): tests of any module that use the fixture start them."""


def prepares(
    fixture: str, needs: tuple[str, ...] = (), *, shared: bool = False
) -> Callable[[Callable], Callable]:
    """Register `work(early, folder)` as the preparation of its module's `fixture`, which
    takes the result with `early.result(__name__, fixture)` (`early.result(SHARED,
    fixture)` when `shared`); `fixture[value]` prepares a parametrized fixture for that
    value only (selected tests using that value start it; a shared one, tests with that
    value for any parameter)."""

    def register(work: Callable[[Early, Path], Any]) -> Callable[[Early, Path], Any]:
        module = SHARED if shared else work.__module__
        PREPARATIONS[(module, fixture)] = Preparation(module, fixture, work, needs)
        return work

    return register


class Early:
    """Runs the preparations one at a time in a background thread, in the order the tests
    first need them, while the tests go on: most tests wait on child processes of their
    own, which leaves a core idle; the preparations' processes run niced, so they take only
    what the tests leave. A fixture takes its preparation's result with `result` (waiting
    for it, or raising what stopped it). The work runs child processes only
    through `run`, so the session can stop them if it ends first, with the environment,
    working folder and sys.path the session began with (`environ`, `cwd`, `path`): tests
    change them for a while, in this same process."""

    def __init__(self, factory: pytest.TempPathFactory, items: Sequence[pytest.Item]) -> None:
        self.items = items
        self.environ = dict(os.environ)
        self.cwd = Path.cwd()
        self.path = list(sys.path)
        self._factory = factory
        # One at a time: two (tried) ran 20:07 against 20:20 for the suite; a second
        # thread's pip and podman slowed the tests more than it saved them waiting.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="early")
        self._futures: dict[tuple[str, str], Future[Any]] = {}
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._waiting = 0  # fixtures waiting for a preparation

    def start(self, module: str, fixture: str) -> None:
        if (module, fixture) in self._futures:
            return
        preparation = PREPARATIONS[(module, fixture)]
        for need in preparation.needs:  # the module's own, else a shared one
            self.start(module if (module, need) in PREPARATIONS else SHARED, need)
        folder = self._factory.mktemp(f"{module.rsplit('.', 1)[-1]}-{fixture}")
        self._futures[module, fixture] = self._pool.submit(preparation.work, self, folder)

    def result(self, module: str, fixture: str) -> Any:
        """What `fixture` of `module` was prepared as (waiting for it if need be: meanwhile
        the preparations' processes run at the tests' priority)."""
        self.start(module, fixture)
        future = self._futures[module, fixture]
        if future.done():
            return future.result()
        if threading.current_thread().name.startswith("early"):
            raise RuntimeError(f"{fixture} is needed before it was prepared")  # see `needs`
        with self._lock:
            self._waiting += 1
            for process in self._running:
                _set_niceness(process, 0)
        try:
            return future.result()
        finally:
            with self._lock:
                self._waiting -= 1

    def cli(self, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        """`run_cli(*args)` as the session began: its environment and working folder."""
        command = [sys.executable, "-m", "nb2prod", *args]
        return self.run(command, self.cwd, {**self.environ, "NO_COLOR": "1"}, timeout)

    def convert(self, notebook: Path, output: Path, *flags: str) -> Path:
        """`nb2prod convert NOTEBOOK -o OUTPUT FLAGS` as the session began; it must succeed."""
        converted = self.cli("convert", str(notebook), "-o", str(output), *flags)
        assert converted.returncode == 0, converted.stderr
        return output

    def train(self, project: Path, package: str, output_dir: str, bentoml_home: Path) -> None:
        """`train_generated` with `generated_env(project, bentoml_home)` as the session began."""
        env = generated_env(project, bentoml_home, self.environ, self.path)
        command = [sys.executable, "-m", f"{package}.train", "--output-dir", output_dir]
        trained = self.run(command, project, env)
        assert trained.returncode == 0, trained.stderr

    def run(
        self, command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900
    ) -> subprocess.CompletedProcess[str]:
        """`subprocess.run(command, capture_output=True, text=True)`, stoppable by `close`."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the session is over")
            process = subprocess.Popen(
                command, cwd=cwd, env=self.environ if env is None else env, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
            if not self._waiting:
                _set_niceness(process, NICENESS)
            self._running.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            stdout, stderr = process.communicate()
            raise AssertionError(f"{command} ran past {timeout} s:\n{stdout}{stderr}") from None
        finally:
            with self._lock:
                self._running.discard(process)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def close(self) -> None:
        """Stop what is still running (tests that needed it failed or were interrupted)."""
        with self._lock:
            self._closed = True
            for process in self._running:
                _kill_group(process)
        self._pool.shutdown(wait=True, cancel_futures=True)


NICENESS = 10
"""Of the preparations' processes while no test waits for them: the tests' processes come
first, the preparations take the CPU the tests leave."""


def _set_niceness(process: subprocess.Popen[str], niceness: int) -> None:
    """Of the process's group (its children too); raising priority back may be refused to a
    user who is not root, and the process may have ended: then as it is."""
    if process.poll() is None:
        with suppress(OSError):
            os.setpriority(os.PRIO_PGRP, process.pid, niceness)


def _kill_group(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session", autouse=True)
def early(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The session's preparations, started at its first test in the order the selected tests
    first use them."""
    items = request.session.items
    first_use: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        module = getattr(getattr(item, "module", None), "__name__", None)
        params = getattr(getattr(item, "callspec", None), "params", {})
        for fixture in getattr(item, "fixturenames", ()):
            # a parametrized fixture's preparation may be one value's: "trained[digits_cnn]"
            keys = [(module, fixture), (module, f"{fixture}[{params.get(fixture)}]")]
            keys += [(SHARED, fixture), *((SHARED, f"{fixture}[{v}]") for v in params.values())]
            for key in keys:
                if key in PREPARATIONS:
                    first_use.setdefault(key, index)
    prepared = Early(tmp_path_factory, items)
    try:
        for module, fixture in sorted(first_use, key=first_use.__getitem__):
            prepared.start(module, fixture)
        yield prepared
    finally:
        prepared.close()


@prepares("podman_env", shared=True)
def _prepare_podman(early: Early, folder: Path) -> dict[str, str]:
    """scripts/podman-setup.sh (it installs podman when missing and builds the stand-in
    base image once); the environment it exports for podman."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("container tests need root on Linux (podman as set up by CI)")
    if not shutil.which("podman") and not shutil.which("apt-get"):
        pytest.skip("no podman and no apt-get to install it")
    start = time.monotonic()
    done = early.run(["bash", str(SETUP_PODMAN)], early.cwd)
    TIMINGS["setup"] = time.monotonic() - start
    assert done.returncode == 0, f"podman setup failed:\n{done.stderr[-3000:]}"
    env = dict(re.findall(r"^export (\w+)=(\S+)$", done.stdout, re.M))
    assert "CONTAINERS_CONF" in env, done.stdout
    # images left by runs that were killed; before any build of this session, whose cached
    # build stages (untagged) `podman image prune` would remove
    remove_test_images(older_than=STALE_IMAGE_AGE, env={**early.environ, **env})
    return env


def run_order(item: pytest.Item) -> int:
    """Unit tests first, container tests last, the rest between, each group in collected
    order: the slow preparations of the later tests (fresh venvs, converted examples, the
    podman base image and the example images, tests/conftest.py's Early) then run in the
    background while the earlier tests run, instead of being waited for."""
    if item.get_closest_marker("container"):
        return 2
    try:
        path = Path(str(item.path)).relative_to(ROOT)
    except ValueError:
        return 1
    return 0 if path.parts[:2] == ("tests", "unit") or len(path.parts) == 2 else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=run_order)  # stable: the collected order within each group


def as_requests(project: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The notebook's predicted rows as `project`'s service takes them: a service on raw
    rows (`nb2prod.json`'s probe has `raw_input`) gets them cut to its request's columns,
    the raw values the examples' row-wise code only adds columns to (tests/e2e/
    test_raw_rows.py sends raw rows picked from the notebook's own data)."""
    import json

    probe = json.loads((project / "nb2prod.json").read_text()).get("probe") or {}
    raw = probe.get("raw_input")
    if not raw:
        return rows
    columns = [column["name"] for column in raw["columns"]]
    return [{name: row[name] for name in columns} for row in rows]
