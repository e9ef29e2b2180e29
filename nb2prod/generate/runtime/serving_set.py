"""The serving image's packages: what the service really imports, measured, and no more.

Why measured in the image's build stage, not read from the code or computed at training:
what the service imports depends on what training stored (an ONNX twin needs ONNX
Runtime and numpy only; a model served as trained, or a fitted encoder in the stored
state, unpickles into scikit-learn) and on imports no reader sees (pickles, lazy
imports). The build stage holds exactly the trained model and the project's pinned
venv, so it can run the service once and look. There, `python -m <package>.serving_set
service:Class examples/request.json TARGET`
1. imports the service, loads the model and answers the example request through
   BentoML's ASGI app (validation, conversion, the model, the response);
2. maps every module then loaded to the venv distribution that provides it
   (`importlib.metadata.packages_distributions()`), adds BentoML and uvicorn's speedups
   (what `bentoml serve` runs besides the app) and closes the set over the declared
   dependencies (`Requires-Dist`, markers and extras evaluated), so nothing is dropped
   that a package declares, and no `--no-deps` guess is made;
3. copies those distributions' installed files (their RECORD: the very bytes, versions
   pinned by the venv they come from, no download) into a fresh venv at TARGET, without
   pip, and writes the pinned list to TARGET/serving-requirements.txt;
4. runs step 1 again with TARGET's Python, so the build fails here, naming the missing
   module, rather than in production.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from importlib import metadata
from pathlib import Path

from .elf_symbols import stripped

ROOTS = ("bentoml", "uvloop", "httptools")
"""Always served: BentoML (its CLI, server and workers run besides the app measured here)
and the uvicorn speedups it picks up when installed."""
COMPILE_ONLY: dict[str, frozenset[str]] = {
    "torch": frozenset({"sympy", "networkx"}),
}
"""Declared dependencies a package imports only to compile or trace a model, never to run
one eagerly: PyTorch needs sympy (and its mpmath) and networkx for torch.compile,
torch.fx's symbolic shapes and torch.export, 105 MB a serving image need not carry. They
stay out unless the serving run imported them (a predict section that compiles does)."""
REQUIREMENTS_FILE = "serving-requirements.txt"
TEST_FOLDERS = frozenset({"tests", "test"})
UNRUN_PROGRAM = re.compile(r"^test_|Tests?$|^protoc(-[0-9.]+)?$")
"""Programs in a package's `bin/` no service runs: native test executables
(`torch/bin/test_jit`, `TCPStoreTest`: 38 MB) and the protobuf compiler PyTorch ships for
building C++ extensions (`protoc`, twice: 11 MB)."""
TOOL_PACKAGES = (
    "onnxruntime.transformers",
    "onnxruntime.quantization",
    "onnxruntime.tools",
    "numpy.f2py",
    "numpy.distutils",
    "torch._dynamo",
    "torch._inductor",
)
"""Subpackages that prepare a model or build an extension, which inference never imports:
ONNX Runtime's graph optimisers and quantisers (9 MB), numpy's Fortran wrapper generator
and build helpers (3 MB), `torch.compile`'s tracer and compiler (34 MB: eager inference
and `import torch` load neither). They stay out unless a loaded module came from one (a
predict section that compiles loads them while the serving run answers)."""
SHARED_LIBRARY = re.compile(r"\.so(\.[0-9]+)*$")
EXTENSION_MODULE = re.compile(r"\.(cpython-[^.]+|abi3)\.so$")
UNREAD_SUFFIXES = frozenset({".pyi", ".pyx", ".pxd", ".c", ".h", ".cpp", ".hpp"})


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def answer_example(service: str, request_file: Path) -> set[str]:
    """Import `service` ("module:Class"), load its model and answer the example request
    (`{"path": ..., "body": ...}`) through its ASGI app; the top-level modules that loaded.

    Modules loaded before (by `.pth` files at start-up: setuptools' `_distutils_hack`) are
    not the service's: the check in the serving venv proves none was needed."""
    before = set(sys.modules)
    from starlette.testclient import TestClient

    module_name, _, class_name = service.partition(":")
    sys.path.insert(0, os.getcwd())
    service_class = getattr(importlib.import_module(module_name), class_name)
    request = json.loads(request_file.read_text())
    with TestClient(app=service_class.to_asgi()) as client:
        answer = client.post(request["path"], json=request["body"])
        if answer.status_code != 200:
            raise SystemExit(
                f"{request_file}: {service} answered {answer.status_code}: {answer.text}"
            )
    return {name.partition(".")[0] for name in set(sys.modules) - before}


def venv_distributions(site: Path) -> dict[str, metadata.Distribution]:
    """The distributions installed in `site` (a venv's site-packages), by canonical name."""
    return {
        canonical(d.metadata["Name"]): d
        for d in metadata.distributions(path=[str(site)])
    }


def imported_distributions(
    modules: set[str], installed: dict[str, metadata.Distribution]
) -> set[str]:
    """The installed distributions that provide `modules` (top-level names), counting only
    modules loaded from this venv: the service's own package, run from its folder, is no
    distribution's even where a project of that name is installed (`pip install -e .`),
    whose training requirements would otherwise come along."""
    providers = metadata.packages_distributions()
    venv_prefix = Path(sys.prefix).resolve()
    found = {
        canonical(d)
        for m in modules
        if not loaded_elsewhere(m, venv_prefix)
        for d in providers.get(m, [])
    }
    return found & set(installed)


def loaded_elsewhere(name: str, venv_prefix: Path) -> bool:
    """Whether the loaded module `name` came from files outside the venv at `venv_prefix`."""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    places = [file] if file else list(getattr(module, "__path__", None) or [])
    return bool(places) and not any(
        Path(place).resolve().is_relative_to(venv_prefix) for place in places
    )


def closure(
    roots: set[str],
    installed: dict[str, metadata.Distribution],
    measured: frozenset[str] | set[str] | None = None,
) -> set[str]:
    """`roots` and every installed distribution they declare a need for, transitively
    (markers evaluated here, extras followed where a requirement names them), but for
    the COMPILE_ONLY ones the serving run did not import (`measured`, when given)."""
    from packaging.requirements import Requirement

    wanted: dict[str, set[str]] = {}
    todo = [(name, frozenset[str]()) for name in roots if name in installed]
    while todo:
        name, extras = todo.pop()
        if name in wanted and extras <= wanted[name]:
            continue
        wanted[name] = wanted.get(name, set()) | extras
        for text in installed[name].requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in ("", *wanted[name])
            ):
                continue
            needed = canonical(requirement.name)
            lazy = needed in COMPILE_ONLY.get(name, ())
            if lazy and measured is not None and needed not in measured:
                continue
            if needed in installed:
                todo.append((needed, frozenset(requirement.extras)))
    return set(wanted)


