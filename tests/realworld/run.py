"""Run nb2prod over the real-world corpus and record what happens to each notebook.

    python tests/realworld/run.py [--ids ID ...] [--markdown docs/realworld.md] [--jobs 1]
                                  [--json results.json] [--keep DIR]

For each notebook in tests/realworld/manifest.json: make the tagged notebook (tag.py) in a temp
folder, then `nb2prod check`, `nb2prod convert -o OUT`, the generated training
(`python -m <package>.train --output-dir OUT/artifacts`) and
`nb2prod verify OUT --cwd NOTEBOOK_DIR --json report.json`, both run in the notebook's folder,
where its data files are. Each step runs only when the one before it passed.
It records the exit codes, what verify compared (metrics, predictions by function and by
service), the time, and the first error line. The BentoML store is a temp folder of its own.
Installs nothing. Exit 0 when every notebook converts and verifies, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from tests.conftest import generated_env  # noqa: E402

from tag import write_tagged  # noqa: E402

MANIFEST = HERE / "manifest.json"
DIAGNOSES = HERE / "diagnoses.md"
"""Why the notebooks that fail still fail (root causes in nb2prod), kept by hand."""
STEP_TIMEOUT = {"check": 300, "convert": 900, "train": 1200, "verify": 1800}
ERROR = re.compile(r"(error|Error|ERROR|FAIL|failed|Traceback|exception)")


@dataclass
class Result:
    id: str
    check: int | None = None
    convert: int | None = None
    train: int | None = None
    verify: int | None = None
    metrics: int = 0
    predictions_function: int = 0
    predictions_service: int = 0
    coverage: str = ""
    seconds: float = 0.0
    failed_step: str | None = None
    first_error: str = ""
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.convert == 0 and self.train == 0 and self.verify == 0


def manifest() -> list[dict]:
    return json.loads(MANIFEST.read_text())["notebooks"]


def first_error(text: str) -> str:
    """The line that says what went wrong: nb2prod's `error:` line, a FAIL row, or the
    last line of a traceback."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for pattern in (r"nb2prod: error:", r"\bFAIL\b", r"^\w*(Error|Exception)\b.*:"):
        for line in lines:
            if re.search(pattern, line):
                return line[:300]
    for line in reversed(lines):
        if ERROR.search(line):
            return line[:300]
    return lines[-1][:300] if lines else ""


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int):
    start = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
        return done.returncode, done.stdout + "\n" + done.stderr, time.monotonic() - start
    except subprocess.TimeoutExpired as timed_out:
        out = (
            (timed_out.stdout or b"").decode(errors="replace")
            if isinstance(timed_out.stdout, bytes)
            else (timed_out.stdout or "")
        )
        return 124, out + f"\ntimed out after {timeout} s", time.monotonic() - start


def run_one(notebook_id: str, workdir: Path) -> Result:
    result = Result(notebook_id)
    start = time.monotonic()
    nb_dir, out = workdir / "notebook", workdir / "project"
    bentoml_home = workdir / "bentoml"
    bentoml_home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NO_COLOR": "1", "BENTOML_HOME": str(bentoml_home),
           "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}  # fmt: skip
    notebook = write_tagged(notebook_id, nb_dir)
    nb2prod = [sys.executable, "-m", "nb2prod"]
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)

    def step(name: str, command: list[str], cwd: Path, step_env: dict[str, str]) -> int:
        code, text, seconds = _run(command, cwd, step_env, STEP_TIMEOUT[name])
        (logs / f"{name}.log").write_text(" ".join(command) + "\n\n" + text)
        setattr(result, name, code)
        result.steps[name] = round(seconds, 1)
        if code != 0 and result.failed_step is None:
            result.failed_step = name
            line = first_error(text).replace(f"{workdir}/", "")
            result.first_error = re.sub(r"\s{2,}", "  ", line)
        return code

    step("check", [*nb2prod, "check", str(notebook)], nb_dir, env)
    if step("convert", [*nb2prod, "convert", str(notebook), "-o", str(out)], nb_dir, env) == 0:
        package = json.loads((out / "nb2prod.json").read_text())["package"]
        train_env = {**generated_env(out, bentoml_home), "MPLBACKEND": "Agg"}
        # The data files sit beside the notebook (relative paths, as the authors wrote them):
        # training and verify run there, the way a user whose data lives in the notebook's
        # folder runs them today (from the project folder those paths do not resolve: see
        # diagnoses.md).
        artifacts = str(out / "artifacts")
        train = [sys.executable, "-m", f"{package}.train", "--output-dir", artifacts]
        if step("train", train, nb_dir, train_env) == 0:
            report = workdir / "report.json"
            verify = [*nb2prod, "verify", str(out), "--cwd", str(nb_dir), "--json", str(report)]
            step("verify", verify, nb_dir, env)
            if report.is_file():
                data = json.loads(report.read_text())
                compared = [c for c in data.get("checks", []) if not c.get("note")]
                result.metrics = sum(c["kind"] == "metric" for c in compared)
                result.predictions_function = sum(c["kind"] == "prediction" for c in compared)
                result.predictions_service = sum(c["kind"] == "service" for c in compared)
                result.coverage = data.get("coverage", "")
    result.seconds = round(time.monotonic() - start, 1)
    return result


