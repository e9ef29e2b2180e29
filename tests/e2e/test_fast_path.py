"""The fast path answers /predict exactly as BentoML does, and row faults are 400s.

Two projects are converted and trained once: the wine example (raw rows through the
notebook's `preprocess_rows`, the ONNX twin, `async` endpoints) and a small notebook whose
predict code raises a ValueError for a dose the schema accepts (the row's fault) and a
RuntimeError for a weight it accepts (a server bug). Each is served by real
`bentoml serve` twice, with the fast path on (the default) and off
(`NB2PROD_FAST_PATH=0`), and gets the same requests: every answer (status, body bytes,
content type, `Server` header) must be the same both ways, `/metrics` must count them
alike, and only the server with the fast path on says it uses it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, Early, generated_env, make_notebook, prepares, served

httpx = pytest.importorskip("httpx")
pytest.importorskip("bentoml")

FAST_PATH_LINE = "POST /predict is answered past BentoML's dispatch"
REQUESTS_COUNTED = re.compile(
    r'^bentoml_service_request_total\{endpoint="(/predict[a-z_]*)",'
    r'http_response_code="(\d+)".*\} ([0-9.]+)$',
    re.MULTILINE,
)
FAULTY_CELLS = [
    "import numpy as np\nimport pandas as pd\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import train_test_split",
    "# nb2prod: parameters\nseed = 0",
    "# nb2prod: load\nrng = np.random.default_rng(seed)\n"
    "X = pd.DataFrame({'dose': rng.uniform(0.5, 10.0, 200), "
    "'weight': rng.uniform(40.0, 120.0, 200)})\n"
    "y = (X['dose'] / X['weight'] > 0.06).astype(int)",
    "# nb2prod: preprocess\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)",
    "# nb2prod: train\nmodel = LogisticRegression().fit(X_train, y_train)",
    "# nb2prod: predict\nsample = X_test.head(3)\n"
    "if (sample['dose'] < 1.0).any():\n"
    "    raise ValueError('a dose below 1.0 is outside the label rule')\n"
    "if (sample['weight'] > 115.0).any():\n"
    "    raise RuntimeError('the weight table is not loaded')\n"
    "predictions = model.predict(sample)",
]
ROW_FAULT = "predict failed on this input: ValueError: a dose below 1.0 is outside the label rule"
UNEXPECTED = b'{"error":"An unexpected error has occurred, please check the server log."}'


@prepares("wine")
def _wine(early: Early, root: Path) -> Path:
    project = root / "project"
    early.convert(EXAMPLES / "wine_classifier.ipynb", project)
    early.train(project, "wine_classifier", str(root / "artifacts"), root / "bentoml")
    return root


@prepares("faulty")
def _faulty(early: Early, root: Path) -> Path:
    notebook = make_notebook(root / "faulty.ipynb", FAULTY_CELLS)
    project = root / "project"
    early.convert(notebook, project)
    early.train(project, "faulty", str(root / "artifacts"), root / "bentoml")
    return root


def _bad_rows(row: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Requests the schema refuses, made from a good row of the project."""
    first, second = list(row)[:2]
    return {
        "out of range": ("/predict", {**row, first: 1e9}),
        "a string for a number": ("/predict", {**row, first: "13"}),
        "a field missing": ("/predict", {k: v for k, v in row.items() if k != first}),
        "an extra field": ("/predict", {**row, "zzz": 1}),
        "two bad fields": ("/predict", {**row, first: -1e9, second: None}),
        "a list for a row": ("/predict", [row]),
        "an empty object": ("/predict", {}),
        "a bad row in a batch": ("/predict_batch", [row, {**row, second: 1e9}]),
    }


def _answers(
    project: Path, env: dict[str, str], fast: str, cases: dict[str, tuple[str, Any]]
) -> tuple[dict[str, tuple[int, bytes, str, str, str]], dict[tuple[str, str], float], str]:
    """Serve `project` with NB2PROD_FAST_PATH=`fast`, POST every case: the answers (status,
    body, content type, Server and request id headers), /metrics' request counts and the
    server log."""
    command = [sys.executable, "-m", "bentoml", "serve", _service(project), "--host", "127.0.0.1"]
    answers = {}
    with served(command, {**env, "NB2PROD_FAST_PATH": fast}, project) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            for name, (path, body) in cases.items():
                answer = client.post(path, content=json.dumps(body).encode())
                answers[name] = (
                    answer.status_code,
                    answer.content,
                    answer.headers.get("content-type", ""),
                    answer.headers.get("server", ""),
                    answer.headers.get("x-bentoml-request-id", ""),
                )
            metrics = client.get("/metrics").text
        log = project / f"server-{url.rsplit(':', 1)[1]}.log"
    counted = {(path, code): float(n) for path, code, n in REQUESTS_COUNTED.findall(metrics)}
    return answers, counted, log.read_text()


