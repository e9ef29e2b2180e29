"""Check a generated project's Kubernetes manifests: schemas, then policy.

Schemas: each object against the Kubernetes version the project states
(`generate.kubernetes.KUBERNETES_VERSION`), strictly (an unknown field is an error), with
the schemas `kubernetes-validate` ships, offline. Policy: what a careful platform engineer
asks of a model service, one rule per function in RULES, each naming the object and the
field to fix. kube-linter and kubeconform are Go binaries no package index here ships, so
the rules are ours, and each one is unit-tested on a manifest that breaks it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2prod.errors import user_error
from nb2prod.generate.install_hints import install_line
from nb2prod.generate.kubernetes import KUBERNETES_VERSION
from nb2prod.run.kustomize import Manifest, build

APP_UID = 10001
READY, LIVE = "/readyz", "/livez"
WRITABLE = "/tmp"
NAME_LABEL = "app.kubernetes.io/name"


@dataclass(frozen=True)
class Finding:
    """One broken rule: the object (`deployment/wine-classifier`), the rule, what is wrong."""

    obj: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.obj}: {self.message} [{self.rule}]"


def check_overlay(overlay: Path, traffic_timeout: float) -> list[Finding]:
    """Build the overlay (see kustomize.py), then every schema and policy finding."""
    objects = build(overlay)
    return schema_findings(objects) + policy_findings(objects, traffic_timeout)


def schema_findings(objects: list[Manifest], version: str = KUBERNETES_VERSION) -> list[Finding]:
    """Each object against Kubernetes `version`'s schema, strictly."""
    try:
        import kubernetes_validate
    except ImportError:
        raise user_error(
            None,
            "missing-module",
            "the Kubernetes schemas need the Python package `kubernetes-validate`",
            install_line("kubernetes_validate"),
        ) from None
    findings = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.absolute_path) or "(top)"
            findings.append(Finding(_ref(obj), "schema", f"{where}: {error.message}"))
        except kubernetes_validate.SchemaNotFoundError as error:
            findings.append(Finding(_ref(obj), "schema", error.message))
    return findings


def policy_findings(objects: list[Manifest], traffic_timeout: float) -> list[Finding]:
    """Every rule of RULES on every Deployment (with the objects around it)."""
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    if not deployments:
        return [Finding("manifests", "deployment", "no Deployment among the objects")]
    findings = [
        Finding(_ref(o), "labels", f"no {NAME_LABEL} label")
        for o in objects
        if NAME_LABEL not in o.get("metadata", {}).get("labels", {})
    ]
    for deployment in deployments:
        for rule in RULES:
            messages = rule(deployment, objects, traffic_timeout)
            findings.extend(Finding(_ref(deployment), rule.__name__, m) for m in messages)
    return findings


