"""Benchmark serving the PyTorch CNN: the generated service (ONNX Runtime and torch eager)
against a hand-written FastAPI + torch service on the same weights, in one run.

1. convert ``examples/digits_cnn.ipynb`` with ``python -m nb2prod convert`` and train it
   with the project's ``python -m digits_cnn.train`` (own ``BENTOML_HOME``);
2. copy that model store twice and set the runtime in each copy's ``serving.json``
   (``{"trained_on": ..., "runtime": "onnx"|"torch"}``, what the generated
   ``model_store.load_model(stored, runtime="best")`` reads): the generated service,
   unchanged, then serves the ONNX Runtime twin from one store and the torch module from
   the other. Training's own choice is reported (``model.json``'s ``runtime``);
3. export the trained module's ``state_dict`` for ``handwritten_torch.py`` and compute
   reference answers with torch in a child process: the rows of the project's
   ``examples/request.json`` plus the digits image the model is least sure of;
4. with ``run_serve.py``'s harness (wrk, closed loop, exact percentiles, PSS, server
   CPU), fresh server per run, runs alternating between servers: (a) generated, ONNX
   Runtime; (b) generated, torch eager; (b') the same with ``OMP_NUM_THREADS=1`` in its
   environment (a diagnostic: torch's thread count is the only difference); (c)
   hand-written FastAPI + torch; (d) ``trivial_asgi.py``, the floor. ``POST /predict``
   with one row at concurrency 1 and 32. Before the load, every server but the floor
   answers every reference row: digits must equal torch's and probabilities be within
   1e-4, or the benchmark stops (exit 1);
5. time, in-process, the steps a request goes through in the generated and hand-written
   code (where the time goes), and write the section *Serving the CNN (PyTorch)* of
   ``docs/benchmarks.md`` (replaced on each run; a ``### Reading`` subsection written by
   hand under it is kept).

Usage (repository root; a venv with nb2prod's dependencies, torch, onnxruntime,
bentoml, fastapi, uvicorn[standard]; ``wrk`` on PATH)::

    python bench/serve/bench_cnn.py --repeat 2 --duration 8 --warmup 3

Exit codes: 0 done; 1 a step or server failed, answers disagree, or requests failed
under load; 2 bad arguments or no wrk.
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
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import run_serve as rs  # noqa: E402 - the harness, beside this file

NOTEBOOK = REPO / "examples" / "digits_cnn.ipynb"
PACKAGE = "digits_cnn"
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Serving the CNN (PyTorch)"
KEPT = "### Reading"
ATOL = 1e-4  # probabilities of two servers for the same row, at most this far apart
LEVELS = (1, 32)

# In the project's environment: the state dict for the hand-written service, and
# torch's answers for the reference rows (request.json's rows + the least sure image).
PREPARE_SCRIPT = """
import json, sys
import bentoml, torch
from sklearn.datasets import load_digits
from digits_cnn.model_store import MODEL_NAME, load_model
state_out, request, answers_out = sys.argv[1:4]
model = load_model(bentoml.models.get(MODEL_NAME + ":latest"), runtime="trained")
torch.save(model.state_dict(), state_out)
rows = [row["input"] for row in json.load(open(request))["body"]]
images = torch.tensor(load_digits().images / 16.0, dtype=torch.float32).unsqueeze(1)
with torch.inference_mode():
    unsure = int(torch.softmax(model(images), dim=1).max(dim=1).values.argmin())
    rows.append(images[unsure].tolist())
    probabilities = torch.softmax(model(torch.tensor(rows)), dim=1)
json.dump({"rows": rows, "probabilities": probabilities.tolist(),
           "digits": probabilities.argmax(dim=1).tolist(), "unsure_image": unsure,
           "threads": torch.get_num_threads()}, open(answers_out, "w"))
"""

# In the project's environment (store forced to ONNX): median microseconds of each step
# a /predict request goes through, generated and hand-written, one row, in-process.
STEPS_SCRIPT = """
import io, json, os, statistics, sys, time
import bentoml, numpy as np, torch
from digits_cnn import pipeline, request_guard, schema
from digits_cnn.model_store import MODEL_NAME, load_model
body, out = open(sys.argv[1], "rb").read(), sys.argv[2]
sys.path.insert(0, sys.argv[3])
import handwritten_torch as hw  # sets torch to 1 thread: time the generated steps first
sys.stdout = open(os.devnull, "w")  # the predict section prints its digits
stored = bentoml.models.get(MODEL_NAME + ":latest")
onnx, module = load_model(stored), load_model(stored, runtime="trained")
torch.set_num_threads(int(sys.argv[4]))
def us(f, n=2000):
    for _ in range(50): f()
    t = []
    for _ in range(n):
        s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return round(statistics.median(t) * 1e6, 1)
