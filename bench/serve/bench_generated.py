"""Benchmark the service nb2prod GENERATES against the services people write by hand.

``run_serve.py --suite`` compares the hand-written FastAPI baseline with
``reference_bento/``, a service written by hand the way nb2prod *means* to
generate it. This script measures what nb2prod *does* generate, end to end, so
the serving aims are checked on the real product:

1. convert ``wine_serving.ipynb`` (the wine notebook whose two models equal
   ``models.py``'s) with ``python -m nb2prod convert`` into a temporary project;
2. per model kind (``forest``, ``linear``): train it with the project's own
   ``python -m wine_serving.train --model-kind KIND`` (into a BentoML store of
   its own), and export the trained scikit-learn model with joblib for the
   scikit-learn baseline, so both serve the very same fitted estimator (checked
   against ``models.py``'s model: same predictions on all the data); the ONNX
   twin the generated service serves is the store's ``model.onnx``;
3. load every server with ``run_serve.py`` (wrk, closed loop, exact percentiles,
   PSS, server CPU and cold start) with the same one-row payload
   (``artifacts/row.json``) at concurrency 1 and 32: per model, the hand-written
   FastAPI + ONNX Runtime (``handwritten_onnx.py``, the same ``model.onnx``), the
   generated ``/predict``, the hand-written FastAPI + scikit-learn
   (``handwritten_fastapi.py``, for reference), the generated ``/predict`` with
   its fast path off (``NB2PROD_FAST_PATH=0``, label ``generated-no-fast``) and the
   generated ``/predict_batch`` (that row as a one-element list, c=32 only); then the two
   floors, BentoML answering a constant with the generated service's
   ``@bentoml.service(...)`` settings (``bento_floor.py``) and plain ASGI under
   uvicorn (``trivial_asgi.py``). ``--repeat`` runs alternate between the
   servers so that drift in the machine's load hits them alike; the table shows
   medians;
4. print a markdown table with each server's req/s over the hand-written ONNX
   Runtime service's, FastAPI + scikit-learn's and each floor's, check the aims
   (against hand-written ONNX Runtime: >= 0.8x req/s at c=1, >= 1.0x at c=32,
   p99/p50 <= 2 at c=1, PSS <= 1.5x; against FastAPI + scikit-learn: forest >= 3x,
   linear >= 0.8x) and write it, with the command, date, machine and the runtime
   the generated model uses (``model.json``: ``onnx`` or ``python``), into
   ``docs/benchmarks.md`` (replacing this script's previous section there).

Usage (from the repository root, in a venv with nb2prod, bentoml, fastapi,
uvicorn[standard], onnxruntime, skl2onnx; ``wrk`` on PATH)::

    python bench/serve/bench_generated.py --repeat 2 --duration 8

Exit codes: 0 done and every aim met; 1 a server or step failed, or an aim
was missed (the table is still written); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
NOTEBOOK = HERE / "wine_serving.ipynb"
ARTIFACTS = HERE / "artifacts"
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Serving: the generated service vs hand-written FastAPI"
PACKAGE = "wine_serving"  # from the notebook's file name
MODEL_TAG = "wine-serving:latest"
KINDS = ("forest", "linear")
AIM_RPS = {"forest": 3.0, "linear": 0.8}  # generated req/s over FastAPI's, at least
# Against the hand-written FastAPI + ONNX Runtime service (issue 15), at least / at most:
AIM_VS_ONNX = {1: 0.8, 32: 1.0}  # generated req/s over the hand-written's, per concurrency
AIM_ONNX_P99_OVER_P50 = 2.0  # generated, concurrency 1
AIM_PSS_VS_ONNX = 1.5  # generated PSS over the hand-written's
FLOOR = "-"  # the model column of the floors: they serve no model

FASTAPI_CMD = "{python} -m uvicorn handwritten_fastapi:app --host 127.0.0.1 --port {port}"
UVICORN_FAST = "--loop uvloop --http httptools --host 127.0.0.1 --port {port}"
ONNX_CMD = "{python} -m uvicorn handwritten_onnx:app " + UVICORN_FAST
TRIVIAL_CMD = "{python} -m uvicorn trivial_asgi:app --no-access-log " + UVICORN_FAST

EXPORT_SCRIPT = """
import os
import sys
import bentoml
import joblib
from wine_serving.model_store import load_model
stored = bentoml.models.get("wine-serving:latest")
joblib.dump(load_model(stored, runtime="trained"), sys.argv[1])
onnx = stored.path_of("model.onnx")
print(onnx if os.path.exists(onnx) else "")
"""

# The generated service's @bentoml.service(...) settings, for BentoML's floor to run with.
CONFIG_SCRIPT = """
import json
import sys
import service
print(json.dumps(getattr(service, sys.argv[1]).config))
"""

# The exported model must be models.py's: same predictions on every row of the data.
SAME_MODEL_SCRIPT = """
import sys
import joblib
import numpy as np
from sklearn.datasets import load_wine
X, _ = load_wine(return_X_y=True, as_frame=True)
a, b = joblib.load(sys.argv[1]), joblib.load(sys.argv[2])
same = np.array_equal(a.predict(X), b.predict(X))
same = same and np.allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-12)
print("same" if same else "DIFFERENT")
"""


class StepError(Exception):
    """A step (convert, train, export) failed; the benchmark cannot go on."""


@dataclass(frozen=True)
class Server:
    """One server configuration handed to run_serve.py."""

    model: str  # a kind, or FLOOR
    label: str  # fastapi, handwritten-onnx, generated, bento-floor, trivial-asgi
    url_path: str
    concurrency: tuple[int, ...]
    args: tuple[str, ...]  # run_serve.py arguments besides load and output


@dataclass
class Cell:
    """All runs of one (model, server, endpoint, concurrency)."""

    model: str
    label: str
    url_path: str
    concurrency: int
    runs: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)

    @property
    def errors(self) -> int:
        return int(sum(run["errors"] for run in self.runs))


def run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a step, return its stdout; raise StepError with its output when it fails."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StepError(
            f"{shlex.join(cmd)} (in {cwd}) exited {proc.returncode}\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
        )
    return proc.stdout


def project_env(project: Path, bentoml_home: Path) -> dict[str, str]:
    """Environment for the generated project: its own model store, its package importable."""
    env = dict(os.environ)
    env["BENTOML_HOME"] = str(bentoml_home)
    env["BENTOML_DO_NOT_TRACK"] = "True"
    env["PYTHONPATH"] = str(project / "src")
    return env


def service_class(project: Path) -> str:
    """The name of the class decorated with ``@bentoml.service`` in the generated service.py."""
    source = (project / "service.py").read_text(encoding="utf-8")
    match = re.search(r"^@bentoml\.service\b.*?^class (\w+)", source, re.M | re.S)
    if not match:
        raise StepError(f"no @bentoml.service class in {project / 'service.py'}")
    return match.group(1)


def convert(work: Path) -> tuple[Path, str]:
    """Convert the notebook into ``work/project``; return the project and the service class."""
    project = work / "project"
    print(f"converting {NOTEBOOK.relative_to(REPO)} -> {project}", file=sys.stderr)
    run(
        [sys.executable, "-m", "nb2prod", "convert", str(NOTEBOOK), "-o", str(project)],
        cwd=REPO,
    )
    return project, service_class(project)


def train_and_export(
    project: Path, work: Path, kind: str
) -> tuple[dict[str, str], Path, str, Path | None]:
    """Train ``kind`` with the project's trainer; export its scikit-learn model with joblib.

    Returns the server environment, the joblib path, the runtime the generated
    service uses for it (``model.json``'s ``runtime``) and the ONNX twin the
    generated service serves (``model.onnx`` in the store; None without one).
    """
    env = project_env(project, work / f"bentoml-{kind}")
    out = work / f"artifacts-{kind}"
    print(f"training {kind} with python -m {PACKAGE}.train", file=sys.stderr)
    run(
        [sys.executable, "-m", f"{PACKAGE}.train", "--model-kind", kind, "--output-dir", str(out)],
        cwd=project,
        env=env,
    )
    info = json.loads((out / "model.json").read_text(encoding="utf-8"))
    runtime = str(info.get("runtime", "?"))
    exported = work / f"{kind}.joblib"
    onnx = run([sys.executable, "-c", EXPORT_SCRIPT, str(exported)], cwd=project, env=env).strip()
    verdict = run(
        [sys.executable, "-c", SAME_MODEL_SCRIPT, str(exported), str(ARTIFACTS / f"{kind}.joblib")],
        cwd=REPO,
    ).strip()
    if verdict != "same":
        raise StepError(f"{kind}: the notebook's model differs from models.py's ({verdict})")
    print(f"  {kind}: runtime {runtime}; exported {exported} (= models.py's)", file=sys.stderr)
    return (
        {k: env[k] for k in ("BENTOML_HOME", "BENTOML_DO_NOT_TRACK", "PYTHONPATH")},
        exported,
        (runtime + (f" ({info['runtime_reason']})" if info.get("runtime_reason") else "")),
        Path(onnx) if onnx else None,
    )


def service_config(project: Path, cls: str, env: dict[str, str]) -> str:
    """The JSON of the generated class's ``@bentoml.service(...)`` settings."""
    return run([sys.executable, "-c", CONFIG_SCRIPT, cls], cwd=project, env=env).strip()


def servers(
    kind: str,
    project: Path,
    cls: str,
    env: dict[str, str],
    exported: Path,
    onnx: Path | None,
    batch_body: Path,
) -> list[Server]:
    """For one model: FastAPI + scikit-learn (reference) and, on the same ``model.onnx``,
    hand-written FastAPI + ONNX Runtime and the generated ``/predict`` at c=1 and 32; the
    generated ``/predict_batch`` at 32."""
    row = str(ARTIFACTS / "row.json")
    env_args = [a for key, value in env.items() for a in ("--env", f"{key}={value}")]
    # as the image and `nb2prod serve` run it: BentoML's worker alone (single_worker.py)
    package = json.loads((project / "nb2prod.json").read_text())["package"]
    generated_cmd = (
        "env BENTOML_HOST=127.0.0.1 BENTOML_PORT={port} "
        f"{{python}} -m {package}.single_worker service:{cls}"
    )
    generated = ("--cwd", str(project), "--ready-path", "/readyz", *env_args)
    here = ("--cwd", str(HERE), "--ready-path", "/health")
    fastapi = (*here, "--env", f"MODEL_PATH={exported}")
    plan = [_server(kind, "fastapi", "/predict", (1, 32), FASTAPI_CMD, row, *fastapi)]
    if onnx is not None:
        onnx_args = (*here, "--env", f"MODEL_PATH={onnx}")
        plan.append(
            _server(kind, "handwritten-onnx", "/predict", (1, 32), ONNX_CMD, row, *onnx_args)
        )
    batch = str(batch_body)
    no_fast = (*generated, "--env", "NB2PROD_FAST_PATH=0")  # every request through BentoML
    return [
        *plan,
        _server(kind, "generated", "/predict", (1, 32), generated_cmd, row, *generated),
        _server(kind, "generated-no-fast", "/predict", (1, 32), generated_cmd, row, *no_fast),
        _server(kind, "generated", "/predict_batch", (32,), generated_cmd, batch, *generated),
    ]


def floor_servers(config: str, env: dict[str, str], project: Path) -> list[Server]:
    """The ceilings: BentoML answering a constant with the generated service's settings
    (``config``), run as the generated service is (the project's single_worker), and plain
    ASGI under uvicorn answering a constant."""
    row = str(ARTIFACTS / "row.json")
    bento = ["--cwd", str(HERE), "--ready-path", "/readyz", "--env", f"BENTO_FLOOR_CONFIG={config}"]
    bento += [
        a
        for key in ("BENTOML_HOME", "BENTOML_DO_NOT_TRACK", "PYTHONPATH")
        for a in ("--env", f"{key}={env[key]}")
    ]
    package = json.loads((project / "nb2prod.json").read_text())["package"]
    floor_cmd = (
        "env BENTOML_HOST=127.0.0.1 BENTOML_PORT={port} "
        f"{{python}} -m {package}.single_worker bento_floor:Floor"
    )
    asgi = ("--cwd", str(HERE), "--ready-path", "/predict")
    return [
        _server(FLOOR, "bento-floor", "/predict", (1, 32), floor_cmd, row, *bento),
        _server(FLOOR, "trivial-asgi", "/predict", (1, 32), TRIVIAL_CMD, row, *asgi),
    ]


def _server(
    model: str,
    label: str,
    url_path: str,
    levels: tuple[int, ...],
    cmd: str,
    payload: str,
    *more: str,
) -> Server:
    """A Server whose run_serve.py arguments name the command, endpoint and payload."""
    label_arg = label if url_path == "/predict" else f"{label}-batch"
    args = ("--label", label_arg, "--server-cmd", cmd, "--url-path", url_path, *more)
    return Server(model, label, url_path, levels, (*args, "--payload", payload))


def measure(
    server: Server, args: argparse.Namespace, out: Path, cells: dict[tuple[Any, ...], Cell]
) -> bool:
    """One fresh run of ``server`` with run_serve.py; add its numbers to ``cells``."""
    cmd = [
        sys.executable,
        str(HERE / "run_serve.py"),
        *server.args,
        "--concurrency",
        *map(str, server.concurrency),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--quiet-wait",
        str(args.quiet_wait),
        "--repeat",
        "1",
        "--json",
        str(out),
    ]
    out.unlink(missing_ok=True)
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, check=False)
    if not out.exists():
        print(
            f"  {server.model} {server.label} {server.url_path}: no result "
            f"(run_serve.py exited {proc.returncode})",
            file=sys.stderr,
        )
        return False
    for entry in json.loads(out.read_text(encoding="utf-8")):
        key = (server.model, server.label, server.url_path, entry["concurrency"])
        cell = cells.setdefault(key, Cell(*key))
        cell.runs.extend(entry["runs"])
    return proc.returncode == 0


