"""The `nb2prod` command line: a thin layer over `convert` and `check`.

Start-up stays fast: heavy modules (nbformat, IPython, jinja2) load only in
the command that needs them, never for `--help` or `--version`.

Exit codes: 0 ok; 1 `check` found problems that block conversion; 2 a user
error (unreadable notebook, blocking problems on `convert`, output that
would lose work); 3 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nb2prod.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USER_ERROR, UserError, user_error
from nb2prod.frontends.console import Style, print_conversion, print_error, print_report

EXIT_INTERNAL = 3
EPILOG = """exit codes: 0 ok; 1 check found blocking problems (doctor: something needed is
missing); 2 user error; 3 internal error.
docs: README.md and docs/architecture.md in the nb2prod repository."""


class _VersionAction(argparse.Action):
    """`--version`, reading the version only when asked (not for `--help` or a command)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        import nb2prod

        print(f"nb2prod {nb2prod.__version__}")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nb2prod",
        description="Turn a role-tagged Jupyter notebook into a tested production project.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    convert = commands.add_parser(
        "convert",
        help="write a packaged, tested training project from a notebook",
        description="Write a packaged, tested training project from a notebook.",
        epilog=EPILOG,
    )
    convert.add_argument("notebook", type=Path, help="the .ipynb file")
    convert.add_argument(
        "-o",
        "--output",
        type=Path,
        help="project folder (default: next to the notebook, named after it)",
    )
    convert.add_argument("--name", help="project name (default: from the notebook's file name)")
    convert.add_argument(
        "--force",
        action="store_true",
        help="overwrite generated files you edited, after keeping a backup",
    )
    convert.add_argument(
        "--no-service",
        action="store_true",
        help="skip the BentoML service, its Dockerfile and its tests",
    )
    convert.add_argument(
        "--no-run",
        action="store_true",
        help="do not run the generated pipeline: no reference profiles, contract, data and "
        "smoke tests, and no service (its schema comes from the run)",
    )
    convert.add_argument(
        "--no-onnx",
        action="store_true",
        help="serve the model as trained, without its ONNX Runtime twin",
    )
    convert.add_argument(
        "--kfp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compile the Kubeflow training pipeline into pipelines/pipeline.yaml "
        "(needs the kfp SDK: pip install 'nb2prod[kfp]'); later conversions keep it "
        "until --no-kfp",
    )
    convert.add_argument(
        "--timeout",
        type=int,
        default=900,
        help="seconds the pipeline may run when convert records references (default: %(default)s)",
    )
    convert.add_argument("--json", action="store_true", help="print the result as JSON")

    verify = commands.add_parser(
        "verify",
        help="run the notebook (papermill) and the generated code; compare results",
        description="Run the project's notebook with papermill and its generated training and "
        "predict code with the same parameters; compare metrics, predictions and the input "
        "schema. Exit 0 when they agree, 1 when they differ.",
        epilog=EPILOG,
    )
    verify.add_argument("project", type=Path, help="the folder `nb2prod convert` wrote")
    verify.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter for both runs (repeatable), e.g. -p n_estimators 20",
    )
    verify.add_argument(
        "--quick",
        action="store_true",
        help="start from the notebook's quick parameters (its `# nb2prod: quick` line)",
    )
    verify.add_argument(
        "--rtol",
        type=float,
        default=0.0,
        help="relative tolerance for metrics (default 0: seeded runs must agree exactly)",
    )
    verify.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    verify.add_argument(
        "--timeout", type=int, default=1800, help="seconds per notebook cell (default: %(default)s)"
    )
    verify.add_argument(
        "--skipped-timeout",
        type=int,
        help="seconds a skipped cell may run before it is interrupted and noted; "
        "0: up to --timeout (default: 120)",
    )
    verify.add_argument(
        "--cwd", type=Path, help="folder the notebook runs in (default: the notebook's folder)"
    )

    serve = commands.add_parser(
        "serve",
        help="run a generated project's service locally (BentoML, as its image does)",
        description="Run a generated project's BentoML service; train the project first.",
        epilog=EPILOG,
    )
    serve.add_argument("project", type=Path, help="the folder `nb2prod convert` wrote")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    serve.add_argument("--port", type=int, default=3000, help="port (default: %(default)s)")

    image = commands.add_parser(
        "image",
        help="build a generated project's container image (Docker API or podman)",
        description="Build a generated project's container image. Train the project first: "
        "the image imports artifacts/model.bentomodel.",
        epilog=EPILOG,
    )
    image.add_argument("project", type=Path, help="the folder `nb2prod convert` wrote")
    image.add_argument("--tag", help="image tag (default: <project>:latest)")
    image.add_argument(
        "--engine",
        choices=["auto", "docker", "podman"],
        default="auto",
        help="auto: the Docker API if one answers (DOCKER_HOST), else the podman CLI",
    )
    image.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Dockerfile ARG, as `docker build --build-arg` (repeatable), e.g. "
        "TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 for PyTorch's CUDA build",
    )

    check = commands.add_parser(
        "check",
        help="report roles, data flow and problems per cell",
        description="Report roles, data flow and problems per cell; suggest roles.",
        epilog=EPILOG,
    )
    check.add_argument("notebook", type=Path, help="the .ipynb file")
    check.add_argument("--json", action="store_true", help="print the report as JSON")

    doctor = commands.add_parser(
        "doctor",
        help="say what works here (papermill, BentoML, ONNX, containers, JupyterLab) and the fix",
        description="Check what nb2prod needs in this Python and say how to fix what is missing; "
        "with a notebook, also whether each module it imports resolves here. Exit 0 when "
        "check, convert and verify can run (and the notebook's kept cells' imports resolve), "
        "1 otherwise; missing extras are reported, not counted.",
        epilog=EPILOG,
    )
    doctor.add_argument("notebook", type=Path, nargs="?", help="an .ipynb file (optional)")
    doctor.add_argument(
        "--json",
        action="store_true",
        help="print the facts as JSON: {ok, checks: [{name, status, detail, fix, core}], "
        "notebook, imports: [{module, status, detail, cells, needed, distribution, version, "
        "fix}]}; status is ok, missing or warning",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    style = Style.for_stream(sys.stderr)
    try:
        if args.command == "convert":
            return _convert(args, style)
        if args.command == "verify":
            return _verify(args, Style.for_stream(sys.stdout))
        if args.command == "image":
            return _image(args, style)
        if args.command == "doctor":
            return _doctor(args, Style.for_stream(sys.stdout))
        if args.command == "serve":
            from nb2prod.run.serve import serve

            return serve(args.project, args.host, args.port)
        return _check(args, Style.for_stream(sys.stdout))
    except UserError as error:
        print_error(error, style)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("nb2prod: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nb2prod check NB | head`: the reader left, as with any filter
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 141  # 128 + SIGPIPE, as a shell reports it
    except Exception as error:  # a bug, not a user mistake: short message unless debugging
        from nb2prod.generate.install_hints import missing_package_error

        missing = missing_package_error(error)  # a package to install is no bug: exit 2
        if missing is not None:
            print_error(missing, style)
            return EXIT_USER_ERROR
        if os.environ.get("NB2PROD_DEBUG"):
            raise
        print(
            f"nb2prod: internal error: {type(error).__name__}: {error}\n"
            "  this is a bug in nb2prod; re-run with NB2PROD_DEBUG=1 for details and report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _convert(args: argparse.Namespace, style: Style) -> int:
    from nb2prod.commands.convert import convert, default_output

    notebook: Path = args.notebook
    output: Path = args.output or default_output(notebook, args.name)
    result = convert(
        notebook,
        output,
        name=args.name,
        force=args.force,
        service=not args.no_service,
        onnx=not args.no_onnx,
        run_pipeline=not args.no_run,
        kfp=args.kfp,
        timeout=args.timeout,
        announce=lambda line: print(f"nb2prod: {line}", file=sys.stderr, flush=True),
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_conversion(result, style)
    return EXIT_OK


def _verify(args: argparse.Namespace, style: Style) -> int:
    import time

    from nb2prod.commands.verify import verify

    started = time.perf_counter()
    report = verify(
        args.project,
        dict(args.parameter),
        quick=args.quick,
        rtol=args.rtol,
        timeout=args.timeout,
        skipped_timeout=args.skipped_timeout,
        cwd=args.cwd,
    )
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    used = ", ".join(f"{k}={v!r}" for k, v in report.parameters.items()) or "the notebook's"
    print(f"parameters: {used}{' (quick)' if args.quick else ''}")
    print(f"{'check':<11} {'name':<18} {'notebook':<24} {'generated':<24} {'diff':<9} result")
    for check in report.checks:
        difference = "" if check.difference is None else f"{check.difference:.2g}"
        result = style.green("pass") if check.passed else style.red("FAIL")
        unit = "columns" if check.kind == "schema" else "value"
        print(
            f"{check.kind:<11} {check.name:<18} {_cell_text(check.notebook, unit):<24} "
            f"{_cell_text(check.generated, unit):<24} {difference:<9} {result}"
        )
        if check.note:
            print(f"  {check.note}")
    failed = [c for c in report.checks if not c.passed]
    seconds = time.perf_counter() - started
    if failed:
        differ = ", ".join(c.name for c in failed if not c.note)
        unchecked = ", ".join(c.kind for c in failed if c.note)
        reasons = [f"{differ} differ"] if differ else []
        reasons += [f"nothing compared for {unchecked}"] if unchecked else []
        print(style.red(f"verify failed: {'; '.join(reasons)} ({seconds:.1f} s)"))
    else:
        print(style.green(f"verified: {report.coverage} ({seconds:.1f} s)"))
    for note in report.notes:
        print(f"note: {note}")
    print(f"executed notebook: {report.executed_notebook}")
    return EXIT_OK if not failed else EXIT_PROBLEMS


def _cell_text(value: Any, unit: str) -> str:
    if isinstance(value, dict) and unit == "columns":
        return f"{len(value)} columns"
    text = repr(value) if isinstance(value, float) else str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _key_value(text: str) -> tuple[str, str]:
    """`KEY=VALUE` of `--build-arg`; a bad one is a usage error (exit 2)."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise user_error(
            None,
            "bad-build-arg",
            f"--build-arg {text!r} is not KEY=VALUE",
            "write it as --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu",
        )
    return key.strip(), value


def _image(args: argparse.Namespace, style: Style) -> int:
    from nb2prod.run.image import build_image
    from nb2prod.run.serve import service_of

    build_args = dict(_key_value(text) for text in args.build_arg)
    name, _ = service_of(args.project)
    tag = args.tag or f"{name}:latest"
    print(f"building {tag} from {args.project} ...", file=sys.stderr)

    def progress(line: str) -> None:
        if line.lstrip().upper().startswith("STEP"):
            print(style.dim(f"  {line.strip()}"), file=sys.stderr)

    image_id = build_image(
        args.project, tag, engine=args.engine, build_args=build_args, on_line=progress
    )
    print(style.green(f"built {tag} ({image_id[:19]})"))
    print(f"run it: docker run --rm -p 3000:3000 {tag}   (or podman run ...)")
    return EXIT_OK


def _doctor(args: argparse.Namespace, style: Style) -> int:
    from nb2prod.commands.doctor import diagnose
    from nb2prod.frontends.doctor_print import print_diagnosis

    diagnosis = diagnose(args.notebook)
    if args.json:
        print(json.dumps(diagnosis.to_json(), indent=2))
    else:
        print_diagnosis(diagnosis, style, sys.stdout)
    return EXIT_OK if diagnosis.ok else EXIT_PROBLEMS


def _check(args: argparse.Namespace, style: Style) -> int:
    from nb2prod.commands.check import check_report

    report = check_report(args.notebook)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report, style, sys.stdout)
    return EXIT_OK if report["convertible"] else EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
