"""A guard in front of the service's API: a bad request gets a short 4xx, never a 500.

Left alone, BentoML answers some bad bodies with HTTP 500 (malformed JSON or invalid
UTF-8 sent to a batch route), parses any content type as JSON, and logs every rejected
request with a traceback at ERROR. `RequestGuard`, registered in `service.py`, checks
each POST to the API routes before BentoML reads it:

- content types other than JSON get 415, bodies over MAX_BODY_BYTES 413;
- invalid UTF-8, malformed JSON, nesting deeper than MAX_DEPTH and, on batch routes,
  anything but a non-empty list get 400;

and then hands the body on unchanged. Every 4xx answer of those routes is
`{"error": "<one line>"}`, the `InvalidArgument` schema of the service's OpenAPI
(`/docs.json`, where the guard adds its 413 and 415). Each rejected request is logged as
one WARNING line instead of BentoML's traceback and access line, at most LOG_BURST lines
every LOG_WINDOW_S seconds: a flood of bad requests cannot fill the disk.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

from .schema import MAX_BATCH_ROWS, ROW_DEPTH, VALUES_PER_ROW

MAX_BODY_BYTES = 64 * 1024 + MAX_BATCH_ROWS * VALUES_PER_ROW * 128
"""Largest request body: room for a full batch at 128 bytes a value."""
MAX_DEPTH = ROW_DEPTH + 2
"""Deepest nesting of lists and objects in a request: a batch of rows nests one level
more than a row, and one more is allowed (so a wrong shape gets the schema's reason)."""
LOG_WINDOW_S, LOG_BURST = 10.0, 10
"""At most LOG_BURST rejection lines per LOG_WINDOW_S seconds; the rest are counted."""
JSON_TYPES = ("", "application/json")
"""Request content types the guard lets through (BentoML reads a body without one as JSON)."""
MAX_REASON = 300
"""Longest reason in an answer or a log line, in characters."""

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]

logger = logging.getLogger(__name__)


class Rejected(Exception):
    """A request the guard answers itself, with `status` and a one-line `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class RequestGuard:
    """ASGI middleware: checks POSTs to `row_routes` (one JSON object) and `batch_routes`
    (a non-empty JSON list), reshapes 4xx answers and logs rejections (see the module)."""

    def __init__(
        self,
        app: Any,
        *,
        row_routes: tuple[str, ...] = (),
        batch_routes: tuple[str, ...] = (),
        fast_path: Any = None,
    ) -> None:
        self.app = app
        self.fast_path = fast_path  # a fast_path.FastPath: answers some routes itself
        self.batch = {
            **dict.fromkeys(row_routes, False),
            **dict.fromkeys(batch_routes, True),
        }
        # BentoML's own lines for requests answered 4xx: the guard logs those itself.
        logging.getLogger("bentoml._internal.server.http_app").addFilter(
            _without_client_errors
        )
        logging.getLogger("bentoml.access").addFilter(_without_client_errors)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/docs.json":
            declared = _rewriting(
                send, lambda status: status == 200, _declare_rejections(self.batch)
            )
            await self.app(scope, receive, declared)
        elif method != "POST" or path not in self.batch:
            await self.app(scope, receive, _watching(send, scope))
        else:
            try:
                body = await _checked_body(scope, receive, batch=self.batch[path])
            except Rejected as rejected:
                _log_rejection(scope, rejected.status, rejected.reason)
                await _send_error(send, rejected.status, rejected.reason)
                return
            if self.fast_path is not None and self.fast_path.takes(path):
                answer = await self.fast_path.answer(path, body)
                if answer is not None:
                    await _send_answer(scope, send, answer, self.fast_path.server)
                    return
            answered = _rewriting(send, _client_error, _one_line_error(scope))
            await self.app(scope, _replay(body, receive), answered)


async def _checked_body(scope: Message, receive: Receive, *, batch: bool) -> bytes:
    """The request body, once it is known to be bounded, UTF-8, shallow JSON; else `Rejected`."""
    headers = dict(scope["headers"])
    media_type = (
        headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip()
    )
    if media_type.lower() not in JSON_TYPES:
        raise Rejected(415, f"content type {media_type!r} is not supported, send JSON")
    length = headers.get(b"content-length", b"")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise Rejected(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = await _read_body(receive)
    too_deep = f"the JSON is nested deeper than {MAX_DEPTH} levels"
    try:
        value = _DECODER.decode(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Rejected(400, "the body is not valid UTF-8") from None
    except RecursionError:  # Python's parser gives up near a thousand levels
        raise Rejected(400, too_deep) from None
    except ValueError as error:
        raise Rejected(400, f"the body is not valid JSON: {error}") from None
    if _depth(value) > MAX_DEPTH:
        raise Rejected(400, too_deep)
    if batch and not (isinstance(value, list) and value):
        raise Rejected(400, "the body must be a non-empty JSON list of rows")
    return body


async def _read_body(receive: Receive) -> bytes:
    """The whole body, refused as soon as it grows over MAX_BODY_BYTES (a chunked upload
    declares no length)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Rejected(400, "the body ended early")
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            raise Rejected(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        more = message.get("more_body", False)
    return b"".join(chunks)


def _no_constant(name: str) -> float:
    """NaN and Infinity are not JSON, though Python's parser accepts them."""
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
"""Made once: `json.loads` with an argument makes a decoder per call (a third of its time)."""


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a loop: no recursion to exhaust)."""
    if not isinstance(value, dict | list):
        return 0
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        todo.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for BentoML: the body already read, then the client's later messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _rewriting(
    send: Send, wants: Callable[[int], bool], rewrite: Callable[[int, bytes], bytes]
) -> Send:
    """`send` that holds back a whole response whose status `wants` accepts, and sends
    `rewrite(status, body)` as its body instead."""
    held: list[Message] = []
    chunks: list[bytes] = []

    async def rewritten(message: Message) -> None:
        if message["type"] == "http.response.start" and wants(message["status"]):
            held.append(message)
            return
        if held and message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start = held.pop()
            body = rewrite(start["status"], b"".join(chunks))
            headers = [
                (k, v) for k, v in start["headers"] if k.lower() != b"content-length"
            ]
            await send(
                {**start, "headers": [*headers, (b"content-length", b"%d" % len(body))]}
            )
            message = {"type": "http.response.body", "body": body}
        await send(message)

    return rewritten


def _watching(send: Send, scope: Message) -> Send:
    """`send` that logs the client errors of routes the guard does not check (404s...)."""

    async def watched(message: Message) -> None:
        if message["type"] == "http.response.start" and _client_error(
            message["status"]
        ):
            _log_rejection(
                scope, message["status"], HTTPStatus(message["status"]).phrase
            )
        await send(message)

    return watched


def _client_error(status: int) -> bool:
    return 400 <= status < 500


def _one_line_error(scope: Message) -> Callable[[int, bytes], bytes]:
    """Rewrites BentoML's 4xx body as `{"error": "<one line>"}` and logs it."""

    def rewrite(status: int, body: bytes) -> bytes:
        reason = _reason(status, body)
        _log_rejection(scope, status, reason)
        return _error_body(reason)

    return rewrite


