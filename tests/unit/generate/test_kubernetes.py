"""kubernetes.py: the sizing rule and the timing the manifests are written with."""

from __future__ import annotations

import pytest

from nb2prod.generate.kubernetes import (
    MEASURED_MIB,
    PRESTOP_SLEEP_S,
    STEP_MIB,
    TERMINATION_GRACE_S,
    TRAFFIC_TIMEOUT_S,
    resources_for,
)


def test_requests_and_limits_follow_the_measured_base() -> None:
    sklearn = resources_for("scikit-learn")
    assert (sklearn.measured_mib, sklearn.request_mib, sklearn.limit_mib) == (380, 512, 768)
    torch = resources_for("pytorch")
    assert torch.request_mib >= MEASURED_MIB["pytorch"] * 1.25
    assert torch.limit_mib >= torch.request_mib * 1.5
    unmeasured = resources_for("python")
    assert unmeasured.measured_as == "scikit-learn"
    assert unmeasured.request_mib == sklearn.request_mib


@pytest.mark.parametrize("framework", [*sorted(MEASURED_MIB), "python"])
def test_sizes_are_whole_steps_and_grow_with_the_model(framework: str) -> None:
    small, big = resources_for(framework), resources_for(framework, model_bytes=500 * 2**20)
    for size in (small.request_mib, small.limit_mib, big.request_mib, big.limit_mib):
        assert size % STEP_MIB == 0
    assert big.request_mib - small.request_mib >= 2 * 500 * 1.25 - STEP_MIB


def test_the_grace_period_outlasts_the_prestop_sleep_and_a_request() -> None:
    assert TERMINATION_GRACE_S > PRESTOP_SLEEP_S + TRAFFIC_TIMEOUT_S
