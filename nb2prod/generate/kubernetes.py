"""What the generated Kubernetes manifests (`deploy/k8s/`) are sized and timed by.

The numbers are measured, not guessed: the served example images were run under podman
(`podman run --read-only` and `podman kube play` of the generated Deployment, one worker)
and their cgroup memory read after the model loaded and after requests
(memory.usage_in_bytes and its peak; page cache of the loaded libraries included when the
container read them first, which is what a memory limit counts before the kernel reclaims
it). The rule turns the framework's measured base into requests and limits, so a user reads
one place to see why a pod asks for what it asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KUBERNETES_VERSION = "1.33"
"""The Kubernetes version whose schemas the manifests are validated against (a release
still supported by the major clouds; `kubernetes-validate` ships its schemas)."""

TRAFFIC_TIMEOUT_S = 10
"""BentoML's traffic timeout of the generated service (`@bentoml.service(traffic=...)`)."""
PRESTOP_SLEEP_S = 5
"""How long a stopping pod keeps answering while endpoints drop it from the Service."""
TERMINATION_GRACE_S = 30
"""Room for the preStop sleep, then the longest request still in flight, then shutdown."""

MEASURED_MIB: dict[str, int] = {"scikit-learn": 380, "pytorch": 777}
"""cgroup memory of a served example image on a cold page cache (a fresh node: the libraries
the container reads are charged to it), after load and 20 requests (MiB), the highest of
each framework, one process (`single_worker.py`), serving venv only: scikit-learn examples
diabetes_regression 380 (157 with its libraries already cached; wine_classifier and
messy_churn, served by their ONNX twins, 117 warm), PyTorch CPU examples tabular_mlp 777
(286 warm), digits_cnn 588 (212 warm). Measured 2026-12-01 with `podman run --read-only`
after `echo 3 > /proc/sys/vm/drop_caches`; warm figures from `podman kube play`
(tests/e2e/test_k8s_play.py). Other frameworks get the scikit-learn base."""
HEADROOM = 1.25
"""Request = measured x HEADROOM: room for larger batches and allocator growth."""
LIMIT_FACTOR = 1.5
"""Limit = request x LIMIT_FACTOR: a burst is served, a leak is stopped."""
STEP_MIB = 64
CPU_REQUEST, CPU_LIMIT = "500m", "1"
"""One BentoML worker runs the model: one core at most, half a core to schedule on."""


@dataclass(frozen=True)
class Resources:
    """Memory request and limit of the service container, in MiB."""

    request_mib: int
    limit_mib: int
    measured_mib: int
    measured_as: str
    """The measured framework the sizes come from (`scikit-learn` for unmeasured ones)."""


def resources_for(framework: str, model_bytes: int = 0) -> Resources:
    """The rule: the framework's measured base, plus twice the model archive (the worker
    holds it once, and once more while loading), x HEADROOM for the request, x LIMIT_FACTOR
    for the limit, each rounded up to STEP_MIB."""
    measured_as = framework if framework in MEASURED_MIB else "scikit-learn"
    measured = MEASURED_MIB[measured_as]
    base = measured + 2 * model_bytes / 2**20
    request = _round_up(base * HEADROOM)
    return Resources(request, _round_up(request * LIMIT_FACTOR), measured, measured_as)


def _round_up(mib: float) -> int:
    return math.ceil(mib / STEP_MIB) * STEP_MIB
