"""serve.py: `nb2prod serve` checks the folder is a generated project with a service.

Users otherwise learn it from BentoML's stack trace; the check is a file read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2prod.errors import UserError
from nb2prod.run.serve import serve, service_of


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
