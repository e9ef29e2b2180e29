"""The generated service's per-request settings are in effect, and it still answers right.

The wine example is converted and trained once; `bentoml serve` then runs the generated
service for real. By default a prediction leaves no access line and makes no
OpenTelemetry span, `/metrics` counts it, and a rejected request still gets the guard's
one WARNING line. `BENTOML_CONFIG_OVERRIDES`, the way back the comment in `service.py`
names, turns the access line back on and, with `excluded_urls` emptied, the spans
(the access line then carries the request's trace id).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Early, generated_env, prepares, served

httpx = pytest.importorskip("httpx")
pytest.importorskip("bentoml")

SERVICE = "service:WineClassifierService"
ACCESS_LINE = re.compile(r"path=/predict_batch,.*\(status=200.*")
TRACED = re.compile(r"\(trace=0*[1-9a-f][0-9a-f]*,")


@prepares("trained")
def _convert_and_train(early: Early, root: Path) -> Path:
    project = root / "project"
    early.convert(EXAMPLES / "wine_classifier.ipynb", project)
    early.train(project, "wine_classifier", str(root / "artifacts"), root / "bentoml")
    return root


@pytest.fixture(scope="module")
def trained(early: Early) -> tuple[Path, dict[str, str]]:
    """The example converted and trained, and the environment that runs its code."""
    root = early.result(__name__, "trained")
    return root / "project", generated_env(root / "project", root / "bentoml")


@contextmanager
def service(project: Path, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """`bentoml serve` of the generated service; yields its URL and its log file."""
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", "127.0.0.1"]
    with served(command, env, project) as url:
        yield url, project / f"server-{url.rsplit(':', 1)[1]}.log"


def predict_examples(url: str, project: Path) -> None:
    """POST the rows the notebook predicted; the answers must be the notebook's."""
    request = json.loads((project / "examples" / "request.json").read_text())
    expected = json.loads((project / "examples" / "response.json").read_text())
    answer = httpx.post(url + request["path"], json=request["body"], timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected


def log_with(log: Path, pattern: re.Pattern[str], timeout: float = 15) -> str:
    """The server's log once `pattern` is in it: workers log through BentoML's arbiter."""
    deadline = time.monotonic() + timeout
    while not pattern.search(text := log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return text


def overrides(service_config: dict[str, object]) -> str:
    return json.dumps({"services": {"wine-classifier": service_config}})


def test_by_default_no_access_line_no_span_and_metrics_count(
    trained: tuple[Path, dict[str, str]],
) -> None:
    project, env = trained
    with service(project, env) as (url, log):
        predict_examples(url, project)
        bad = httpx.post(url + "/predict", content=b"{", timeout=30)
        metrics = httpx.get(url + "/metrics", timeout=30)
        text = log_with(log, re.compile("rejected POST /predict"))
    assert bad.status_code == 400
    assert "rejected POST /predict" in text  # the guard's one line per rejection
    assert "path=/predict" not in text  # no access line, for the good nor the bad request
    assert "path=/metrics" not in text
    assert metrics.status_code == 200
    counted = re.search(
        r'bentoml_service_request_total\{[^}]*endpoint="/predict_batch"[^}]*'
        r'http_response_code="200"[^}]*\} (\d+(?:\.\d+)?)',
        metrics.text,
    )
    assert counted and float(counted.group(1)) >= 1, metrics.text[-2000:]


def test_the_overrides_bring_the_access_line_back_and_the_spans_with_it(
    trained: tuple[Path, dict[str, str]],
) -> None:
    project, env = trained
    access = overrides({"logging": {"access": {"enabled": True}}})
    with service(project, {**env, "BENTOML_CONFIG_OVERRIDES": access}) as (url, log):
        predict_examples(url, project)
        lines = ACCESS_LINE.findall(log_with(log, ACCESS_LINE))
    assert lines and not TRACED.search(lines[0]), lines  # logged, but no span: tracing is off

    traced = overrides({"logging": {"access": {"enabled": True}}, "tracing": {"excluded_urls": []}})
    with service(project, {**env, "BENTOML_CONFIG_OVERRIDES": traced}) as (url, log):
        predict_examples(url, project)
        lines = ACCESS_LINE.findall(log_with(log, ACCESS_LINE))
    assert lines and TRACED.search(lines[0]), lines  # a span per request again
