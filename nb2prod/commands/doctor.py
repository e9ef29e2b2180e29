"""`nb2prod doctor [NB]`: what works in this Python, and the line that fixes what does not.

Each check looks and changes nothing. Modules are found with
`importlib.util.find_spec`, never imported (importing bentoml alone takes
seconds, and a broken package must not crash the diagnosis); the JupyterLab
extension is read from its files and Jupyter's config files; the container
engine gets one short ping (Docker API) or `podman info`, never a build.

Core checks are what `check`, `convert` and `verify` need: when one is missing,
or an import a kept cell of the notebook needs does not resolve, the diagnosis
is not `ok` (exit 1). nb2prod's extras missing is reported with the fix, not
counted as a failure. The CLI prints it (`doctor_print.py`), the server sends
`to_json()` (GET /nb2prod/doctor) and the JupyterLab panel shows what is not ok.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nb2prod import __version__
from nb2prod.generate.install_hints import install_line
from nb2prod.generate.requirements import distribution_for, installed_version

Status = Literal["ok", "missing", "warning"]
CORE_MODULES = ("nbformat", "nbconvert", "jinja2", "IPython", "ruff")
"""Core packages `check` and `convert` import (papermill and ipykernel have their own lines)."""
PYTHON_ALIASES = {
    "python",
    f"python{sys.version_info[0]}",
    f"python{sys.version_info[0]}.{sys.version_info[1]}",
}
"""Kernel commands jupyter_client runs as this interpreter (`KernelManager.format_kernel_cmd`)."""
LAB_EXTENSION = "nb2prod"
SERVER_EXTENSION = "nb2prod"
ENGINE_TIMEOUT = 2  # seconds: the doctor answers at once, even with a dead DOCKER_HOST
PODMAN_TIMEOUT = 10  # seconds: a first `podman info` sets up its storage, which takes a while


@dataclass(frozen=True)
class Check:
    """One fact about this environment, and the fix when it is not ok."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    core: bool = False  # check, convert or verify cannot run while it is missing

    @property
    def failing(self) -> bool:
        return self.core and self.status == "missing"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "core": self.core,
        }


@dataclass(frozen=True)
class ImportFact:
    """One top-level module the notebook imports: does it resolve here, from what."""

    module: str
    status: Status
    detail: str
    cells: tuple[int, ...]
    needed: bool  # imported by a kept cell; False: only in `skip` cells
    distribution: str | None = None
    version: str | None = None
    fix: str | None = None

    @property
    def failing(self) -> bool:
        return self.needed and self.status == "missing"

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "status": self.status,
            "detail": self.detail,
            "cells": list(self.cells),
            "needed": self.needed,
            "distribution": self.distribution,
            "version": self.version,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Diagnosis:
    """Every check, and the notebook's imports when a notebook was given."""

    checks: tuple[Check, ...]
    notebook: Path | None = None
    imports: tuple[ImportFact, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Core commands can run here, and every import the kept cells need resolves."""
        return not any(c.failing for c in self.checks) and not any(i.failing for i in self.imports)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nb2prod": __version__,
            "python": sys.executable,
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
        }
        if self.notebook is not None:
            data["notebook"] = str(self.notebook)
            data["imports"] = [i.to_json() for i in self.imports]
        return data


def diagnose(notebook: Path | None = None) -> Diagnosis:
    """All checks; the notebook's imports too when `notebook` is given (`UserError` if bad)."""
    imports = notebook_imports(notebook) if notebook is not None else ()
    checks = tuple(check() for check in CHECKS)
    return Diagnosis(checks, notebook, imports)


# ---- core ---------------------------------------------------------------------------------


def _found(module: str) -> bool:
    """Whether `module` resolves in this interpreter, without running it."""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken parent package or a spec-less module
        return False


def _version(module: str) -> str:
    """The installed version of the distribution providing `module` ("?" when unknown)."""
    return installed_version(distribution_for(module)) or "?"


def check_python() -> Check:
    """Always ok where nb2prod runs at all (it needs 3.10+): says which Python is checked."""
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "ok", f"{version} at {sys.executable}", core=True)


def check_core_packages() -> Check:
    missing = [m for m in CORE_MODULES if not _found(m)]
    if missing:
        names = " ".join(distribution_for(m) for m in missing)
        return Check(
            "core packages",
            "missing",
            f"{', '.join(missing)} not importable: check and convert cannot run",
            f"pip install {names}",
            core=True,
        )
    try:
        from ruff.__main__ import find_ruff_bin

        find_ruff_bin()
    except (ImportError, FileNotFoundError):
        return Check(
            "core packages",
            "missing",
            "the ruff executable is missing: convert formats the code it writes with it",
            "pip install --force-reinstall ruff",
            core=True,
        )
    return Check(
        "core packages", "ok", ", ".join(f"{m} {_version(m)}" for m in CORE_MODULES), core=True
    )


