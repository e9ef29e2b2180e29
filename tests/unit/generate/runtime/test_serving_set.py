"""The generated project's `serving_set.py`: which distributions serving needs, and a venv
of only those.

Imported from nb2prod/generate/runtime, where it lives; run against this venv's real
installed distributions (tests/e2e/test_lean_serving.py measures a real service with it,
and the image tests build images with it).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from nb2prod.generate.runtime import serving_set

INSTALLED = serving_set.venv_distributions(Path(sysconfig.get_path("purelib")))


def test_names_compare_as_pip_compares_them() -> None:
    assert serving_set.canonical("Pydantic_Core") == "pydantic-core"
    assert serving_set.canonical("ruamel.yaml") == "ruamel-yaml"


def test_bentoml_brings_what_it_declares_and_not_its_extras() -> None:
    """Every declared dependency, transitively; extras (pandas, pillow for `io`) only when
    asked for, and markers for other Pythons are not followed."""
    if "bentoml" not in INSTALLED:
        pytest.skip("needs BentoML")
    found = serving_set.closure({"bentoml"}, INSTALLED)
    assert {"bentoml", "starlette", "uvicorn", "pydantic", "pydantic-core", "h11"} <= found
    assert not {"pandas", "pillow", "scikit-learn", "tomli"} & found
    from packaging.requirements import Requirement

    for name in found:  # closed: every installed dependency declared without a marker is in
        for text in INSTALLED[name].requires or []:
            requirement = Requirement(text)
            needed = serving_set.canonical(requirement.name)
            if requirement.marker is None and needed in INSTALLED:
                assert needed in found, (name, text)


def test_modules_map_to_the_distributions_that_provide_them() -> None:
    found = serving_set.imported_distributions({"numpy", "yaml", "json", "nowhere"}, INSTALLED)
    assert found == {"numpy", "pyyaml"}  # json is the standard library's


def test_a_module_loaded_from_outside_the_venv_maps_to_no_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's own package runs from its folder; a project of the same name installed
    in the venv (`pip install -e .`, as after `make demo`) must not bring its requirements."""
    import types

    own = types.ModuleType("yaml")
    own.__file__ = str(tmp_path / "src" / "yaml" / "__init__.py")
    monkeypatch.setitem(sys.modules, "yaml", own)
    assert serving_set.imported_distributions({"yaml", "numpy"}, INSTALLED) == {"numpy"}


