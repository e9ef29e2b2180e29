"""The generated service never answers 5xx to bad input, and bad input cannot flood its log.

A small scikit-learn notebook is converted and trained for real; a real `bentoml serve`
then gets what an adversarial pass sent before the request guard existed (empty and
malformed batches, invalid UTF-8, 100,000-deep JSON, multipart without a boundary,
strings and booleans for numbers...). Every one must be a 4xx with a one-line JSON
reason, a valid row must still get the notebook's prediction, 10 s of such traffic must
write under 100 KB of server log, and schemathesis, run against the service's own
`/docs.json`, must find no server error and no answer that breaks the schema.

`NB2PROD_SCHEMATHESIS_EXAMPLES` sets schemathesis's cases per operation (50 here, two
operations; `make test-service-fuzz` runs 500).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    Early,
    bentoml_server,
    generated_env,
    make_notebook,
    prepares,
)

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
PACKAGE = "iris_service"
EXAMPLES = int(os.environ.get("NB2PROD_SCHEMATHESIS_EXAMPLES", "50"))
LOG_BUDGET = 100_000  # bytes of server log for FLOOD_S seconds of bad requests
FLOOD_S = 10.0

NOTEBOOK = [
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import train_test_split",
    (
        "df = load_iris(as_frame=True).frame\nX = df.drop(columns='target')\ny = df['target']\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)",
        ["nb2prod:load"],
    ),
    ("model = LogisticRegression(max_iter=1000).fit(X_train, y_train)", ["nb2prod:train"]),
    ("accuracy = model.score(X_test, y_test)\nprint(accuracy)", ["nb2prod:evaluate"]),
    (
        "rows = X_test.head(5)\npredictions = model.predict(rows)\nprint(predictions)",
        ["nb2prod:predict"],
    ),
]


@prepares("project")
def _convert_and_train(early: Early, root: Path) -> Path:
    notebook = make_notebook(root / "iris_service.ipynb", NOTEBOOK)
    project = root / "project"
    early.convert(notebook, project)
    early.train(project, PACKAGE, str(root / "artifacts"), root / "bentoml")
    return root


@pytest.fixture(scope="module")
def project(early: Early) -> tuple[Path, dict[str, str]]:
    """The notebook converted and trained (in the background from the session's start:
    tests/conftest.py, Early), and the environment that runs its code."""
    root = early.result(__name__, "project")
    return root / "project", generated_env(root / "project", root / "bentoml")


@pytest.fixture(scope="module")
def server(project: tuple[Path, dict[str, str]]) -> Iterator[tuple[str, Path]]:
    """The live service's URL and the file its stdout and stderr go to."""
    path, env = project
    service = re.search(r"^class (\w+)", (path / "service.py").read_text(), re.M)
    assert service is not None
    with bentoml_server(BIN / "bentoml", f"service:{service[1]}", path, env) as url:
        yield url, path / f"server-{url.rsplit(':', 1)[1]}.log"


def _example(project: Path) -> tuple[list[dict], list[dict]]:
    request = json.loads((project / "examples" / "request.json").read_text())
    response = json.loads((project / "examples" / "response.json").read_text())
    return request["body"], response


def _bad_requests(row: dict) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """name -> (route, body, headers) of requests that must be refused."""
    json_type = {"content-type": "application/json"}
    first = next(iter(row))

    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    return {
        "empty batch": ("/predict_batch", b"[]", json_type),
        "object for a batch": ("/predict_batch", b"{}", json_type),
        "empty object": ("/predict", b"{}", json_type),
        "malformed JSON": ("/predict_batch", b'[{"a": ', json_type),
        "malformed JSON row": ("/predict", b'{"a": ', json_type),
        "invalid UTF-8": ("/predict_batch", b"\xff\xfe[\xc3\x28]", json_type),
        "100,000 deep": ("/predict_batch", b"[" * 100_000 + b"]" * 100_000, json_type),
        "100,000 deep row": ("/predict", b"[" * 100_000 + b"]" * 100_000, json_type),
        "multipart without boundary": ("/predict", b"x", {"content-type": "multipart/form-data"}),
        "batch multipart": ("/predict_batch", b"x", {"content-type": "multipart/form-data"}),
        "text/plain": ("/predict", body(row), {"content-type": "text/plain"}),
        "string for a number": ("/predict", body({**row, first: "13.5"}), json_type),
        "false for a number": ("/predict", body({**row, first: False}), json_type),
        "NaN": ("/predict", body({**row, first: "?"}).replace(b'"?"', b"NaN"), json_type),
        "1e999": ("/predict", body({**row, first: "?"}).replace(b'"?"', b"1e999"), json_type),
        "missing column": ("/predict", body({k: row[k] for k in row if k != first}), json_type),
        "extra column": ("/predict", body({**row, "extra": 1.0}), json_type),
        "string in a batch": ("/predict_batch", body([{**row, first: "13.5"}]), json_type),
        "numbers for rows": ("/predict_batch", b"[1, 2]", json_type),
    }  # fmt: skip