def copy_distributions(
    names: set[str],
    installed: dict[str, metadata.Distribution],
    target: Path,
    loaded: frozenset[str] | set[str] = frozenset(),
    mapped: frozenset[Path] | set[Path] | None = None,
) -> int:
    """Copy the files of `names` (as their RECORD lists them) from this venv into the venv
    at `target`, keeping each file's place relative to the venv; the bytes written.

    Shared libraries lose their symbol tables on the way (`elf_symbols.py`: 98 MB of
    PyTorch's, 11 MB of uvloop's), which only native stack traces read.

    Files no serving Python reads stay out (`unread`): packages' own test suites, unless
    a module in `loaded` came from one, type stubs and C sources; and, when the serving
    run's `mapped` files are given, libraries nothing loads (`unlinked`)."""
    prefix = Path(sys.prefix).resolve()
    site = Path(sysconfig.get_path("purelib")).resolve()
    sources = [
        source
        for name in sorted(names)
        for source in recorded_files(installed[name])
        if source.is_file()  # RECORD may list files that were removed since
        and not unread(source, site, loaded)
    ]
    if mapped is not None:
        left_out = unlinked(sources, mapped)
        sources = [s for s in sources if s not in left_out]
    copied = 0
    for source in sources:
        try:
            place = source.resolve().relative_to(prefix)
        except ValueError:
            continue  # outside the venv (none in practice): not the image's to carry
        destination = target / place
        destination.parent.mkdir(parents=True, exist_ok=True)
        if SHARED_LIBRARY.search(source.name):  # read once, written once, stripped
            destination.write_bytes(stripped(source.read_bytes()))
            shutil.copystat(source, destination)
        else:
            shutil.copy2(source, destination)
        copied += destination.stat().st_size
    return copied


def recorded_files(distribution: metadata.Distribution) -> list[Path]:
    """The files of `distribution` as its RECORD lists them, as normalised paths."""
    return [
        Path(os.path.normpath(distribution.locate_file(file)))
        for file in distribution.files or []
    ]


