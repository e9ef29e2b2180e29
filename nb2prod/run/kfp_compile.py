"""Compile the generated Kubeflow pipeline (`pipelines/pipeline.py`) into its YAML.

The kfp SDK does the compiling, in a child process running the generated file itself
(`python pipelines/pipeline.py --output ...`), so the YAML nb2prod writes is the one
the project's own command writes. Compiling imports neither the project's package nor
the notebook's libraries (components import them inside their bodies): it needs
only kfp, nb2prod's `kfp` extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from nb2prod.errors import UserError, user_error
from nb2prod.generate.install_hints import require
from nb2prod.run.child_process import run_in_group

PIPELINE_SOURCE = "pipelines/pipeline.py"
PIPELINE_YAML = "pipelines/pipeline.yaml"
COMPILE_TIMEOUT = 120


class CompileFailed(RuntimeError):
    """The kfp SDK refused the generated pipeline: a bug in nb2prod, with its output."""


def compile_pipeline(files: dict[str, bytes], about: Path | None = None) -> bytes:
    """The YAML the kfp SDK compiles from the rendered `pipelines/pipeline.py`."""
    require("kfp", about)  # exit 2 with `pip install 'nb2prod[kfp]'` when missing
    with tempfile.TemporaryDirectory(prefix="nb2prod-kfp-") as folder:
        source = Path(folder) / PIPELINE_SOURCE
        source.parent.mkdir(parents=True)
        source.write_bytes(files[PIPELINE_SOURCE])
        target = Path(folder) / PIPELINE_YAML
        command = [sys.executable, str(source), "--output", str(target)]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            completed = run_in_group(command, env=env, timeout=COMPILE_TIMEOUT)
        except subprocess.TimeoutExpired as error:
            raise CompileFailed(f"compiling took over {COMPILE_TIMEOUT} s") from error
        if completed.returncode != 0 or not target.is_file():
            raise CompileFailed(
                f"the kfp SDK could not compile {PIPELINE_SOURCE} "
                f"(exit {completed.returncode}):\n{completed.stderr.strip()[-2000:]}"
            )
        return target.read_bytes()


def no_pipeline_error(notebook: Path) -> UserError:
    """`--kfp` on a notebook that trains no model: there is no training pipeline."""
    return user_error(
        notebook,
        "no-training-pipeline",
        "--kfp builds the Kubeflow training pipeline, and this notebook trains no model",
        "tag the cell that fits the model `nb2prod:train`, or convert with --no-kfp",
    )