def _reason(status: int, body: bytes) -> str:
    """One line from BentoML's error body: pydantic's errors as `field: message; ...`."""
    try:
        data = json.loads(body)
    except ValueError:
        return HTTPStatus(status).phrase
    if isinstance(data, list) and len(data) == 1:  # BentoML wraps some errors in a list
        data = data[0]
    if not isinstance(data, dict):
        return HTTPStatus(status).phrase
    errors = data.get("detail")
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        return validation_reason(errors)
    return str(data.get("error") or HTTPStatus(status).phrase)


def validation_reason(errors: list[dict[str, Any]]) -> str:
    """pydantic's errors as one line, `field: message; ...` (BentoML's `root` left out
    of each location)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'root') or 'body'}: {e.get('msg')}"
        for e in errors
    )


def _declare_rejections(batch: dict[str, bool]) -> Callable[[int, bytes], bytes]:
    """Adds the guard's 413 and 415 answers to the API routes of the OpenAPI document."""

    def rewrite(status: int, body: bytes) -> bytes:
        document = json.loads(body)
        for path in batch:
            responses = document["paths"][path]["post"]["responses"]
            for code in (413, 415):
                responses[str(code)] = {
                    "description": HTTPStatus(code).phrase,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/InvalidArgument"}
                        }
                    },
                }
        return json.dumps(document).encode()

    return rewrite


def _error_body(reason: str) -> bytes:
    return json.dumps({"error": _one_line(reason)}).encode()


async def _send_error(send: Send, status: int, reason: str) -> None:
    await _send(send, status, _error_body(reason))


async def _send_answer(scope: Message, send: Send, answer: Any, server: bytes) -> None:
    """Sends the fast path's answer as BentoML would, its 4xx as the guard's own."""
    body = answer.body
    if _client_error(answer.status):
        _log_rejection(scope, answer.status, answer.reason)
        body = _error_body(answer.reason)
    await _send(send, answer.status, body, ((b"server", server),))


async def _send(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """A whole JSON response in one body message."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _one_line(text: str) -> str:
    """`text` on one printable line of at most MAX_REASON characters: it can quote a
    client's field names."""
    text = " ".join(text.split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


class _RejectionLog:
    """Logs rejections as WARNING lines, at most LOG_BURST per LOG_WINDOW_S seconds; the
    first line of a window counts those the last window left out."""

    def __init__(self) -> None:
        self.window_start, self.lines, self.left_out = float("-inf"), 0, 0

    def log(self, scope: Message, status: int, reason: str) -> None:
        now, note = time.monotonic(), ""
        if now - self.window_start >= LOG_WINDOW_S:
            if self.left_out:
                note = f" ({self.left_out} more rejections were not logged)"
            self.window_start, self.lines, self.left_out = now, 0, 0
        if self.lines >= LOG_BURST:
            self.left_out += 1
            return
        self.lines += 1
        client = (scope.get("client") or ("-",))[0]
        logger.warning(
            "rejected %s %s from %s: %d %s%s", scope["method"], scope["path"], client, status,
            _one_line(reason), note,
        )  # fmt: skip


_log_rejection = _RejectionLog().log


def _without_client_errors(record: logging.LogRecord) -> bool:
    """Drops BentoML's traceback and access line of a request answered 4xx; real bugs
    (5xx) keep theirs."""
    if record.name == "bentoml.access":  # args: client, request, "status=...,..."
        return not (
            len(record.args or ()) > 2 and str(record.args[2]).startswith("status=4")
        )
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, BentoMLException):
        return error.error_code >= 500
    return not isinstance(error, ValidationError)