def check_papermill() -> Check:
    if not _found("papermill"):
        return Check(
            "papermill",
            "missing",
            "verify runs the notebook with papermill",
            install_line("papermill"),
            core=True,
        )
    return Check(
        "papermill", "ok", f"{_version('papermill')} (verify runs the notebook with it)", core=True
    )


def check_ipykernel() -> Check:
    if not _found("ipykernel"):
        return Check(
            "ipykernel",
            "missing",
            "verify runs the notebook on this Python's ipykernel",
            install_line("ipykernel"),
            core=True,
        )
    return Check(
        "ipykernel", "ok", f"{_version('ipykernel')} in this Python (verify's kernel)", core=True
    )


def check_kernelspec() -> Check:
    """The `python3` kernelspec papermill asks for; verify swaps its command for this Python."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:
        return Check(
            "kernelspec",
            "missing",
            "jupyter_client is not installed: verify cannot start a kernel",
            install_line("jupyter_client"),
            core=True,
        )
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return Check(
            "kernelspec",
            "missing",
            "no `python3` kernelspec: verify asks papermill for that kernel",
            "pip install ipykernel (it provides `python3`), or "
            "`python -m ipykernel install --user`",
            core=True,
        )
    command = spec.argv[0] if spec.argv else ""
    if command in PYTHON_ALIASES or _same_file(command, sys.executable):
        return Check(
            "kernelspec", "ok", f"python3 runs this Python ({spec.resource_dir})", core=True
        )
    return Check(
        "kernelspec",
        "warning",
        f"python3 ({spec.resource_dir}) runs {command}, another Python; "
        "verify runs this Python's ipykernel instead, so this does not matter to nb2prod",
        core=True,
    )


def _same_file(command: str, executable: str) -> bool:
    """The same program by path (not by resolved link: a venv's python links to its base)."""
    return Path(command).absolute() == Path(executable).absolute()


# ---- extras -------------------------------------------------------------------------------


def check_bentoml() -> Check:
    if not _found("bentoml"):
        return Check(
            "bentoml",
            "missing",
            "generated projects train, save and serve with it (`pip install -e OUT` brings it "
            "with the project), as `nb2prod serve` does; convert still writes the service code",
            install_line("bentoml"),
        )
    return Check(
        "bentoml", "ok", f"{_version('bentoml')} (generated projects' model store and service)"
    )


def check_onnx() -> Check:
    """The ONNX twin is decided at convert time (`serving.onnx_applies`) by these imports."""
    missing = [m for m in ("skl2onnx", "onnxruntime") if not _found(m)]
    if missing:
        return Check(
            "onnx",
            "missing",
            f"{' and '.join(missing)} not installed: services serve scikit-learn models as "
            "trained, without an ONNX Runtime twin",
            install_line(missing[0]),
        )
    versions = f"skl2onnx {_version('skl2onnx')}, onnxruntime {_version('onnxruntime')}"
    return Check("onnx", "ok", f"{versions} (ONNX twin of scikit-learn models)")


def check_container_engine() -> Check:
    """`nb2prod image`'s engine, chosen as it chooses: a Docker API, else the podman CLI."""
    from nb2prod.run.image import ENGINE_FIX, docker_client, docker_unavailable, podman_path

    client = docker_client(ENGINE_TIMEOUT)
    if client is not None:
        client.close()
        host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        return Check("container engine", "ok", f"Docker API at {host}")
    docker = docker_unavailable()
    podman = podman_path()
    if podman is None:
        return Check(
            "container engine", "missing", f"{docker}, and podman is not on PATH", ENGINE_FIX
        )
    try:
        done = subprocess.run(
            [podman, "info", "--format", "{{.Version.Version}}"],
            capture_output=True,
            text=True,
            timeout=PODMAN_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check(
            "container engine", "missing", f"{podman} does not answer: {error}", ENGINE_FIX
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return Check("container engine", "missing", f"`podman info` failed: {last}", ENGINE_FIX)
    return Check("container engine", "ok", f"podman {done.stdout.strip()} CLI; {docker}")


def check_jupyterlab() -> Check:
    if not _found("jupyterlab"):
        return Check(
            "jupyterlab", "missing", "the JupyterLab panel needs it", install_line("jupyterlab")
        )
    return Check("jupyterlab", "ok", _version("jupyterlab"))


def check_lab_extension() -> Check:
    """The built panel, where JupyterLab looks for prebuilt extensions, and not disabled."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return Check(
            "lab extension", "missing", "jupyter_core is not installed", "pip install nb2prod"
        )
    reinstall = (
        "pip install --force-reinstall --no-deps nb2prod "
        "(from a source checkout: `jupyter labextension develop --overwrite .`)"
    )
    found = [Path(d) / LAB_EXTENSION for d in jupyter_path("labextensions")]
    folder = next((f for f in found if (f / "package.json").is_file()), None)
    if folder is None:
        return Check("lab extension", "missing", "the panel's files are not installed", reinstall)
    if disabled := _disabled_lab_plugins():
        return Check(
            "lab extension",
            "missing",
            f"{', '.join(disabled)} disabled in JupyterLab's page_config.json",
            f"jupyter labextension enable {LAB_EXTENSION}",
        )
    version = _json_file(folder / "package.json").get("version")
    if version != __version__ and __version__ != "0+unknown":
        return Check(
            "lab extension",
            "warning",
            f"{folder} is version {version}, nb2prod is {__version__}: the panel may be stale",
            reinstall,
        )
    return Check("lab extension", "ok", f"{version} at {folder}")


def _disabled_lab_plugins() -> list[str]:
    """nb2prod's package or plugins disabled by `jupyter labextension disable`; the config
    folders merge lowest priority first, as JupyterLab merges them."""
    from jupyter_core.paths import jupyter_config_path

    state: dict[str, bool] = {}
    for folder in reversed(jupyter_config_path()):
        disabled = _json_file(Path(folder) / "labconfig" / "page_config.json").get(
            "disabledExtensions", {}
        )
        if isinstance(disabled, list):  # JupyterLab 3 wrote a list
            disabled = dict.fromkeys(disabled, True)
        if isinstance(disabled, dict):
            state.update({str(k): bool(v) for k, v in disabled.items()})
    return sorted(
        name
        for name, off in state.items()
        if off and (name == LAB_EXTENSION or name.startswith(f"{LAB_EXTENSION}:"))
    )


def check_server_extension() -> Check:
    """Enabled as Jupyter Server decides: `jpserver_extensions` merged over its config path."""
    if not _found("jupyter_server"):
        return Check(
            "server extension",
            "missing",
            "jupyter_server is not installed: the panel has no server to ask",
            install_line("jupyter_server"),
        )
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    manager = ExtensionConfigManager(read_config_path=jupyter_config_path())
    if manager.get_jpserver_extensions().get(SERVER_EXTENSION):
        return Check("server extension", "ok", f"{SERVER_EXTENSION} enabled")
    return Check(
        "server extension",
        "missing",
        f"{SERVER_EXTENSION} is not enabled in Jupyter Server's config",
        f"jupyter server extension enable {SERVER_EXTENSION}",
    )


def _json_file(path: Path) -> dict[str, Any]:
    """A JSON object from a config file; {} when absent or unreadable (Jupyter skips it too)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


CHECKS: tuple[Callable[[], Check], ...] = (
    check_python,
    check_core_packages,
    check_papermill,
    check_ipykernel,
    check_kernelspec,
    check_bentoml,
    check_onnx,
    check_container_engine,
    check_jupyterlab,
    check_lab_extension,
    check_server_extension,
)


# ---- the notebook's imports ---------------------------------------------------------------


def notebook_imports(path: Path) -> tuple[ImportFact, ...]:
    """Each top-level module the notebook's code cells import, first-seen order.

    Read as `convert` reads it (roles, then IPython syntax turned into Python), so
    a cell with a syntax error imports nothing here, as it would there.
    """
    from nb2prod.analyse.names import imported_modules
    from nb2prod.read.magics import clean_cell
    from nb2prod.read.notebook import load_notebook
    from nb2prod.read.roles import read_roles

    notebook = load_notebook(path)
    kept: dict[str, list[int]] = {}
    skipped: dict[str, list[int]] = {}
    for section in read_roles(notebook).sections:
        for cell in section.cells:
            tree = clean_cell(cell).tree
            for module in imported_modules([tree] if tree is not None else []):
                (kept if section.kept else skipped).setdefault(module, []).append(cell.index)
    cells: dict[str, list[int]] = {}  # every cell importing it, first-seen order of modules
    for module, indexes in [*kept.items(), *skipped.items()]:
        cells.setdefault(module, []).extend(indexes)
    modules = sorted(cells, key=lambda m: min(cells[m]))
    folder = notebook.path.parent
    return tuple(
        _import_fact(m, tuple(sorted(set(cells[m]))), m in kept, folder)
        for m in modules
        if m != "__future__"
    )


def _import_fact(module: str, cells: tuple[int, ...], needed: bool, folder: Path) -> ImportFact:
    if module in sys.stdlib_module_names:
        return ImportFact(module, "ok", "standard library", cells, needed)
    if (folder / f"{module}.py").exists() or (folder / module).is_dir():
        return ImportFact(
            module,
            "warning",
            "a module next to the notebook: the generated project does not copy it",
            cells,
            needed,
            fix=f"copy {module} into the generated package, or install it as a package",
        )
    distribution = distribution_for(module)
    if _found(module):
        version = installed_version(distribution)
        if version is None:
            return ImportFact(
                module, "ok", "importable, from no installed distribution", cells, needed
            )
        return ImportFact(module, "ok", "installed", cells, needed, distribution, version)
    return ImportFact(
        module, "missing", "not installed", cells, needed, distribution, fix=install_line(module)
    )
