"""Time ``nb2prod convert`` against ``jupyter nbconvert --to script`` on one notebook.

Each measurement is a whole process, started with ``subprocess.run`` and timed
on the wall clock with ``time.perf_counter``: interpreter start-up, imports,
reading the notebook and writing the output all count, because that is what a
user waits for. Every tool gets warm-up runs first (not counted, they fill the
OS file cache and write ``.pyc`` files), then ``--runs`` timed runs; the tools
take turns run by run so that drift in machine load hits both alike. Every run
writes to a fresh, empty output folder.

Both tools run with this interpreter (``sys.executable -m ...``) from the
repository root:

* ``python -m nb2prod convert NOTEBOOK -o <tmp>/out``
* ``python -m nbconvert --to script NOTEBOOK --output-dir <tmp>/out``

After each run the script also looks at what the tool wrote: how many files,
how many lines, and whether any ``.py`` file calls ``get_ipython`` (nbconvert's
script does for every magic; nb2prod's project must not).

It prints a markdown table (median, min and max seconds, runs, ratio to
nbconvert, what you get) with the Python version, CPU count and package
versions; ``--markdown FILE`` writes it to a file as well.

Exit codes: 0 done; 1 a run failed, or nb2prod's output calls ``get_ipython``;
2 a tool cannot be started (e.g. nb2prod not importable) or bad arguments.

Usage::

    python bench/run_convert.py --runs 5 --markdown docs/benchmarks.md
    python bench/run_convert.py --tool nbconvert      # nbconvert alone
    python bench/run_convert.py --hyperfine           # time with hyperfine if installed
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOK = REPO_ROOT / "bench" / "data" / "notebook_200.ipynb"
BASELINE = "nbconvert"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2

# Run in a child interpreter from the repository root, exactly as `python -m`
# will see it: reports package versions and whether `-m nb2prod` can start.
_PROBE = r"""
import importlib.metadata as md
import importlib.util
import json

info = {}
for name in ("nbconvert", "nbformat", "nb2prod"):
    try:
        info[name] = md.version(name)
    except md.PackageNotFoundError:
        info[name] = None
for name in ("nbconvert", "nb2prod"):
    try:
        spec = importlib.util.find_spec(name)
        if spec is None:
            info[name + "_error"] = "ModuleNotFoundError: No module named " + repr(name)
            continue
        where = spec.origin or ", ".join(spec.submodule_search_locations or [])
        info[name + "_location"] = where
        if importlib.util.find_spec(name + ".__main__") is None:
            info[name + "_error"] = (
                "it imports (from " + where + ") but has no " + name + "/__main__.py, "
                "so `python -m " + name + "` cannot run"
            )
    except Exception as exc:  # an import error inside the package itself
        info[name + "_error"] = type(exc).__name__ + ": " + str(exc)
if info["nb2prod"] is None and "nb2prod_error" not in info:
    try:
        import nb2prod

        info["nb2prod"] = getattr(nb2prod, "__version__", None)
    except Exception:
        pass
print(json.dumps(info))
"""


class BenchError(Exception):
    """A problem that stops the benchmark; carries the exit code to use."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Tool:
    """One command to time; ``argv`` gets the notebook and a fresh output folder."""

    name: str
    label: str
    argv: Callable[[str, Path], list[str]]
    must_not_call_get_ipython: bool = False

    def display(self, notebook: str) -> str:
        """The command as a user would type it, with placeholders for temp paths."""
        argv = self.argv(notebook, Path("<tmp>/out"))
        return shlex.join(["python", *argv[1:]]).replace("'<tmp>/out'", "<tmp>/out")


