"""A server that does nothing, to measure the load generator itself.

Plain ASGI (no framework), answering every request with a constant JSON body;
run under uvicorn, it is about the fastest thing Python can serve. Benchmarking
it with each client shows the most requests/s that client can push on this
machine: if a client tops out near a real server's numbers, the client, not
the server, is being measured. See README ("Is the client the bottleneck?").

    python run_serve.py --label trivial --cwd bench/serve --ready-path /predict \\
        --server-cmd "{python} -m uvicorn trivial_asgi:app --host 127.0.0.1 --port {port}"
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

BODY = b'{"prediction":0}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Read the request body (as a real endpoint must), answer 200 with BODY."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
