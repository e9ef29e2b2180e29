"""nb2prod as a user installs it: the sdist, the wheel built from it offline, a fresh venv.

Every other test runs nb2prod installed editable with its dev extra, which hides
a missing dependency. Here the wheel goes into a venv of its own with only the
notebook's packages beside it, and the README's commands run from a folder
outside the source tree: each works, or stops with exit 2 and the line to run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, Early, prepares

pytestmark = pytest.mark.e2e

NOTEBOOK = "wine_classifier.ipynb"
NOTEBOOK_PACKAGES = ["scikit-learn", "pandas"]  # what the example imports, nothing of nb2prod's
# A user's `pip install`, byte-compiling included: skipping it (--no-compile) halves the
# install but every first import then compiles, which cost the suite more than it saved.
PIP_INSTALL = ["-m", "pip", "install", "-q", "--disable-pip-version-check"]


def _run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (
        f"{done.args} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    return done


@prepares("dist")
def _build_dist(early: Early, folder: Path) -> dict[str, Path]:
    """The sdist built from this tree, and the wheel built from the sdist alone."""
    _ok(early.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(folder),
                   str(ROOT)], cwd=folder))  # fmt: skip
    sdist = next(folder.glob("nb2prod-*.tar.gz"))
    # No index and no Node.js: PATH holds python alone, so an npm step would fail the build.
    bare = folder / "bare-path"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    env = {**early.environ, "PATH": str(bare), "PIP_NO_INDEX": "1"}
    _ok(early.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                   "-w", str(folder), str(sdist)], cwd=folder, env=env))  # fmt: skip
    return {"sdist": sdist, "wheel": next(folder.glob("nb2prod-*.whl"))}


@prepares("user", needs=("dist",))
def _make_user(early: Early, home: Path) -> dict[str, Path]:
    """A fresh venv with the wheel and the notebook's packages, and a folder to work in."""
    wheel = early.result(__name__, "dist")["wheel"]
    _ok(early.run([sys.executable, "-m", "venv", str(home / "venv")], cwd=home))
    python = home / "venv" / "bin" / "python"
    _ok(early.run([str(python), *PIP_INSTALL, str(wheel), *NOTEBOOK_PACKAGES], cwd=home))
    work = home / "work"
    work.mkdir()
    shutil.copy(EXAMPLES / NOTEBOOK, work / NOTEBOOK)
    return {"home": home, "bin": python.parent, "work": work}


@pytest.fixture(scope="module")
def dist(early: Early) -> dict[str, Path]:
    """The sdist built from this tree, and the wheel built from the sdist alone (built in the
    background from the session's start: tests/conftest.py, Early)."""
    return early.result(__name__, "dist")


@pytest.fixture(scope="module")
def user(early: Early, dist: dict[str, Path]) -> dict[str, Path]:
    """A fresh venv with the wheel and the notebook's packages, and a folder to work in."""
    return early.result(__name__, "user")


