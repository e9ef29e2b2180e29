"""Build a Kustomize overlay in Python: the subset the generated `deploy/k8s/` uses.

`kubectl` and `kustomize` are not on every machine that checks a project (CI runners,
a laptop without a cluster), so the checks build the overlay themselves: `resources`
(files and folders with a kustomization), `namespace`, `images`, `replicas` and
strategic-merge `patches` (maps merge, lists of containers, env, volumes, volume mounts
and ports merge by their key, `null` removes a field, `$patch: delete` removes an entry).
Anything else in a kustomization is refused by name, never silently ignored, so an
object built here is the object `kubectl kustomize` builds (the tests compare the two
where kubectl is installed).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from nb2prod.errors import user_error

KUSTOMIZATION = "kustomization.yaml"
SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}
"""The patch merge key of each list the manifests hold (Kubernetes' own, from its API)."""
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
Manifest = dict[str, Any]
FIX = "point at a folder with a kustomization.yaml, as nb2prod generates in deploy/k8s/"


def build(directory: Path) -> list[Manifest]:
    """The objects the kustomization in `directory` produces, in resource order."""
    spec = _kustomization(directory)
    objects: list[Manifest] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        objects.extend(build(path) if path.is_dir() else read_manifests(path))
    for patch in spec.get("patches", []):
        _apply_patch(objects, _patch_document(directory, patch))
    if "namespace" in spec:
        for obj in objects:
            if obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        _set_image(objects, image)
    for replicas in spec.get("replicas", []):
        for obj in objects:
            if obj.get("kind") in SCALABLE and obj["metadata"]["name"] == replicas["name"]:
                obj["spec"]["replicas"] = replicas["count"]
    return objects


def read_manifests(path: Path) -> list[Manifest]:
    """The YAML documents of a manifest file (empty documents left out)."""
    import yaml

    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as error:
        message = f"cannot read it ({error.strerror})"
        raise user_error(path, "k8s-unreadable", message, FIX) from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise user_error(path, "k8s-yaml", f"not valid YAML{line}", "fix its syntax") from None
    for document in documents:
        if document is not None and not isinstance(document, dict):
            raise user_error(path, "k8s-yaml", "a document is not a mapping", "write objects")
    return [d for d in documents if d is not None]


def strategic_merge(base: Any, patch: Any) -> Any:
    """`patch` merged into `base` as Kubernetes' strategic merge patch does for the
    fields in MERGE_KEYS (a new object; neither argument is changed)."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif key in MERGE_KEYS and isinstance(value, list) and isinstance(base.get(key), list):
            merged[key] = _merge_list(base[key], value, MERGE_KEYS[key])
        elif key in merged:
            merged[key] = strategic_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_list(base: list[Any], patch: list[Any], key: str) -> list[Any]:
    """Entries of `patch` merged into the entry of `base` with the same `key`, new ones
    appended, `$patch: delete` ones removed."""
    merged = copy.deepcopy(base)
    for item in patch:
        at = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del merged[at]
        elif at is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[at] = strategic_merge(merged[at], item)
    return merged


def _kustomization(directory: Path) -> dict[str, Any]:
    import yaml

    path = directory / KUSTOMIZATION
    if not path.is_file():
        raise user_error(directory, "k8s-overlay", f"no {KUSTOMIZATION} here", FIX)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise user_error(path, "k8s-yaml", "not valid YAML", "fix its syntax") from None
    unknown = sorted(set(spec) - SUPPORTED)
    if unknown:
        raise user_error(
            path,
            "k8s-kustomize",
            f"{', '.join(unknown)} not supported by nb2prod's Kustomize subset",
            f"use only {', '.join(sorted(SUPPORTED))}, or build it with `kubectl kustomize`",
        )
    return spec


def _patch_document(directory: Path, patch: dict[str, Any]) -> Manifest:
    import yaml

    if "target" in patch or set(patch) - {"path", "patch"}:
        raise user_error(
            directory / KUSTOMIZATION,
            "k8s-kustomize",
            "only strategic-merge patches (`path` or `patch`) are supported, without `target`",
            "name the object in the patch itself (apiVersion, kind, metadata.name)",
        )
    if "path" in patch:
        documents = read_manifests(directory / patch["path"])
        if len(documents) != 1:
            raise user_error(
                directory / patch["path"], "k8s-kustomize", "a patch file holds one object", FIX
            )
        return documents[0]
    return yaml.safe_load(patch["patch"])


def _apply_patch(objects: list[Manifest], patch: Manifest) -> None:
    name = patch.get("metadata", {}).get("name")
    for i, obj in enumerate(objects):
        if obj.get("kind") == patch.get("kind") and obj["metadata"].get("name") == name:
            objects[i] = strategic_merge(obj, patch)
            return
    raise user_error(
        None,
        "k8s-kustomize",
        f"patch for {patch.get('kind')}/{name}: no such object in the resources",
        "name an object of the base (kind and metadata.name)",
    )


def _set_image(objects: list[Manifest], image: dict[str, Any]) -> None:
    """Kustomize's `images`: containers whose image (without tag or digest) is `name`."""
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
            name, tag = _split_image(container.get("image", ""))
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                tag = f"@{image['digest']}"
            elif "newTag" in image:
                tag = f":{image['newTag']}"
            container["image"] = name + tag


def _split_image(image: str) -> tuple[str, str]:
    """`registry:5000/a/b:tag` -> (`registry:5000/a/b`, `:tag`); digests kept likewise."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, f"@{digest}"
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""