def _code(value: int | None) -> str:
    return "-" if value is None else str(value)


def markdown(results: list[Result], entries: dict[str, dict]) -> str:
    passed = sum(r.passed for r in results)
    lines = [
        "# nb2prod on real-world notebooks",
        "",
        "Written by `make test-realworld` (`tests/realworld/run.py`); the notebooks, their sources",
        "(repository, commit, licence) and the tags and edits a user would make are in",
        "`tests/realworld/` (see its README.md). Each notebook is tagged (`tag.py`), then",
        "`nb2prod check`, `nb2prod convert`, the generated training and `nb2prod verify` run in",
        "turn; a step runs only when the one before it passed (`-` = not run). Columns m / p / s:",
        "metrics, predictions by the generated predict function, predictions by the service code",
        "that verify compared.",
        "",
        f"**{passed} of {len(results)} notebooks convert and verify.**",
        "",
        "| notebook | source | check | convert | train | verify | m | p | s | time (s) "
        "| first error |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        entry = entries[r.id]
        source = f"[{entry['repo']}]({entry['url']})"
        error = (f"{r.failed_step}: " if r.failed_step else "") + r.first_error
        error = error.replace("|", "\\|").replace("`", "'")
        lines.append(
            f"| {r.id} | {source} | {_code(r.check)} | {_code(r.convert)} | {_code(r.train)} "
            f"| {_code(r.verify)} | {r.metrics} | {r.predictions_function} "
            f"| {r.predictions_service} | {r.seconds} | {error} |"
        )
    lines += ["", "Recorded edits (tests/realworld/tags/, each a patch tag.py applies):", ""]
    for r in results:
        recipe = json.loads((HERE / "tags" / f"{r.id}.json").read_text())
        for edit in recipe.get("edits", []):
            lines.append(f"- **{r.id}**, cell {edit['cell']}: {edit['why']}")
        for added in recipe.get("add_cells", []):
            lines.append(f"- **{r.id}**, a cell added after cell {added['after']}: {added['why']}")
    if DIAGNOSES.is_file():
        lines += ["", DIAGNOSES.read_text().strip()]
    lines += ["", "What each notebook covers:", ""]
    for r in results:
        entry = entries[r.id]
        lines.append(
            f"- **{r.id}** ({entry['licence']}, `{entry['path']}` at "
            f"`{entry['commit'][:10]}`): {entry['covers']}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument("--markdown", type=Path, help="write the results table here")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks at once (<= 2 here)")
    parser.add_argument("--keep", type=Path, help="keep each notebook's work folder here")
    args = parser.parse_args(argv)
    entries = {e["id"]: e for e in manifest()}
    ids = args.ids or list(entries)
    unknown = [i for i in ids if i not in entries]
    if unknown:
        parser.error(f"not in the manifest: {', '.join(unknown)}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="nb2prod-realworld-"))

    def one(notebook_id: str) -> Result:
        result = run_one(notebook_id, root / notebook_id)
        verdict = "pass" if result.passed else f"FAIL at {result.failed_step}"
        print(
            f"{notebook_id}: {verdict} ({result.seconds} s) {result.coverage} {result.first_error}",
            flush=True,
        )
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 2))) as pool:
        results = list(pool.map(one, ids))
    if args.markdown:
        args.markdown.write_text(markdown(results, entries))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(f"{sum(r.passed for r in results)} of {len(results)} passed; work folders in {root}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
