"""Time ``nb2prod verify`` against the least work that could prove the same thing.

``nb2prod verify OUT`` runs the project's copy of the notebook and the
generated training, then compares them; it cannot do less than those two runs.
So each example's *floor* is

* a plain ``nbclient`` run of the same notebook (``NotebookClient`` with the
  ``python3`` kernel, nothing saved, cwd = the notebook's folder), in a child
  interpreter, and
* a plain run of the generated training, ``python -m <package>.train
  --output-dir <tmp>`` with ``PYTHONPATH=<OUT>/src`` and a temporary
  ``BENTOML_HOME``,

timed one after the other (the floor as specified; the aim is verify / floor
<= 1.2) and also started together, the tighter floor for a verify that runs
both sides at once (as it now does).

For the 200-cell notebook (``bench/data/notebook_200.ipynb``) the comparison is
with what a user runs today to check a notebook still works: the ``papermill``
CLI with its default per-cell save (``--request-save-on-cell-execute``).

Every measurement is whole processes on the wall clock (``time.perf_counter``
around ``subprocess.run``), interpreter start-up and imports included. Each
notebook is converted once (``nb2prod convert``, not timed), which already
runs the generated pipeline and warms the OS file cache and the libraries'
``.pyc`` files, so no warm-up run is needed by default (a first verify was no
slower than the next ones; ``--warmup N`` adds untimed verify runs). Then every
command gets ``--runs`` timed runs, the commands taking turns run by run (who
goes first rotates) so drift in machine load hits all alike. Every child gets a
temporary ``BENTOML_HOME`` and this interpreter's ``bin`` first on ``PATH`` (as
``verify`` gives the notebook, so ``!pip`` cells reach the same pip).

Exit codes: 0 done; 1 a run failed or verify reported a difference; 2 bad
arguments or a notebook is missing.

Usage::

    python bench/run_verify.py --runs 5 --markdown docs/benchmarks.md
    python bench/run_verify.py --runs 1 --examples wine_classifier
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Shared with the convert benchmark (same folder, so importable when run as a script).
from run_convert import BenchError, _tail, cpu_description, write_markdown

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "wine_classifier": REPO_ROOT / "examples" / "wine_classifier.ipynb",
    "diabetes_regression": REPO_ROOT / "examples" / "diabetes_regression.ipynb",
    "messy_churn": REPO_ROOT / "examples" / "messy_churn.ipynb",
    "notebook_200": REPO_ROOT / "bench" / "data" / "notebook_200.ipynb",
}
PAPERMILL_CASES = {"notebook_200"}  # compared with papermill; the others with floors
AIM = 1.2
TITLE = "## verify: nb2prod verify against its floor and papermill"
VERIFY_MODULES = ("commands/verify.py", "run/verify_child.py", "run/notebook_run.py")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_ARGS = 2

# The floor's notebook run: nbclient alone, in its own interpreter, nothing saved.
NBCLIENT_SCRIPT = """\
import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(
    nb, kernel_name="python3", timeout=1800, resources={"metadata": {"path": sys.argv[2]}}
)
client.execute()
"""


@dataclass
class Series:
    """Wall seconds of one command (or set of commands) on one notebook."""

    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def spread(self) -> str:
        """Median with min-max, for the table."""
        return f"{self.median:.2f} ({min(self.times):.2f}-{max(self.times):.2f})"


@dataclass
class Case:
    """One notebook: verify, and what it is compared with, timed on its project."""

    name: str
    notebook: Path
    code_cells: int
    series: dict[str, Series]  # verify; floor, floor_parallel, notebook, training | papermill

    def ratio(self, baseline: str) -> float:
        return self.series["verify"].median / self.series[baseline].median

    def ratios(self, baseline: str) -> str:
        """Ratio of medians, and of minimums (less sensitive to other work on the machine)."""
        fastest = min(self.series["verify"].times) / min(self.series[baseline].times)
        return f"{self.ratio(baseline):.2f}× (min {fastest:.2f}×)"


def child_env(scratch: Path) -> dict[str, str]:
    """Environment of every timed child: no colours, own BentoML store, our bin first."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "NO_COLOR": "1",
        "BENTOML_HOME": str(scratch / "bentoml"),
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
    }


