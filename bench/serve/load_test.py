"""A bounded load test of a generated service: no errors, and memory that stays flat.

Converts and trains the wine example into a temporary project, runs its real
`bentoml serve` in a process group of its own, then sends `--runs` rounds of
`--seconds` of one-row `/predict` requests from `--concurrency` concurrent
clients (asyncio + httpx, closed loop). After each round it records the requests,
the non-200 answers, p50/p99 latency and the PSS of the whole server tree
(`/proc/<pid>/smaps_rollup`). The server must answer every request and its
memory after the last round must be within `--flat` (5%) of the first round's:
a service that leaks per request fails here long before production.

Usage (from the repository root, in nb2prod's venv)::

    python bench/serve/load_test.py --runs 3 --seconds 15 --concurrency 32 [--markdown FILE]

Exit codes: 0 no error and flat memory; 1 errors or growth; 2 a step failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "wine_classifier.ipynb"


def _run(command: list[str], **kwargs: object) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        print(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        raise SystemExit(2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pss_mb(leader: int) -> float:
    """PSS of every process in `leader`'s process group, in MB."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != leader:
                continue
            rollup = (stat.parent / "smaps_rollup").read_text()
        except (OSError, IndexError, ValueError):
            continue
        total += next(int(x.split()[1]) for x in rollup.splitlines() if x.startswith("Pss:"))
    return total / 1024


async def _round(url: str, row: dict, seconds: float, concurrency: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                answer = await http.post(f"{url}/predict", json=row)
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--flat", type=float, default=0.05, help="allowed memory growth")
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nb2prod-load-") as folder:
        work = Path(folder)
        project = work / "project"
        env = {**os.environ, "BENTOML_HOME": str(work / "bentoml"), "NO_COLOR": "1"}
        env["PYTHONPATH"] = os.pathsep.join([str(project / "src"), *sys.path])
        _run([sys.executable, "-m", "nb2prod", "convert", str(NOTEBOOK), "-o", str(project)])
        _run([sys.executable, "-m", "wine_classifier.train", "--output-dir", "artifacts"],
             cwd=project, env=env)  # fmt: skip
        manifest = json.loads((project / "nb2prod.json").read_text())
        row = json.loads((project / "examples" / "request.json").read_text())["body"][0]
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", f"service:{manifest['service']}",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the service did not become ready")
                    return 2
                time.sleep(0.3)
            rounds = []
            for _ in range(args.runs):
                result = asyncio.run(_round(url, row, args.seconds, args.concurrency))
                result["pss_mb"] = _pss_mb(server.pid)
                rounds.append(result)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    growth = rounds[-1]["pss_mb"] / rounds[0]["pss_mb"] - 1
    errors = sum(r["errors"] for r in rounds)
    lines = [
        f"`python bench/serve/load_test.py --runs {args.runs} --seconds {args.seconds:g} "
        f"--concurrency {args.concurrency}` (wine_classifier's generated service, one row per "
        f"`/predict`, {os.cpu_count()} cores, client and server on one machine):",
        "",
        "| round | requests | errors | req/s | p50 ms | p99 ms | server PSS MB |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {i} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['pss_mb']:.1f} |"
            for i, r in enumerate(rounds, 1)
        ),
        "",
        f"Errors: {errors}. Memory from the first round to the last: {growth:+.1%} "
        f"(allowed {args.flat:.0%}).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with args.markdown.open("a") as handle:
            handle.write("\n## Load: the generated service under bounded load\n\n" + text + "\n")
    return 0 if errors == 0 and growth <= args.flat else 1


if __name__ == "__main__":
    raise SystemExit(main())