def test_a_serving_venv_holds_the_copied_distributions_only(tmp_path: Path) -> None:
    """The copy is a working venv: it imports what was copied (C extensions, stripped of
    their symbols, included), with the same version in its metadata, and nothing else."""
    import venv

    names = serving_set.closure({"pyyaml"}, INSTALLED)
    assert names == {"pyyaml"}
    target = tmp_path / "serving"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    copied = serving_set.copy_distributions(names, INSTALLED, target)
    assert copied > 0
    libraries = list(target.rglob("_yaml*.so"))
    assert libraries, "PyYAML's C extension was not copied"
    source = next(Path(sysconfig.get_path("purelib")).glob("yaml/_yaml*.so"))
    assert libraries[0].stat().st_size < source.stat().st_size  # symbols dropped
    child = (
        "import importlib.metadata as m, importlib.util as u, yaml\n"
        "print(yaml.load('a: 1', Loader=yaml.CSafeLoader), m.version('PyYAML'))\n"
        "print([d.metadata['Name'] for d in m.distributions()])\n"
        "print(u.find_spec('numpy'), u.find_spec('pip'))\n"
    )
    run = subprocess.run(
        [str(target / "bin" / "python"), "-I", "-c", child],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded, names_seen, missing = run.stdout.splitlines()
    assert loaded == f"{{'a': 1}} {INSTALLED['pyyaml'].version}"
    assert names_seen == "['PyYAML']"
    assert missing == "None None"


def test_usage_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert serving_set.main(["only-one"]) == 2
    assert capsys.readouterr().err.startswith("usage: serving_set SERVICE REQUEST TARGET")


def test_test_suites_stubs_and_c_sources_stay_out() -> None:
    """What no serving Python reads; a test folder a loaded module came from stays."""
    site = Path(sysconfig.get_path("purelib"))
    suite = site / "numpy" / "_core" / "tests" / "test_numeric.py"
    assert serving_set.unread(suite, site, {"numpy", "numpy._core"})
    assert not serving_set.unread(suite, site, {"numpy._core.tests.test_numeric"})
    assert serving_set.unread(site / "numpy" / "__init__.pyi", site, set())
    assert not serving_set.unread(site / "numpy" / "_core" / "numeric.py", site, set())
    assert not serving_set.unread(site / "tests" / "conftest.py", site, set())  # top level


def test_model_preparation_and_build_subpackages_stay_out_unless_loaded() -> None:
    site = Path(sysconfig.get_path("purelib"))
    quantizer = site / "onnxruntime" / "quantization" / "quantize.py"
    assert serving_set.unread(quantizer, site, {"onnxruntime", "onnxruntime.capi"})
    assert not serving_set.unread(quantizer, site, {"onnxruntime.quantization.quantize"})
    assert serving_set.unread(site / "numpy" / "f2py" / "crackfortran.py", site, {"numpy"})
    inference = site / "onnxruntime" / "capi" / "onnxruntime_inference_collection.py"
    assert not serving_set.unread(inference, site, {"onnxruntime"})


def test_native_test_programs_and_build_tools_stay_out() -> None:
    site = Path(sysconfig.get_path("purelib"))
    for program in ("test_jit", "TCPStoreTest", "HashStoreTest", "protoc", "protoc-3.13.0.0"):
        assert serving_set.unread(site / "torch" / "bin" / program, site, {"torch"})
    assert not serving_set.unread(site / "torch" / "bin" / "torch_shm_manager", site, {"torch"})
    assert not serving_set.unread(site / "torch" / "lib" / "libtorch.so", site, {"torch"})


def test_compile_only_dependencies_stay_out_unless_imported() -> None:
    """PyTorch's sympy and networkx serve torch.compile only: out of an eager service's
    set, in when the serving run imported them."""
    if "torch" not in INSTALLED or "sympy" not in INSTALLED:
        pytest.skip("needs torch and sympy installed")
    eager = serving_set.closure({"torch"}, INSTALLED, {"torch"})
    assert "torch" in eager and not {"sympy", "networkx", "mpmath"} & eager
    compiled = serving_set.closure({"torch"}, INSTALLED, {"torch", "sympy"})
    assert {"sympy", "mpmath"} <= compiled and "networkx" not in compiled
    assert {"sympy", "networkx"} <= serving_set.closure({"torch"}, INSTALLED)  # unmeasured


def test_a_library_nothing_loads_or_names_stays_out(tmp_path: Path) -> None:
    """ONNX Runtime's shape: a C API library no extension links. A library another kept
    library needs stays, and so does what that one needs (the chain is followed), as do
    mapped libraries and extension modules."""
    files = {
        "pkg/_ext.cpython-311-x86_64-linux-gnu.so": b"NEEDED libchain-1a2b.so.5.0.0",
        "pkg/libchain-1a2b.so.5.0.0": b"NEEDED libquad-3c4d.so.0.0.0",
        "pkg/libquad-3c4d.so.0.0.0": b"leaf",
        "pkg/libcapi.so.1.32.0": b"the C API, linked by nothing here",
        "pkg/libloaded.so": b"mapped by the serving run",
        "pkg/_unimported.abi3.so": b"an extension module no request imported yet",
        "pkg/loader.py": b"ctypes.CDLL('libdlopened.so.2')",
        "pkg/libdlopened.so.2": b"opened by name",
        "pkg-1.0.dist-info/RECORD": b"pkg/libcapi.so.1.32.0,sha256=...",
    }
    paths = []
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths.append(path)
    mapped = {(tmp_path / "pkg/libloaded.so").resolve()}
    assert serving_set.unlinked(paths, mapped) == {tmp_path / "pkg/libcapi.so.1.32.0"}
    assert serving_set.unlinked(paths[:3], set()) == set()


def test_the_mapped_files_include_this_interpreters_extensions() -> None:
    import _ctypes

    assert Path(_ctypes.__file__).resolve() in serving_set.mapped_files()
