"""Fixtures the end-to-end tests share: each example's serving image, built once.

Converting, training and building an example's image is most of the time of the tests
that need one (`test_example_images`, `test_k8s_play`): they take it from `example_image`,
which does that once per example and session, and removes the image when the session
ends (`podman_env` removes whatever else the session built).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, PREPARATIONS, SHARED, Early, free_port, prepares

NAMES = ["wine_classifier", "diabetes_regression", "messy_churn", "digits_cnn", "tabular_mlp"]
TORCH = {"digits_cnn", "tabular_mlp"}
LOCAL_WHEELS = Path("/opt/wheels")
"""Where this machine keeps its PyTorch CPU wheel (see the env notes)."""
STRAY_DATA = "notes.csv"
"""A data file left in the project folder, as users leave them: it must stay out of the image."""


@dataclass(frozen=True)
class ExampleImage:
    """An example converted and trained in `project`, built as the image `tag`."""

    name: str
    project: Path
    tag: str


@pytest.fixture(scope="session")
def torch_cpu_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PyTorch's CPU index as the torch Dockerfile's TORCH_INDEX_URL reads it (PEP 503: a
    page per project linking its files), served from this machine's own CPU wheel at
    host.containers.internal, which the test base image's pip trusts: the real index,
    download.pytorch.org, is out of reach here, and PyPI's torch is the CUDA build (GBs)."""
    wheels = sorted(LOCAL_WHEELS.glob("torch-*+cpu-*.whl"))
    if not wheels:
        pytest.skip(f"no PyTorch CPU wheel in {LOCAL_WHEELS}")
    root = tmp_path_factory.mktemp("torch-index")
    (root / "torch").mkdir()
    for wheel in wheels:
        (root / "torch" / wheel.name).symlink_to(wheel)
    links = "".join(f'<a href="{w.name}">{w.name}</a>' for w in wheels)
    (root / "torch" / "index.html").write_text(f"<html><body>{links}</body></html>")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--directory", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://host.containers.internal:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def example_image(
    podman_env: dict[str, str],
    early: Early,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], ExampleImage]]:
    """`example_image(name)`: the example's project and image, made on first use (the
    ones with a preparation, `_prepare_wine_image`, in the background before). A failed
    step fails every test that asks for it, without being tried again."""
    made: dict[str, ExampleImage | str] = {}

    def get(name: str) -> ExampleImage:
        if name not in made:
            prepared = f"example_image[{name}]"
            try:
                if (SHARED, prepared) in PREPARATIONS:
                    made[name] = early.result(SHARED, prepared)
                else:
                    build_args = []
                    if name in TORCH:
                        index = request.getfixturevalue("torch_cpu_index")
                        build_args = ["--build-arg", f"TORCH_INDEX_URL={index}"]
                    folder = tmp_path_factory.mktemp(f"image-{name}")
                    made[name] = _make(name, folder, early, podman_env, build_args)
            except AssertionError as failed:
                made[name] = f"{name}'s image could not be made: {failed}"
        found = made[name]
        if isinstance(found, str):
            pytest.fail(found)
        return found

    try:
        yield get
    finally:
        # a prepared image no test took is removed too: its tag is known
        tags = {image_tag(name) for name in made} | {
            image_tag(name) for name in NAMES if (SHARED, f"example_image[{name}]") in PREPARATIONS
        }
        subprocess.run(["podman", "rmi", "-f", *sorted(tags)], capture_output=True, check=False)
        subprocess.run(["podman", "image", "prune", "-f"], capture_output=True, check=False)


def image_tag(name: str) -> str:
    return f"localhost/nb2prod-example-{name.replace('_', '-')}:test"


@prepares("example_image[wine_classifier]", needs=("podman_env",), shared=True)
def _prepare_wine_image(early: Early, folder: Path) -> ExampleImage:
    """The one example image `make test` builds (the others are `make test-slow`'s), in
    the background while the tests before the container tests run."""
    return _make("wine_classifier", folder, early, early.result(SHARED, "podman_env"))


def _make(
    name: str,
    folder: Path,
    early: Early,
    podman: dict[str, str],
    build_args: Sequence[str] = (),
) -> ExampleImage:
    """Convert, train (the model exported to artifacts/), and `nb2prod image` on podman."""
    project = early.convert(EXAMPLES / f"{name}.ipynb", folder / "project")
    early.train(project, name, "artifacts", folder / "bentoml")
    (project / STRAY_DATA).write_text("a,b\n1,2\n")
    tag = image_tag(name)
    command = [sys.executable, "-m", "nb2prod", "image", str(project), "--tag", tag]
    built = early.run(
        [*command, "--engine", "podman", *build_args],
        early.cwd,
        {**early.environ, **podman, "NO_COLOR": "1"},
        timeout=1800,
    )
    assert built.returncode == 0, built.stderr
    return ExampleImage(name, project, tag)
