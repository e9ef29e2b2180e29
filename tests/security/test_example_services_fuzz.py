"""Schemathesis against each example's own generated service (`make test-service-fuzz`
runs 500 cases per operation): no server error, no answer outside the schema.

Slow (convert, train and serve three projects), so it runs in `make test-slow` and
`make test-service-fuzz`, not in `make test`; the suite's own service test covers a
small project on every run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, bentoml_server, generated_env, run_cli, train_generated
from tests.security.test_service_inputs import BIN, run_schemathesis

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("name", ["wine_classifier", "diabetes_regression", "messy_churn"])
def test_an_examples_service_answers_no_5xx(name: str, tmp_path: Path) -> None:
    pytest.importorskip("schemathesis")
    project = tmp_path / "project"
    converted = run_cli("convert", str(EXAMPLES / f"{name}.ipynb"), "-o", str(project))
    assert converted.returncode == 0, converted.stderr
    env = generated_env(project, tmp_path / "bentoml")
    train_generated(project, name, "artifacts", env)
    service = json.loads((project / "nb2prod.json").read_text())["service"]
    with bentoml_server(BIN / "bentoml", f"service:{service}", project, env) as url:
        assert run_schemathesis(url, tmp_path) > 0
