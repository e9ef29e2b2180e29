"""A real `jupyter lab` and Debian's chromium, driven by Python Playwright.

The server runs from this interpreter's environment, so it serves the lab
extension and the server extension exactly as `pip install` put them there
(nothing is built or linked for the tests). Chromium comes from Debian
(scripts/chromium-setup.sh installs it when missing), never from
`playwright install`: only package registries are reachable here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, ROOT, free_port

playwright_sync = pytest.importorskip("playwright.sync_api", reason="needs `pip install -e .[dev]`")

CHROMIUM_SETUP = ROOT / "scripts" / "chromium-setup.sh"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOCS_IMAGES = ROOT / "docs" / "images"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# No news or update checks: the server is offline and a toast would cover the panel.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class Lab:
    """A running JupyterLab: its URL, token and the folder it serves."""

    url: str
    token: str
    root: Path
    log: Path

    def tree(self, notebook: str) -> str:
        """The URL that opens `notebook` in a fresh layout."""
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"


@dataclass
class ConsoleErrors:
    """Errors the page logged (console.error and uncaught exceptions)."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on(
            "console",
            lambda message: (
                self.messages.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))


def chromium_path() -> str:
    """Debian's chromium, installed by scripts/chromium-setup.sh when missing."""
    found = shutil.which("chromium")
    if found:
        return found
    done = subprocess.run(
        ["bash", str(CHROMIUM_SETUP)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"could not install chromium:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def labextension_installed() -> bool:
    return (Path(sys.prefix) / "share/jupyter/labextensions/nb2prod/package.json").is_file()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """`jupyter lab` on a free port, serving copies of the examples; stopped after the module."""
    if not labextension_installed():
        pytest.fail("the nb2prod lab extension is not installed here: run `pip install -e .`")
    home = tmp_path_factory.mktemp("lab")
    root = home / "root"
    root.mkdir()
    for notebook in EXAMPLES.glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    shutil.copy(ROOT / "tests/bad_inputs/syntax_error_in_preprocess.ipynb", root / "broken.ipynb")
    settings = home / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "MPLBACKEND": "Agg",
    }
    port, token = free_port(), uuid.uuid4().hex
    log = home / "lab.log"
    command = [
        *(sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root"),
        *("--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}"),
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command,
            env=env,
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(server, f"{url}/api/status?token={token}", log)
        yield Lab(url, token, root, log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.copy(log, _artifacts() / "lab.log")


def _wait_until_up(server: subprocess.Popen[bytes], status_url: str, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise AssertionError(f"jupyter lab exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(status_url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"jupyter lab never answered:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module: Playwright's sync API holds an event loop while it runs,
    which pytest-jupyter's per-test loops (tests/extension/handlers) must not meet."""
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; fails the test if the page logged an error; a screenshot on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors = ConsoleErrors()
    errors.watch(page)
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    try:
        page.screenshot(path=_artifacts() / f"{request.node.name}-last.png")
    finally:
        context.close()
    assert errors.messages == [], "the browser console logged errors"


def _artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def screenshot_path(name: str, *, readme: bool = False) -> Path:
    """Where a screenshot goes: test-artifacts/browser/, or docs/images/ for the README's
    images when NB2PROD_UPDATE_SCREENSHOTS=1."""
    if readme and os.environ.get("NB2PROD_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        return DOCS_IMAGES / name
    return _artifacts() / name
