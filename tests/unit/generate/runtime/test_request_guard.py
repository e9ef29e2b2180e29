"""The generated project's `request_guard.py`, tested where it lives (nb2prod/generate/runtime).

It imports its sibling `schema` relatively, so it is imported here as a module of a
package beside a real generated `schema.py` (the wine example's golden copy). The guard
is driven as ASGI: a bad body is answered by the guard itself (the app never sees it),
a good one reaches the app unchanged, and the app's 4xx answers come out as one line.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import shutil
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from nb2prod.generate.render import GENERATE
from tests.conftest import ROOT

PACKAGE = "guarded_shop"
SENT_HEADERS: list[tuple[bytes, bytes]] = []
"""The headers of the last answer `call` got."""
SCHEMA = ROOT / "tests" / "golden" / "wine_classifier" / "src" / "wine_classifier" / "schema.py"


@pytest.fixture(scope="module")
def guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("guard")
    (root / PACKAGE).mkdir()
    (root / PACKAGE / "__init__.py").write_text("")
    shutil.copyfile(SCHEMA, root / PACKAGE / "schema.py")
    shutil.copyfile(GENERATE / "runtime" / "request_guard.py", root / PACKAGE / "request_guard.py")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(f"{PACKAGE}.request_guard")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.startswith(PACKAGE)]:
            del sys.modules[name]


def call(
    guard: ModuleType,
    body: bytes,
    *,
    path: str = "/predict_batch",
    content_type: bytes = b"application/json",
    answer: tuple[int, bytes] = (200, b"[1]"),
    fast_path: Any = None,
) -> tuple[int, Any, list[bytes]]:
    """POST `body` through the guard to an app that answers `answer`: the status, the
    decoded answer and the bodies the app received."""
    seen: list[bytes] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": answer[0], "headers": []})
        await send({"type": "http.response.body", "body": answer[1]})

    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    middleware = guard.RequestGuard(
        app, row_routes=("/predict",), batch_routes=("/predict_batch",), fast_path=fast_path
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", content_type)],
        "client": ("127.0.0.1", 1),
    }
    asyncio.run(middleware(scope, receive, send))
    status = sent[0]["status"]
    SENT_HEADERS[:] = sent[0]["headers"]
    return status, json.loads(b"".join(m.get("body", b"") for m in sent[1:])), seen


def test_the_limits_come_from_the_generated_schema(guard: ModuleType) -> None:
    schema = sys.modules[f"{PACKAGE}.schema"]
    expected = 64 * 1024 + schema.MAX_BATCH_ROWS * schema.VALUES_PER_ROW * 128
    assert expected == guard.MAX_BODY_BYTES


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"[{}]", b"text/plain", 415, "content type 'text/plain' is not supported"),
        (b"[{", b"application/json", 400, "the body is not valid JSON"),
        (b"[\xff]", b"application/json", 400, "not valid UTF-8"),
        (b"[NaN]", b"application/json", 400, "NaN is not a JSON value"),
        (b"[[[[1]]]]", b"application/json", 400, "nested deeper than 3 levels"),
        (b"[]", b"application/json", 400, "must be a non-empty JSON list"),
        (b'{"a": 1}', b"application/json", 400, "must be a non-empty JSON list"),
    ],
)
def test_a_bad_body_is_answered_by_the_guard_alone(
    guard: ModuleType, body: bytes, content_type: bytes, status: int, reason: str
) -> None:
    got, answer, seen = call(guard, body, content_type=content_type)
    assert (got, seen) == (status, [])
    assert reason in answer["error"] and "\n" not in answer["error"]


def test_a_good_body_reaches_the_app_unchanged(guard: ModuleType) -> None:
    body = b'[{"alcohol": 13.2}]'
    assert call(guard, body) == (200, [1], [body])
    assert call(guard, b'{"alcohol": 13.2}', path="/predict")[0] == 200  # one row


def test_the_apps_validation_errors_come_out_as_one_line(guard: ModuleType) -> None:
    detail = {"detail": [{"loc": ["root", 0, "alcohol"], "msg": "Input should be a number"}]}
    status, answer, _ = call(guard, b"[{}]", answer=(422, json.dumps(detail).encode()))
    assert (status, answer) == (422, {"error": "0.alcohol: Input should be a number"})


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (1.5, 0),
        ("[[[]]]", 0),
        ({}, 1),
        ({"a": 1, "b": "x"}, 1),
        ([{"a": 1}, {"b": [1, 2]}], 3),
        ([[[[1]]]], 4),
        ({"a": {"b": {"c": {}}}, "d": []}, 4),
    ],
)
def test_depth_counts_lists_and_objects_only(guard: ModuleType, value: Any, depth: int) -> None:
    assert guard._depth(value) == depth


class _FastPath:
    """Stands for `fast_path.FastPath` (tested with a real service in
    tests/e2e/test_fast_path.py): takes /predict and gives `answer`."""

    server = b"BentoML Service/shop"

    def __init__(self, answer: Any) -> None:
        self.given, self.bodies = answer, []

    def takes(self, path: str) -> bool:
        return path == "/predict"

    async def answer(self, path: str, body: bytes) -> Any:
        self.bodies.append(body)
        return self.given


def _answer(status: int, *, body: bytes = b"", reason: str = "") -> Any:
    return type("Answer", (), {"status": status, "body": body, "reason": reason})()


def test_the_fast_path_answers_its_route_instead_of_the_app(guard: ModuleType) -> None:
    fast = _FastPath(_answer(200, body=b'{"label": 1}'))
    status, answer, seen = call(guard, b'{"a": 1}', path="/predict", fast_path=fast)
    assert (status, answer, seen, fast.bodies) == (200, {"label": 1}, [], [b'{"a": 1}'])
    assert (b"server", b"BentoML Service/shop") in SENT_HEADERS
    assert (b"content-length", b"12") in SENT_HEADERS


def test_the_fast_paths_4xx_is_one_line_and_logged(
    guard: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    fast = _FastPath(_answer(400, reason="predict failed on this input:\nValueError: x"))
    with caplog.at_level("WARNING"):
        status, answer, seen = call(guard, b'{"a": 1}', path="/predict", fast_path=fast)
    reason = "predict failed on this input: ValueError: x"
    assert (status, answer, seen) == (400, {"error": reason}, [])
    assert [r.getMessage() for r in caplog.records] == [
        f"rejected POST /predict from 127.0.0.1: 400 {reason}"
    ]


def test_the_app_answers_what_the_fast_path_leaves(guard: ModuleType) -> None:
    declined = _FastPath(None)
    assert call(guard, b'{"a": 1}', path="/predict", fast_path=declined)[2] == [b'{"a": 1}']
    elsewhere = _FastPath(_answer(200, body=b"{}"))
    assert call(guard, b"[1]", fast_path=elsewhere)[2] == [b"[1]"]
    assert elsewhere.bodies == []
