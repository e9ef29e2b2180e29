"""image.py: the engine it picks, the podman command lines it runs, and how failures read.

No image is built here: `podman` on PATH is a small script that records its arguments
and answers as podman would (an image id, a container id, `inspect` JSON, a failed
or hanging build), and DOCKER_HOST points at a socket nobody listens on. Real builds
are in tests/e2e/test_image.py.
"""

from __future__ import annotations

import http.server
import json
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nb2prod.errors import UserError
from nb2prod.run import image
from nb2prod.run.image import (
    MODEL_ARCHIVE,
    Container,
    build_image,
    container_exec,
    container_logs,
    container_running,
    docker_unavailable,
    podman_path,
    run_container,
    stop_container,
    wait_ready,
)
from tests.conftest import free_port

FAKE_PODMAN = """#!{python}
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_PODMAN_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
mode = os.environ.get("FAKE_PODMAN_MODE", "ok")
if args[0] == "build":
    print("STEP 1/2: FROM python:3.11-slim")
    print("STEP 2/2: RUN pip install .")
    if mode == "hang":
        time.sleep(60)
    if mode == "fail":
        print("error: pip install failed: no such distribution")
        sys.exit(1)
    iidfile = next(a.split("=", 1)[1] for a in args if a.startswith("--iidfile="))
    open(iidfile, "w").write(os.environ.get("FAKE_PODMAN_IID", "abc123") + "\\n")
elif args[0] == "run":
    if mode == "fail":
        print("Error: something\\nError: port 3000 is taken", file=sys.stderr)
        sys.exit(125)
    print("Trying to pull...\\ncontainer-id-1")
elif args[:2] == ["container", "inspect"]:
    if mode == "gone":
        sys.exit(125)
    running = os.environ.get("FAKE_PODMAN_RUNNING", "true") == "true"
    print(json.dumps([{{"State": {{"Running": running, "ExitCode": 143}}}}]))
elif args[0] == "logs":
    print("server log line")
elif args[0] == "exec":
    print("ran", *args[2:])
    sys.exit(3)
"""


