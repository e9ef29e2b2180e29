"""Render a plan into the generated project's files (in memory).

Every file that depends on the notebook comes from a Jinja2 template in
`templates/project/`, so users can read how each is made. Templates are not
user-overridable on purpose: verify proves what nb2prod generates, and a user
changes the generated project itself (the manifest keeps their edits). Python files then go
through ruff (import sorting, unused names, formatting), so the output reads like
hand-written code, and requirements are computed from the imports that survive.
Files that do not depend on the notebook (`COPIED`: the runtime modules in
`generate/runtime/`, the ignore files in `generate/static/`) are copied byte for
byte instead: they are stored in the form ruff would give them.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path
from typing import Any

from nb2prod import __version__
from nb2prod.analyse.names import imported_modules
from nb2prod.analyse.role_outputs import looks_like_metric
from nb2prod.errors import Problem
from nb2prod.generate import kubernetes
from nb2prod.generate.kfp_pipeline import kfp_pipeline
from nb2prod.generate.requirements import installed_version, resolve_requirements
from nb2prod.plan.build import Plan, Step, data_step_position
from nb2prod.plan.metrics_record import metrics_record
from nb2prod.plan.predict_module import (
    PREDICT_MODULE,
    array_readers,
    model_readers,
    predict_module,
    row_definition,
)
from nb2prod.plan.serving import (
    RequestField,
    Serving,
    data_input_of,
    framework_of,
    predict_call,
    serving_state_of,
)
from nb2prod.plan.skipped_cells import rewritten_skipped_cells, skipped_cells
from nb2prod.protocol import ProbeResult

LINE_LENGTH = 88
ROLE_SUMMARIES = {
    "setup": "Prepare the run: seeds, options and other setup",
    "load": "Load the data",
    "preprocess": "Clean the data and build features",
    "train": "Fit the model",
    "evaluate": "Compute the evaluation metrics",
    "predict": "Predict on new rows",
    "select": "Pick the rows to predict on (a service request takes their place)",
    "test": "The notebook's checks",
}
ALWAYS, WITH_MODEL, WITH_TESTS, WITH_SERVICE, WITH_ONNX = (
    "always", "model", "tests", "service", "onnx"
)  # fmt: skip
WITH_REFERENCES, WITH_DATA, WITH_METRICS, WITH_SMOKE = "references", "data", "metrics", "smoke"
WITH_PICKLED_MODEL, WITH_TORCH_MODEL = "pickled model", "torch model"
WITH_TABLE_ROWS = "table rows"  # a service whose rows are table rows, not arrays (images)
WITH_PREDICT_MODULE = "predict module"  # a self-contained predict section: prediction.py
WITH_TWINS = "twins"  # onnx_model.py: a scikit-learn model's twin or the state's transformers'
TEMPLATES: dict[str, tuple[str, str]] = {
    "pyproject.toml.j2": ("pyproject.toml", ALWAYS),
    "README.md.j2": ("README.md", ALWAYS),
    "src/package/__init__.py.j2": ("src/{package}/__init__.py", ALWAYS),
    "src/package/config.py.j2": ("src/{package}/config.py", ALWAYS),
    "src/package/pipeline.py.j2": ("src/{package}/pipeline.py", ALWAYS),
    "src/package/train.py.j2": ("src/{package}/train.py", ALWAYS),
    "src/package/prediction.py.j2": ("src/{package}/prediction.py", WITH_PREDICT_MODULE),
    "src/package/model_store.py.j2": ("src/{package}/model_store.py", WITH_PICKLED_MODEL),
    "src/package/model_store_torch.py.j2": ("src/{package}/model_store.py", WITH_TORCH_MODEL),
    "src/package/schema.py.j2": ("src/{package}/schema.py", WITH_SERVICE),
    "src/package/predict_batch.py.j2": ("src/{package}/predict_batch.py", WITH_SERVICE),
    "service.py.j2": ("service.py", WITH_SERVICE),
    "bentofile.yaml.j2": ("bentofile.yaml", WITH_SERVICE),
    "requirements.txt.j2": ("requirements.txt", WITH_SERVICE),
    "Dockerfile.j2": ("Dockerfile", WITH_SERVICE),
    "deploy/k8s/README.md.j2": ("deploy/k8s/README.md", WITH_SERVICE),
    "deploy/k8s/base/kustomization.yaml.j2": ("deploy/k8s/base/kustomization.yaml", WITH_SERVICE),
    "deploy/k8s/base/deployment.yaml.j2": ("deploy/k8s/base/deployment.yaml", WITH_SERVICE),
    "deploy/k8s/base/service.yaml.j2": ("deploy/k8s/base/service.yaml", WITH_SERVICE),
    "deploy/k8s/base/hpa.yaml.j2": ("deploy/k8s/base/hpa.yaml", WITH_SERVICE),
    "deploy/k8s/base/pdb.yaml.j2": ("deploy/k8s/base/pdb.yaml", WITH_SERVICE),
    "deploy/k8s/overlays/example/kustomization.yaml.j2": (
        "deploy/k8s/overlays/example/kustomization.yaml",
        WITH_SERVICE,
    ),
    "deploy/k8s/overlays/example/namespace.yaml.j2": (
        "deploy/k8s/overlays/example/namespace.yaml",
        WITH_SERVICE,
    ),
    "tests/conftest.py.j2": ("tests/conftest.py", ALWAYS),
    "tests/test_training.py.j2": ("tests/test_training.py", ALWAYS),
    "tests/test_notebook_checks.py.j2": ("tests/test_notebook_checks.py", WITH_TESTS),
    "tests/test_service.py.j2": ("tests/test_service.py", WITH_SERVICE),
    "tests/test_pipeline_functions.py.j2": ("tests/test_pipeline_functions.py", WITH_REFERENCES),
    "tests/test_data_quality.py.j2": ("tests/test_data_quality.py", WITH_DATA),
    "tests/test_model_smoke.py.j2": ("tests/test_model_smoke.py", WITH_SMOKE),
    "tests/test_notebook_regression.py.j2": ("tests/test_notebook_regression.py", WITH_METRICS),
    "scripts/check_data_quality.py.j2": ("scripts/check_data_quality.py", WITH_DATA),
    "scripts/test_model_inference.py.j2": ("scripts/test_model_inference.py", WITH_SERVICE),
    "scripts/batch_ray.py.j2": ("scripts/batch_ray.py", WITH_TABLE_ROWS),
    "github/workflows/ml-validation.yml.j2": (".github/workflows/ml-validation.yml", ALWAYS),
    "pipelines/pipeline.py.j2": ("pipelines/pipeline.py", WITH_MODEL),
}
GENERATE = Path(__file__).parent
COPIED: dict[str, tuple[str, str]] = {
    "runtime/contracts.py": ("src/{package}/contracts.py", ALWAYS),
    "runtime/data_quality.py": ("src/{package}/data_quality.py", ALWAYS),
    "runtime/onnx_model.py": ("src/{package}/onnx_model.py", WITH_TWINS),
    "runtime/torch_model.py": ("src/{package}/torch_model.py", WITH_TORCH_MODEL),
    "runtime/request_guard.py": ("src/{package}/request_guard.py", WITH_SERVICE),
    "runtime/request_timers.py": ("src/{package}/request_timers.py", WITH_SERVICE),
    "runtime/row_faults.py": ("src/{package}/row_faults.py", WITH_SERVICE),
    "runtime/fast_path.py": ("src/{package}/fast_path.py", WITH_ONNX),  # async endpoints
    "runtime/kfp_values.py": ("src/{package}/kfp_values.py", WITH_MODEL),
    "runtime/batch_io.py": ("src/{package}/batch_io.py", WITH_SERVICE),
    "runtime/batch_scoring.py": ("src/{package}/batch_scoring.py", WITH_SERVICE),
    "runtime/serving_set.py": ("src/{package}/serving_set.py", WITH_SERVICE),
    "runtime/elf_symbols.py": ("src/{package}/elf_symbols.py", WITH_SERVICE),
    "runtime/single_worker.py": ("src/{package}/single_worker.py", WITH_SERVICE),
    "static/gitignore": (".gitignore", ALWAYS),
    "static/dockerignore": (".dockerignore", WITH_SERVICE),
}
"""Files under `nb2prod/generate/` copied as they are (no Jinja, no ruff), like TEMPLATES."""
EXTRA_FILES = (
    "src/{package}/batch_io.py",
    "scripts/batch_ray.py",
    "src/{package}/kfp_values.py",
    "pipelines/pipeline.py",
    "src/{package}/serving_set.py",
)
"""Files whose imports beyond the core ones are extras, never the service's requirements:
`batch`/`ray` (pyarrow, ray) and `kfp` (kfp; kfp_values' lazy joblib and torch imports
are met by the model's own framework); serving_set's (packaging, starlette) come with
BentoML."""
PORT = 3000
SOURCES = "src/"
"""The folder of the package's own modules: all the probe runs."""
SERVER_SPEEDUPS = ("uvloop", "httptools")


def templates_dir() -> Path:
    """The template folder: inside the installed package, or at the repository root."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).parents[2] / "templates"


def render_project(
    plan: Plan,
    problems: list[Problem],
    serving: Serving | None = None,
    probe: ProbeResult | None = None,
) -> dict[str, bytes]:
    """All files of the generated project, by relative path.

    `probe` is what a run of the generated pipeline recorded (see `probe.py`):
    with it come the reference files and the tests that compare with them.
    """
    env = _environment()
    notebook_file = plan.source.path.name
    context = _context(plan, serving, probe)
    enabled = context["features"]
    wanted = _wanted(enabled)
    python_files = _python_files(env, context, wanted, plan.package)
    copied = copied_files(enabled, plan.package)

    # The notebook's own imports count even when the code no longer names them:
    # `load_diabetes(as_frame=True)` needs pandas without importing it.
    sources = {**python_files, **{p: d.decode() for p, d in copied.items() if p.endswith(".py")}}
    trees = [_parse(text) for path, text in sources.items() if _core_code(path, plan.package)]
    found = dict.fromkeys([*imported_modules(trees), *plan.modules])
    modules = [m for m in found if m not in {plan.package, "service"}]
    # uvicorn's fast event loop and HTTP parser: bench/serve measured p99 at 32 concurrent
    # requests ~255 ms without them, 40-70 ms with them. Pinned when installed here.
    speedups = [n for n in SERVER_SPEEDUPS if serving is not None and installed_version(n)]
    requirements = resolve_requirements(
        modules, [*plan.pip_requirements, *speedups], plan.source.path.parent, problems
    )
    context["requirements"] = [str(r) for r in requirements if r.name.lower() != "pytest"]
    test_tools = ["pytest", *(["httpx"] if serving else [])]
    if WITH_METRICS in enabled:  # the notebook regression test runs it with papermill
        test_tools += ["papermill", "ipykernel", "jupyter_client"]
    context["test_requirements"] = [_pinned(name) for name in test_tools]
    # Parquet and Ray are for batch scoring only: extras, out of the service's image
    context["batch_requirements"] = [_pinned("pyarrow")] if serving else []
    context["ray_requirements"] = [_pinned("ray").replace("ray", "ray[data]", 1)] if serving else []

    files: dict[str, bytes] = {path: text.encode() for path, text in python_files.items()}
    files.update(copied)
    for template, (target, _) in wanted.items():
        if not target.endswith(".py"):
            text = env.get_template(template).render(context)
            files[target] = text.rstrip("\n").encode() + b"\n"
    files[f"notebooks/{notebook_file}"] = stripped_notebook(plan)
    if probe is not None:
        source = {"created_by": f"nb2prod {__version__}", "source_notebook": notebook_file}
        files["reference/pipeline_contracts.json"] = _json({**source, **probe.contracts.to_json()})
        files["reference/metrics.json"] = _json({**source, **probe.metrics.to_json()})
        if probe.data_profile:
            files["reference/data_profile.json"] = _json({**source, "tables": probe.data_profile})
    if serving is not None:
        request = {"path": "/predict_batch", "body": serving.example_rows}
        files["examples/request.json"] = _json(request)
        files["examples/response.json"] = _json(serving.example_predictions)
    return dict(sorted(files.items()))


def render_sources(plan: Plan) -> dict[str, bytes]:
    """The package's modules (`src/`) as `render_project(plan, [])` writes them: what the
    probe runs. Only those, so the probe pays for neither the project's other templates
    nor its requirements."""
    context = _context(plan, None, None)
    enabled = context["features"]
    wanted = _wanted(enabled, SOURCES)
    python_files = _python_files(_environment(), context, wanted, plan.package)
    files = {path: text.encode() for path, text in python_files.items()}
    files.update(copied_files(enabled, plan.package, SOURCES))
    return dict(sorted(files.items()))


def _context(plan: Plan, serving: Serving | None, probe: ProbeResult | None) -> dict[str, Any]:
    """What the templates read, but the requirements (computed from the rendered code)."""
    row_function = row_definition(plan)
    readers = _array_readers(plan, serving, probe)
    array_input = bool(readers)
    return {
        "plan": plan,
        "serving": serving,
        "version": __version__,
        "notebook_file": plan.source.path.name,
        "python_min": f"{sys.version_info.major}.{sys.version_info.minor}",
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "line_length": LINE_LENGTH,
        "port": PORT,
        "service_class": serving.class_name if serving else None,
        "data_step": data_step_position(plan),
        "serving_state": _serving_state(plan),
        "predict_input": _predict_input(plan),
        "predict_module": predict_module(plan),
        "row_definition": row_function,
        "row_module": PREDICT_MODULE if row_function else "pipeline",
        "array_input": array_input,
        "array_readers": readers,
        "onnx": bool(serving and serving.onnx),
        "state_twins": serving.state_twins if serving else [],
        "torch": _is_torch(probe),
        "serving_call": _serving_call(plan, serving, array_input=array_input) if serving else "",
        "row_functions": _row_functions(plan, serving) if serving else "",
        "training_call": _serving_call(plan, serving, training=True) if serving else "",
        "batch_call": _serving_call(plan, serving, batch=True) if serving else "",
        "out_of_range": _out_of_range(serving) if serving else None,
        "metrics_record": metrics_record(plan),  # as verify records the notebook's metrics
        "skipped_cells": skipped_cells(plan),  # as verify runs them: allowed to fail
        "skipped_as_run": rewritten_skipped_cells(plan),
        "smoke_margin": SMOKE_MARGIN,
        "metric_directions": {
            name: metric_direction(name)
            for name in smoke_metrics(probe.metrics.defaults if probe else {})
        },
        "features": _enabled(plan, serving, probe),
        "kfp": kfp_pipeline(plan) if plan.model else None,
        "image_variable": f"{plan.package.upper()}_IMAGE",
        "kfp_requirement": _pinned("kfp"),
        "pyarrow_requirement": _pinned("pyarrow"),
        "k8s": kubernetes_context(probe),
    }


def kubernetes_context(probe: ProbeResult | None) -> dict[str, Any]:
    """What the manifests in deploy/k8s/ read: sizes and times from `kubernetes.py`."""
    framework = framework_of(probe) if probe is not None else "python"
    return {
        "version": kubernetes.KUBERNETES_VERSION,
        "framework": framework,
        "resources": kubernetes.resources_for(framework),
        "measured": kubernetes.MEASURED_MIB,
        "headroom": kubernetes.HEADROOM,
        "limit_factor": kubernetes.LIMIT_FACTOR,
        "step_mib": kubernetes.STEP_MIB,
        "cpu_request": kubernetes.CPU_REQUEST,
        "cpu_limit": kubernetes.CPU_LIMIT,
        "traffic_timeout": kubernetes.TRAFFIC_TIMEOUT_S,
        "prestop_sleep": kubernetes.PRESTOP_SLEEP_S,
        "grace": kubernetes.TERMINATION_GRACE_S,
    }


def _python_files(
    env: Any, context: dict[str, Any], wanted: dict[str, tuple[str, str]], package: str
) -> dict[str, str]:
    """The wanted Python templates, rendered and tidied by ruff, by target path."""
    python_files = {
        target.format(package=package): env.get_template(template).render(context)
        for template, (target, _) in wanted.items()
        if target.endswith(".py")
    }
    return tidy_python(python_files, package)


def _enabled(plan: Plan, serving: Serving | None, probe: ProbeResult | None) -> set[str]:
    """Which optional parts the project gets (see TEMPLATES)."""
    enabled = {ALWAYS}
    if plan.model:
        enabled.add(WITH_MODEL)
        enabled.add(WITH_TORCH_MODEL if _is_torch(probe) else WITH_PICKLED_MODEL)
    if plan.metrics.sources:
        enabled.add(WITH_METRICS)
    if probe is not None:
        enabled.add(WITH_REFERENCES)
        if probe.data_profile:
            enabled.add(WITH_DATA)
        if plan.model and probe.metrics.defaults:
            enabled.add(WITH_SMOKE)
    if plan.tests:
        enabled.add(WITH_TESTS)
    if predict_module(plan):
        enabled.add(WITH_PREDICT_MODULE)
    if serving is not None:
        enabled.add(WITH_SERVICE)
        if not serving.row_shape:
            enabled.add(WITH_TABLE_ROWS)
        if serving.onnx and not _is_torch(probe):  # torch_model.py has torch's twin
            enabled.update({WITH_ONNX, WITH_TWINS})
        if serving.state_twins:
            enabled.add(WITH_TWINS)
    return enabled


def _wanted(enabled: set[str], under: str = "") -> dict[str, tuple[str, str]]:
    """The TEMPLATES the project gets (those whose target is `under` a folder)."""
    root = templates_dir() / "project"
    return {
        template: (target, feature)
        for template, (target, feature) in TEMPLATES.items()
        if feature in enabled and target.startswith(under) and (root / template).exists()
    }


def copied_files(enabled: set[str], package: str, under: str = "") -> dict[str, bytes]:
    """The COPIED files the project gets (those `under` a folder), by target path, as
    bytes read from disk.

    They are read, never imported: the runtime modules need numpy and pandas, which
    nb2prod's CLI does not load.
    """
    return {
        target.format(package=package): (GENERATE / source).read_bytes()
        for source, (target, feature) in COPIED.items()
        if feature in enabled and target.startswith(under)
    }


def _core_code(path: str, package: str) -> bool:
    """Whether the imports of a generated file are core requirements: not the tests', nor
    those of batch scoring's Parquet and Ray parts or of the Kubeflow pipeline (extras, see
    EXTRA_FILES)."""
    return not path.startswith("tests/") and path not in {
        name.format(package=package) for name in EXTRA_FILES
    }


def _array_readers(plan: Plan, serving: Serving | None, probe: ProbeResult | None) -> list[str]:
    """What the service hands the request rows to, as expressions (`self.model`,
    `self.state['scaler']`), when it may hand them a plain array instead of a DataFrame:
    one dtype, and the rows only reach ONNX twins (the scikit-learn model's `predict` or
    `predict_proba`, a twinned transformer's `transform`; `predict_module.array_readers`).
    The service checks at load that each is a twin reading those columns; else a table."""
    if (
        serving is None
        or plan.predict is None
        or serving.kind != "dataframe"
        or len(set(serving.dtypes.values())) != 1
        or serving.row_function  # raw rows go through the notebook's table code first
    ):
        return []
    readers = {name: frozenset({"transform"}) for name in serving.state_twins}
    if serving.onnx and not _is_torch(probe):
        readers.update(model_readers(plan, plan.predict))
    names = array_readers(plan, plan.predict, readers)
    return [
        f"self.state[{name!r}]" if name in serving.state_twins else "self.model" for name in names
    ]


def _predict_input(plan: Plan) -> str | None:
    return data_input_of(plan, plan.predict) if plan.predict else None


def _serving_state(plan: Plan) -> list[str]:
    return serving_state_of(plan, plan.predict) if plan.predict else []


def _serving_call(
    plan: Plan,
    serving: Serving,
    *,
    training: bool = False,
    batch: bool = False,
    array_input: bool = False,
) -> str:
    """The predict step's arguments as the service passes them (or, in `train.py`, as
    `predict_outputs` does: model, rows, state and config are its parameters; or, in
    `predict_batch.py`, as the service but for rows read from a file)."""
    step = next(s for s in plan.steps if s.function == serving.predict_function)
    if training:
        return predict_call(plan, step, model="model", rows="rows", state="state", config="config")
    if batch:
        rows = "input_of(rows)"
    else:
        rows = "to_input(rows, table=self.table)" if array_input else "to_input(rows)"
    if serving.row_function and plan.row_function:  # raw rows: row-wise preprocessing first
        given = [
            f"CONFIG.{a.name}" if a.from_config else f"self.state[{a.name!r}]"
            for a in plan.row_function.arguments
        ]
        rows = f"{serving.row_function}({', '.join([rows, *given])})"
    return predict_call(
        plan, step, model="self.model", rows=rows, state="self.state", config="CONFIG"
    )


def _row_functions(plan: Plan, serving: Serving) -> str:
    """The notebook's functions the service calls on request rows (row_faults' args)."""
    names = [serving.predict_function]
    if serving.row_function and plan.row_function:
        names.append(serving.row_function)
    return ", ".join(names)


def _is_torch(probe: ProbeResult | None) -> bool:
    """A PyTorch model, as the probe saw it (a service is only built from a probe)."""
    return probe is not None and framework_of(probe) == "pytorch"


def _out_of_range(serving: Serving) -> dict[str, Any] | None:
    """A request value above a numeric field's maximum, for the generated 400 test."""
    for field in serving.fields:
        if field.maximum is not None and not field.categories:
            span = abs(field.maximum) + 1
            value = repr(field.maximum + 10 * span)
            for length in reversed(field.shape):  # a row that is an array: every value too big
                value = f"[{value}] * {length}"
            return {"column": field.column, "value": value}
    return None


LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "mape", "rmse", "deviance", "brier")


SMOKE_MARGIN = 0.10
"""How far (relative) below the notebook's metrics the smoke test lets a quick run fall."""


def smoke_metrics(metrics: Any) -> list[str]:
    """The metrics a quick run is held to: those named like scores (`accuracy`, `rmse`),
    or all when none is; counts such as `n_test` change with less data by design."""
    names = list(metrics)
    scores = [name for name in names if looks_like_metric(name)]
    return scores or names


def falls_short(name: str, value: float, reference: float) -> bool:
    """Whether `value` of metric `name` is worse than `reference` by more than SMOKE_MARGIN."""
    allowed = SMOKE_MARGIN * abs(reference)
    if metric_direction(name) == "higher":
        return value < reference - allowed
    return value > reference + allowed


def metric_direction(name: str) -> str:
    """`lower` for errors and losses (by name), else `higher`: which way is better."""
    words = name.lower().replace("-", "_").split("_")
    return "lower" if any(word in LOWER_IS_BETTER for word in words) else "higher"


def _pinned(name: str) -> str:
    version = installed_version(name)
    return f"{name}=={version}" if version else name


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def stripped_notebook(plan: Plan) -> bytes:
    """The source notebook without outputs or execution counts (see `NotebookSource`),
    written byte for byte as nbformat writes a v4 notebook, without importing nbformat
    (its import costs seconds where Jupyter Server is installed: jsonschema's format
    checkers), which would otherwise be most of a `convert --no-run`."""
    node = copy.deepcopy(plan.source.stripped)
    for cell in node.get("cells", []):
        cell["source"] = _lines(cell.get("source", ""))
        for bundle in cell.get("attachments", {}).values():
            for mime, value in bundle.items():
                if mime.startswith("text/") or mime in {"application/javascript", "image/svg+xml"}:
                    bundle[mime] = _lines(value)
    text = json.dumps(node, sort_keys=True, indent=1, separators=(",", ": "), ensure_ascii=False)
    return (text + "\n").encode()


