"""Property-based test: whatever notebook a user hands it, nb2prod answers, never crashes.

hypothesis assembles notebooks from the snippets in `tests/notebook_snippets.py`
(magics, tags and directives right and wrong, Kale tags, in-place mutation, loops,
classes, odd names, empty/markdown/raw cells, syntax errors, ...) and runs
`nb2prod check` and `nb2prod convert` on each, in this process through
`nb2prod.frontends.cli.main`. The properties:

- the exit code is never 3 (an internal error is always a bug) and nothing prints a
  traceback;
- an exit code 1 or 2 comes with a message and a `fix:` line;
- `check` and `convert` agree: check exits 0 exactly when `convert --no-run` does,
  1 exactly when convert refuses with 2;
- converting again into the same folder succeeds (nothing was edited);
- with the probe (`convert` runs the generated pipeline): 0 or 2, never 3.

`make test` runs a few deterministic examples (`derandomize`): 60 without the probe
and 15 with it. More, with fresh random examples each run:

    NB2PROD_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/e2e/test_fuzz_notebooks.py
    make test-fuzz                     # the same, 500 of each

NB2PROD_FUZZ_PROBE_EXAMPLES sets the probe test's count on its own (default: the
same as NB2PROD_FUZZ_EXAMPLES), NB2PROD_FUZZ_SEED fixes the random seed of a long
run. NB2PROD_FUZZ_COLLECT=DIR surveys instead of stopping at the first failure:
every failing notebook goes to DIR with its command and traceback, and each
example's exit codes to DIR/results.jsonl.

Known bugs are left out of generation (the KNOWN_BUG_* lists in
`tests/notebook_snippets.py`); their minimal notebooks are in `tests/fuzz_findings/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, note, seed, settings

from nb2prod.frontends.cli import main
from tests.notebook_snippets import GeneratedNotebook, notebooks

FULL_RUN = "NB2PROD_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("NB2PROD_FUZZ_EXAMPLES", "60"))
PROBE_EXAMPLES = int(
    os.environ.get("NB2PROD_FUZZ_PROBE_EXAMPLES", os.environ.get("NB2PROD_FUZZ_EXAMPLES", "15"))
)
COLLECT = (
    Path(os.environ["NB2PROD_FUZZ_COLLECT"]) if os.environ.get("NB2PROD_FUZZ_COLLECT") else None
)
SEED = os.environ.get("NB2PROD_FUZZ_SEED")
TRACEBACK = "Traceback (most recent call last)"


def fuzz_settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """hypothesis settings: deterministic in `make test`, random (or seeded) in long runs."""
    chosen = settings(
        max_examples=examples,
        deadline=None,
        derandomize=not FULL_RUN and SEED is None,
        database=None,  # no .hypothesis/ folder in the repository
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        phases=[Phase.explicit, Phase.generate] if COLLECT else list(Phase),
    )

    def apply(test: Callable[..., None]) -> Callable[..., None]:
        test = chosen(test)
        return seed(int(SEED))(test) if SEED is not None else test

    return apply


@dataclass
class Outcome:
    """What one nb2prod command did: exit code, output, and the traceback of a crash."""

    command: list[str]
    code: int
    stdout: str
    stderr: str
    crash: str | None = None  # the traceback of an exception main() let through

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        text = f"$ nb2prod {' '.join(self.command)}\nexit {self.code}\n"
        text += f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}\n"
        return text + (f"--- traceback\n{self.crash}" if self.crash else "")


def run_nb2prod(*argv: str) -> Outcome:
    """`nb2prod ARGV` in this process; a crash is caught with its traceback (exit 3)."""
    out, err = io.StringIO(), io.StringIO()
    crash = None
    saved = os.environ.get("NB2PROD_DEBUG")
    os.environ["NB2PROD_DEBUG"] = "1"  # main() re-raises internal errors instead of exit 3
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exit_:  # argparse
                code = exit_.code if isinstance(exit_.code, int) else 2
            except Exception:
                code, crash = 3, traceback.format_exc()
    finally:
        if saved is None:
            os.environ.pop("NB2PROD_DEBUG", None)
        else:
            os.environ["NB2PROD_DEBUG"] = saved
    return Outcome(list(argv), code, out.getvalue(), err.getvalue(), crash)


def problems_of(outcome: Outcome, allowed: set[int]) -> list[str]:
    """Why `outcome` breaks the properties (empty when it keeps them)."""
    found = []
    if outcome.code == 3 or outcome.crash:
        found.append("exit 3 (internal error)")
    elif outcome.code not in allowed:
        found.append(f"exit {outcome.code}, expected one of {sorted(allowed)}")
    if TRACEBACK in outcome.output:
        found.append("printed a traceback")
    json_report = "--json" in outcome.command and outcome.command[0] == "check"
    if outcome.code in (1, 2) and not json_report and "fix:" not in outcome.output:
        found.append(f"exit {outcome.code} without a `fix:` line")
    return found


class Survey:
    """Checks the properties; in collect mode records failures instead of raising."""

    def __init__(self, notebook: GeneratedNotebook, path: Path, test: str) -> None:
        self.notebook, self.path, self.test = notebook, path, test
        self.failures: list[str] = []
        self.codes: dict[str, int] = {}
        self.blocking: list[str] = []
        self.started = time.perf_counter()

    def expect(self, label: str, outcome: Outcome, allowed: set[int]) -> None:
        self.codes[label] = outcome.code
        for problem in problems_of(outcome, allowed):
            self.fail(f"{label}: {problem}", outcome)

    def expect_json_report(self, outcome: Outcome) -> None:
        """`check --json`: JSON whose blocking problems each name a fix; exit 1 iff any."""
        try:
            report = json.loads(outcome.stdout)
        except ValueError:
            self.fail("check --json: output is not JSON", outcome)
            return
        blocking = [p for p in report["problems"] if p["severity"] == "error"]
        self.blocking = sorted({p["code"] for p in blocking})
        if any(not p.get("fix") or not p.get("message") for p in report["problems"]):
            self.fail("check --json: a problem without a message or fix", outcome)
        if bool(blocking) != (outcome.code == 1) or report["convertible"] == bool(blocking):
            self.fail("check --json: exit code, `convertible` and problems disagree", outcome)

    def fail(self, message: str, outcome: Outcome | None = None) -> None:
        self.failures.append(message + ("\n" + outcome.describe() if outcome else ""))

    def finish(self) -> None:
        if COLLECT is not None:
            self._record()
            return
        assert not self.failures, "\n\n".join(self.failures)

    def _record(self) -> None:
        assert COLLECT is not None
        COLLECT.mkdir(parents=True, exist_ok=True)
        text = self.notebook.text()
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        with open(COLLECT / "results.jsonl", "a") as results:
            entry = {
                "test": self.test,
                "notebook": digest,
                "codes": self.codes,
                "blocking": self.blocking,
                "seconds": round(time.perf_counter() - self.started, 2),
                "failures": [f.splitlines()[0] for f in self.failures],
            }
            results.write(json.dumps(entry) + "\n")
        if self.failures:
            folder = COLLECT / "failures" / f"{self.test}-{digest}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / self.path.name).write_text(text)
            (folder / "report.txt").write_text(
                repr(self.notebook) + "\n\n" + "\n\n".join(self.failures)
            )


PIPELINE_FAILED = "running the generated pipeline to record its references failed"
RUN_ALL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.system = shell.getoutput = lambda command: None  # no shell commands, no installs
for magic in ("pip", "conda", "mamba", "uv", "matplotlib"):
    shell.register_magic_function(lambda line: None, "line", magic)
for index, source in enumerate(json.load(sys.stdin)):
    result = shell.run_cell(source, silent=True)
    if not result.success:
        error = result.error_before_exec or result.error_in_exec
        print(f"cell {index}: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
"""