class Podman:
    """The fake podman: where it is, and the argument lists it was called with."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.log = folder / "calls.jsonl"
        self.log.touch()
        monkeypatch.setenv("FAKE_PODMAN_LOG", str(self.log))

    def mode(self, mode: str, **env: str) -> None:
        self.monkeypatch.setenv("FAKE_PODMAN_MODE", mode)
        for key, value in env.items():
            self.monkeypatch.setenv(f"FAKE_PODMAN_{key.upper()}", value)

    @property
    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def no_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Docker API answers, and nothing is on PATH."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


@pytest.fixture
def podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_docker: None) -> Podman:
    """The fake podman, alone on PATH; build logs go to `tmp_path`."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    script = bin_folder / "podman"
    script.write_text(FAKE_PODMAN.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_folder))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the build log goes
    return Podman(tmp_path, monkeypatch)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project as far as a build looks: a Dockerfile importing the trained model."""
    folder = tmp_path / "project"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "Dockerfile").write_text(f"FROM python:3.11-slim\nCOPY {MODEL_ARCHIVE} /m\n")
    (folder / MODEL_ARCHIVE).write_bytes(b"")
    return folder


def problem_of(raised: pytest.ExceptionInfo[UserError]) -> tuple[str, str, str]:
    problem = raised.value.problems[0]
    return problem.code, problem.message, problem.fix


# ---- before any engine is asked -----------------------------------------------------------


def test_a_project_without_a_dockerfile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError) as raised:
        build_image(tmp_path, "t")
    code, _, fix = problem_of(raised)
    assert code == "no-dockerfile" and "nb2prod convert" in fix


def test_a_dockerfile_needing_the_model_archive_needs_it_trained(project: Path) -> None:
    (project / MODEL_ARCHIVE).unlink()
    with pytest.raises(UserError) as raised:
        build_image(project, "t")
    code, message, fix = problem_of(raised)
    assert code == "no-model-archive" and MODEL_ARCHIVE in message and "training" in fix


# ---- choosing an engine -------------------------------------------------------------------


@pytest.mark.usefixtures("no_docker")
def test_without_any_engine_the_error_says_why_for_each(project: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError) as raised:
        build_image(project, "t")
    code, message, fix = problem_of(raised)
    assert code == "no-container-engine"
    assert message == (
        f"no container engine: no Docker API answers at unix://{tmp_path}/dead.sock, "
        "and `podman` is not on PATH"
    )
    assert "DOCKER_HOST" in fix and "install podman" in fix and "nb2prod[image]" in fix


@pytest.mark.usefixtures("podman")
def test_asking_for_docker_does_not_fall_back_to_podman(project: Path) -> None:
    with pytest.raises(UserError) as raised:
        build_image(project, "t", engine="docker")
    assert problem_of(raised)[1].startswith("no Docker API answers at unix://")


def test_docker_unavailable_names_the_default_socket_when_docker_host_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert docker_unavailable() == (
        "no Docker API answers at unix:///var/run/docker.sock (DOCKER_HOST unset)"
    )


def test_podman_is_found_on_path(podman: Podman, tmp_path: Path) -> None:
    assert podman_path() == str(tmp_path / "bin" / "podman")


# ---- building with podman -----------------------------------------------------------------


def test_a_podman_build_keeps_healthcheck_and_returns_the_image_id(
    podman: Podman, project: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    image_id = build_image(project, "localhost/wine:1", network="host", on_line=lines.append)
    assert image_id == "sha256:abc123"
    (command,) = podman.calls
    assert command[0] == "build"
    assert command[1:3] == ["--format=docker", "--pull=missing"]  # OCI would drop HEALTHCHECK
    assert command[3].startswith("--iidfile=")
    assert command[4:] == [
        "--tag=localhost/wine:1",
        f"--file={project / 'Dockerfile'}",
        "--network=host",
        str(project),
    ]
    assert lines[1:] == ["STEP 1/2: FROM python:3.11-slim", "STEP 2/2: RUN pip install ."]
    log = (tmp_path / "nb2prod-build-localhost_wine_1.log").read_text().splitlines()
    assert log[0].split()[1] == "build" and log[1:] == lines[1:]


def test_build_args_reach_podman_as_build_arg_flags(podman: Podman, project: Path) -> None:
    """`--build-arg TORCH_INDEX_URL=...`: the torch Dockerfile's index of PyTorch builds."""
    build_image(project, "localhost/digits:1", build_args={"TORCH_INDEX_URL": "http://x/cpu"})
    (command,) = podman.calls
    assert command[-2:] == ["--build-arg=TORCH_INDEX_URL=http://x/cpu", str(project)]


def test_an_image_id_with_its_prefix_is_returned_as_it_is(podman: Podman, project: Path) -> None:
    podman.mode("ok", iid="sha256:def456")
    assert build_image(project, "t", engine="podman") == "sha256:def456"
    assert "--network" not in " ".join(podman.calls[0])  # the engine's default network


def test_a_failed_build_shows_the_end_of_its_log_and_where_the_rest_is(
    podman: Podman, project: Path, tmp_path: Path
) -> None:
    podman.mode("fail")
    with pytest.raises(UserError) as raised:
        build_image(project, "t")
    code, message, fix = problem_of(raised)
    assert code == "image-build-failed"
    assert message.startswith("the image build failed (podman: podman build exited with 1)")
    assert message.endswith("    error: pip install failed: no such distribution")
    assert fix.endswith(f"full log: {tmp_path / 'nb2prod-build-t.log'}")


def test_a_hanging_build_is_stopped_at_its_timeout(podman: Podman, project: Path) -> None:
    podman.mode("hang")
    with pytest.raises(UserError) as raised:
        build_image(project, "t", timeout=1)
    assert "podman build was stopped (signal 9; timeout 1 s)" in problem_of(raised)[1]


