"""The generated deploy/k8s/ manifests, rendered from the real templates without a notebook.

Shared by the unit tests of the Kustomize subset and of the policy rules, so both test
what nb2prod writes, not a hand-made copy of it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jinja2

from nb2prod.generate import render

PROJECT = "demo-model"


def write_manifests(root: Path, project: str = PROJECT) -> Path:
    """Render deploy/k8s/ of a project named `project` under `root`; return deploy/k8s."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(render.templates_dir() / "project")),
        undefined=jinja2.StrictUndefined,
    )
    context = {
        "plan": SimpleNamespace(project=project),
        "port": render.PORT,
        "service_class": "DemoModelService",
        "k8s": render.kubernetes_context(None),
    }
    for template, (target, _) in render.TEMPLATES.items():
        if target.startswith("deploy/k8s/"):
            path = root / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(env.get_template(template).render(context) + "\n")
    return root / "deploy" / "k8s"