# --------------------------------------------------------------------------- report


def versions() -> str:
    found = []
    for name in (
        "nb2prod",
        "bentoml",
        "fastapi",
        "uvicorn",
        "uvloop",
        "httptools",
        "scikit-learn",
        "onnxruntime",
        "skl2onnx",
    ):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


ORDER = {
    ("fastapi", "/predict"): 0,
    ("handwritten-onnx", "/predict"): 1,
    ("generated", "/predict"): 2,
    ("generated-no-fast", "/predict"): 3,
    ("generated", "/predict_batch"): 4,
    ("bento-floor", "/predict"): 5,
    ("trivial-asgi", "/predict"): 6,
}


def ratio(cell: Cell | None, base: Cell | None, key: str = "rps") -> float | None:
    """``cell``'s median ``key`` over ``base``'s; None when either is missing."""
    if cell is None or not cell.runs or base is None or not base.runs or not base.median(key):
        return None
    return cell.median(key) / base.median(key)


def times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def table_row(cell: Cell, cells: dict[tuple[Any, ...], Cell]) -> str:
    """One markdown row: the cell's medians and its req/s against the baselines and floors."""
    c = cell.concurrency
    rps = [run["rps"] for run in cell.runs]
    p50, p99 = cell.median("p50_ms"), cell.median("p99_ms")
    ready = [run.get("ready_s", 0.0) for run in cell.runs]
    bases = [
        cells.get((cell.model, "handwritten-onnx", "/predict", c)),
        cells.get((cell.model, "fastapi", "/predict", c)),
        cells.get((FLOOR, "bento-floor", "/predict", c)),
        cells.get((FLOOR, "trivial-asgi", "/predict", c)),
    ]
    return (
        f"| {cell.model} | {cell.label} | {cell.url_path} | {c} "
        f"| {cell.median('rps'):,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) | {p50:.2f} "
        f"| {p99:.2f} | {p99 / p50 if p50 else float('nan'):.1f} | {cell.errors} "
        f"| {cell.median('pss_mb'):.0f} | {cell.median('cpu_ms_per_request'):.2f} "
        f"| {statistics.median(ready):.1f} | {max(run['other_cores'] for run in cell.runs):.2f} | "
        + " | ".join(times(ratio(cell, base)) for base in bases)
        + " |"
    )