TOOLS: dict[str, Tool] = {
    "nb2prod": Tool(
        name="nb2prod",
        label="nb2prod convert --no-service",
        argv=lambda nb, out: [
            *[sys.executable, "-m", "nb2prod", "convert", nb, "-o", str(out), "--no-service"]
        ],
        must_not_call_get_ipython=True,
    ),
    # The full conversion also trains once, to profile the data the service will accept.
    "nb2prod-service": Tool(
        name="nb2prod-service",
        label="nb2prod convert (+ service)",
        argv=lambda nb, out: [sys.executable, "-m", "nb2prod", "convert", nb, "-o", str(out)],
        must_not_call_get_ipython=True,
    ),
    "nbconvert": Tool(
        name="nbconvert",
        label="nbconvert --to script",
        argv=lambda nb, out: [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "script",
            nb,
            "--output-dir",
            str(out),
        ],
    ),
}


@dataclass(frozen=True)
class OutputSummary:
    """What one run wrote: file and line counts and whether it calls get_ipython."""

    files: int
    py_files: int
    lines: int
    py_lines: int
    get_ipython: bool

    def describe(self) -> str:
        """One line for the table.

        E.g. ``1 file, 1,182 lines (1 .py: 1,182 lines), get_ipython: yes``.
        """
        noun = "file" if self.files == 1 else "files"
        calls = "yes" if self.get_ipython else "no"
        return (
            f"{self.files} {noun}, {self.lines:,} lines "
            f"({self.py_files} .py: {self.py_lines:,} lines), get_ipython: {calls}"
        )


@dataclass
class ToolResult:
    """Timings (seconds) and output summaries collected for one tool."""

    tool: Tool
    times: list[float] = field(default_factory=list)
    outputs: list[OutputSummary] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def output(self) -> OutputSummary | None:
        """The output summary of the runs, or None if nothing was recorded."""
        return self.outputs[-1] if self.outputs else None

    @property
    def output_varies(self) -> bool:
        """True if runs wrote different numbers of files or lines."""
        return len(set(self.outputs)) > 1


def summarize_output(folder: Path) -> OutputSummary:
    """Count files and lines under ``folder`` and look for ``get_ipython`` in .py files.

    Lines are counted in all text files (so a copied notebook counts) and in
    .py files alone; ``__pycache__`` folders are skipped and binary files add
    no lines.
    """
    files = py_files = lines = py_lines = 0
    calls_get_ipython = False
    if not folder.exists():
        return OutputSummary(0, 0, 0, 0, False)
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        files += 1
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        n_lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        lines += n_lines
        if path.suffix == ".py":
            py_files += 1
            py_lines += n_lines
            calls_get_ipython = calls_get_ipython or "get_ipython" in text
    return OutputSummary(files, py_files, lines, py_lines, calls_get_ipython)


def probe_environment() -> dict[str, str | None]:
    """Ask a child interpreter (same as the timed ones) for versions and -m readiness."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"could not inspect the environment of {sys.executable}:\n{proc.stderr}",
            EXIT_CANNOT_RUN,
        )
    return json.loads(proc.stdout)


def check_runnable(tools: Sequence[Tool], info: dict[str, str | None]) -> None:
    """Fail with a clear message (exit 2) if a tool cannot be started with ``-m``."""
    problems = []
    for tool in tools:
        package = tool.name.split("-")[0]
        error = info.get(f"{package}_error")
        if error:
            hint = (
                "install it into this interpreter (`python -m pip install -e .` from the "
                "repository root) or time nbconvert alone with `--tool nbconvert`"
                if package == "nb2prod"
                else f"install it: `python -m pip install {tool.name}`"
            )
            problems.append(f"{tool.name} is not runnable with {sys.executable}: {error}; {hint}")
    if problems:
        raise BenchError("\n".join(problems), EXIT_CANNOT_RUN)


def _tail(text: str, n: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])


def run_once(tool: Tool, notebook: str, scratch: Path) -> tuple[float, OutputSummary]:
    """Run ``tool`` once into a fresh output folder; return wall seconds and its output."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"{tool.name}-", dir=scratch))
    out = run_dir / "out"
    argv = tool.argv(notebook, out)
    try:
        start = time.perf_counter()
        proc = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise BenchError(
                f"{tool.label} failed (exit {proc.returncode}): {shlex.join(argv)}\n"
                f"--- stdout ---\n{_tail(proc.stdout.decode(errors='replace'))}\n"
                f"--- stderr ---\n{_tail(proc.stderr.decode(errors='replace'))}"
            )
        return elapsed, summarize_output(out)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def time_python(
    tools: Sequence[Tool], notebook: str, runs: int, warmup: int, scratch: Path
) -> list[ToolResult]:
    """Time each tool with perf_counter; tools alternate run by run after warm-up."""
    results = [ToolResult(tool) for tool in tools]
    for i in range(warmup + runs):
        for result in results:
            elapsed, summary = run_once(result.tool, notebook, scratch)
            result.outputs.append(summary)
            if i >= warmup:
                result.times.append(elapsed)
            phase = "warm-up" if i < warmup else f"run {i - warmup + 1}/{runs}"
            print(f"  {result.tool.label:<24} {phase:<10} {elapsed:7.3f} s", file=sys.stderr)
    return results


