"""BentoML's request timeout, with each request's timer cancelled once the request ends.

Why: BentoML 1.4's `TimeoutMiddleware` schedules `loop.call_later(timeout, ...)` for
every request and never cancels it, so each request leaves its timer, future and
context alive for the whole traffic timeout: at 3,000 requests/s and a 10 s timeout,
30,000 live timers. Measured on the wine forest service (bench/serve, one row per
request, wrk, 8 s per level): the process grew from 124 to 153 MB, and p99/p50 at one
connection went from 1.6 to 2.3 (the event loop's timer heap and the garbage collector
walk them). `cancel_request_timers()` gives the middleware the same behaviour (a 504 when
no answer has started within the timeout, the request cancelled) plus the cancel.

It patches only a `TimeoutMiddleware` shaped as BentoML 1.4's (an `app`, a `timeout` and
`_set_timer_out`); any other version keeps its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

_PATCHED = "_nb2prod_cancels_its_timer"


def cancel_request_timers() -> bool:
    """Make BentoML's TimeoutMiddleware cancel each request's timer once it is answered;
    whether the patch applies (False: another BentoML, left as it is)."""
    try:
        from bentoml._internal.server.http import traffic
    except ImportError:
        return False
    middleware = getattr(traffic, "TimeoutMiddleware", None)
    if middleware is None or not hasattr(middleware, "_set_timer_out"):
        return False
    if getattr(middleware, _PATCHED, False):
        return True
    middleware.__call__ = _timed_call
    setattr(middleware, _PATCHED, True)
    return True


async def _timed_call(self: Any, scope: Any, receive: Any, send: Any) -> None:
    """BentoML 1.4's `TimeoutMiddleware.__call__`, plus `timer.cancel()` at the end."""
    if scope["type"] not in ("http", "websocket"):
        await self.app(scope, receive, send)
        return
    loop = asyncio.get_running_loop()
    answered = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, answered)

    async def _send(message: Any) -> None:
        if not answered.done():
            answered.set_result(None)
        await send(message)

    request = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    try:
        await answered
    except TimeoutError:  # what _set_timer_out sets
        if request.cancel():
            from bentoml._internal.server.http.traffic import JSONResponse

            late = JSONResponse(
                {"error": f"Not able to process the request in {self.timeout} seconds"},
                status_code=504,
            )
            await late(scope, receive, send)
    else:
        await request
    finally:
        timer.cancel()
