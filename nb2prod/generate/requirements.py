"""Pinned requirements from the code's imports and the notebook's `pip install` lines.

An import name is not a distribution name (`sklearn` is `scikit-learn`), so
imports are mapped with `importlib.metadata.packages_distributions()` and
pinned to the versions installed where nb2prod runs. The standard library and
modules that live next to the notebook are left out.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from nb2prod.errors import Problem, Severity

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$")


@dataclass(frozen=True)
class Requirement:
    """A distribution with its pin (`==1.2.3`) or the user's own specifier."""

    name: str
    specifier: str

    def __str__(self) -> str:
        return f"{self.name}{self.specifier}"


def resolve_requirements(
    modules: list[str],
    pip_lines: list[str],
    notebook_dir: Path,
    problems: list[Problem],
) -> list[Requirement]:
    """Map modules to pinned distributions and merge the `pip install` requests."""
    distributions = _distributions_of(modules)
    requirements: dict[str, Requirement] = {}
    for module in modules:
        if module in sys.stdlib_module_names or module == "__future__":
            continue
        if (notebook_dir / f"{module}.py").exists() or (notebook_dir / module).is_dir():
            problems.append(
                Problem(
                    "local-module",
                    f"`import {module}` reads a module next to the notebook; it is not copied",
                    f"copy {module} into the generated package, or install it as a package",
                    Severity.WARNING,
                )
            )
            continue
        names = distributions.get(module)
        if not names:
            problems.append(
                Problem(
                    "unknown-distribution",
                    f"`{module}` is imported but not installed here, so it cannot be pinned",
                    f"`pip install {KNOWN_NAMES.get(module, module.replace('_', '-'))}` "
                    "(the distribution that provides it) and convert again",
                    Severity.WARNING,
                )
            )
            guess = KNOWN_NAMES.get(module, module)  # sklearn is scikit-learn, installed or not
            requirements.setdefault(canonical_name(guess), Requirement(guess, ""))
            continue
        for name in dict.fromkeys(names):
            requirements.setdefault(canonical_name(name), Requirement(name, _pin(name)))
    for line in pip_lines:
        match = _NAME.match(line)
        if match is None or line.startswith((".", "/", "git+", "http://", "https://")):
            continue
        name, extras, specifier = match.group(1), match.group(2) or "", match.group(3).strip()
        pin = specifier or _pin(name)
        requirements[canonical_name(name)] = Requirement(name + extras, pin)
    return sorted(requirements.values(), key=lambda r: canonical_name(r.name))


KNOWN_NAMES = {
    "sklearn": "scikit-learn", "skimage": "scikit-image", "cv2": "opencv-python",
    "PIL": "pillow", "yaml": "pyyaml", "bs4": "beautifulsoup4", "dateutil": "python-dateutil",
    "google": "protobuf", "attr": "attrs", "jwt": "pyjwt", "dotenv": "python-dotenv",
    "mpl_toolkits": "matplotlib", "umap": "umap-learn", "Bio": "biopython",
    "docx": "python-docx", "fitz": "pymupdf", "serial": "pyserial", "Crypto": "pycryptodome",
    "OpenSSL": "pyopenssl", "git": "gitpython", "magic": "python-magic", "zmq": "pyzmq",
    "IPython": "ipython",
    # a namespace that seven distributions share; `trace` and `metrics` are the API's
    "opentelemetry": "opentelemetry-api",
    # BentoML's own packages (single_worker.py runs its worker), named when it is absent
    "_bentoml_impl": "bentoml", "_bentoml_sdk": "bentoml",
}  # fmt: skip


def distribution_for(module: str) -> str:
    """The distribution to `pip install` for an import name, installed or not.

    Installed, the answer comes from the distributions' own files (the mapping the
    requirements use); missing, from the well-known renames, else the import name.
    """
    top = module.split(".")[0]
    names = _distributions_of([top]).get(top)
    if names:
        return names[0]
    return KNOWN_NAMES.get(top, top.replace("_", "-"))


def _distributions_of(modules: list[str]) -> dict[str, list[str]]:
    """Distributions providing each module: a cheap guess checked against the files of
    that one distribution, else a scan of all installed distributions (slower)."""
    found: dict[str, list[str]] = {}
    for module in modules:
        for name in dict.fromkeys([KNOWN_NAMES.get(module, module), module.replace("_", "-")]):
            if _provides(name, module):
                found[module] = [name]
                break
    missing = [m for m in modules if m not in found and m not in sys.stdlib_module_names]
    if missing:
        everything = metadata.packages_distributions()
        found.update({m: everything[m] for m in missing if m in everything})
    return found


def _provides(distribution: str, module: str) -> bool:
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    top_level = dist.read_text("top_level.txt")
    if top_level is not None:
        return module in top_level.split()
    record = dist.read_text("RECORD") or ""
    return any(line.startswith((f"{module}/", f"{module}.py,")) for line in record.splitlines())


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _pin(name: str) -> str:
    """`==` the installed version, without its local label: `torch==2.13.0` also takes
    the `2.13.0+cpu` build of an index that has it, where `==2.13.0+cpu` would fail on
    PyPI (PEP 440 ignores a candidate's local label when the pin has none)."""
    version = installed_version(name)
    return f"=={version.split('+')[0]}" if version else ""


def canonical_name(name: str) -> str:
    """PEP 503's normalized name, extras dropped: `Scikit_Learn[x]` and `scikit-learn` are one."""
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()
