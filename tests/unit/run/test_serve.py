"""serve.py: `nb2prod serve` checks the folder is a generated project with a service.

Users otherwise learn it from BentoML's stack trace; the check is a file read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2prod.errors import UserError
from nb2prod.run.serve import serve, server_command, service_of, stored_model


def project(tmp_path: Path, manifest: dict[str, object], service_file: bool = True) -> Path:
    """A folder with `nb2prod.json` and, optionally, `service.py`."""
    (tmp_path / "nb2prod.json").write_text(json.dumps(manifest))
    if service_file:
        (tmp_path / "service.py").write_text("")
    return tmp_path


def test_service_of_a_project_with_a_service(tmp_path: Path) -> None:
    """The manifest names the project and its service class."""
    folder = project(tmp_path, {"project": "wine", "service": "WineService"})
    assert service_of(folder) == ("wine", "WineService")


@pytest.mark.parametrize(
    ("manifest", "service_file"),
    [({"project": "wine"}, True), ({"project": "wine", "service": "S"}, False)],
)
def test_a_project_without_a_service_says_how_to_get_one(
    tmp_path: Path, manifest: dict[str, object], service_file: bool
) -> None:
    """No service in the manifest, or no service.py: tag a predict cell."""
    with pytest.raises(UserError) as raised:
        service_of(project(tmp_path, manifest, service_file))
    (problem,) = raised.value.problems
    assert problem.code == "no-service"
    assert "nb2prod:predict" in problem.fix


def test_a_folder_that_is_no_project_is_refused(tmp_path: Path) -> None:
    """Without a manifest it is not something nb2prod wrote."""
    with pytest.raises(UserError) as raised:
        service_of(tmp_path)
    assert raised.value.problems[0].code == "not-a-project"


PYPROJECT = """[project]
name = "wine"
dependencies = [
  "scikit-learn==0.0.1",
  "nb2prod-test-no-such-distribution==1.0",
]
"""


def test_serving_without_the_projects_requirements_names_them(tmp_path: Path) -> None:
    """A missing requirement would kill BentoML's workers with a traceback; serve says which
    requirement is missing and how to install the project instead (an older or newer
    installed version is not refused: verify reports a difference)."""
    folder = project(tmp_path, {"project": "wine", "service": "WineService"})
    (folder / "pyproject.toml").write_text(PYPROJECT)
    with pytest.raises(UserError) as raised:
        serve(folder, "127.0.0.1", 0)
    (problem,) = raised.value.problems
    assert problem.code == "missing-package"
    assert "`nb2prod-test-no-such-distribution==1.0`" in problem.message
    assert "scikit-learn" not in problem.message
    assert problem.fix.startswith("`pip install -e ")


def test_a_project_with_single_worker_is_served_by_it(tmp_path: Path) -> None:
    """As its image: BentoML's worker without the arbiter, host and port from the
    environment; a project generated before single_worker.py existed gets bentoml serve."""
    folder = project(tmp_path, {"project": "wine", "package": "wine", "service": "WineService"})
    command, env = server_command(folder, "WineService", "127.0.0.1", 3123)
    assert command[1:] == ["-m", "bentoml", "serve", "service:WineService",
                           "--host", "127.0.0.1", "--port", "3123"]  # fmt: skip
    assert env == {}
    (folder / "src" / "wine").mkdir(parents=True)
    (folder / "src" / "wine" / "single_worker.py").write_text("")
    command, env = server_command(folder, "WineService", "127.0.0.1", 3123)
    assert command[1:] == ["-m", "wine.single_worker", "service:WineService"]
    assert env == {"BENTOML_HOST": "127.0.0.1", "BENTOML_PORT": "3123"}


def test_the_model_is_found_in_the_store_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`latest` names a version folder with model.yaml: the store holds the model; anything
    less (no store, a dangling `latest`) leaves the answer to BentoML itself."""
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path))
    assert not stored_model("wine")
    models = tmp_path / "models" / "wine"
    models.mkdir(parents=True)
    (models / "latest").write_text("v1\n")
    assert not stored_model("wine")
    (models / "v1").mkdir()
    (models / "v1" / "model.yaml").write_text("name: wine\n")
    assert stored_model("wine")
    assert not stored_model("other")
