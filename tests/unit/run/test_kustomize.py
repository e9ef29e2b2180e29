"""kustomize.py: the overlay subset builds what `kubectl kustomize` builds, and refuses the rest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from nb2prod.errors import UserError
from nb2prod.run.kustomize import build, read_manifests, strategic_merge
from tests.unit.k8s_manifests import PROJECT, write_manifests

PLAY_PATCH = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {PROJECT}
spec:
  template:
    spec:
      containers:
        - name: service
          imagePullPolicy: Never
          ports: null
          env:
            - name: BENTOML_PORT
              value: "41234"
            - name: EXTRA
              value: "1"
          readinessProbe:
            httpGet:
              port: 41234
      volumes:
        - name: tmp
          $patch: delete
"""


def test_the_example_overlay_sets_namespace_image_and_replicas(tmp_path: Path) -> None:
    objects = build(write_manifests(tmp_path) / "overlays" / "example")
    kinds = [o["kind"] for o in objects]
    assert kinds == [
        "Namespace",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]
    assert all(o["metadata"]["namespace"] == PROJECT for o in objects[1:])
    assert "namespace" not in objects[0]["metadata"]
    deployment, hpa = objects[1], objects[3]
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 10
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"registry.example.com/ml/{PROJECT}:0.1.0"


def test_a_strategic_merge_patch_merges_by_key_and_deletes(tmp_path: Path) -> None:
    k8s = write_manifests(tmp_path)
    overlay = k8s / "overlays" / "play"
    overlay.mkdir()
    (overlay / "play.yaml").write_text(PLAY_PATCH)
    (overlay / "kustomization.yaml").write_text(
        "resources: [../../base]\npatches:\n  - path: play.yaml\n"
        f"images:\n  - name: {PROJECT}\n    newName: localhost/demo\n    newTag: test\n"
        f"replicas:\n  - name: {PROJECT}\n    count: 1\n"
    )
    objects = build(overlay)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "ports" not in container
    assert deployment["spec"]["replicas"] == 1
    assert container["imagePullPolicy"] == "Never"
    assert container["image"] == "localhost/demo:test"
    assert container["env"] == [
        {"name": "BENTOML_PORT", "value": "41234"},
        {"name": "EXTRA", "value": "1"},
    ]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 41234}
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"  # untouched
    assert "volumes" in pod and pod["volumes"] == []
    if shutil.which("kubectl"):  # the same objects as the real Kustomize
        built = subprocess.run(
            ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
        )
        assert sorted_objects(yaml.safe_load_all(built.stdout)) == sorted_objects(objects)


def test_the_example_overlay_equals_kubectl_kustomize(tmp_path: Path) -> None:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed")
    overlay = write_manifests(tmp_path) / "overlays" / "example"
    built = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
    )
    assert sorted_objects(yaml.safe_load_all(built.stdout)) == sorted_objects(build(overlay))


def test_strategic_merge_replaces_plain_lists_and_leaves_inputs_alone() -> None:
    base = {"a": {"args": ["x", "y"], "keep": 1}, "env": [{"name": "A", "value": "1"}]}
    patch = {"a": {"args": ["z"]}, "env": [{"name": "A", "value": "2"}]}
    merged = strategic_merge(base, patch)
    assert merged == {"a": {"args": ["z"], "keep": 1}, "env": [{"name": "A", "value": "2"}]}
    assert base["env"] == [{"name": "A", "value": "1"}]


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ("commonLabels: {a: b}\nresources: [../../base]\n", "commonLabels not supported"),
        (
            "resources: [../../base]\npatches:\n  - path: p.yaml\n    target: {kind: Service}\n",
            "without `target`",
        ),
        (
            "resources: [../../base]\npatches:\n  - patch: |\n      kind: Job\n      metadata:"
            " {name: x}\n",
            "Job/x: no such object",
        ),  # fmt: skip
    ],
)
def test_what_the_subset_cannot_build_is_refused_by_name(
    tmp_path: Path, kustomization: str, message: str
) -> None:
    overlay = write_manifests(tmp_path) / "overlays" / "other"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(kustomization)
    with pytest.raises(UserError, match=message):
        build(overlay)


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Service\nmetadata: {name: [\n")
    with pytest.raises(UserError, match=r"bad.yaml: not valid YAML \(line 3\)"):
        read_manifests(bad)
    with pytest.raises(UserError, match="no kustomization.yaml here"):
        build(tmp_path)


def sorted_objects(objects: object) -> list[dict[str, object]]:
    return sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"]))  # type: ignore[index]