def notebook_error(path: Path) -> str | None:
    """Run All, as Jupyter would (IPython, every code cell in order): the first error."""
    node = json.loads(path.read_text())
    cells = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in node["cells"]
        if c["cell_type"] == "code"
    ]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory(prefix="nb2prod-run-all-") as folder:
        done = subprocess.run(
            [sys.executable, "-c", RUN_ALL],
            input=json.dumps(cells),
            capture_output=True,
            text=True,
            cwd=folder,
            env=env,
            timeout=300,
            check=False,
        )
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]


def write_notebook(notebook: GeneratedNotebook, folder: Path) -> Path:
    path = folder / notebook.name
    path.write_text(notebook.text())
    return path


@fuzz_settings(EXAMPLES)
@given(notebook=notebooks())
def test_check_and_convert_never_crash(notebook: GeneratedNotebook) -> None:
    note(repr(notebook))
    with tempfile.TemporaryDirectory(prefix="nb2prod-fuzz-") as folder:
        path = write_notebook(notebook, Path(folder))
        survey = Survey(notebook, path, "no-run")
        check = run_nb2prod("check", str(path))
        survey.expect("check", check, {0, 1})
        report = run_nb2prod("check", "--json", str(path))
        survey.expect("check --json", report, {0, 1})
        if report.code in (0, 1) and not report.crash:
            survey.expect_json_report(report)
        out = Path(folder) / "out"
        convert = run_nb2prod("convert", str(path), "-o", str(out), "--no-run")
        survey.expect("convert --no-run", convert, {0, 2})
        if (
            check.code in (0, 1)
            and convert.code in (0, 2)
            and (check.code == 0) != (convert.code == 0)
        ):
            survey.fail(
                f"check exited {check.code} but convert --no-run exited {convert.code}",
                convert if convert.code else check,
            )
        if convert.code == 0:
            again = run_nb2prod("convert", str(path), "-o", str(out), "--no-run")
            survey.expect("convert --no-run (again)", again, {0})
        survey.finish()