def run(argv: list[str], cwd: Path, env: dict[str, str], what: str) -> float:
    """Run one command to completion; its wall seconds, or `BenchError` with its tail."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {done.returncode}): {shlex.join(argv)}\n"
            f"--- stdout ---\n{_tail(done.stdout.decode(errors='replace'))}\n"
            f"--- stderr ---\n{_tail(done.stderr.decode(errors='replace'))}"
        )
    return elapsed


def convert(notebook: Path, out: Path, env: dict[str, str]) -> float:
    """Convert once, as a user would (with the service when the notebook has a model)."""
    argv = [sys.executable, "-m", "nb2prod", "convert", str(notebook), "-o", str(out)]
    return run(argv, REPO_ROOT, env, f"nb2prod convert {notebook.name}")


def time_verify(project: Path, env: dict[str, str]) -> float:
    """`nb2prod verify OUT`, the whole CLI process."""
    argv = [sys.executable, "-m", "nb2prod", "verify", str(project)]
    return run(argv, REPO_ROOT, env, f"nb2prod verify {project.name}")


@dataclass(frozen=True)
class Command:
    """One child process of the floor."""

    what: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]


def floor_commands(
    project: Path, notebook: Path, package: str, env: dict[str, str], work: Path
) -> list[Command]:
    """The floor's two runs: nbclient on the notebook, the generated training."""
    train_env = {
        **env,
        "PYTHONPATH": os.pathsep.join([str(project / "src"), *sys.path]),
        "MPLBACKEND": "Agg",  # as verify runs the training
    }
    nbclient = [sys.executable, "-c", NBCLIENT_SCRIPT, str(notebook), str(notebook.parent)]
    train = [sys.executable, "-m", f"{package}.train", "--output-dir", str(work / "artifacts")]
    return [
        Command(f"nbclient {notebook.name}", nbclient, notebook.parent, env),
        Command(f"{package}.train", train, work, train_env),
    ]


def time_floor(commands: list[Command]) -> tuple[float, list[float]]:
    """The floor as specified: one run after the other; (total, each)."""
    start = time.perf_counter()
    each = [run(c.argv, c.cwd, c.env, c.what) for c in commands]
    return time.perf_counter() - start, each


def time_floor_parallel(commands: list[Command], work: Path) -> float:
    """The same runs started together: the floor for a verify that overlaps them."""
    start = time.perf_counter()
    running = []
    for i, command in enumerate(commands):
        log_path = work / f"parallel-{i}.log"
        with open(log_path, "wb") as log_file:  # the child keeps its own descriptor
            process = subprocess.Popen(
                command.argv, cwd=command.cwd, env=command.env, stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip
        running.append((command, process, log_path))
    for _, process, _ in running:
        process.wait()
    elapsed = time.perf_counter() - start
    for command, process, log_path in running:
        if process.returncode != 0:
            raise BenchError(
                f"{command.what} failed (exit {process.returncode}) in the parallel floor: "
                f"{shlex.join(command.argv)}\n{_tail(log_path.read_text(errors='replace'))}"
            )
    return elapsed


def time_papermill(notebook: Path, env: dict[str, str], scratch: Path) -> float:
    """The papermill CLI with its defaults (it saves the output after every cell)."""
    executed = Path(tempfile.mkdtemp(prefix="papermill-", dir=scratch)) / notebook.name
    argv = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook),
        str(executed),
        "-k",
        "python3",
        "--cwd",
        str(notebook.parent),
    ]
    return run(argv, REPO_ROOT, env, f"papermill {notebook.name}")