def time_hyperfine(
    tools: Sequence[Tool], notebook: str, runs: int, warmup: int, scratch: Path
) -> list[ToolResult]:
    """Time each tool with hyperfine (no shell, fresh output folder via --prepare)."""
    results = []
    for tool in tools:
        run_dir = Path(tempfile.mkdtemp(prefix=f"{tool.name}-hf-", dir=scratch))
        out = run_dir / "out"
        report = run_dir / "hyperfine.json"
        argv = [
            "hyperfine",
            "--shell=none",
            "--warmup",
            str(warmup),
            "--runs",
            str(runs),
            "--prepare",
            shlex.join(["rm", "-rf", str(out)]),
            "--export-json",
            str(report),
            shlex.join(tool.argv(notebook, out)),
        ]
        proc = subprocess.run(
            argv, cwd=REPO_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            raise BenchError(
                f"hyperfine failed timing {tool.label} (exit {proc.returncode}):\n"
                f"{_tail(proc.stdout)}\n{_tail(proc.stderr)}"
            )
        print(_tail(proc.stdout, 6), file=sys.stderr)
        times = json.loads(report.read_text())["results"][0]["times"]
        results.append(ToolResult(tool, times=list(times), outputs=[summarize_output(out)]))
        shutil.rmtree(run_dir, ignore_errors=True)
    return results


def count_cells(notebook: Path) -> tuple[int, int]:
    """Return (markdown cells, code cells) of a notebook file."""
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    markdown = sum(c.get("cell_type") == "markdown" for c in cells)
    code = sum(c.get("cell_type") == "code" for c in cells)
    return markdown, code


def cpu_description() -> str:
    """CPU count, plus how many this process may use when that differs."""
    total = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    return f"{total} CPUs" if usable == total else f"{total} CPUs ({usable} usable)"


def render_markdown(
    results: Sequence[ToolResult],
    notebook: str,
    cells: tuple[int, int],
    info: dict[str, str | None],
    method: str,
    runs: int,
    warmup: int,
) -> str:
    """The benchmark section: context lines, the table and the exact commands."""
    baseline = next((r for r in results if r.tool.name == BASELINE), None)
    markdown_cells, code_cells = cells
    versions = ", ".join(
        f"{name} {info.get(name) or 'not installed'}"
        for name in ("nbconvert", "nbformat", "nb2prod")
    )
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    lines = [
        "## nb2prod convert vs nbconvert --to script",
        "",
        f"Notebook `{notebook}`: {markdown_cells + code_cells} cells "
        f"({markdown_cells} markdown, {code_cells} code).",
        "",
        f"- Measured {today} with {method}: whole process wall-clock time, interpreter "
        f"start-up included; median of {runs} runs after {warmup} warm-up run(s) per tool, "
        "a fresh output folder per run.",
        f"- Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.machine()}, {cpu_description()}.",
        f"- Packages: {versions}.",
        "",
        "| tool | median s | min s | max s | runs | ratio to nbconvert | what you get |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        ratio = f"{r.median / baseline.median:.2f}×" if baseline else "n/a"
        what = r.output.describe() if r.output else "?"
        if r.output_varies:
            what += " (varies between runs)"
        lines.append(
            f"| {r.tool.label} | {r.median:.3f} | {min(r.times):.3f} | {max(r.times):.3f} "
            f"| {len(r.times)} | {ratio} | {what} |"
        )
    lines += ["", "Commands (run from the repository root):", ""]
    lines += [f"- {r.tool.label}: `{r.tool.display(notebook)}`" for r in results]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, section: str, append: bool) -> None:
    """Put the section into the benchmarks page: replace this benchmark's own section
    (other benchmarks' sections stay), or append it with `append`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Benchmarks\n\n"
        "Each section is written by its script; see `bench/README.md` and "
        "`bench/serve/README.md` for what is measured and why. Do not edit by hand.\n\n"
    )
    text = path.read_text(encoding="utf-8") if path.exists() else header
    if append:
        path.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        return
    title = section.splitlines()[0]
    if title in text:
        before, rest = text.split(title, 1)
        following = rest.find("\n## ")
        after = rest[following + 1 :] if following >= 0 else ""
        text = before + section.rstrip("\n") + "\n\n" + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Time `nb2prod convert` against `nbconvert --to script` (whole processes).",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed warm-up runs per tool (default 1)"
    )
    parser.add_argument(
        "--notebook",
        type=Path,
        default=DEFAULT_NOTEBOOK,
        help="notebook to convert (default bench/data/notebook_200.ipynb)",
    )
    parser.add_argument(
        "--tool",
        action="append",
        choices=sorted(TOOLS),
        help="tool to time; repeat for several (default: nb2prod and nbconvert)",
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the report to FILE"
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="with --markdown, append the section to FILE instead of rewriting it",
    )
    parser.add_argument(
        "--hyperfine",
        action="store_true",
        help="time with hyperfine if it is installed (default: pure-Python timing)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.append and not args.markdown:
        parser.error("--append needs --markdown FILE")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) the markdown report."""
    args = parse_args(argv)
    default = ["nb2prod", "nb2prod-service", "nbconvert"]
    tools = [TOOLS[name] for name in dict.fromkeys(args.tool or default)]
    notebook_path = args.notebook.resolve()
    if not notebook_path.is_file():
        print(
            f"error: notebook not found: {notebook_path} "
            "(generate it with `python bench/make_notebook.py`)",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    try:
        notebook = str(notebook_path.relative_to(REPO_ROOT))
    except ValueError:
        notebook = str(notebook_path)

    method = "`time.perf_counter` around `subprocess.run`"
    use_hyperfine = False
    if args.hyperfine:
        if shutil.which("hyperfine"):
            use_hyperfine = True
            method = "hyperfine (`--shell=none`)"
        else:
            print("note: hyperfine is not installed; using pure-Python timing", file=sys.stderr)

    try:
        info = probe_environment()
        check_runnable(tools, info)
        print(
            f"timing {', '.join(t.label for t in tools)} on {notebook}: "
            f"{args.warmup} warm-up + {args.runs} runs each",
            file=sys.stderr,
        )
        with tempfile.TemporaryDirectory(prefix="nb2prod-bench-") as scratch:
            timer = time_hyperfine if use_hyperfine else time_python
            results = timer(tools, notebook, args.runs, args.warmup, Path(scratch))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code

    section = render_markdown(
        results, notebook, count_cells(notebook_path), info, method, args.runs, args.warmup
    )
    print(section, end="")
    if args.markdown:
        write_markdown(args.markdown, section, args.append)
        print(f"\nwrote {args.markdown}", file=sys.stderr)

    status = EXIT_OK
    for r in results:
        if r.tool.must_not_call_get_ipython and r.output and r.output.get_ipython:
            print(
                f"error: {r.tool.label} wrote Python that calls get_ipython; "
                "its output must run without IPython",
                file=sys.stderr,
            )
            status = EXIT_FAILED
        if r.output_varies:
            print(f"warning: {r.tool.label} wrote different output across runs", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