def _lines(value: Any) -> Any:
    """Multi-line text as nbformat stores it: a list of lines, each with its newline (text
    already stored as a list stays as the notebook has it)."""
    return value.splitlines(True) if isinstance(value, str) else value


def tidy_python(files: dict[str, str], package: str) -> dict[str, str]:
    """Sort imports, drop unused names and format with ruff, as a user's linter would.

    All files go through one `ruff check --fix` and one `ruff format` process.
    """
    isort = f"lint.isort.known-first-party = [{json.dumps(package)}]"
    with tempfile.TemporaryDirectory(prefix="nb2prod-ruff-") as folder:
        root = Path(folder)
        for path, text in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        _ruff(
            ["check", "--fix-only", "--unsafe-fixes", "--extend-select", "F401,F841,E703,I",
             "--config", isort, "--exit-zero", "--quiet"],
            root,
        )  # fmt: skip
        _ruff(["format"], root)  # not --quiet: that hides the parse errors too
        return {path: (root / path).read_text() for path in files}


def _ruff(arguments: list[str], root: Path) -> None:
    from ruff.__main__ import find_ruff_bin

    command = [
        find_ruff_bin(), *arguments, "--isolated", "--no-cache", "--line-length", str(LINE_LENGTH),
        "--target-version", f"py{sys.version_info.major}{sys.version_info.minor}", ".",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = "\n".join(t.strip() for t in (result.stdout, result.stderr) if t.strip())
        raise RuntimeError(
            f"ruff failed on the generated code (exit {result.returncode}):\n{output}"
        )


def _parse(text: str) -> Any:
    import ast

    return ast.parse(text)


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "project")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        signature=signature,
        returns=returns,
        summary=summary,
        call=call,
        indent_code=indent_code,
        docstring=lambda text: str(text).replace('"""', "'''").replace("\\", "\\\\"),
        pystring=lambda text: json.dumps(str(text))[1:-1].replace("%", "%%"),
        pyrepr=repr,
        code_literal=code_literal,
        override_text=lambda p: str(_override(p.default)),
        field_call=field_call,
        override_value=lambda p: repr(_override(p.default)),
    )
    return env


