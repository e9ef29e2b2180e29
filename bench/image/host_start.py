"""Cold start on the host, side by side: `bentoml serve` against the project's single_worker.

Each round starts both servers in turn (alternating, so a busy machine slows each alike)
from a generated, trained project and times process start to the first 200 on /readyz,
polled every 20 ms; the server is then stopped (SIGTERM to its process group).

    python bench/image/host_start.py /tmp/wine --rounds 5

Run it with a Python that has the project's requirements (BentoML, the model's runtime);
BENTOML_HOME must hold the trained model.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cold_start import free_port, seconds_to_ready  # beside this script


def cold_start(command: list[str], project: Path, timeout: float = 120.0) -> float:
    """Seconds from starting `command` in `project` to the first 200 on /readyz."""
    port = free_port()
    env = {
        **os.environ,
        "BENTOML_HOST": "127.0.0.1",
        "BENTOML_PORT": str(port),
        "PYTHONPATH": os.pathsep.join([str(project / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    started = time.monotonic()
    server = subprocess.Popen(
        command,
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        alive = lambda: server.poll() is None  # noqa: E731
        return seconds_to_ready(port, started, timeout, " ".join(command), alive)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="a generated, trained project")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    project = arguments.project.resolve()
    manifest = json.loads((project / "nb2prod.json").read_text())
    package = manifest["project"].replace("-", "_")
    target = f"service:{manifest['service']}"
    commands = {
        "bentoml serve": [sys.executable, "-m", "bentoml", "serve", target],
        "single_worker": [sys.executable, "-m", f"{package}.single_worker", target],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(arguments.rounds):
        for name, command in commands.items():
            times[name].append(cold_start(command, project))
    print("| server | cold start to /readyz, median (min-max) |")
    print("|---|---|")
    for name, seconds in times.items():
        low, high, median = min(seconds), max(seconds), statistics.median(seconds)
        print(f"| {name} | {median:.2f} s ({low:.2f}-{high:.2f}) |")


if __name__ == "__main__":
    main()
