"""Each example's Kubernetes manifests validate, and podman runs them as a cluster would.

Per example (converted, trained and built once by `example_image`, shared with
test_example_images): the example overlay (deploy/k8s/overlays/example) passes the strict
schemas of the stated Kubernetes version and every policy rule, and builds the same objects
as `kubectl kustomize` where kubectl is installed; then play
the Deployment with `podman kube play --network=host` through a test overlay written next
to the example one (the built local image, `imagePullPolicy: Never`, one replica, no
`ports:`, which host networking refuses, and BENTOML_PORT on a free port). podman turns an
httpGet liveness probe into `curl` inside the container, which the slim image lacks, so
the overlay runs the same GET of the same path with the image's Python: `podman
healthcheck run` then reports the probe's verdict (tried: "unhealthy" on a wrong path).
The pod must become ready on /readyz, answer examples/request.json with
examples/response.json, stay under its memory limit, and leave no pod, container or
volume behind after `podman kube down`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from nb2prod.commands.verify import service_tolerance
from nb2prod.run.k8s_check import check_overlay, policy_findings, quantity, traffic_timeout_of
from nb2prod.run.kustomize import Manifest, build
from tests.conftest import free_port
from tests.e2e.conftest import NAMES, ExampleImage
from tests.tolerant import within

pytestmark = [pytest.mark.container, pytest.mark.e2e]

PROBE = "python -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}{path}')\""
"""The liveness GET as podman 4.3 runs an exec probe: it joins the command's words into one
`sh -c` line (so the command is that line, quoted for the shell)."""


@pytest.mark.parametrize(  # wine in `make test`, every example in `make test-slow`
    "name",
    [pytest.param(n, marks=[] if n == "wine_classifier" else [pytest.mark.slow]) for n in NAMES],
)
def test_kube_play_serves_the_example_response(
    name: str, example_image: Callable[[str], ExampleImage], tmp_path: Path
) -> None:
    made = example_image(name)  # converted, trained and built once for the session
    project, tag = made.project, made.tag
    example = project / "deploy" / "k8s" / "overlays" / "example"
    timeout = traffic_timeout_of(project / "service.py")
    assert [str(f) for f in check_overlay(example, timeout)] == []
    if shutil.which("kubectl"):
        assert by_name(kubectl_kustomize(example)) == by_name(build(example))

    port = free_port()
    deployment = play_overlay(project, tag, port)
    played = build(deployment.parent)
    # the overlay changes only what podman needs: every rule still holds, but for the
    # liveness probe's handler (same path and port, run by Python instead of the kubelet)
    # and the Service's named port (host networking: the container declares no ports)
    assert [f.message for f in policy_findings(played, timeout)] == [
        "container service: no livenessProbe with httpGet /livez",
        f"service/{name.replace('_', '-')} targets port http, not served",
    ]
    (container,) = next(o for o in played if o["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    limit = quantity(container["resources"]["limits"]["memory"])
    payload = json.loads((project / "examples" / "request.json").read_text())
    expected = json.loads((project / "examples" / "response.json").read_text())
    metadata = json.loads((project / "artifacts" / "model.json").read_text())
    rtol, atol, _ = service_tolerance(metadata)

    with kube_played(deployment, tmp_path) as (pod, names):
        wait_ready(f"http://127.0.0.1:{port}/readyz", names, timeout=180)
        assert podman("healthcheck", "run", names).stdout.strip() in ("", "healthy")
        assert httpx.get(f"http://127.0.0.1:{port}/livez", timeout=10).status_code == 200
        for _ in range(20):  # a little traffic before memory is read
            answer = httpx.post(
                f"http://127.0.0.1:{port}{payload['path']}", json=payload["body"], timeout=60
            )
            assert answer.status_code == 200, answer.text
        assert within(answer.json(), expected, max(rtol, 1e-9), atol), (answer.json(), expected)

        # podman runs no lifecycle hooks: the preStop command must at least run in the image
        podman("exec", names, *container["lifecycle"]["preStop"]["exec"]["command"])
        inspected = json.loads(podman("inspect", names).stdout)[0]
        assert inspected["HostConfig"]["Memory"] == limit  # the limit is enforced ...
        assert inspected["HostConfig"]["ReadonlyRootfs"] is True
        assert inspected["Config"]["User"].split(":")[0] == "10001"
        used, peak = cgroup_memory(names)
        print(f"{name}: memory now {used / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB, "
              f"limit {limit / 2**20:.0f} MiB")  # fmt: skip
        assert peak < limit  # ... and the service stays under it

    # nothing left: the pod, its containers (the infra one too), the emptyDir's volume
    assert podman("pod", "exists", pod, check=False).returncode == 1
    assert podman("ps", "-a", "--filter", f"pod={pod}", "--format", "{{.Names}}").stdout == ""
    assert podman("container", "exists", names, check=False).returncode == 1
    assert podman("volume", "ls", "--filter", "name=^tmp$", "--format", "{{.Name}}").stdout == ""


def play_overlay(project: Path, tag: str, port: int) -> Path:
    """Write overlays/kube-play (the local image, one replica, no ports, BENTOML_PORT and
    the probes on `port`, liveness through Python) and the Deployment it builds, as the
    file podman plays; return that file."""
    overlay = project / "deploy" / "k8s" / "overlays" / "kube-play"
    overlay.mkdir()
    base = next(o for o in build(project / "deploy" / "k8s" / "base") if o["kind"] == "Deployment")
    name = base["metadata"]["name"]
    (base_container,) = base["spec"]["template"]["spec"]["containers"]
    container: dict[str, Any] = {
        "name": base_container["name"],
        "imagePullPolicy": "Never",
        "ports": None,
        "env": [{"name": "BENTOML_PORT", "value": str(port)}],
    }
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        container[probe] = {"httpGet": {"port": port}}
    live = base_container["livenessProbe"]["httpGet"]["path"]
    container["livenessProbe"] = {
        "httpGet": None,
        "exec": {"command": [PROBE.format(port=port, path=live)]},
    }
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }
    (overlay / "play.yaml").write_text(yaml.safe_dump(patch, sort_keys=False))
    repository, image_tag = tag.rsplit(":", 1)
    kustomization = {
        "resources": ["../../base"],
        "images": [{"name": name, "newName": repository, "newTag": image_tag}],
        "replicas": [{"name": name, "count": 1}],
        "patches": [{"path": "play.yaml"}],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    if shutil.which("kubectl"):
        assert by_name(kubectl_kustomize(overlay)) == by_name(build(overlay))
    played = overlay / "deployment.yaml"
    deployment = [o for o in build(overlay) if o["kind"] == "Deployment"]
    played.write_text(yaml.safe_dump_all(deployment, sort_keys=False))
    return played


@contextmanager
def kube_played(deployment: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`podman kube play` the file; yield the pod's id and the service container's name;
    always `podman kube down`, and keep the container's log when something failed (a
    failing tear-down is reported only when nothing failed before it)."""
    played = podman("kube", "play", "--network=host", str(deployment), check=False)
    try:
        assert played.returncode == 0, played.stderr
        pod = played.stdout.split("Pod:")[1].split()[0]
        listed = podman("ps", "-a", "--filter", f"pod={pod}", "--format", "{{.Names}} {{.IsInfra}}")
        (names,) = [line.split()[0] for line in listed.stdout.splitlines() if "false" in line]
        try:
            yield pod, names
        except BaseException:
            log = podman("logs", names, check=False)
            (tmp_path / "container.log").write_text(log.stdout + log.stderr)
            print(f"container log ({tmp_path / 'container.log'}):\n{log.stderr[-3000:]}")
            raise
    except BaseException:
        podman("kube", "down", str(deployment), check=False)
        raise
    down = podman("kube", "down", str(deployment), check=False)
    assert down.returncode == 0, down.stderr


def wait_ready(url: str, names: str, timeout: float) -> None:
    """Poll `url` until 200, failing early when the container exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", names).stdout.strip()
        assert state == "running", f"the container is {state}"
        time.sleep(1)
    raise AssertionError(f"{url} not ready after {timeout} s")


def cgroup_memory(names: str) -> tuple[int, int]:
    """The container's memory now and at its peak (cgroup v1 or v2), in bytes."""
    script = (
        "import pathlib as p; v1 = p.Path('/sys/fs/cgroup/memory'); "
        "print(*(open(f).read().strip() for f in "
        "([v1 / 'memory.usage_in_bytes', v1 / 'memory.max_usage_in_bytes'] if v1.is_dir() "
        "else ['/sys/fs/cgroup/memory.current', '/sys/fs/cgroup/memory.peak'])))"
    )
    used, peak = podman("exec", names, "python", "-c", script).stdout.split()
    return int(used), int(peak)


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr[-2000:]}"
    return done


def kubectl_kustomize(overlay: Path) -> list[Manifest]:
    built = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
    )
    return list(yaml.safe_load_all(built.stdout))


def by_name(objects: list[Manifest]) -> list[Manifest]:
    return sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"]))
