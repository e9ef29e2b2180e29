"""`nb2prod serve OUT`: run a generated project's service locally with `bentoml serve`.

Checks first what users otherwise learn from a stack trace: that the folder is a
generated project with a service, and that its model is in BentoML's store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nb2prod.child_process import child_env
from nb2prod.errors import user_error
from nb2prod.write import read_manifest


def service_of(project: Path) -> tuple[str, str]:
    """(project name, service class) of a generated project, or a `UserError`."""
    manifest = read_manifest(project)
    service = manifest.get("service")
    if not service or not (project / "service.py").is_file():
        raise user_error(
            project,
            "no-service",
            "this project has no service (its notebook has no usable predict section)",
            "tag the cell that predicts new rows nb2prod:predict and convert again",
        )
    return str(manifest["project"]), str(service)


def check_model(project: Path, name: str) -> None:
    """The project's model must be in the local BentoML store before serving."""
    code = "import sys, bentoml; bentoml.models.get(sys.argv[1])"
    result = subprocess.run(
        [sys.executable, "-c", code, f"{name}:latest"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        home = os.environ.get("BENTOML_HOME", "~/bentoml")
        raise user_error(
            project,
            "no-model",
            f"no trained model `{name}` in BentoML's store ({home})",
            f"train first: cd {project} && {name}-train",
        )


def serve(project: Path, host: str, port: int) -> int:
    """Run `bentoml serve` for the project until interrupted; its exit status."""
    name, service = service_of(project)
    check_model(project, name)
    env = child_env(project / "src")
    command = [sys.executable, "-m", "bentoml", "serve", f"service:{service}"]
    command += ["--host", host, "--port", str(port)]
    print(f"serving {name} on http://{host}:{port} (Ctrl+C stops)", file=sys.stderr)
    return subprocess.call(command, cwd=project, env=env)
