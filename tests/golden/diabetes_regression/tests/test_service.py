"""Service tests: direct calls, HTTP routes in-process, and one real `bentoml serve`.

The expected answers are the predictions the notebook's code made for the rows in
`examples/request.json` (recorded by nb2prod in `examples/response.json`).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from diabetes_regression.schema import MAX_BATCH_ROWS, DiabetesRegressionRow
from diabetes_regression.train import main as train

ROOT = Path(__file__).resolve().parent.parent
REQUEST = json.loads((ROOT / "examples" / "request.json").read_text())
EXPECTED = json.loads((ROOT / "examples" / "response.json").read_text())
ROWS: list[dict[str, Any]] = REQUEST["body"]
# The service may answer from the model's ONNX twin, whose probabilities training
# checked to agree within this tolerance; labels must be equal.
FLOAT_TOLERANCE = 1e-5


def same(answer: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """Equal predictions; floats within FLOAT_TOLERANCE."""
    if len(answer) != len(expected):
        return False
    return all(
        close(got[name], value)
        for got, want in zip(answer, expected, strict=True)
        for name, value in want.items()
    )


def close(got: Any, want: Any) -> bool:
    """Equal, floats within FLOAT_TOLERANCE, lists element by element."""
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(close(g, w) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=FLOAT_TOLERANCE)
    return bool(got == want)


@pytest.fixture(scope="module")
def service_class(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The service class, once a model is trained into the test's BentoML store."""
    assert train(["--output-dir", str(tmp_path_factory.mktemp("artifacts"))]) == 0
    sys.path.insert(0, str(ROOT))
    from service import DiabetesRegressionService

    return DiabetesRegressionService


def test_direct_calls_reproduce_the_notebook(service_class: Any) -> None:
    service = service_class()
    rows = [DiabetesRegressionRow.model_validate(row) for row in ROWS]
    answer = [p.model_dump() for p in service.predict_rows(rows)]
    assert same(answer, EXPECTED)


def test_routes_answer_and_reject_bad_rows(service_class: Any) -> None:
    with TestClient(app=service_class.to_asgi()) as client:
        batch = client.post("/predict_batch", json=ROWS)
        assert batch.status_code == 200, batch.text
        assert same(batch.json(), EXPECTED)
        single = client.post("/predict", json=ROWS[0])
        assert single.status_code == 200, single.text
        assert same([single.json()], EXPECTED[:1])
        first = next(iter(ROWS[0]))
        for bad in (
            {**ROWS[0], first: "not a number"},
            {k: v for k, v in ROWS[0].items() if k != first},
            {**ROWS[0], "unexpected": 1},
            [ROWS[0]],
        ):
            answer = client.post("/predict", json=bad)
            assert answer.status_code == 400, (bad, answer.text)
            assert answer.json()["error"], answer.text  # one line, see request_guard.py
        too_many = client.post("/predict_batch", json=[ROWS[0]] * (MAX_BATCH_ROWS + 1))
        assert too_many.status_code == 400
        assert client.get("/readyz").status_code == 200
        out_of_range = client.post(
            "/predict", json={**ROWS[0], "age": 11.215950999999999}
        )
        assert out_of_range.status_code == 400 and "less than" in out_of_range.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bentoml_serve_answers_over_http(service_class: Any) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", "service:DiabetesRegressionService",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=os.environ.copy(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, "bentoml serve exited early"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        answer = httpx.post(f"{url}{REQUEST['path']}", json=ROWS, timeout=30)
        assert answer.status_code == 200, answer.text
        assert same(answer.json(), EXPECTED)
        assert (
            httpx.post(f"{url}/predict", json={"bad": 1}, timeout=30).status_code == 400
        )
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200  # survived it
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