row = schema.DigitsCnnRow.model_validate_json(body)
x = schema.to_input([row])
out_ = pipeline.predict(onnx, x, "cpu")
res = {}
res["gen: guard (json.loads + depth)"] = us(lambda: request_guard._depth(json.loads(body)))
res["gen: row model (pydantic, strict, ranges, shape)"] = us(
    lambda: schema.DigitsCnnRow.model_validate_json(body))
res["gen: to_input"] = us(lambda: schema.to_input([row]))
res["gen: predict section, ONNX Runtime twin"] = us(lambda: pipeline.predict(onnx, x, "cpu"))
res["gen: predict section, torch eager (%d threads)" % torch.get_num_threads()] = us(
    lambda: pipeline.predict(module, x, "cpu"))
with torch.inference_mode():
    res["gen: module alone, ONNX Runtime"] = us(lambda: onnx(x))
    res["gen: module alone, torch (%d threads)" % torch.get_num_threads()] = us(
        lambda: module(x))
    torch.set_num_threads(1)
    res["gen: module alone, torch (1 thread)"] = us(lambda: module(x))
res["gen: print(digit) in the predict section"] = us(lambda: print(out_[1]))
res["gen: to_predictions + JSON"] = us(
    lambda: schema.to_predictions({"probabilities": out_[0], "digit": out_[1]})[0]
    .model_dump_json())
res["hand: row model (pydantic, shape)"] = us(lambda: hw.Image.model_validate_json(body))
image = hw.Image.model_validate_json(body)
def hand():
    t = torch.from_numpy(np.asarray(image.input, dtype=np.float32)).unsqueeze(0)
    with torch.inference_mode():
        p = torch.softmax(hw.model(t), dim=1)[0]
    return hw.Prediction(probabilities=p.tolist(), digit=int(p.argmax())).model_dump_json()