# ---- containers ---------------------------------------------------------------------------


def test_run_container_passes_env_network_and_ports_to_podman(podman: Podman) -> None:
    container = run_container(
        "img", name="c1", env={"BENTOML_PORT": "3001"}, network=None, ports={3000: 8080},
        args=["--help"],
    )  # fmt: skip
    assert container == Container("container-id-1", "c1", "podman")
    assert podman.calls == [
        ["run", "--detach", "--name=c1", "--env=BENTOML_PORT=3001", "--publish=8080:3000",
         "img", "--help"],
    ]  # fmt: skip


def test_a_container_gets_a_name_and_the_hosts_network_by_default(podman: Podman) -> None:
    container = run_container("img")
    assert container.name.startswith("nb2prod-")
    assert f"--name={container.name}" in podman.calls[0]
    assert "--network=host" in podman.calls[0]


def test_a_container_that_cannot_start_names_the_last_line_of_the_error(podman: Podman) -> None:
    podman.mode("fail")
    with pytest.raises(UserError) as raised:
        run_container("img", name="c1")
    code, message, _ = problem_of(raised)
    assert code == "container-failed"
    assert message == "could not start a container from img: Error: port 3000 is taken"


def test_running_logs_exec_and_stop_talk_to_podman(podman: Podman) -> None:
    container = Container("cid", "c1", "podman")
    assert container_running(container)
    podman.mode("ok", running="false")
    assert not container_running(container)
    assert container_logs(container, tail=5) == "server log line\n"
    assert container_exec(container, ["ls", "/"]) == (3, "ran ls /\n")
    assert stop_container(container, timeout=4) == 143
    assert podman.calls == [
        ["container", "inspect", "cid"],
        ["container", "inspect", "cid"],
        ["logs", "--tail=5", "cid"],
        ["exec", "cid", "ls", "/"],
        ["stop", "--time=4", "cid"],
        ["container", "inspect", "cid"],  # the exit code, before it is removed
        ["rm", "--force", "--time=0", "cid"],
    ]


def test_a_removed_container_is_not_running(podman: Podman) -> None:
    podman.mode("gone")
    assert not container_running(Container("cid", "c1", "podman"))


@pytest.mark.usefixtures("no_docker")
def test_without_podman_a_podman_container_cannot_be_reached() -> None:
    with pytest.raises(UserError) as raised:
        container_logs(Container("cid", "c1", "podman"))
    assert problem_of(raised)[:2] == ("no-container-engine", "`podman` is not on PATH")


@pytest.fixture
def answering() -> Iterator[str]:
    """A URL that answers 200."""

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/readyz"
    server.shutdown()


def test_wait_ready_returns_once_the_url_answers(podman: Podman, answering: str) -> None:
    assert 0 <= wait_ready(Container("cid", "c1", "podman"), answering, timeout=10) < 10


def test_wait_ready_stops_with_the_log_when_the_container_exited(podman: Podman) -> None:
    podman.mode("ok", running="false")
    with pytest.raises(UserError) as raised:
        wait_ready(Container("cid", "c1", "podman"), f"http://127.0.0.1:{free_port()}/")
    code, message, _ = problem_of(raised)
    assert code == "container-exited" and message.endswith("server log line\n")


def test_wait_ready_gives_up_after_its_timeout(podman: Podman) -> None:
    with pytest.raises(UserError) as raised:
        wait_ready(Container("cid", "c1", "podman"), f"http://127.0.0.1:{free_port()}/", 0.5)
    code, message, _ = problem_of(raised)
    assert code == "container-not-ready" and "did not answer within 0 s" in message


def test_tags_become_safe_file_names() -> None:
    assert image._safe("localhost/wine-classifier:1.0") == "localhost_wine-classifier_1.0"
