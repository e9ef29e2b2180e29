"""Benchmark an HTTP prediction server: requests/s, exact p50/p99 latency, errors, memory.

One *run* of a server: wait until the machine is quiet, start the server
command as a subprocess in a new process group, poll ``--ready-path`` until it
answers 200, send one request and check it answers 2xx, then for each
``--concurrency`` level (ascending) warm up at that level (``--warmup``
seconds, not counted) and send load for ``--duration`` seconds over that many
keep-alive connections (a closed loop: each connection sends its next request
when the previous answer arrives). Recorded per level: requests/s, p50 and p99
latency, errors (connection errors, timeouts, HTTP status >= 400), the
server's CPU time per request, the CPU used by everything else on the machine,
and the server's memory: the PSS (``/proc/<pid>/smaps_rollup``) summed over
the server's processes (its process group plus all descendants: BentoML's
workers run in sessions of their own), read right after the load. Then all of
them are stopped. ``--repeat N`` does N runs and reports the median of each number.

The load generator is ``wrk`` (C, epoll; latency recorded per request at 1 us
resolution, so percentiles are exact) when it is on PATH, with a Lua script
that POSTs the payload and prints the statistics as JSON; ``--client python``
uses a minimal asyncio HTTP/1.1 client instead (exact percentiles from every
latency), which needs more CPU than wrk (see README: the client must not be
the bottleneck).

Servers:

* default: the hand-written FastAPI baseline (``handwritten_fastapi.py``) for
  ``--model forest|linear``;
* ``--server-cmd "..." --cwd DIR [--env K=V] [--url-path /predict]
  [--payload FILE] [--ready-path /readyz]``: any command, e.g. a generated
  BentoML project. ``{port}`` in the command is replaced by a free port and
  ``{python}`` by this interpreter;
* ``--suite``: the comparison in the README, hand-written FastAPI against the
  reference BentoML service (``reference_bento/service.py``) with scikit-learn,
  ONNX and adaptive batching, for both models, with ratios to FastAPI and the
  aims checked.

Models and payloads come from ``models.py`` (run automatically into
``--artifacts`` when missing).

Exit codes: 0 done; 1 a server failed (exited or was not ready in time, died,
or answered the check request with an error) or requests failed during the
load; 2 bad arguments, a command that cannot be started, or no load generator.

Usage::

    python bench/serve/run_serve.py --model forest
    python bench/serve/run_serve.py --suite --repeat 3 --markdown bench/serve/RESULTS.md
    python bench/serve/run_serve.py --label generated-bento --cwd out/project \\
        --server-cmd "bentoml serve service:WineClassifier --host 127.0.0.1 --port {port}" \\
        --payload bench/serve/artifacts/row.json --url-path /predict --ready-path /readyz
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_ARTIFACTS = HERE / "artifacts"
REFERENCE_BENTO = HERE / "reference_bento"
BASELINE = "fastapi"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2

# POSTs the body file named by NB2PROD_BODY_FILE; done() prints one JSON line.
# wrk's latency histogram has 1 us buckets, so percentile() is exact to 1 us.
WRK_SCRIPT = r"""
local f = assert(io.open(os.getenv("NB2PROD_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'NB2PROD_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


class BenchError(Exception):
    """A problem that stops the benchmark; carries the exit code to use."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ServerConfig:
    """How to start one server and what to send it."""

    label: str
    cmd: str  # shell-style; {port} and {python} are substituted
    cwd: Path
    url_path: str
    payload: Path
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    model: str = ""  # for grouping and ratios in the suite
    baseline: bool = False


@dataclass(frozen=True)
class LoadResult:
    """One load level against one running server."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Measurement:
    """A load level plus what the server used for it."""

    load: LoadResult
    pss_mb: float
    cpu_ms_per_request: float  # server group CPU (user + system) per request
    client_cores: float  # CPU the load generator used, in cores
    other_cores: float  # CPU everything else on the machine used, in cores
    ready_s: float = 0.0  # from starting the command to the ready path's 200 (cold start)


@dataclass
class Row:
    """All runs of one (server, concurrency); the report shows medians."""

    config: ServerConfig
    concurrency: int
    runs: list[Measurement] = field(default_factory=list)

    def median(self, attr: str) -> float:
        values = [
            getattr(m.load, attr) if hasattr(m.load, attr) else getattr(m, attr) for m in self.runs
        ]
        return statistics.median(values)

    @property
    def errors(self) -> int:
        return sum(m.load.errors for m in self.runs)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, ...), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    return stat[stat.rindex(")") + 2 :].split()


def server_pids(root: int) -> dict[int, str]:
    """The server's live processes, pid -> start time: its process group and all descendants.

    Descendants count too because a process manager may start workers in new
    sessions: BentoML's circus arbiter does, so the group alone would miss the
    worker that holds the model.
    """
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(entry.name)
        if fields is None or fields[0] == "Z":  # gone, or a zombie (holds nothing)
            continue
        pid = int(entry.name)
        started[pid] = fields[19]
        children.setdefault(int(fields[1]), []).append(pid)
        if int(fields[2]) == root:
            found.add(pid)
    if root in started:
        found.add(root)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return {pid: started[pid] for pid in sorted(found)}


def tree_pss_kb(root: int) -> int:
    """Summed PSS (kB) of the server's processes: shared pages are split among their sharers."""
    total = 0
    for pid in server_pids(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                break
    return total


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by the server's live processes."""
    total = 0
    for pid in server_pids(root):
        fields = _proc_stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _alive(processes: dict[int, str]) -> dict[int, str]:
    """Those of ``processes`` still running (same pid and start time, not a zombie)."""
    alive = {}
    for pid, start in processes.items():
        fields = _proc_stat(pid)
        if fields is not None and fields[0] != "Z" and fields[19] == start:
            alive[pid] = start
    return alive


class Server:
    """A server command running in its own process group; ``stop`` ends all its processes."""

    def __init__(self, config: ServerConfig, log_dir: Path) -> None:
        self.config = config
        self.port = free_port()
        self.log_path = log_dir / f"{config.label}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        cmd = self.config.cmd.replace("{port}", str(self.port))
        cmd = cmd.replace("{python}", shlex.quote(sys.executable))
        return shlex.split(cmd)

    def start(self) -> None:
        env = {**os.environ, **self.config.env}
        # The venv's scripts (uvicorn, bentoml) first, as if it were activated.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        with open(self.log_path, "wb") as log:
            try:
                self.proc = subprocess.Popen(
                    self.argv(),
                    cwd=self.config.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own process group: pgid == pid
                )
            except OSError as exc:
                raise BenchError(
                    f"{self.config.label}: cannot start {shlex.join(self.argv())} "
                    f"in {self.config.cwd}: {exc}",
                    EXIT_CANNOT_RUN,
                ) from exc

    @property
    def pgid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").rstrip().splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def wait_ready(self, timeout: float) -> float:
        """Poll the ready path until 200; return seconds from start. Fails if the server dies."""
        assert self.proc is not None
        start = time.perf_counter()
        url = self.base_url + self.config.ready_path
        while time.perf_counter() - start < timeout:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.config.label}: server exited with code {self.proc.returncode} "
                    f"before it was ready: {shlex.join(self.argv())}\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise BenchError(
            f"{self.config.label}: {url} not ready after {timeout:.0f} s\n{self.log_tail()}"
        )

    def check_request(self) -> str:
        """POST the payload once; the answer must be 2xx. Returns the body for the log."""
        request = urllib.request.Request(
            self.base_url + self.config.url_path,
            data=self.config.payload.read_bytes(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise BenchError(
                f"{self.config.label}: POST {self.config.url_path} answered {exc.code}: "
                f"{body[:500]}\n{self.log_tail()}"
            ) from exc

    def stop(self) -> None:
        """SIGTERM the group, then SIGKILL whatever of the server's processes is left after 10 s.

        Only processes seen in the server's tree are signalled (by pid, checked
        against their start time, and by the server's own process group).
        """
        if self.proc is None:
            return
        processes = server_pids(self.pgid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and _alive(processes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.1)
        left = _alive(processes)
        if left:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.proc = None


# --------------------------------------------------------------------------- load


class WrkClient:
    """Closed-loop load with wrk: ``concurrency`` connections, ``threads`` threads."""

    name = "wrk"

    def __init__(self, threads: int, timeout_s: float, scratch: Path) -> None:
        self.threads = threads
        self.timeout_s = timeout_s
        self.script = scratch / "post.lua"
        self.script.write_text(WRK_SCRIPT, encoding="utf-8")

    def run(self, url: str, payload: Path, concurrency: int, seconds: float) -> LoadResult:
        argv = [
            "wrk",
            f"--threads={min(self.threads, concurrency)}",
            f"--connections={concurrency}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={self.timeout_s:g}s",
            f"--script={self.script}",
            url,
        ]
        env = {**os.environ, "NB2PROD_BODY_FILE": str(payload)}
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        line = next(
            (ln for ln in proc.stdout.splitlines() if ln.startswith("NB2PROD_RESULT ")), None
        )
        if proc.returncode != 0 or line is None:
            raise BenchError(f"wrk failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        data = json.loads(line.split(" ", 1)[1])
        errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
        return LoadResult(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            errors=errors,
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            max_ms=data["max_us"] / 1000,
        )


class PythonClient:
    """Closed-loop load with asyncio streams: one coroutine per keep-alive connection.

    A minimal HTTP/1.1 client (the request bytes are built once; the answer is
    read by ``Content-Length`` or chunked encoding) because a general client
    costs too much CPU: httpx's ``AsyncClient`` managed 930 requests/s at
    concurrency 1 and 270 at 32 against a trivial server that wrk drives at
    7,000 and 9,700 (README, "Is the client the bottleneck?").
    """

    name = "python (asyncio streams)"

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def run(self, url: str, payload: Path, concurrency: int, seconds: float) -> LoadResult:
        return asyncio.run(self._run(url, payload.read_bytes(), concurrency, seconds))

    async def _run(self, url: str, body: bytes, concurrency: int, seconds: float) -> LoadResult:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        request = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        latencies: list[float] = []
        errors = 0

        async def worker(deadline: float) -> None:
            nonlocal errors
            reader: asyncio.StreamReader | None = None
            writer: asyncio.StreamWriter | None = None
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    assert reader is not None
                    writer.write(request)
                    status, keep_alive = await asyncio.wait_for(
                        _read_response(reader), self.timeout_s
                    )
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                    status, keep_alive = 0, False
                if status and status < 400:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1
                if not keep_alive and writer is not None:
                    writer.close()
                    reader = writer = None
            if writer is not None:
                writer.close()

        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        return LoadResult(
            requests=len(latencies) + errors,
            seconds=elapsed,
            errors=errors,
            p50_ms=percentile(latencies, 50) * 1000,
            p99_ms=percentile(latencies, 99) * 1000,
            max_ms=max(latencies, default=0.0) * 1000,
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; return its status and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break
    return status, headers.get("connection") != "close"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (what wrk reports): the smallest value >= p% of the values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --------------------------------------------------------------------------- runs


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process plus its waited-for children (the load generator)."""
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(
        (u.ru_utime + u.ru_stime for u in (self_usage, children)),
        0.0,
    )


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` cores; return it."""
    deadline = time.monotonic() + max_wait
    while True:
        busy, start = machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        load = (machine_busy_seconds() - busy) / (time.monotonic() - start)
        if load < threshold or time.monotonic() >= deadline:
            if load >= threshold:
                print(f"  machine still busy ({load:.2f} cores in use); going on", file=sys.stderr)
            return load


def run_server(
    config: ServerConfig,
    client: WrkClient | PythonClient,
    levels: Sequence[int],
    duration: float,
    warmup: float,
    ready_timeout: float,
    log_dir: Path,
    check: Callable[[Server, str], None] | None = None,
) -> dict[int, Measurement]:
    """One run: start, ready, check, then per level: warm up, load; kill the group.

    The warm-up runs at the level about to be measured: BentoML's adaptive
    batching learns how long to hold requests from the traffic it has just
    seen, so a burst at concurrency 32 makes the next minutes at concurrency 1
    wait for batch-mates that never come.

    ``check(server, answer)``, when given, is called with the running server and
    its answer to the payload before any load (e.g. to compare answers between
    servers); it raises BenchError to fail the run.
    """
    server = Server(config, log_dir)
    server.start()
    try:
        ready_s = server.wait_ready(ready_timeout)
        answer = server.check_request()
        print(
            f"  {config.label}: ready in {ready_s:.1f} s on port {server.port}; "
            f"POST {config.url_path} -> {answer.strip()[:80]}",
            file=sys.stderr,
        )
        if check is not None:
            check(server, answer)
        url = server.base_url + config.url_path
        results = {}
        for level in levels:
            if warmup > 0:
                client.run(url, config.payload, level, warmup)
            server_before, own_before = tree_cpu_seconds(server.pgid), own_cpu_seconds()
            busy_before = machine_busy_seconds()
            load = client.run(url, config.payload, level, duration)
            busy = machine_busy_seconds() - busy_before
            server_cpu = tree_cpu_seconds(server.pgid) - server_before
            client_cpu = own_cpu_seconds() - own_before
            pss_mb = tree_pss_kb(server.pgid) / 1024
            if server.proc is not None and server.proc.poll() is not None:
                raise BenchError(f"{config.label}: server died under load\n{server.log_tail()}")
            results[level] = Measurement(
                load=load,
                pss_mb=pss_mb,
                cpu_ms_per_request=server_cpu * 1000 / load.requests if load.requests else 0.0,
                client_cores=client_cpu / load.seconds,
                other_cores=max(0.0, busy - server_cpu - client_cpu) / load.seconds,
                ready_s=ready_s,
            )
            print(
                f"    c={level:<3} {load.rps:8.1f} req/s  p50 {load.p50_ms:7.2f} ms  "
                f"p99 {load.p99_ms:7.2f} ms  errors {load.errors}  PSS {pss_mb:.0f} MB  "
                f"cores: server {server_cpu / load.seconds:.2f} client "
                f"{client_cpu / load.seconds:.2f} other {results[level].other_cores:.2f}",
                file=sys.stderr,
            )
        return results
    finally:
        server.stop()


def ensure_artifacts(folder: Path) -> None:
    """Train the models and write the payloads with models.py if any file is missing."""
    needed = ["row.json", "rows.json"] + [
        f"{m}.{ext}" for m in ("forest", "linear") for ext in ("joblib", "onnx")
    ]
    if all((folder / name).exists() for name in needed):
        return
    print(f"training the benchmark models into {folder}", file=sys.stderr)
    proc = subprocess.run(
        [sys.executable, str(HERE / "models.py"), "--out", str(folder)], check=False
    )
    if proc.returncode != 0:
        raise BenchError("models.py failed", EXIT_CANNOT_RUN)


def fastapi_config(model: str, artifacts: Path) -> ServerConfig:
    """The hand-written baseline for one model: uvicorn, one worker, defaults."""
    return ServerConfig(
        label=BASELINE,
        cmd="{python} -m uvicorn handwritten_fastapi:app --host 127.0.0.1 --port {port}",
        cwd=HERE,
        url_path="/predict",
        payload=artifacts / "row.json",
        ready_path="/health",
        env={"MODEL_PATH": str(artifacts / f"{model}.joblib")},
        model=model,
        baseline=True,
    )


def bento_config(
    model: str, runtime: str, batch: bool, artifacts: Path, tuned: bool = True
) -> ServerConfig:
    """The reference BentoML service for one model, runtime and endpoint.

    ``tuned=False`` keeps only the settings of the notes (traffic timeout,
    ``gc.freeze``): no GC thresholds, no ``async def`` for ONNX.
    """
    return ServerConfig(
        label=f"bento-{runtime}" + ("-batch" if batch else "") + ("" if tuned else "-notes"),
        cmd="{python} -m bentoml serve service:WineClassifier --host 127.0.0.1 --port {port}",
        cwd=REFERENCE_BENTO,
        url_path="/predict_batch" if batch else "/predict",
        payload=artifacts / ("rows.json" if batch else "row.json"),
        ready_path="/readyz",
        env={
            "NB2PROD_BENCH_MODEL": str(artifacts / f"{model}.joblib"),
            "NB2PROD_BENCH_RUNTIME": runtime,
            "NB2PROD_BENCH_TUNING": "on" if tuned else "off",
            "BENTOML_HOME": str(artifacts / "bentoml_home"),
            "BENTOML_DO_NOT_TRACK": "True",
        },
        model=model,
    )


def suite_configs(artifacts: Path, models: Sequence[str]) -> list[ServerConfig]:
    """Per model: hand-written FastAPI; the reference bento with sklearn and ONNX, each
    single-row and batched; and ONNX single-row with the notes' settings only."""
    configs = []
    for model in models:
        configs.append(fastapi_config(model, artifacts))
        for runtime in ("sklearn", "onnx"):
            for batch in (False, True):
                configs.append(bento_config(model, runtime, batch, artifacts))
        configs.append(bento_config(model, "onnx", False, artifacts, tuned=False))
    return configs


# --------------------------------------------------------------------------- report


def versions() -> str:
    """Versions of what the servers run on; uvloop and httptools change BentoML's tail a lot."""
    names = ("bentoml", "fastapi", "uvicorn", "uvloop", "httptools", "scikit-learn")
    found = []
    for name in (*names, "onnxruntime", "skl2onnx"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            if name in ("uvloop", "httptools"):
                found.append(f"{name} not installed")
    return ", ".join(found)


def cpu_description() -> str:
    total = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    return f"{total} CPUs" if usable == total else f"{total} CPUs ({usable} usable)"


def find_baseline(rows: Sequence[Row], row: Row) -> Row | None:
    return next(
        (
            r
            for r in rows
            if r.config.baseline
            and r.config.model == row.config.model
            and r.concurrency == row.concurrency
        ),
        None,
    )


def render_table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| model | server | endpoint | conc. | req/s (min-max) | p50 ms | p99 ms | p99/p50 "
        "| errors | PSS MB | server CPU ms/req | other load (cores) | req/s vs FastAPI "
        "| CPU/req: FastAPI's / this |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for row in rows:
        rps = [m.load.rps for m in row.runs]
        spread = f" ({min(rps):.0f}-{max(rps):.0f})" if len(rps) > 1 else ""
        p50, p99 = row.median("p50_ms"), row.median("p99_ms")
        base = find_baseline(rows, row)
        ratio = f"{row.median('rps') / base.median('rps'):.2f}x" if base else "n/a"
        cpu = row.median("cpu_ms_per_request")
        efficiency = f"{base.median('cpu_ms_per_request') / cpu:.2f}x" if base and cpu else "n/a"
        other = max(m.other_cores for m in row.runs)
        lines.append(
            f"| {row.config.model or '-'} | {row.config.label} | {row.config.url_path} "
            f"| {row.concurrency} | {row.median('rps'):.0f}{spread} | {p50:.2f} | {p99:.2f} "
            f"| {p99 / p50 if p50 else 0:.1f} | {row.errors} | {row.median('pss_mb'):.0f} "
            f"| {row.median('cpu_ms_per_request'):.2f} | {other:.2f} "
            f"| {ratio} | {efficiency} |"
        )
    return lines


def check_aims(rows: Sequence[Row]) -> list[str]:
    """The issue's aims, per model: best bento req/s vs FastAPI at each level; p99 < 3x p50."""
    goals = {"forest": 3.0, "linear": 0.8}
    lines = []
    for model, goal in goals.items():
        for row in rows:
            if row.config.model != model or row.config.baseline:
                continue
            base = find_baseline(rows, row)
            if base is None:
                continue
            ratio = row.median("rps") / base.median("rps")
            p50, p99 = row.median("p50_ms"), row.median("p99_ms")
            verdicts = [f"req/s {ratio:.2f}x FastAPI (aim >= {goal}x): {_ok(ratio >= goal)}"]
            if row.concurrency == 1:
                tail = p99 / p50 if p50 else 0.0
                verdicts.append(f"p99/p50 {tail:.1f} (aim < 3): {_ok(tail < 3)}")
            if row.errors:
                verdicts.append(f"{row.errors} errors: FAIL")
            lines.append(
                f"- {model}, {row.config.label} {row.config.url_path}, c={row.concurrency}: "
                + "; ".join(verdicts)
            )
    return lines


def _ok(flag: bool) -> str:
    return "met" if flag else "NOT met"


def render_markdown(
    rows: Sequence[Row], args: argparse.Namespace, client_name: str, suite: bool
) -> str:
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = "Serving benchmark" + (": hand-written FastAPI vs reference BentoML" if suite else "")
    lines = [
        f"## {title}",
        "",
        f"- Measured {today} with {client_name}: closed loop over keep-alive connections, "
        f"{args.duration:g} s per concurrency level after {args.warmup:g} s warm-up; "
        f"median of {args.repeat} run(s), each a fresh server.",
        f"- Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{cpu_description()} shared by the server and the load generator; {versions()}.",
        "- PSS: summed over the server's processes (group and descendants) right after the "
        "load. Server CPU: user + system time of those processes during the load, per "
        "request. Other load: CPU used by everything but the server and the load generator "
        "during the load (worst run; above ~0.2 cores the numbers are suspect).",
        "",
        *render_table(rows),
    ]
    if suite:
        lines += ["", "Aims:", "", *check_aims(rows)]
    lines += ["", "Servers:", ""]
    seen = set()
    for row in rows:
        c = row.config
        if c.label + c.model in seen:
            continue
        seen.add(c.label + c.model)
        env = " ".join(f"{k}={Path(v).name if '/' in v else v}" for k, v in c.env.items())
        lines.append(f"- {c.model or '-'} {c.label}: `{env} {c.cmd}` (in `{c.cwd.name}/`)")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_env(items: Sequence[str]) -> dict[str, str]:
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--env takes KEY=VALUE, not {item!r}", EXIT_CANNOT_RUN)
        env[key] = value
    return env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    what = parser.add_argument_group("what to benchmark")
    what.add_argument("--suite", action="store_true", help="FastAPI vs reference bento matrix")
    what.add_argument(
        "--model",
        action="append",
        choices=["forest", "linear"],
        help="model(s) for the default server or --suite (default: both for --suite, "
        "forest otherwise)",
    )
    what.add_argument("--server-cmd", help="server command; {port} and {python} are substituted")
    what.add_argument("--cwd", type=Path, help="working folder of --server-cmd (default: here)")
    what.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    what.add_argument("--label", default="server", help="name of --server-cmd in the table")
    what.add_argument("--url-path", default="/predict", help="POST endpoint (default /predict)")
    what.add_argument("--payload", type=Path, help="JSON body file (default artifacts/row.json)")
    what.add_argument("--ready-path", default="/readyz", help="GET until 200 (default /readyz)")
    what.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, help="models.py out")

    how = parser.add_argument_group("load")
    how.add_argument("--concurrency", type=int, nargs="+", default=[1, 32], help="levels")
    how.add_argument("--duration", type=float, default=10.0, help="seconds per level")
    how.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds (not counted)")
    how.add_argument("--repeat", type=int, default=1, help="runs per server; medians reported")
    how.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    how.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    how.add_argument("--timeout", type=float, default=10.0, help="request timeout, seconds")
    how.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each run, wait up to this many seconds for other processes to use "
        "< 0.25 cores (0: don't)",
    )
    how.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to get ready")

    out = parser.add_argument_group("output")
    out.add_argument("--markdown", type=Path, help="append the report to this file")
    out.add_argument("--json", type=Path, help="write every measurement as JSON")
    out.add_argument("--keep-logs", type=Path, help="copy the server logs into this folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _main(args: argparse.Namespace) -> int:
    if args.duration <= 0 or args.repeat < 1 or min(args.concurrency) < 1:
        raise BenchError("--duration, --repeat and --concurrency must be positive", 2)
    if args.suite and args.server_cmd:
        raise BenchError("--suite and --server-cmd exclude each other", EXIT_CANNOT_RUN)
    wrk_found = shutil.which("wrk") is not None
    if args.client == "wrk" and not wrk_found:
        raise BenchError("wrk is not on PATH (apt-get install wrk)", EXIT_CANNOT_RUN)
    use_wrk = args.client == "wrk" or (args.client == "auto" and wrk_found)

    artifacts: Path = args.artifacts.resolve()
    if args.suite or not args.server_cmd or args.payload is None:
        ensure_artifacts(artifacts)
    if args.suite:
        configs = suite_configs(artifacts, args.model or ["forest", "linear"])
    elif args.server_cmd:
        configs = [
            ServerConfig(
                label=args.label,
                cmd=args.server_cmd,
                cwd=(args.cwd or Path.cwd()).resolve(),
                url_path=args.url_path,
                payload=(args.payload or artifacts / "row.json").resolve(),
                ready_path=args.ready_path,
                env=parse_env(args.env),
            )
        ]
    else:
        configs = [fastapi_config(m, artifacts) for m in (args.model or ["forest"])]

    levels = sorted(set(args.concurrency))
    rows = {(c.label, c.model, level): Row(c, level) for c in configs for level in levels}
    with tempfile.TemporaryDirectory(prefix="nb2prod-serve-") as tmp:
        scratch = Path(tmp)
        client: WrkClient | PythonClient = (
            WrkClient(args.wrk_threads, args.timeout, scratch)
            if use_wrk
            else PythonClient(args.timeout)
        )
        print(f"load generator: {client.name}", file=sys.stderr)
        # Runs alternate between servers so drift in machine load hits all alike.
        for run in range(args.repeat):
            for config in configs:
                print(f"run {run + 1}/{args.repeat} {config.model} {config.label}", file=sys.stderr)
                if args.quiet_wait > 0:
                    wait_for_quiet(args.quiet_wait)
                results = run_server(
                    config, client, levels, args.duration, args.warmup, args.ready_timeout, scratch
                )
                for level, measurement in results.items():
                    rows[(config.label, config.model, level)].runs.append(measurement)
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in scratch.glob("*.log"):
                shutil.copy(log, args.keep_logs / log.name)

    report = render_markdown(list(rows.values()), args, client.name, args.suite)
    print(report)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        with args.markdown.open("a", encoding="utf-8") as fh:
            fh.write(report + "\n")
    if args.json:
        data = [
            {
                "model": row.config.model,
                "server": row.config.label,
                "endpoint": row.config.url_path,
                "concurrency": row.concurrency,
                "runs": [
                    {
                        **m.load.__dict__,
                        "rps": m.load.rps,
                        "pss_mb": m.pss_mb,
                        "cpu_ms_per_request": m.cpu_ms_per_request,
                        "client_cores": m.client_cores,
                        "other_cores": m.other_cores,
                        "ready_s": m.ready_s,
                    }
                    for m in row.runs
                ],
            }
            for row in rows.values()
        ]
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    failed = [row for row in rows.values() if row.errors]
    if failed:
        names = ", ".join(f"{r.config.label} c={r.concurrency}" for r in failed)
        print(f"requests failed under load: {names}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