def check_aims(cells: dict[tuple[Any, ...], Cell], kinds: list[str]) -> tuple[list[str], bool]:
    """The aims, one line each, and whether all were met."""
    lines, all_met = [], True

    def check(text: str, value: float | None, aim: float, *, most: bool = False) -> None:
        nonlocal all_met
        met = value is not None and (value <= aim if most else value >= aim)
        all_met = all_met and met
        verdict = "NOT checked" if value is None else ("met" if met else "NOT met")
        lines.append(f"{text} (aim {'<=' if most else '>='} {aim:g}): {verdict}")

    for kind in kinds:
        for c in (1, 32):
            gen = cells.get((kind, "generated", "/predict", c))
            onnx = cells.get((kind, "handwritten-onnx", "/predict", c))
            r = ratio(gen, onnx)
            check(
                f"- {kind}, c={c}: generated req/s {times(r)} hand-written ONNX's",
                r,
                AIM_VS_ONNX[c],
            )
            r = ratio(gen, cells.get((kind, "fastapi", "/predict", c)))
            check(
                f"- {kind}, c={c}: generated req/s {times(r)} FastAPI + sklearn's", r, AIM_RPS[kind]
            )
            if gen is not None and gen.runs and c == 1:
                tail = gen.median("p99_ms") / gen.median("p50_ms")
                text = f"- {kind}, c=1: generated p99/p50 {tail:.1f}"
                check(text, tail, AIM_ONNX_P99_OVER_P50, most=True)
            if gen is not None and gen.errors:
                check(f"- {kind}, c={c}: generated failed requests", gen.errors, 0, most=True)
        gen = cells.get((kind, "generated", "/predict", 32))
        r = ratio(gen, cells.get((kind, "handwritten-onnx", "/predict", 32)), "pss_mb")
        check(
            f"- {kind}: generated PSS {times(r)} hand-written ONNX's", r, AIM_PSS_VS_ONNX, most=True
        )
    return lines, all_met