def code_literal(code: str) -> str:
    """`code` (a notebook cell's) as a Python string literal: triple-quoted, so that it
    reads as code, where that writes it exactly (no quotes or escapes to mind, no `\\r`
    or other control a source file would not keep)."""
    plain = '"""' not in code and "\\" not in code and not code.endswith('"')
    if plain and all(c.isprintable() or c in "\n\t" for c in code):
        return f'"""\\\n{code}"""'
    return repr(code)


def field_call(field: RequestField) -> str:
    """` = Field(alias=..., ge=..., le=...)` for a request field, or nothing (a shaped
    field's bounds are its elements', in `Value`)."""
    if field.shape:
        return ""
    options = []
    if field.alias:
        options.append(f"alias={field.alias!r}")
    if field.minimum is not None:
        options.append(f"ge={field.minimum!r}")
    if field.maximum is not None:
        options.append(f"le={field.maximum!r}")
    if not options:
        return ""
    return f" = Field({', '.join(options)})"


def signature(step: Step) -> str:
    """Data arguments first, then the parameters it reads as keyword-only arguments."""
    data = [f"{a.name}: Any" for a in step.arguments if not a.from_config]
    config = [f"{a.name}: {a.type_name}" for a in step.arguments if a.from_config]
    return ", ".join(data + (["*", *config] if config else []))


