"""k8s_check.py: the generated manifests pass; each rule fails on a manifest that breaks it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nb2prod.errors import UserError
from nb2prod.generate.kubernetes import KUBERNETES_VERSION, TRAFFIC_TIMEOUT_S
from nb2prod.run.k8s_check import (
    RULES,
    check_overlay,
    policy_findings,
    quantity,
    schema_findings,
    traffic_timeout_of,
)
from nb2prod.run.kustomize import Manifest, build
from tests.unit.k8s_manifests import write_manifests

pytest.importorskip("kubernetes_validate")


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    return build(write_manifests(tmp_path_factory.mktemp("k8s")) / "overlays" / "example")


def of(objects: list[Manifest], kind: str) -> Manifest:
    return next(o for o in objects if o["kind"] == kind)


def container(objects: list[Manifest]) -> dict[str, Any]:
    return of(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def pod(objects: list[Manifest]) -> dict[str, Any]:
    return of(objects, "Deployment")["spec"]["template"]["spec"]


def test_the_generated_overlay_passes_schemas_and_every_rule(tmp_path: Path) -> None:
    overlay = write_manifests(tmp_path) / "overlays" / "example"
    assert [str(f) for f in check_overlay(overlay, TRAFFIC_TIMEOUT_S)] == []


def test_a_schema_error_names_the_object_and_field(objects: list[Manifest]) -> None:
    broken = copy.deepcopy(objects)
    hpa = of(broken, "HorizontalPodAutoscaler")
    hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = "70"
    container(broken)["resourcez"] = {}  # strict: an unknown field is an error
    findings = [str(f) for f in schema_findings(broken, KUBERNETES_VERSION)]
    assert any(
        f.startswith("horizontalpodautoscaler/") and "averageUtilization" in f for f in findings
    ), findings
    assert any(f.startswith("deployment/") and "resourcez" in f for f in findings), findings


def _drop(path: str) -> Callable[[list[Manifest]], None]:
    """A breakage that removes `path` (dotted) from the container."""

    def breaks(objects: list[Manifest]) -> None:
        *parents, last = path.split(".")
        node = container(objects)
        for key in parents:
            node = node[key]
        del node[last]

    return breaks


def _set(where: Callable[[list[Manifest]], dict[str, Any]], key: str, value: Any) -> Any:
    return lambda objects: where(objects).__setitem__(key, value)


BREAKAGES: dict[str, tuple[str, Callable[[list[Manifest]], None]]] = {
    "no liveness probe": ("probes", _drop("livenessProbe")),
    "readiness on /healthz": (
        "probes",
        lambda o: container(o)["readinessProbe"]["httpGet"].__setitem__("path", "/healthz"),
    ),
    "probe on a port not served": (
        "probes",
        lambda o: container(o)["startupProbe"]["httpGet"].__setitem__("port", 9999),
    ),
    "root allowed": (
        "non_root",
        lambda o: (
            pod(o)["securityContext"].__setitem__("runAsNonRoot", False),
            container(o)["securityContext"].pop("runAsNonRoot"),
        ),
    ),
    "another uid": (
        "non_root",
        lambda o: container(o)["securityContext"].__setitem__("runAsUser", 1000),
    ),
    "no seccomp": ("non_root", lambda o: pod(o)["securityContext"].pop("seccompProfile")),
    "token mounted": ("non_root", lambda o: pod(o).pop("automountServiceAccountToken")),
    "escalation": (
        "locked_down",
        lambda o: container(o)["securityContext"].__setitem__("allowPrivilegeEscalation", True),
    ),
    "capabilities kept": ("locked_down", _drop("securityContext.capabilities")),
    "writable root": (
        "locked_down",
        lambda o: container(o)["securityContext"].__setitem__("readOnlyRootFilesystem", False),
    ),
    "no /tmp": ("locked_down", _drop("volumeMounts")),
    "no memory limit": ("resources", _drop("resources.limits.memory")),
    "no cpu request": ("resources", _drop("resources.requests.cpu")),
    "limit below request": (
        "resources",
        lambda o: container(o)["resources"]["limits"].__setitem__("memory", "100Mi"),
    ),
    "short grace": ("grace", _set(pod, "terminationGracePeriodSeconds", 12)),
    "hpa on another": (
        "autoscaler",
        lambda o: of(o, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].__setitem__(
            "name", "other"
        ),
    ),
    "hpa on memory": (
        "autoscaler",
        lambda o: of(o, "HorizontalPodAutoscaler")["spec"]["metrics"][0]["resource"].__setitem__(
            "name", "memory"
        ),
    ),
    "pdb selects others": (
        "disruption_budget",
        lambda o: of(o, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].__setitem__(
            "app.kubernetes.io/name", "other"
        ),
    ),
    "service to a port not served": (
        "service",
        lambda o: of(o, "Service")["spec"]["ports"][0].__setitem__("targetPort", "web"),
    ),
    "no service": ("service", lambda o: o.remove(of(o, "Service"))),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_each_rule_fails_on_a_manifest_that_breaks_it(
    objects: list[Manifest], breakage: str
) -> None:
    rule, breaks = BREAKAGES[breakage]
    broken = copy.deepcopy(objects)
    breaks(broken)
    findings = policy_findings(broken, TRAFFIC_TIMEOUT_S)
    assert {f.rule for f in findings} == {rule}, [str(f) for f in findings]


def test_every_rule_has_a_breakage() -> None:
    assert {rule.__name__ for rule in RULES} == {rule for rule, _ in BREAKAGES.values()}


def test_the_grace_period_follows_the_traffic_timeout(objects: list[Manifest]) -> None:
    assert policy_findings(objects, 20) == []  # 5 s preStop + 20 s < 30 s
    assert [f.rule for f in policy_findings(objects, 25)] == ["grace"]


def test_objects_without_the_name_label_or_a_deployment(objects: list[Manifest]) -> None:
    broken = copy.deepcopy(objects)
    del of(broken, "Service")["metadata"]["labels"]["app.kubernetes.io/name"]
    assert [str(f) for f in policy_findings(broken, TRAFFIC_TIMEOUT_S)] == [
        "service/demo-model: no app.kubernetes.io/name label [labels]"
    ]
    assert [f.rule for f in policy_findings([of(objects, "Service")], 10)] == ["deployment"]


def test_traffic_timeout_is_read_from_the_service(tmp_path: Path) -> None:
    service = tmp_path / "service.py"
    service.write_text(
        '@bentoml.service(name="x", traffic={"timeout": 12}, workers=1)\nclass S:\n    pass\n'
    )
    assert traffic_timeout_of(service) == 12.0
    service.write_text("@bentoml.service(workers=1)\nclass S:\n    pass\n")
    with pytest.raises(UserError, match="no traffic timeout"):
        traffic_timeout_of(service)


def test_quantities() -> None:
    assert quantity("500m") == 0.5
    assert quantity("448Mi") == 448 * 2**20
    assert quantity(1) == 1.0
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity("lots")