def render(
    cells: dict[tuple[Any, ...], Cell],
    runtimes: dict[str, str],
    args: argparse.Namespace,
    failures: list[str],
) -> tuple[str, bool]:
    """The markdown section, and whether every aim was met."""
    lines = [
        HEADING,
        "",
        "Written by `python bench/serve/bench_generated.py` (see `bench/serve/README.md`); "
        "replaced on each run.",
        "",
        f"- Command: `python bench/serve/bench_generated.py --repeat {args.repeat} "
        f"--duration {args.duration:g} --warmup {args.warmup:g}`; measured "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with wrk (closed loop, keep-alive, "
        f"one thread), {args.duration:g} s per level after {args.warmup:g} s warm-up, median of "
        f"{args.repeat} fresh server run(s), runs alternating between servers.",
        f"- Machine: {cpu_model()}, {os.cpu_count()} CPUs shared by server and load generator; "
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}; "
        f"{versions()}.",
        "- Models: `bench/serve/wine_serving.ipynb` converted by `nb2prod convert`, each kind "
        "trained by the project's `python -m wine_serving.train --model-kind KIND`. "
        "`handwritten-onnx` (`handwritten_onnx.py`: FastAPI, uvloop, httptools, one "
        "`InferenceSession`, `async def`) serves the `model.onnx` the generated service serves; "
        "`fastapi` (`handwritten_fastapi.py`, for reference) the trained scikit-learn estimator, "
        "exported with joblib (checked equal to `models.py`'s). Generated service runtime "
        "(`model.json`): " + "; ".join(f"{k}: **{v}**" for k, v in runtimes.items()) + ".",
        "- `generated-no-fast` is the generated service with `NB2PROD_FAST_PATH=0`: every "
        "request through BentoML's dispatch, as before the fast path (`fast_path.py`).",
        "- Floors (model `-`): `bento-floor` (`bento_floor.py`) is BentoML answering a constant "
        "with the generated service's `@bentoml.service(...)` settings; `trivial-asgi` is plain "
        "ASGI under uvicorn answering a constant. `of ... floor` = req/s over the floor's.",
        "- Payload: `bench/serve/artifacts/row.json` (one row) for every `/predict`; the same "
        "row as a one-element JSON list for `/predict_batch`. PSS summed over the server's "
        "processes after the load; server CPU per request; ready = seconds from starting the "
        "command to the first 200 of its ready path (cold start); other load = CPU used by "
        "everything else (worst run).",
        "",
        "| model | server | endpoint | conc. | req/s (min-max) | p50 ms | p99 ms | p99/p50 "
        "| errors | PSS MB | server CPU ms/req | ready s | other load (cores) "
        "| vs hand-written ONNX | vs FastAPI + sklearn | of BentoML floor | of ASGI floor |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: |",
    ]
    models = [*KINDS, FLOOR]
    for key in sorted(cells, key=lambda k: (models.index(k[0]), ORDER[(k[1], k[2])], k[3])):
        if cells[key].runs:
            lines.append(table_row(cells[key], cells))
    aims, all_met = check_aims(cells, [k for k in KINDS if any(m == k for m, *_ in cells)])
    lines += ["", "Aims:", "", *aims]
    if failures:
        lines += ["", "Failures:", "", *[f"- {f}" for f in failures]]
    return "\n".join(lines) + "\n", all_met and not failures