def unlinked(files: list[Path], mapped: frozenset[Path] | set[Path]) -> set[Path]:
    """The plain shared libraries among `files` that the serving run did not map and that
    no other file names: no library lists them as needed, no code opens them by name.

    ONNX Runtime's wheel ships its C API library (`libonnxruntime.so`, 34 MB) beside the
    Python extension, which does not link it. Extension modules stay: an import no request
    made yet may load them. A library is named by its file name up to `.so`, the way
    DT_NEEDED entries, `dlopen` calls and ctypes write it (versions vary after it). RECORD,
    which lists every file, names nothing."""
    candidates = {
        file: file.name[: file.name.index(".so") + 3].encode()
        for file in files
        if SHARED_LIBRARY.search(file.name)
        and file.name.startswith("lib")
        and not EXTENSION_MODULE.search(file.name)
        and file.resolve() not in mapped
    }
    named: set[bytes] = set()
    searched = [f for f in files if f.name != "RECORD" and f not in candidates]
    while searched:  # a library some kept file names is kept, and may name others
        wanted = set(candidates.values()) - named
        for file in searched:
            if not wanted:
                return set()
            content = file.read_bytes()
            found = {needle for needle in wanted if needle in content}
            named |= found
            wanted -= found
        searched = [f for f, needle in candidates.items() if needle in named]
        candidates = {f: n for f, n in candidates.items() if n not in named}
    return set(candidates)


def mapped_files() -> set[Path]:
    """The files this process has mapped (`/proc/self/maps`): every shared library loaded."""
    maps = Path("/proc/self/maps")
    found: set[Path] = set()
    for line in maps.read_text().splitlines() if maps.exists() else []:
        fields = line.split(maxsplit=5)  # address perms offset device inode path
        if len(fields) == 6 and fields[5].startswith("/"):
            found.add(Path(fields[5]).resolve())
    return found


def unread(path: Path, site: Path, loaded: frozenset[str] | set[str]) -> bool:
    """Whether serving never reads `path`: a stub or C source, a program no service runs
    (UNRUN_PROGRAM), or a file of a package's test suite (`numpy/_core/tests/...`, 19 MB in a
    wine image) or of a TOOL_PACKAGES subpackage, that no loaded module is from."""
    if path.suffix in UNREAD_SUFFIXES:
        return True
    try:
        parts = path.relative_to(site).parts[:-1]
    except ValueError:
        return False
    if len(parts) > 1 and parts[-1] == "bin" and UNRUN_PROGRAM.search(path.name):
        return True
    for depth, part in enumerate(parts[1:], start=2):
        package = ".".join(parts[:depth])
        if part in TEST_FOLDERS or package in TOOL_PACKAGES:
            return not any(m == package or m.startswith(package + ".") for m in loaded)
    return False


def build(service: str, request_file: Path, target: Path) -> list[str]:
    """Measure the serving set, copy it into a fresh venv at `target`, check that the
    service runs there; the pinned requirements written to `target`."""
    site = Path(sysconfig.get_path("purelib"))
    installed = venv_distributions(site)
    modules = answer_example(service, request_file)
    measured = imported_distributions(modules, installed)
    serving = closure(measured | {canonical(r) for r in ROOTS}, installed, measured)
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(target)
    size = copy_distributions(
        serving, installed, target, set(sys.modules), mapped_files()
    )
    pinned = [
        f"{installed[n].metadata['Name']}=={installed[n].version}"
        for n in sorted(serving)
    ]
    header = (
        f"# What {service} imports to serve (measured by serving_set.py), pinned.\n"
    )
    written = target / REQUIREMENTS_FILE
    written.write_text(header + "\n".join(pinned) + "\n")
    check = subprocess.run(
        [str(target / "bin" / "python"), "-m", __spec__.name, "--check", service,
         str(request_file)],
        check=False,
    )  # fmt: skip
    if check.returncode != 0:
        raise SystemExit(f"the service does not run on its serving set ({written})")
    left_out = sorted(set(installed) - serving)
    print(
        f"serving set: {len(serving)} of {len(installed)} distributions "
        f"({size / 2**20:.0f} MiB), left out: {', '.join(left_out) or 'none'}"
    )
    return pinned


def main(argv: list[str] | None = None) -> int:
    """`serving_set SERVICE REQUEST TARGET` builds; `serving_set --check SERVICE REQUEST`
    answers the request with this Python (the serving venv's own check)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--check"] and len(arguments) == 3:
        answer_example(arguments[1], Path(arguments[2]))
        return 0
    if len(arguments) != 3:
        print(
            "usage: serving_set SERVICE REQUEST TARGET (e.g. service:MyService "
            "examples/request.json /opt/serving) | --check SERVICE REQUEST",
            file=sys.stderr,
        )
        return 2
    build(arguments[0], Path(arguments[1]), Path(arguments[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
