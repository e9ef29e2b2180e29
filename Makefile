# The two commands a new user needs: `make demo` and `make test`.
# Both create the virtual environment on first use; nothing is installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The JupyterLab extension is built by `pip install` (hatch-jupyter-builder); a change to its
# sources re-installs, and so rebuilds it.
EXTENSION_SOURCES := $(wildcard jupyter_extension/src/*.ts jupyter_extension/style/*) \
	jupyter_extension/package.json jupyter_extension/yarn.lock jupyter_extension/tsconfig.json
# PyTorch for the deep-learning examples, installed before the dev extra: pinned, pip takes this
# machine's local CPU build; an open range would pull a CUDA build of several GB.
TORCH_VERSION ?= 2.13.0
DEMO_NOTEBOOK ?= examples/wine_classifier.ipynb
DEMO_OUT ?= demo-output/wine-classifier
# The demo keeps its trained model in a BentoML store of its own, not in ~/bentoml.
demo: export BENTOML_HOME ?= $(abspath demo-output/bentoml)

.PHONY: demo test test-slow lint bench bench-verify golden clean venv test-realworld dist

venv: $(STAMP)

$(STAMP): pyproject.toml $(EXTENSION_SOURCES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	rm -rf jupyter_extension/labextension
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet 'torch==$(TORCH_VERSION)'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: venv
	$(BIN)/nb2prod check $(DEMO_NOTEBOOK)
	$(BIN)/nb2prod convert $(DEMO_NOTEBOOK) -o $(DEMO_OUT)
	$(BIN)/python -m pip install --quiet -e $(DEMO_OUT)
	cd $(DEMO_OUT) && $(abspath $(BIN))/wine-classifier-train --output-dir artifacts
	$(BIN)/nb2prod verify $(DEMO_OUT) --quick
	@echo
	@echo "generated project: $(DEMO_OUT)"
	@echo "  pipeline:  $(DEMO_OUT)/src/wine_classifier/pipeline.py"
	@echo "  model:     BentoML store $(BENTOML_HOME), archive $(DEMO_OUT)/artifacts/model.bentomodel"
	@echo "  metadata:  $(DEMO_OUT)/artifacts/model.json, metrics: $(DEMO_OUT)/artifacts/metrics.json"
	@echo "  service:   $(DEMO_OUT)/service.py; run it: BENTOML_HOME=$(BENTOML_HOME) $(BIN)/nb2prod serve $(DEMO_OUT)"
	@echo "  verified:  $(DEMO_OUT)/verification/report.json (full run: $(BIN)/nb2prod verify $(DEMO_OUT))"
	@echo "  data:      cd $(DEMO_OUT) && $(abspath $(BIN))/python scripts/check_data_quality.py"
	@echo "  CI:        $(DEMO_OUT)/.github/workflows/ml-validation.yml"
	@echo "  JupyterLab: $(BIN)/jupyter lab examples/  (the nb2prod panel is in the right sidebar)"
	@echo "  its tests: cd $(DEMO_OUT) && $(abspath $(BIN))/python -m pytest"

test: venv
	@command -v chromium >/dev/null || scripts/chromium-setup.sh
	$(BIN)/python -m pytest --durations=15

# The examples beyond wine_classifier end to end (fresh venv, image): ~5 min more.
test-slow: venv
	$(BIN)/python -m pytest -m slow -p no:cacheprovider

# Property-based fuzzing of check/convert with 500 generated notebooks each (about 40 min on
# 2 cores); `make test` runs a small deterministic sample of the same test.
.PHONY: test-fuzz
test-fuzz: venv
	NB2PROD_FUZZ_EXAMPLES=500 $(BIN)/python -m pytest tests/e2e/test_fuzz_notebooks.py -p no:cacheprovider

# schemathesis against a generated service with 500 cases per API operation (the suite runs 50).
.PHONY: test-service-fuzz
test-service-fuzz: venv
	NB2PROD_SCHEMATHESIS_EXAMPLES=500 $(BIN)/python -m pytest tests/security/test_service_inputs.py tests/security/test_example_services_fuzz.py -m "slow or not slow" -p no:cacheprovider -k "schemathesis or examples_service" -s

# The sdist and the wheel built from it (the sdist carries the built extension), checked by twine.
dist: venv
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: venv
	$(BIN)/python bench/run_convert.py --runs 5 --markdown docs/benchmarks.md
	@echo "serving: $(BIN)/python bench/serve/bench_generated.py --repeat 2 (needs wrk: apt-get install wrk)"

bench-verify: venv
	$(BIN)/python bench/run_verify.py --runs 5 --markdown docs/benchmarks.md

# The real-world corpus (tests/realworld/): public notebooks, tagged as a user would, converted
# and verified. Installs what they import when missing (torch: the CPU wheel on local disk, see
# tests/realworld/README.md), writes docs/realworld.md, and fails if any notebook fails.
REALWORLD_PACKAGES := statsmodels seaborn graphviz mlxtend watermark pydotplus
test-realworld: venv
	@$(BIN)/python -c "import statsmodels, seaborn, graphviz, mlxtend, watermark, pydotplus" 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet $(REALWORLD_PACKAGES)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python tests/realworld/run.py --markdown docs/realworld.md --json test-artifacts/realworld.json

golden: venv
	NB2PROD_UPDATE_GOLDEN=1 $(BIN)/python -m pytest tests/e2e/test_golden.py -q

clean:
	rm -rf $(VENV) demo-output test-artifacts .pytest_cache .ruff_cache
	rm -rf jupyter_extension/node_modules jupyter_extension/lib jupyter_extension/labextension