def _env(user: dict[str, Path]) -> dict[str, str]:
    """The user's shell: their venv first on PATH, nothing of the source tree importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{user['bin']}{os.pathsep}{env['PATH']}",
        NO_COLOR="1",
        BENTOML_HOME=str(user["home"] / "bentoml"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


def _nb2prod(user: dict[str, Path], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    done = _run([str(user["bin"] / "nb2prod"), *args], user["work"], _env(user), timeout)
    assert done.returncode != 3 and "internal error" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_the_distributions_pass_twine_and_carry_the_extension_and_licence(dist) -> None:
    _ok(_run([sys.executable, "-m", "twine", "check", "--strict", str(dist["sdist"]),
              str(dist["wheel"])], cwd=dist["wheel"].parent))  # fmt: skip
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[-1] for name in sdist.getnames()}
    assert {"LICENSE", "CHANGELOG.md", "jupyter_extension/labextension/package.json"} <= names
    assert not [n for n in names if "node_modules" in n or n.startswith(".hypothesis")]
    wheel = set(zipfile.ZipFile(dist["wheel"]).namelist())
    version = json.loads((ROOT / "jupyter_extension" / "package.json").read_text())["version"]
    data = f"nb2prod-{version}.data/data"
    assert {
        f"nb2prod-{version}.dist-info/licenses/LICENSE",
        f"{data}/share/jupyter/labextensions/nb2prod/package.json",
        f"{data}/share/jupyter/labextensions/nb2prod/static/style.js",
        f"{data}/etc/jupyter/jupyter_server_config.d/nb2prod.json",
        "nb2prod/generate/templates/project/pyproject.toml.j2",
        "nb2prod/generate/runtime/data_quality.py",  # copied into projects, never imported
        "nb2prod/generate/static/gitignore",
        "nb2prod/schemas/check_report.schema.json",  # what the front end's types come from
    } <= wheel


def test_the_installed_nb2prod_is_the_wheel(user) -> None:
    version = json.loads((ROOT / "jupyter_extension" / "package.json").read_text())["version"]
    assert _nb2prod(user, "--version").stdout.strip() == f"nb2prod {version}"
    where = _ok(_run([str(user["bin"] / "python"), "-c", "import nb2prod; print(nb2prod.__file__)"],
                     user["work"], _env(user)))  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(user["home"] / "venv")


def test_check_convert_and_the_nbconvert_exporter_work_from_the_plain_install(user) -> None:
    _ok(_nb2prod(user, "check", NOTEBOOK))
    converted = _ok(_nb2prod(user, "convert", NOTEBOOK, "-o", "out"))
    assert "wrote" in converted.stdout + converted.stderr
    assert (user["work"] / "out" / "src" / "wine_classifier" / "pipeline.py").is_file()
    jupyter = [str(user["bin"] / "jupyter"), "nbconvert", "--to", "nb2prod", NOTEBOOK]
    _ok(_run([*jupyter, "--output-dir", "exported"], user["work"], _env(user)))
    assert (user["work"] / "exported").is_dir()


def test_doctor_says_what_the_plain_install_lacks(user) -> None:
    """Core ready (exit 0); each extra missing, with the line that installs it."""
    done = _nb2prod(user, "doctor", NOTEBOOK, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    diagnosis = json.loads(done.stdout)
    checks = {c["name"]: c for c in diagnosis["checks"]}
    assert all(c["status"] == "ok" for c in checks.values() if c["core"]), checks
    assert checks["papermill"]["status"] == "ok" and checks["ipykernel"]["status"] == "ok"
    assert checks["bentoml"]["fix"] == "pip install 'nb2prod[serve]'"
    assert checks["onnx"]["fix"] == "pip install 'nb2prod[onnx]'"
    assert checks["jupyterlab"]["fix"] == "pip install 'nb2prod[lab]'"
    imports = {i["module"]: i for i in diagnosis["imports"]}
    assert imports["sklearn"]["distribution"] == "scikit-learn"
    assert imports["sklearn"]["status"] == "ok"
    printed = _nb2prod(user, "doctor")
    assert "pip install 'nb2prod[serve]'" in printed.stdout, printed.stdout


def test_commands_that_need_more_stop_with_the_line_to_run(user) -> None:
    """Before the project (and so BentoML) is installed: exit 2 with a `pip install` line."""
    _converted(user)
    verify = _nb2prod(user, "verify", "out", "--quick")
    assert verify.returncode == 2, verify.stderr
    assert "`bentoml` is not installed" in verify.stderr, verify.stderr
    assert "pip install -e out" in verify.stderr, verify.stderr
    serve = _nb2prod(user, "serve", "out")
    assert serve.returncode == 2, serve.stderr
    assert "pip install 'nb2prod[serve]'" in serve.stderr, serve.stderr
    image = _nb2prod(user, "image", "out", "--tag", "t:1")  # podman here, or no engine at all
    assert image.returncode == 2, image.stderr
    assert re.search(r"-train|nb2prod\[image\]", image.stderr), image.stderr


def _converted(user: dict[str, Path]) -> Path:
    """The example converted to `out/` (by the convert test, or here when run alone)."""
    out = user["work"] / "out"
    if not (out / "nb2prod.json").exists():
        _ok(_nb2prod(user, "convert", NOTEBOOK, "-o", "out"))
    return out


@pytest.fixture(scope="module")
def trained(user) -> Path:
    """The README's next step: the project converted, installed with its requirements, trained.
    Requested only by tests that run after those that need it uninstalled."""
    out = _converted(user)
    _ok(_run([str(user["bin"] / "python"), *PIP_INSTALL, "-e", "out"], user["work"], _env(user)))
    train = [str(user["bin"] / "wine-classifier-train"), "--output-dir", "artifacts"]
    _ok(_run(train, out, _env(user)))
    return out


def test_verify_quick_passes_once_the_project_is_installed(user, trained) -> None:
    report = user["work"] / "verify.json"
    _ok(_nb2prod(user, "verify", "out", "--quick", "--json", str(report)))
    checks = {(c["kind"], c["name"]) for c in json.loads(report.read_text())["checks"]}
    assert ("service", "predictions") in checks and ("metric", "accuracy") in checks


@pytest.mark.slow
@pytest.mark.container
def test_serve_and_image_answer_from_the_installed_wheel(user, trained, podman_env) -> None:
    """`nb2prod serve` and `nb2prod image` of the wheel venv answer the project's example."""
    import httpx

    from nb2prod.run import image
    from tests.conftest import free_port, served

    request = json.loads((trained / "examples" / "request.json").read_text())
    expected = json.loads((trained / "examples" / "response.json").read_text())
    env = {**_env(user), **podman_env}
    with served([str(user["bin"] / "nb2prod"), "serve", "out"], env, user["work"]) as url:
        answer = httpx.post(f"{url}{request['path']}", json=request["body"], timeout=30)
    assert answer.status_code == 200 and answer.json() == expected, answer.text
    tag = "localhost/nb2prod-installed-wine:test"
    built = _nb2prod(user, "image", "out", "--tag", tag, "--engine", "podman", timeout=1800)
    assert built.returncode == 0, built.stderr
    port = free_port()
    container = image.run_container(tag, env={"BENTOML_PORT": str(port)}, engine="podman")
    try:
        image.wait_ready(container, f"http://127.0.0.1:{port}/readyz", timeout=120)
        answer = httpx.post(f"http://127.0.0.1:{port}{request['path']}", json=request["body"])
        assert answer.status_code == 200 and answer.json() == expected, answer.text
    finally:
        image.stop_container(container)
        subprocess.run(["podman", "rmi", "-f", tag], capture_output=True, check=False)


