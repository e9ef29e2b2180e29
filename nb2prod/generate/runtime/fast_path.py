"""The one-row route answered without BentoML's per-request dispatch.

Why: profiled under load (bench/serve, py-spy), BentoML's dispatch of one request
(Starlette routing, its context middleware, `inspect.signature` of the endpoint on every
call, the serde lookup, an answer sent as three messages through every middleware) took
about two and a half times the CPU of validating the row and running an ONNX model. The request
guard has already read and checked the body, so it hands it here and `FastPath`
answers as BentoML would:

- the row is validated by the same pydantic model BentoML validates it with (the
  endpoint's `input_spec`), so bad rows get the same 400 and reason;
- the same `@bentoml.api` method runs on the same service instance
  (`bentoml.get_current_service()`, set once the instance exists);
- the answer is the bytes BentoML sends (`model_dump_json` of the returned model),
  with its content type and `Server` header, in one message with a length;
- errors are BentoML's: a `BentoMLException` answers its status (`row_faults.py`'s 400),
  anything else 500 with BentoML's message and the traceback logged by its logger.

What stays outside: BentoML's metrics, tracing and timeout middlewares wrap the guard,
so `/metrics` still counts every request and its latency. Only routes whose endpoint is
`async def`, not batchable and takes no context are taken: a plain `def` endpoint runs
in BentoML's thread pool (torch releases the GIL there), and `/predict_batch` keeps
adaptive batching. A traced route (tracing configured and not excluded) is left to
BentoML too, which puts the span's id in the answer's headers; so is every route when
`NB2PROD_FAST_PATH=0` is in the environment.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterable
from typing import Any

import bentoml
from bentoml.exceptions import BentoMLException
from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from .request_guard import validation_reason

logger = logging.getLogger("bentoml.serve.fast_path")
"""Under BentoML's serving logger: BentoML's log setup shows its INFO lines (a module's
own logger shows WARNING and up only)."""
BENTOML_ERROR_LOG = logging.getLogger("bentoml._internal.server.http_app")
"""The logger BentoML logs a failed request's traceback with (its `log_exception`)."""
UNEXPECTED_BODY = (
    b'{"error":"An unexpected error has occurred, please check the server log."}'
)
"""BentoML's answer to a request that failed on the server (5xx), byte for byte."""


class Answer:
    """A response the fast path gives instead of BentoML: status, reason or body."""

    __slots__ = ("body", "reason", "status")

    def __init__(self, status: int, *, body: bytes = b"", reason: str = "") -> None:
        self.status, self.body, self.reason = status, body, reason


class FastPath:
    """Answers POSTs to `routes` of `service` the way BentoML does (see the module)."""

    def __init__(self, service: Any, *, routes: Iterable[str]) -> None:
        self.service = service
        self.server = f"BentoML Service/{service.name}".encode()
        enabled = os.environ.get("NB2PROD_FAST_PATH", "1") != "0"
        # The `@bentoml.api` methods answered here, by route.
        self.apis = {
            method.route: method
            for method in service.apis.values()
            if enabled and method.route in routes and _plain(method)
        }
        self._taken: dict[str, bool] = {}

    def takes(self, path: str) -> bool:
        """Whether `path` is answered here (BentoML answers the rest)."""
        taken = self._taken.get(path)
        if taken is None:
            taken = self._taken[path] = self._decide(path)
        return taken

    def _decide(self, path: str) -> bool:
        """Whether `path` is answered here, decided on its first request and logged. A
        traced route (an exporter configured, `tracing.excluded_urls` not excluding it)
        goes through BentoML, which puts the span's id in its answers' headers."""
        if path not in self.apis:
            return False
        if trace.get_current_span().get_span_context().is_valid:
            logger.info("POST %s goes through BentoML's dispatch: it is traced", path)
            return False
        logger.info(
            "POST %s is answered past BentoML's dispatch (fast_path.py; "
            "NB2PROD_FAST_PATH=0 turns this off)",
            path,
        )
        return True

    async def answer(self, path: str, body: bytes) -> Answer | None:
        """The answer to `body` posted to `path`, or None to let BentoML answer."""
        instance = _instance(self.service)
        if instance is None:
            return None
        method = self.apis[path]
        try:
            row = method.input_spec.model_validate_json(body or b"{}")
        except ValidationError as error:
            return Answer(400, reason=validation_reason(error.errors()))
        try:
            output = await method.func(instance, row)
            return Answer(200, body=output.model_dump_json().encode())
        except BentoMLException as error:
            if error.error_code in (401, 403):  # BentoML says no more than this
                return Answer(error.error_code, reason="Authorization error")
            if error.error_code < 500:
                return Answer(error.error_code, reason=str(error))
            return _failure(path, error.error_code)
        except Exception:  # noqa: BLE001 - any other error is a 500, as BentoML answers it
            return _failure(path, 500)


def _plain(method: Any) -> bool:
    """An endpoint the fast path can call as BentoML would: `async def`, one row in,
    one pydantic model out, no batching, no context, no streaming."""
    return (
        inspect.iscoroutinefunction(method.func)
        and not method.batchable
        and method.ctx_param is None
        and not method.is_stream
        and getattr(method.input_spec, "__root_input__", False)
        and _is_model(method.input_spec)
        and _is_model(method.output_spec)
    )


def _is_model(spec: type) -> bool:
    """A pydantic model of named fields, not BentoML's wrapper of another type (whose
    field is `root`): BentoML hands it over and serialises it as it is."""
    return issubclass(spec, BaseModel) and "root" not in spec.model_fields


def _instance(service: Any) -> Any:
    """The service's instance in this worker, once BentoML has made it; else None."""
    try:
        instance = bentoml.get_current_service()
    except BentoMLException:
        return None
    return instance if isinstance(instance, service.inner) else None


def _failure(path: str, status: int) -> Answer:
    """BentoML's answer to a request that failed on the server, and its log line with
    the traceback."""
    BENTOML_ERROR_LOG.error("Exception on %s [%s]", path, "POST", exc_info=True)
    return Answer(status, body=UNEXPECTED_BODY)