def returns(step: Step) -> str:
    if not step.outputs:
        return "None"
    if len(step.outputs) == 1:
        return "Any"
    return f"tuple[{', '.join('Any' for _ in step.outputs)}]"


def summary(step: Step) -> str:
    title = None if step.role == "select" else step.title  # the title belongs to predict
    text = (title or ROLE_SUMMARIES.get(step.role, f"The `{step.function}` step")).strip()
    text = text.replace('"""', "'''").replace("\\", "\\\\")
    return text if text.endswith((".", "!", "?")) else text + "."


def call(step: Step, config_name: str = "config") -> str:
    """`a, b = step(x, y, n=config.n)` as run_pipeline calls it (its Config argument is
    `config_name`: `config_` when the notebook has a `config` of its own)."""
    data = [a.name for a in step.arguments if not a.from_config]
    config = [f"{a.name}={config_name}.{a.name}" for a in step.arguments if a.from_config]
    expression = f"{step.function}({', '.join(data + config)})"
    return f"{', '.join(step.outputs)} = {expression}" if step.outputs else expression


def indent_code(code: str, prefix: str = "    ") -> str:
    """Indent `code` one level, leaving the inside of multi-line strings untouched."""
    lines = code.splitlines()
    inside_string: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code + "\n").readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside_string.update(range(token.start[0] + 1, token.end[0] + 1))
            if getattr(tokenize, "FSTRING_MIDDLE", None) == token.type:
                inside_string.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    return "\n".join(
        line if (number in inside_string or not line.strip()) else prefix + line
        for number, line in enumerate(lines, start=1)
    )


def _override(default: Any) -> Any:
    """A value different from `default`, to prove the flag is read."""
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return default / 2 if default else 1.5
    return f"{default}-changed"