def test_bad_requests_get_a_one_line_4xx(server: tuple[str, Path], project) -> None:
    import httpx

    url, _ = server
    rows, _ = _example(project[0])
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, (route, body, headers) in _bad_requests(rows[0]).items():
            answer = client.post(route, content=body, headers=headers)
            # 415 for what is not JSON, 400 for the rest
            expected = 400 if headers["content-type"] == "application/json" else 415
            assert answer.status_code == expected, (name, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/json", name
            assert "\n" not in answer.text, name
            reason = answer.json()
            assert list(reason) == ["error"] and isinstance(reason["error"], str), name
            assert reason["error"], name


def test_valid_rows_still_get_the_notebooks_predictions(server, project) -> None:
    import httpx

    url, _ = server
    rows, predictions = _example(project[0])
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/predict_batch", json=rows).json() == predictions
        for row, prediction in zip(rows, predictions, strict=True):
            assert client.post("/predict", json=row).json() == prediction
        # JSON has one number type: an integer where a float goes is still a number.
        whole = {k: round(v) if isinstance(v, float) else v for k, v in rows[0].items()}
        assert client.post("/predict", json=whole).status_code == 200


def test_the_guard_declares_what_it_answers(server) -> None:
    import httpx

    url, _ = server
    document = httpx.get(f"{url}/docs.json", timeout=30).json()
    for route in ("/predict", "/predict_batch"):
        responses = document["paths"][route]["post"]["responses"]
        assert {"400", "413", "415"} <= set(responses), route
    batch = document["paths"]["/predict_batch"]["post"]["requestBody"]
    assert batch["content"]["application/json"]["schema"]["minItems"] == 1


def test_a_flood_of_bad_requests_writes_little_log(server, project) -> None:
    import httpx

    url, log = server
    rows, _ = _example(project[0])
    requests = list(_bad_requests(rows[0]).values())
    before = log.stat().st_size
    sent = 0
    deadline = time.monotonic() + FLOOD_S
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < deadline:
            route, body, headers = requests[sent % len(requests)]
            assert client.post(route, content=body, headers=headers).status_code < 500
            sent += 1
    time.sleep(1)  # the server's log handlers flush
    written = log.read_bytes()[before:]
    print(f"{sent} bad requests in {FLOOD_S:.0f} s wrote {len(written)} bytes of log")
    assert len(written) < LOG_BUDGET, (sent, len(written))
    assert b"Traceback" not in written
    assert b"[WARNING]" in written and b"[ERROR]" not in written


def test_real_bugs_keep_their_traceback(project) -> None:
    """The log filter drops BentoML's records of client errors only."""
    path, _ = project
    sys.path.insert(0, str(path / "src"))
    try:
        from iris_service.request_guard import _without_client_errors
        from pydantic import BaseModel, ValidationError
    finally:
        sys.path.remove(str(path / "src"))

    def record(error: BaseException) -> logging.LogRecord:
        return logging.LogRecord(
            "bentoml._internal.server.http_app", logging.ERROR, __file__, 1,
            "Exception on %s [%s]", ("/predict", "POST"), (type(error), error, None),
        )  # fmt: skip

    class Row(BaseModel):
        x: float

    try:
        Row.model_validate({})
    except ValidationError as invalid:
        assert not _without_client_errors(record(invalid))
    assert _without_client_errors(record(RuntimeError("a bug")))


def run_schemathesis(url: str, cwd: Path, examples: int = EXAMPLES) -> int:
    """Positive and negative cases from the service's own OpenAPI document: no server
    error, no answer outside the schema. Returns how many cases were generated."""
    started = time.monotonic()
    run = subprocess.run(
        [
            str(BIN / "st"), "run", f"{url}/docs.json",
            "--include-path-regex", "^/predict",
            "--phases", "fuzzing",
            "--mode", "all",
            "--max-examples", str(examples),
            "--seed", os.environ.get("NB2PROD_SCHEMATHESIS_SEED", "1"),
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,"
            "content_type_conformance",
        ],
        capture_output=True, text=True, timeout=60 + examples * 2, check=False,
        env={**os.environ, "NO_COLOR": "1"}, cwd=cwd,  # it writes .schemathesis/ there
    )  # fmt: skip
    output = run.stdout + run.stderr
    generated = re.search(r"(\d+) generated", output)
    print(f"schemathesis: {generated and generated[0]} in {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, output[-4000:]
    assert generated is not None and 0 < int(generated[1]) <= 2 * examples, output[-2000:]
    return int(generated[1])


def test_schemathesis_finds_no_server_error(server, tmp_path: Path) -> None:
    pytest.importorskip("schemathesis")
    url, _ = server
    run_schemathesis(url, tmp_path)