def test_jupyter_lists_both_extensions_with_the_lab_extra(user, dist) -> None:
    pip = [str(user["bin"] / "python"), *PIP_INSTALL]
    _ok(_run([*pip, f"{dist['wheel']}[lab]"], user["work"], _env(user)))
    jupyter = str(user["bin"] / "jupyter")
    for args, expected in (
        (["labextension", "list"], r"nb2prod v\S+ enabled OK"),
        (["server", "extension", "list"], r"nb2prod \S+ OK"),
    ):
        listed = _ok(_run([jupyter, *args], user["work"], _env(user)))
        text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)  # no colours
        assert re.search(expected, text), text


@pytest.mark.slow  # pipx makes a venv of its own: `make test-slow`
@pytest.mark.skipif(shutil.which("pipx", path=str(Path(sys.executable).parent)) is None
                    and shutil.which("pipx") is None, reason="pipx is not installed")  # fmt: skip
def test_pipx_installs_the_wheel_as_an_application(tmp_path: Path, dist) -> None:
    pipx = shutil.which("pipx", path=str(Path(sys.executable).parent)) or shutil.which("pipx")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "NO_COLOR": "1",
    }
    _ok(_run([str(pipx), "install", str(dist["wheel"])], tmp_path, env))
    shutil.copy(EXAMPLES / NOTEBOOK, tmp_path / NOTEBOOK)
    done = _run([str(tmp_path / "bin" / "nb2prod"), "check", NOTEBOOK], tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