def traffic_timeout_of(service_py: Path) -> float:
    """The `traffic={"timeout": N}` of the project's `@bentoml.service(...)`."""
    tree = ast.parse(service_py.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "traffic":
            traffic = ast.literal_eval(node.value)
            if isinstance(traffic, dict) and isinstance(traffic.get("timeout"), int | float):
                return float(traffic["timeout"])
    raise user_error(
        service_py,
        "k8s-timeout",
        "no traffic timeout in @bentoml.service(...)",
        'set traffic={"timeout": SECONDS}: the pod\'s grace period is checked against it',
    )


# ---- rules: (deployment, all objects, traffic timeout) -> what is wrong -----------------------

Rule = Callable[[Manifest, list[Manifest], float], list[str]]


def probes(deployment: Manifest, _objects: list[Manifest], _timeout: float) -> list[str]:
    """Startup and readiness GET /readyz, liveness GET /livez, on the port served."""
    wrong = []
    wanted = {"startupProbe": READY, "readinessProbe": READY, "livenessProbe": LIVE}
    for container in _containers(deployment):
        served = _served_ports(container)
        for probe, path in wanted.items():
            get = container.get(probe, {}).get("httpGet")
            if get is None:
                wrong.append(f"container {container['name']}: no {probe} with httpGet {path}")
            elif get.get("path") != path:
                wrong.append(
                    f"container {container['name']}: {probe} GETs {get.get('path')}, not {path}"
                )
            elif str(get.get("port")) not in served:
                wrong.append(
                    f"container {container['name']}: {probe} port {get.get('port')} is not served "
                    f"({', '.join(sorted(served)) or 'no port'})"
                )
    return wrong


def non_root(deployment: Manifest, _objects: list[Manifest], _timeout: float) -> list[str]:
    """runAsNonRoot with the image's uid, seccomp RuntimeDefault, no service-account token."""
    pod = _pod(deployment)
    wrong = []
    for container in _containers(deployment):
        context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
        if context.get("runAsNonRoot") is not True:
            wrong.append(f"container {container['name']}: securityContext.runAsNonRoot is not true")
        if context.get("runAsUser") != APP_UID:
            wrong.append(
                f"container {container['name']}: securityContext.runAsUser is not {APP_UID} "
                "(the image's user)"
            )
        if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            wrong.append(f"container {container['name']}: seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        wrong.append("automountServiceAccountToken is not false (the service calls no API)")
    return wrong


def locked_down(deployment: Manifest, _objects: list[Manifest], _timeout: float) -> list[str]:
    """No privilege escalation, all capabilities dropped, read-only root with /tmp writable."""
    wrong = []
    volumes = {v["name"]: v for v in _pod(deployment).get("volumes", [])}
    for container in _containers(deployment):
        name, context = container["name"], container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            wrong.append(f"container {name}: allowPrivilegeEscalation is not false")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            wrong.append(f"container {name}: capabilities.drop does not hold ALL")
        if context.get("readOnlyRootFilesystem") is not True:
            wrong.append(f"container {name}: readOnlyRootFilesystem is not true")
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        if "emptyDir" not in volumes.get(mounts.get(WRITABLE, ""), {}):
            wrong.append(f"container {name}: no emptyDir at {WRITABLE} (BentoML writes there)")
    return wrong


def resources(deployment: Manifest, _objects: list[Manifest], _timeout: float) -> list[str]:
    """CPU and memory requests and limits, each limit at least its request."""
    wrong = []
    for container in _containers(deployment):
        declared = container.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in declared.get(kind, {}):
                    wrong.append(
                        f"container {container['name']}: no {resource} in resources.{kind}"
                    )
        for resource in ("cpu", "memory"):
            request = declared.get("requests", {}).get(resource)
            limit = declared.get("limits", {}).get(resource)
            if request is not None and limit is not None and quantity(limit) < quantity(request):
                wrong.append(
                    f"container {container['name']}: {resource} limit {limit} is below "
                    f"its request {request}"
                )
    return wrong


def grace(deployment: Manifest, _objects: list[Manifest], timeout: float) -> list[str]:
    """terminationGracePeriodSeconds longer than the preStop sleep plus the traffic timeout."""
    pod = _pod(deployment)
    period = pod.get("terminationGracePeriodSeconds", 30)
    for container in _containers(deployment):
        needed = timeout + _prestop_seconds(container)
        if period <= needed:
            return [
                f"terminationGracePeriodSeconds {period} is not above "
                f"preStop + traffic timeout ({needed:g} s)"
            ]
    return []


def autoscaler(deployment: Manifest, objects: list[Manifest], _timeout: float) -> list[str]:
    """An autoscaling/v2 HPA targets this Deployment on CPU utilization."""
    for hpa in (o for o in objects if o.get("kind") == "HorizontalPodAutoscaler"):
        target = hpa["spec"].get("scaleTargetRef", {})
        if target.get("kind") == "Deployment" and target.get("name") == _name(deployment):
            cpu = [
                m
                for m in hpa["spec"].get("metrics", [])
                if m.get("type") == "Resource" and m["resource"].get("name") == "cpu"
            ]
            return [] if cpu else [f"{_ref(hpa)} has no CPU target"]
    return ["no HorizontalPodAutoscaler targets it"]


def disruption_budget(deployment: Manifest, objects: list[Manifest], _timeout: float) -> list[str]:
    """A PodDisruptionBudget whose selector picks this Deployment's pods."""
    labels = _pod_labels(deployment)
    for pdb in (o for o in objects if o.get("kind") == "PodDisruptionBudget"):
        if _selects(pdb["spec"].get("selector", {}).get("matchLabels", {}), labels):
            return []
    return ["no PodDisruptionBudget selects its pods"]


def service(deployment: Manifest, objects: list[Manifest], _timeout: float) -> list[str]:
    """A Service selects its pods and sends to a port a container serves."""
    labels = _pod_labels(deployment)
    served = set().union(*(_served_ports(c) for c in _containers(deployment)))
    for svc in (o for o in objects if o.get("kind") == "Service"):
        if _selects(svc["spec"].get("selector", {}), labels):
            targets = {str(p.get("targetPort", p.get("port"))) for p in svc["spec"]["ports"]}
            missing = targets - served
            return (
                [f"{_ref(svc)} targets port {', '.join(sorted(missing))}, not served"]
                if missing
                else []
            )
    return ["no Service selects its pods"]


RULES: tuple[Rule, ...] = (
    probes,
    non_root,
    locked_down,
    resources,
    grace,
    autoscaler,
    disruption_budget,
    service,
)


# ---- helpers ----------------------------------------------------------------------------------

UNITS = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "m": 1e-3,
}


def quantity(value: str | float) -> float:
    """A Kubernetes quantity as a number: `500m` -> 0.5, `448Mi` -> 469762048."""
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    if match is None or match.group(2) not in {"", *UNITS}:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(match.group(1)) * UNITS.get(match.group(2), 1)


def _pod(deployment: Manifest) -> dict[str, Any]:
    return deployment.get("spec", {}).get("template", {}).get("spec", {})


def _pod_labels(deployment: Manifest) -> dict[str, str]:
    return deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})


def _containers(deployment: Manifest) -> Iterator[dict[str, Any]]:
    yield from _pod(deployment).get("containers", [])


def _served_ports(container: dict[str, Any]) -> set[str]:
    """Ports a container listens on: its declared ports (number and name), and BENTOML_PORT
    (a test overlay that runs on the host network declares none)."""
    served = set()
    for port in container.get("ports", []):
        served.add(str(port["containerPort"]))
        if "name" in port:
            served.add(port["name"])
    for variable in container.get("env", []):
        if variable.get("name") == "BENTOML_PORT" and "value" in variable:
            served.add(str(variable["value"]))
    return served


def _prestop_seconds(container: dict[str, Any]) -> float:
    """A preStop `sleep N` (exec or the sleep action), else 0."""
    prestop = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in prestop:
        return float(prestop["sleep"].get("seconds", 0))
    command = prestop.get("exec", {}).get("command", [])
    if len(command) == 2 and command[0].rsplit("/", 1)[-1] == "sleep":
        return float(command[1])
    return 0.0


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _name(obj: Manifest) -> str:
    return str(obj.get("metadata", {}).get("name", "?"))


def _ref(obj: Manifest) -> str:
    return f"{str(obj.get('kind', '?')).lower()}/{_name(obj)}"