def measure(
    name: str, source: Path, runs: int, warmup: int, scratch: Path, parallel_floor: bool = True
) -> Case:
    """Convert `source` once, then time verify and its baselines, taking turns."""
    env = child_env(scratch)
    project = scratch / name
    seconds = convert(source, project, env)
    manifest = json.loads((project / "nb2prod.json").read_text())
    notebook = project / "notebooks" / manifest["source"]["path"]
    log(f"{name}: converted in {seconds:.1f} s into {project}")
    with_papermill = name in PAPERMILL_CASES
    kinds = ["verify"]
    kinds += ["papermill"] if with_papermill else ["floor", "notebook", "training"]
    kinds += ["floor_parallel"] if parallel_floor and not with_papermill else []
    series = {kind: Series() for kind in kinds}
    for _ in range(warmup):  # warms what both sides share: the generated package's .pyc
        log(f"  {name:<20} warm-up    verify {time_verify(project, env):.2f}")
    package = manifest["package"]

    def floor() -> dict[str, float]:
        work = Path(tempfile.mkdtemp(prefix="floor-", dir=scratch))
        total, (notebook_s, training_s) = time_floor(
            floor_commands(project, notebook, package, env, work)
        )
        return {"floor": total, "notebook": notebook_s, "training": training_s}

    def floor_parallel() -> dict[str, float]:
        work = Path(tempfile.mkdtemp(prefix="floor-parallel-", dir=scratch))
        commands = floor_commands(project, notebook, package, env, work)
        return {"floor_parallel": time_floor_parallel(commands, work)}

    steps: list[Callable[[], dict[str, float]]] = [lambda: {"verify": time_verify(project, env)}]
    if with_papermill:
        steps.append(lambda: {"papermill": time_papermill(notebook, env, scratch)})
    else:
        steps += [floor, floor_parallel] if parallel_floor else [floor]
    for i in range(runs):
        seconds_of: dict[str, float] = {}
        for step in steps[i % len(steps) :] + steps[: i % len(steps)]:  # who goes first rotates
            seconds_of.update(step())
        for kind, value in seconds_of.items():
            series[kind].times.append(value)
        times = "  ".join(f"{kind} {value:.2f}" for kind, value in sorted(seconds_of.items()))
        log(f"  {name:<20} run {i + 1}/{runs:<6} {times}")
    return Case(name, source, code_cells(source), series)


def code_cells(notebook: Path) -> int:
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    return sum(c.get("cell_type") == "code" for c in cells)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def versions() -> str:
    """Versions of the tools in the race, from this interpreter's environment."""
    from importlib import metadata

    found = []
    for name in ("nb2prod", "papermill", "nbclient", "ipykernel"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def verify_code_hash() -> str:
    """Which verify was timed: a hash of the modules that make it (they are changing)."""
    digest = hashlib.sha256()
    for name in VERIFY_MODULES:
        path = REPO_ROOT / "nb2prod" / name
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:12]


