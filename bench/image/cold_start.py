"""Image size and cold start (`podman run` to /readyz 200) of serving images, side by side.

Rounds alternate between the images so a busy machine slows each alike; /readyz is polled
every 20 ms. Build the images first, e.g. the wine demo on two branches:

    nb2prod convert examples/wine_classifier.ipynb -o /tmp/wine && cd /tmp/wine \\
      && wine-classifier-train --output-dir artifacts && nb2prod image . --tag wine:lean
    python bench/image/cold_start.py wine:main wine:lean --rounds 5

Needs podman on the PATH with its environment (`eval "$(scripts/podman-setup.sh)"`).
`bench/image/start_bench.sh BEFORE_CHECKOUT AFTER_CHECKOUT` does it all (convert, train,
build both images, this, then host_start.py on the host, and cleans up).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

POLL_S = 0.02


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def podman(*args: str) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def cold_start(tag: str, timeout: float = 120.0) -> float:
    """Seconds from `podman run` to the first 200 on /readyz; the container is removed."""
    port = free_port()
    started = time.monotonic()
    container = podman("run", "--detach", "--network=host", f"--env=BENTOML_PORT={port}", tag)
    try:
        return seconds_to_ready(port, started, timeout, tag)
    finally:
        podman("rm", "--force", "--time", "0", container)


def seconds_to_ready(
    port: int, started: float, timeout: float, what: str, alive: Callable[[], bool] = bool
) -> float:
    """Seconds from `started` (time.monotonic) to the first 200 on the port's /readyz,
    polled every POLL_S; a server that stops being `alive()` fails at once."""
    url = f"http://127.0.0.1:{port}/readyz"
    while time.monotonic() - started < timeout:
        if not alive():
            raise RuntimeError(f"{what} exited before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(POLL_S)
    raise TimeoutError(f"{what} was not ready within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tags", nargs="+", help="images to compare")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    times: dict[str, list[float]] = {tag: [] for tag in arguments.tags}
    for _ in range(arguments.rounds):
        for tag in arguments.tags:
            times[tag].append(cold_start(tag))
    print("| image | size | cold start, median (min-max) |")
    print("|---|---|---|")
    for tag, seconds in times.items():
        size = int(podman("image", "inspect", "--format", "{{.Size}}", tag)) / 1e6
        low, high = min(seconds), max(seconds)
        median = statistics.median(seconds)
        print(f"| {tag} | {size:.0f} MB | {median:.2f} s ({low:.2f}-{high:.2f}) |")


if __name__ == "__main__":
    main()