res["hand: tensor + forward + softmax + JSON (1 thread)"] = us(hand)
json.dump(res, open(out, "w"))
"""


class StepError(Exception):
    """A step (convert, train, prepare) failed; the benchmark cannot go on."""


@dataclass(frozen=True)
class Variant:
    """One server of the comparison."""

    key: str
    title: str
    config: rs.ServerConfig
    checked: bool = True  # answers compared with torch's (not the floor)


def run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StepError(
            f"{shlex.join(cmd)} (in {cwd}) exited {proc.returncode}\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
        )
    return proc.stdout


def project_env(project: Path, home: Path) -> dict[str, str]:
    return {
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONPATH": str(project / "src"),
    }


def service_class(project: Path) -> str:
    source = (project / "service.py").read_text(encoding="utf-8")
    match = re.search(r"^@bentoml\.service\b.*?^class (\w+)", source, re.M | re.S)
    if not match:
        raise StepError(f"no @bentoml.service class in {project / 'service.py'}")
    return match.group(1)


def forced_store(trained: Path, home: Path, runtime: str) -> None:
    """A copy of the trained model store whose ``serving.json`` says ``runtime``."""
    shutil.copytree(trained, home, symlinks=True)
    found = list(home.glob("models/*/*/serving.json"))
    if len(found) != 1:
        raise StepError(f"expected one serving.json under {home}/models, found {len(found)}")
    serving = json.loads(found[0].read_text(encoding="utf-8"))
    if runtime == "onnx" and not (found[0].parent / "model.onnx").exists():
        raise StepError("training wrote no ONNX twin: cannot serve with ONNX Runtime")
    serving["runtime"] = runtime
    found[0].write_text(json.dumps(serving), encoding="utf-8")


def prepare(work: Path) -> tuple[Path, dict[str, Any], dict[str, Any], list[Variant]]:
    """Convert, train, force the runtimes, export the state dict, compute torch's answers."""
    project = work / "project"
    print(f"converting {NOTEBOOK.relative_to(REPO)} -> {project}", file=sys.stderr)
    run([sys.executable, "-m", "nb2prod", "convert", str(NOTEBOOK), "-o", str(project)], cwd=REPO)
    cls = service_class(project)
    trained_home = work / "bentoml-trained"
    env = {**os.environ, **project_env(project, trained_home)}
    print(f"training with python -m {PACKAGE}.train", file=sys.stderr)
    run(
        [sys.executable, "-m", f"{PACKAGE}.train", "--output-dir", str(work / "artifacts")],
        cwd=project,
        env=env,
    )
    info = json.loads((work / "artifacts" / "model.json").read_text(encoding="utf-8"))
    homes = {rt: work / f"bentoml-{rt}" for rt in ("onnx", "torch")}
    for runtime, home in homes.items():
        forced_store(trained_home, home, runtime)
    state = work / "state_dict.pt"
    answers_path = work / "answers.json"
    run(
        [
            sys.executable,
            "-c",
            PREPARE_SCRIPT,
            str(state),
            str(project / "examples" / "request.json"),
            str(answers_path),
        ],
        cwd=project,
        env=env,
    )
    answers = json.loads(answers_path.read_text(encoding="utf-8"))
    payload = work / "row.json"
    payload.write_text(json.dumps({"input": answers["rows"][0]}) + "\n", encoding="utf-8")

    bento = f"{{python}} -m bentoml serve service:{cls} --host 127.0.0.1 --port {{port}}"
    uvicorn = "{python} -m uvicorn %s:app --host 127.0.0.1 --port {port}"
    common = {"url_path": "/predict", "payload": payload}
    variants = [
        Variant(
            "gen-onnx",
            "generated, ONNX Runtime",
            rs.ServerConfig(
                label="gen-onnx",
                cmd=bento,
                cwd=project,
                ready_path="/readyz",
                env=project_env(project, homes["onnx"]),
                **common,
            ),
        ),
        Variant(
            "gen-torch",
            "generated, torch eager",
            rs.ServerConfig(
                label="gen-torch",
                cmd=bento,
                cwd=project,
                ready_path="/readyz",
                env=project_env(project, homes["torch"]),
                **common,
            ),
        ),
        Variant(
            "gen-torch-1t",
            "generated, torch eager, `OMP_NUM_THREADS=1` (diagnostic)",
            rs.ServerConfig(
                label="gen-torch-1t",
                cmd=bento,
                cwd=project,
                ready_path="/readyz",
                env={**project_env(project, homes["torch"]), "OMP_NUM_THREADS": "1"},
                **common,
            ),
        ),
        Variant(
            "handwritten",
            "hand-written FastAPI + torch",
            rs.ServerConfig(
                label="handwritten",
                cmd=uvicorn % "handwritten_torch" + " --loop uvloop --http httptools",
                cwd=HERE,
                ready_path="/health",
                env={"MODEL_PATH": str(state)},
                baseline=True,
                **common,
            ),
        ),
        Variant(
            "trivial",
            "trivial ASGI (floor)",
            rs.ServerConfig(
                label="trivial",
                cmd=uvicorn % "trivial_asgi" + " --loop uvloop --http httptools",
                cwd=HERE,
                ready_path="/predict",
                **common,
            ),
            checked=False,
        ),
    ]
    return project, info, answers, variants


