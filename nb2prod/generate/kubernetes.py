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

MEASURED_MIB: dict[str, int] = {"scikit-learn": 481, "pytorch": 1082}
"""cgroup memory of a served example image, after load and requests (MiB), the highest seen:
scikit-learn examples 302-330 resident (diabetes_regression 302, messy_churn 312,
wine_classifier 330), wine_classifier up to 481 with its libraries in the pod's page cache;
PyTorch CPU examples 562-567 resident (digits_cnn, tabular_mlp), digits_cnn up to 1082 with
torch's libraries in page cache (a fresh node reads them in; the limit counts them). Other
frameworks get the scikit-learn base."""
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