def write_section(path: Path, section: str) -> None:
    """Replace this script's section in ``path`` (from its heading to the next ``## ``), or
    append it; everything else in the file is kept."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find("\n" + HEADING + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        rest = text[end:] if end >= 0 else ""
        text = text[: start + 1] + section + rest
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="fresh runs per server (median)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per level")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="wait up to this long for a quiet machine before each run",
    )
    parser.add_argument("--model", choices=KINDS, action="append", help="kind(s); default both")
    parser.add_argument("--markdown", type=Path, default=DOCS, help="file to write the section")
    parser.add_argument("--no-markdown", action="store_true", help="only print the table")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: tmp)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeat < 1 or args.duration <= 0 or args.warmup < 0:
        print("error: --repeat, --duration must be positive", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("error: wrk is not on PATH (apt-get install wrk)", file=sys.stderr)
        return 2
    kinds: list[str] = args.model or list(KINDS)
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        return bench(args.keep.resolve(), kinds, args)
    with tempfile.TemporaryDirectory(prefix="nb2prod-bench-generated-") as tmp:
        return bench(Path(tmp), kinds, args)


def bench(work: Path, kinds: list[str], args: argparse.Namespace) -> int:
    if not all(
        (ARTIFACTS / name).exists() for name in ("row.json", *[f"{k}.joblib" for k in kinds])
    ):
        run([sys.executable, str(HERE / "models.py"), "--out", str(ARTIFACTS)], cwd=REPO)
    row = json.loads((ARTIFACTS / "row.json").read_text(encoding="utf-8"))
    batch_body = work / "rows_list.json"
    batch_body.write_text(json.dumps([row]) + "\n", encoding="utf-8")

    failures: list[str] = []
    plan: list[Server] = []
    runtimes: dict[str, str] = {}
    try:
        project, cls = convert(work)
        print(f"generated service class: {cls}", file=sys.stderr)
        for kind in kinds:
            env, exported, runtimes[kind], onnx = train_and_export(project, work, kind)
            plan += servers(kind, project, cls, env, exported, onnx, batch_body)
            if onnx is None:
                failures.append(f"{kind}: no ONNX twin, so no hand-written ONNX Runtime server")
        plan += floor_servers(service_config(project, cls, env), env, project)
    except StepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    cells: dict[tuple[Any, ...], Cell] = {}
    for repeat in range(args.repeat):
        for index, server in enumerate(plan):
            print(
                f"run {repeat + 1}/{args.repeat}: {server.model} {server.label} {server.url_path}",
                file=sys.stderr,
            )
            if not measure(server, args, work / f"run-{index}.json", cells):
                failures.append(
                    f"run {repeat + 1}: {server.model} {server.label} "
                    f"{server.url_path} failed (see the log above)"
                )

    section, all_met = render(cells, runtimes, args, failures)
    print(section)
    if not args.no_markdown:
        write_section(args.markdown, section)
        print(f"wrote the section into {args.markdown}", file=sys.stderr)
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
