"""request_timers.py: BentoML's own TimeoutMiddleware, patched, cancels each request's
timer once the request ends, and still answers 504 to a request that outlives it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nb2prod.generate.runtime import request_timers

traffic = pytest.importorskip("bentoml._internal.server.http.traffic")


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _too_slow(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.sleep(5)
    await _answer(scope, receive, send)


async def _request(app: Any) -> tuple[list[dict[str, Any]], int]:
    """What `app` sent for one HTTP request, and how many timers the loop still holds."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/"}, receive, send)
    await asyncio.sleep(0)  # a cancelled request unwinds (its own sleep's timer goes)
    loop = asyncio.get_running_loop()
    live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    return sent, len(live)


def test_bentomls_own_middleware_keeps_its_timer_until_the_timeout() -> None:
    """The leak the patch is for: if BentoML fixes it, this fails and the patch can go."""
    fresh = traffic.TimeoutMiddleware.__dict__.get(request_timers._PATCHED)
    if fresh:
        pytest.skip("patched earlier in this process")
    sent, live = asyncio.run(_request(traffic.TimeoutMiddleware(_answer, timeout=30)))
    assert sent[0]["status"] == 200 and live == 1


def test_the_patched_middleware_cancels_its_timer_and_still_times_out() -> None:
    assert request_timers.cancel_request_timers()
    assert request_timers.cancel_request_timers()  # a second call changes nothing
    sent, live = asyncio.run(_request(traffic.TimeoutMiddleware(_answer, timeout=30)))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert live == 0
    sent, live = asyncio.run(_request(traffic.TimeoutMiddleware(_too_slow, timeout=0.05)))
    assert sent[0]["status"] == 504 and live == 0


def test_another_middleware_shape_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    class Other:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...

    monkeypatch.setattr(traffic, "TimeoutMiddleware", Other)
    assert not request_timers.cancel_request_timers()
    assert "__call__" in Other.__dict__ and not hasattr(Other, request_timers._PATCHED)