def render_markdown(
    cases: Sequence[Case],
    failures: dict[str, str],
    runs: int,
    warmup: int,
    load: tuple[float, float],
    command: str,
    code: str,
) -> str:
    """The verify section of docs/benchmarks.md: context, the tables, how to reproduce."""
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    lines = [
        TITLE,
        "",
        f"Written by `{command}`; see `bench/README.md`. Replaced on each run.",
        "",
        f"- Measured {today}: whole processes on the wall clock (`time.perf_counter` around "
        f"`subprocess.run`), median of {runs} runs (min-max), {warmup} warm-up run(s) "
        "of verify first, verify and its baselines taking turns (who goes first rotates). "
        "Each notebook converted once "
        "(`nb2prod convert`, not timed); verify runs with the default parameters.",
        f"- Machine: {cpu_description()}, shared with other work (load average "
        f"{load[0]:.2f} before, {load[1]:.2f} after); Python {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}; {versions()}; "
        f"verify code sha256 `{code}` ({' + '.join(f'`nb2prod/{m}`' for m in VERIFY_MODULES)}).",
    ]
    floors = [c for c in cases if "floor" in c.series]
    if floors:
        lines += [
            "",
            "Floor: a plain `nbclient` run of the project's copy of the notebook (`python3` "
            "kernel, nothing saved, cwd = its folder, in a child interpreter) and the "
            "generated training (`python -m <package>.train --output-dir <tmp>`, "
            "`PYTHONPATH=<OUT>/src`). *One after the other* is the floor as specified; "
            "verify now runs the two sides at the same time, so the tighter floor is the "
            "same two runs *started together* (on 2 cores they compete for CPU). verify "
            "also runs the generated predict function and the service code and compares.",
            "",
            "| notebook | code cells | nb2prod verify s | floor s, one after the other "
            "(notebook + training) | verify / floor | aim <= 1.2× "
            "| floor s, started together | verify / that |",
            "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        ]
        for case in floors:
            s_ = case.series
            parts = f"{s_['notebook'].median:.2f} + {s_['training'].median:.2f}"
            aim = "met" if case.ratio("floor") <= AIM else "not met"
            together = "not measured | -"  # --no-parallel-floor
            if "floor_parallel" in s_:
                together = f"{s_['floor_parallel'].spread()} | {case.ratios('floor_parallel')}"
            lines.append(
                f"| `{shown(case.notebook)}` | {case.code_cells} | {s_['verify'].spread()} "
                f"| {s_['floor'].spread()} ({parts}) | {case.ratios('floor')} | {aim} "
                f"| {together} |"
            )
    against_papermill = [c for c in cases if "papermill" in c.series]
    if against_papermill:
        lines += [
            "",
            "papermill: `python -m papermill NB <tmp>/out.ipynb -k python3 --cwd <its folder>` "
            "at its defaults, which save the notebook after every cell: what checking that a "
            "notebook still runs costs today, without running or comparing generated code.",
            "",
            "| notebook | code cells | nb2prod verify s | papermill s | verify / papermill |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for case in against_papermill:
            s_ = case.series
            lines.append(
                f"| `{shown(case.notebook)}` | {case.code_cells} | {s_['verify'].spread()} "
                f"| {s_['papermill'].spread()} | {case.ratios('papermill')} |"
            )
    if failures:
        lines += ["", "Not measured, because a run failed:", ""]
        for name, error in failures.items():
            lines.append(f"- `{shown(EXAMPLES[name])}`: {failure_summary(error)}")
    lines += [
        "",
        "Reproduce from the repository root (nb2prod installed with `.[dev]`):",
        "",
        "```sh",
        "make bench-verify",
        "# which runs:",
        "python bench/run_verify.py --runs 5 --markdown docs/benchmarks.md",
        "```",
    ]
    return "\n".join(lines) + "\n"


def failure_summary(error: str) -> str:
    """The failed command, nb2prod's error line and the exception, without scratch paths."""
    lines = error.splitlines()
    keep = [
        line.strip()
        for line in lines[1:]
        if line.startswith("nb2prod:") or re.match(r"[\w.]+(Error|Exception): ", line)
    ]
    text = "; ".join([lines[0].split(":", 1)[0], *keep]).rstrip(":")
    scratch = re.escape(tempfile.gettempdir()) + r"/nb2prod-bench-verify-\w+"
    return re.sub(scratch, "<tmp>", text).replace("`", "'")


def shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time `nb2prod verify` against its floor (nbclient + training) and "
        "papermill (whole processes).",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=0, help="untimed verify runs per notebook first (default 0)"
    )
    parser.add_argument(
        "--examples",
        nargs="+",
        choices=sorted(EXAMPLES),
        metavar="NAME",
        help=f"notebooks to time (default all: {', '.join(EXAMPLES)})",
    )
    parser.add_argument(
        "--no-parallel-floor",
        dest="parallel_floor",
        action="store_false",
        help="skip the floor with both runs started together (saves about a fifth of the time)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also put the section into FILE, replacing its earlier verify section",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Convert, time, print the markdown section, and write it with `--markdown`."""
    args = parse_args(argv)
    names = list(dict.fromkeys(args.examples or EXAMPLES))
    missing = [str(EXAMPLES[n]) for n in names if not EXAMPLES[n].is_file()]
    if missing:
        log(f"error: notebook(s) not found: {', '.join(missing)}")
        return EXIT_BAD_ARGS
    command = shlex.join(
        ["python", "bench/run_verify.py", "--runs", str(args.runs)]
        + (["--warmup", str(args.warmup)] if args.warmup else [])
        + (["--examples", *names] if args.examples else [])
    )
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    code = verify_code_hash()
    cases: list[Case] = []
    failures: dict[str, str] = {}  # a failing notebook is reported, the others still run
    with tempfile.TemporaryDirectory(prefix="nb2prod-bench-verify-") as folder:
        for name in names:
            try:
                case = measure(
                    name, EXAMPLES[name], args.runs, args.warmup, Path(folder), args.parallel_floor
                )
                cases.append(case)
            except BenchError as error:
                log(f"error: {error}")
                failures[name] = str(error)
    load = (load_before, os.getloadavg()[0])
    log(f"done in {time.perf_counter() - started:.0f} s")
    if verify_code_hash() != code:  # verify is being worked on: say which one was timed
        code = f"{code}, changed to {verify_code_hash()} during the run"
        log(f"warning: nb2prod verify changed during the run ({code})")
    section = render_markdown(cases, failures, args.runs, args.warmup, load, command, code)
    print(section, end="")
    if args.markdown:
        write_markdown(args.markdown, section, append=False)
        log(f"wrote the verify section into {args.markdown}")
    return EXIT_FAILED if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