def answer_checker(answers: dict[str, Any], agreement: dict[str, float]) -> Any:
    """``check`` for run_server: every reference row, digit equal to torch's, probabilities
    within ATOL; records the largest gap per server in ``agreement``."""

    def check(server: rs.Server, _answer: str) -> None:
        label = server.config.label
        worst = 0.0
        for index, row in enumerate(answers["rows"]):
            request = urllib.request.Request(
                server.base_url + "/predict",
                data=json.dumps({"input": row}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    got = json.loads(response.read())
            except (OSError, ValueError) as exc:  # HTTP errors, timeouts, not JSON
                raise rs.BenchError(f"{label}: row {index}: no answer ({exc})") from exc
            want = answers["probabilities"][index]
            probabilities = got.get("probabilities")
            if got.get("digit") != answers["digits"][index] or len(probabilities or ()) != len(
                want
            ):
                raise rs.BenchError(
                    f"{label}: row {index}: answered {got}, torch says digit "
                    f"{answers['digits'][index]} with {want}"
                )
            gap = max(abs(a - b) for a, b in zip(probabilities, want, strict=True))
            if gap > ATOL:
                raise rs.BenchError(
                    f"{label}: row {index}: probabilities differ from torch's by {gap:.2g} "
                    f"(> {ATOL:g}): {probabilities} vs {want}"
                )
            worst = max(worst, gap)
        agreement[label] = max(agreement.get(label, 0.0), worst)
        print(f"    answers agree with torch's on {len(answers['rows'])} rows", file=sys.stderr)

    return check


def measure(
    variants: list[Variant], args: argparse.Namespace, answers: dict[str, Any], logs: Path
) -> tuple[dict[tuple[str, int], rs.Row], dict[str, float]]:
    """``--repeat`` rounds of fresh runs, alternating servers (the order rotates)."""
    client = rs.WrkClient(1, 10.0, logs)
    rows = {(v.key, c): rs.Row(v.config, c) for v in variants for c in LEVELS}
    agreement: dict[str, float] = {}
    check = answer_checker(answers, agreement)
    for repeat in range(args.repeat):
        shift = repeat % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            print(f"run {repeat + 1}/{args.repeat}: {variant.title}", file=sys.stderr)
            if args.quiet_wait > 0:
                rs.wait_for_quiet(args.quiet_wait)
            results = rs.run_server(
                variant.config,
                client,
                LEVELS,
                args.duration,
                args.warmup,
                60.0,
                logs,
                check if variant.checked else None,
            )
            for level, measurement in results.items():
                rows[(variant.key, level)].runs.append(measurement)
    return rows, agreement


def steps(work: Path, project: Path, payload: Path, threads: int) -> dict[str, float]:
    """Median microseconds of each step of a request, in-process (see STEPS_SCRIPT)."""
    out = work / "steps.json"
    env = {
        **os.environ,
        **project_env(project, work / "bentoml-onnx"),
        "MODEL_PATH": str(work / "state_dict.pt"),
    }
    run(
        [sys.executable, "-c", STEPS_SCRIPT, str(payload), str(out), str(HERE), str(threads)],
        cwd=project,
        env=env,
    )
    return json.loads(out.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- report


def versions() -> str:
    names = ("nb2prod", "torch", "onnxruntime", "onnx", "bentoml", "fastapi", "uvicorn")
    found = []
    for name in (*names, "uvloop", "httptools", "pydantic"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def render(
    variants: list[Variant],
    rows: dict[tuple[str, int], rs.Row],
    agreement: dict[str, float],
    info: dict[str, Any],
    answers: dict[str, Any],
    timings: dict[str, float],
    args: argparse.Namespace,
) -> str:
    other = max((m.other_cores for row in rows.values() for m in row.runs), default=0.0)
    shared = (
        f"shared with other work: up to {other:.2f} cores used by other processes during a "
        "measured level (worst run), so absolute numbers are low and p99 noisy; compare ratios"
        if other > 0.2
        else f"other processes used at most {other:.2f} cores during the measured levels"
    )
    agree = ", ".join(f"{k} {v:.1g}" for k, v in agreement.items())
    lines = [
        HEADING,
        "",
        "Written by `python bench/serve/bench_cnn.py` (see `bench/serve/README.md`); "
        f"replaced on each run, except the `{KEPT[4:]}` subsection below the tables.",
        "",
        f"- Command: `python bench/serve/bench_cnn.py --repeat {args.repeat} "
        f"--duration {args.duration:g} --warmup {args.warmup:g}`; measured "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with wrk (closed loop, "
        f"keep-alive, one thread), {args.duration:g} s per level after {args.warmup:g} s "
        f"warm-up, median of {args.repeat} fresh server run(s) per server, runs alternating "
        "between servers.",
        f"- Machine: {cpu_model()}, {os.cpu_count()} CPUs for server and load generator, "
        f"{shared}; Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}; {versions()}.",
        "- Model: `examples/digits_cnn.ipynb` (a small CNN on 8x8 digits) converted by "
        f"`nb2prod convert` and trained by the project's `python -m {PACKAGE}.train`. "
        f"Training chose `{info.get('runtime')}`: {info.get('runtime_reason')}. The "
        "generated rows serve the same stored model with `serving.json`'s runtime set to "
        "`onnx` or `torch` (generated code unchanged; the diagnostic row only adds "
        "`OMP_NUM_THREADS=1` to the server's environment); the hand-written service loads "
        "the same weights as a state dict (`torch.set_num_threads(1)`, `async def`).",
        f'- Payload: one image, `POST /predict` `{{"input": [[[8 floats] x 8]]}}` (the first '
        "row of the project's `examples/request.json`). Answers checked before each run's "
        f"load on {len(answers['rows'])} rows (request.json's and digits image "
        f"{answers['unsure_image']}, the one the model is least sure of): digits equal to "
        f"torch's, probabilities within {ATOL:g} (largest gap: {agree}).",
        "",
        "| server | conc. | req/s (min-max) | p50 ms | p99 ms | p99/p50 | errors | PSS MB "
        "| server CPU ms/req | other load (cores) | req/s vs hand-written "
        "| CPU/req: hand-written's / this |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for level in LEVELS:
        base = rows[("handwritten", level)]
        for variant in variants:
            row = rows[(variant.key, level)]
            if not row.runs:
                continue
            rps = [m.load.rps for m in row.runs]
            p50, p99 = row.median("p50_ms"), row.median("p99_ms")
            cpu = row.median("cpu_ms_per_request")
            vs = f"{row.median('rps') / base.median('rps'):.2f}x" if base.runs else "n/a"
            eff = f"{base.median('cpu_ms_per_request') / cpu:.2f}x" if base.runs and cpu else "n/a"
            lines.append(
                f"| {variant.title} | {level} | {row.median('rps'):,.0f} "
                f"({min(rps):,.0f}-{max(rps):,.0f}) | {p50:.2f} | {p99:.2f} "
                f"| {p99 / p50 if p50 else 0:.1f} | {row.errors} | {row.median('pss_mb'):.0f} "
                f"| {cpu:.2f} | {max(m.other_cores for m in row.runs):.2f} | {vs} | {eff} |"
            )
    if timings:
        lines += [
            "",
            "Where the time goes, in-process (median us per call, one row, "
            f"`torch.get_num_threads()` = {answers['threads']} by default here; "
            "`gen` = the generated project's code, `hand` = `handwritten_torch.py`):",
            "",
            "| step | us |",
            "| --- | ---: |",
            *(f"| {name} | {value:,.1f} |" for name, value in timings.items()),
        ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace this script's section (from HEADING to the next ``## ``), keeping a KEPT
    subsection of it; append the section when there is none. The rest is kept."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find("\n" + HEADING + "\n")
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        return
    end = text.find("\n## ", start + 1)
    if end < 0:
        end = len(text)
    old = text[start + 1 : end]
    kept = old.find("\n" + KEPT + "\n")
    if kept >= 0:
        section += "\n" + old[kept + 1 :].rstrip("\n") + "\n"
        print(f"kept the '{KEPT}' subsection: check it against the new table", file=sys.stderr)
    path.write_text(text[: start + 1] + section + text[end:], encoding="utf-8")


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
        help="wait up to this long for a quiet machine before each run (0: don't)",
    )
    parser.add_argument("--markdown", type=Path, default=DOCS, help="file to write the section")
    parser.add_argument("--no-markdown", action="store_true", help="only print the section")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: tmp)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeat < 1 or args.duration <= 0 or args.warmup < 0:
        print("error: --repeat and --duration must be positive", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("error: wrk is not on PATH (apt-get install wrk)", file=sys.stderr)
        return 2
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        return bench(args.keep.resolve(), args)
    with tempfile.TemporaryDirectory(prefix="nb2prod-bench-cnn-") as tmp:
        return bench(Path(tmp), args)


def bench(work: Path, args: argparse.Namespace) -> int:
    logs = work / "logs"
    logs.mkdir()
    try:
        project, info, answers, variants = prepare(work)
        rows, agreement = measure(variants, args, answers, logs)
        payload = variants[0].config.payload
        timings = steps(work, project, payload, answers["threads"])
    except (StepError, rs.BenchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    section = render(variants, rows, agreement, info, answers, timings, args)
    print(section)
    if not args.no_markdown:
        write_section(args.markdown, section)
        print(f"wrote the section into {args.markdown}", file=sys.stderr)
    failed = [f"{r.config.label} c={r.concurrency}" for r in rows.values() if r.errors]
    if failed:
        print(f"requests failed under load: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