@fuzz_settings(PROBE_EXAMPLES)
@given(notebook=notebooks())
def test_convert_with_probe_never_crashes(notebook: GeneratedNotebook) -> None:
    note(repr(notebook))
    with tempfile.TemporaryDirectory(prefix="nb2prod-fuzz-") as folder:
        path = write_notebook(notebook, Path(folder))
        survey = Survey(notebook, path, "probe")
        check = run_nb2prod("check", str(path))
        survey.expect("check", check, {0, 1})
        convert = run_nb2prod("convert", str(path), "-o", str(Path(folder) / "out"))
        survey.expect("convert", convert, {0, 2})
        if check.code == 1 and convert.code == 0:
            survey.fail("check found blocking problems but convert succeeded", convert)
        if convert.code == 2 and PIPELINE_FAILED in convert.stderr:
            error = notebook_error(path)
            survey.codes["notebook runs"] = int(error is None)
            if error is None:  # the notebook runs: nb2prod broke it
                survey.fail("the notebook runs, but its generated pipeline fails", convert)
        survey.finish()


FINDINGS = Path(__file__).parents[1] / "fuzz_findings"
KNOWN_BUG_FINDINGS: set[str] = set()
"""Findings (file stems) whose bug is not fixed yet: they xfail; all others must pass."""


@pytest.mark.parametrize("finding", sorted(FINDINGS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_fuzz_findings_are_fixed(finding: Path) -> None:
    """Each minimal notebook the fuzzer found stays fixed; one in KNOWN_BUG_FINDINGS
    xfails until its bug is fixed (then it and its KNOWN_BUG_* entries go)."""
    with tempfile.TemporaryDirectory(prefix="nb2prod-finding-") as folder:
        copy = Path(folder) / finding.name
        copy.write_bytes(finding.read_bytes())
        check = run_nb2prod("check", str(copy))
        convert = run_nb2prod("convert", str(copy), "-o", str(Path(folder) / "out"))
        problems = problems_of(check, {0, 1}) + problems_of(convert, {0, 2})
        if check.code == 0 and convert.code != 0:
            problems.append(f"check exited 0 but convert exited {convert.code}")
        if convert.code == 2 and PIPELINE_FAILED in convert.stderr and not notebook_error(copy):
            problems.append("the notebook runs, but its generated pipeline fails")
    if problems and finding.stem in KNOWN_BUG_FINDINGS:
        pytest.xfail(f"known bug, see tests/fuzz_findings/README.md: {problems}")
    assert not problems, f"fuzz finding {finding.stem} is back: {problems}"