def _service(project: Path) -> str:
    """`service:<Class>` of a generated project."""
    name = re.search(r"^class (\w+):", (project / "service.py").read_text(), re.MULTILINE)
    assert name is not None
    return f"service:{name[1]}"


def _both_ways(root: Path, cases: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    project = root / "project"
    env = generated_env(project, root / "bentoml")
    return {fast: _answers(project, env, fast, cases) for fast in ("1", "0")}


def _example(project: Path) -> tuple[list[dict[str, Any]], list[Any]]:
    request = json.loads((project / "examples" / "request.json").read_text())
    response = json.loads((project / "examples" / "response.json").read_text())
    return request["body"], response


@pytest.fixture(scope="module")
def wine(early: Early) -> tuple[Path, dict[str, Any]]:
    root = early.result(__name__, "wine")
    rows, _ = _example(root / "project")
    cases = {
        **{f"example row {i}": ("/predict", row) for i, row in enumerate(rows)},
        "the example batch": ("/predict_batch", rows),
        **_bad_rows(rows[0]),
    }
    return root / "project", _both_ways(root, cases)


def test_a_traced_route_is_left_to_bentoml(early: Early) -> None:
    """With tracing on, BentoML answers /predict, with the span's id in a header."""
    root = early.result(__name__, "wine")
    project = root / "project"
    traced = {"services": {"wine-classifier": {"tracing": {"excluded_urls": []}}}}
    env = {
        **generated_env(project, root / "bentoml"),
        "BENTOML_CONFIG_OVERRIDES": json.dumps(traced),
    }
    rows, expected = _example(project)
    answers, _, log = _answers(project, env, "1", {"row": ("/predict", rows[0])})
    status, body, _, _, request_id = answers["row"]
    assert (status, json.loads(body), bool(request_id)) == (200, expected[0], True)
    assert "POST /predict goes through BentoML's dispatch: it is traced" in log
    assert FAST_PATH_LINE not in log


@pytest.fixture(scope="module")
def faulty(early: Early) -> tuple[Path, dict[str, Any]]:
    root = early.result(__name__, "faulty")
    rows, _ = _example(root / "project")
    cases = {
        "good row": ("/predict", rows[0]),
        "row fault": ("/predict", {**rows[0], "dose": 0.6}),
        "row fault in a batch": ("/predict_batch", [rows[0], {**rows[0], "dose": 0.6}]),
        "server fault": ("/predict", {**rows[0], "weight": 118.0}),
        "server fault in a batch": ("/predict_batch", [{**rows[0], "weight": 118.0}]),
    }
    return root / "project", _both_ways(root, cases)


def test_the_fast_path_answers_as_bentoml_does(wine: tuple[Path, dict[str, Any]]) -> None:
    project, served_both = wine
    (on, counted_on, log_on), (off, counted_off, log_off) = served_both["1"], served_both["0"]
    assert FAST_PATH_LINE in log_on and FAST_PATH_LINE not in log_off
    assert on == off
    rows, expected = _example(project)
    for i, prediction in enumerate(expected):
        status, body, content_type, server, _ = on[f"example row {i}"]
        assert (status, json.loads(body)) == (200, prediction)
        assert content_type == "application/json" and server.startswith("BentoML Service/")
    assert json.loads(on["the example batch"][1]) == expected
    for case in _bad_rows(rows[0]):
        status, body, *_ = on[case]
        assert status == 400 and list(json.loads(body)) == ["error"], case
    assert counted_on == counted_off
    assert counted_on[("/predict", "200")] == len(rows)
    assert counted_on[("/predict", "400")] == 7


def test_a_row_the_notebook_refuses_is_a_400_naming_the_function(
    faulty: tuple[Path, dict[str, Any]],
) -> None:
    _, served_both = faulty
    for fast in ("1", "0"):
        answers, counted, log = served_both[fast]
        assert answers["good row"][0] == 200
        for case in ("row fault", "row fault in a batch"):
            status, body, *_ = answers[case]
            assert (status, json.loads(body)) == (400, {"error": ROW_FAULT}), (fast, case)
        warnings = [line for line in log.splitlines() if ROW_FAULT in line]
        assert len(warnings) == 2 and all("[WARNING]" in line for line in warnings), log
        assert "ValueError" not in log.replace(ROW_FAULT, ""), "a row fault logged a traceback"
        assert counted[("/predict", "400")] == counted[("/predict_batch", "400")] == 1


def test_a_server_bug_stays_a_500_with_its_traceback(
    faulty: tuple[Path, dict[str, Any]],
) -> None:
    _, served_both = faulty
    assert served_both["1"][0] == served_both["0"][0]
    for fast in ("1", "0"):
        answers, counted, log = served_both[fast]
        for case in ("server fault", "server fault in a batch"):
            assert answers[case][:2] == (500, UNEXPECTED), (fast, case)
        assert log.count("RuntimeError: the weight table is not loaded") == 2, log
        assert counted[("/predict", "500")] == counted[("/predict_batch", "500")] == 1
