#!/usr/bin/env bash
# GPU check of the deep-learning path: the digits example's generated training on whatever
# accelerator this machine has, against the same training on its CPU.
#
#   scripts/gpu-check.sh            # PYTHON=python3 by default; prints a report and a JSON line
#
# Made for a lent GPU machine that has PyTorch, scikit-learn and pandas but maybe not nb2prod's
# other dependencies, and no internet: it brings nothing and downloads nothing. It runs the
# generated package as `nb2prod convert` writes it (the golden copy in tests/golden/digits_cnn,
# which the golden test keeps identical to a fresh conversion, plus nb2prod's runtime modules),
# unchanged: the notebook's own `device = "cuda" if torch.cuda.is_available() else "cpu"` line
# picks the GPU. When nbformat, papermill, ipykernel and bentoml are importable too, it also
# converts the notebook afresh and runs `nb2prod verify --quick`; otherwise it says it skipped
# that. Finishes in well under 5 minutes (the training is seconds on either device).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nb2prod-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

PKG=$WORK/src/digits_cnn
mkdir -p "$PKG"
cp "$ROOT"/tests/golden/digits_cnn/src/digits_cnn/{__init__,config,pipeline}.py "$PKG/"
cp "$ROOT"/nb2prod/generate/runtime/{contracts,torch_model}.py "$PKG/"

cat > "$WORK/train_on.py" <<'PY'
"""Train the digits CNN with the notebook's parameters; print one JSON line."""
import json
import sys
import time

import torch

from digits_cnn.config import Config
from digits_cnn.pipeline import run_pipeline
from digits_cnn.torch_model import make_deterministic, trained_device

make_deterministic()
start = time.perf_counter()
outputs = run_pipeline(Config())
if torch.cuda.is_available():
    torch.cuda.synchronize()
seconds = time.perf_counter() - start
device = trained_device(outputs["model"])
print(json.dumps({
    "device": device,
    "name": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
    "torch": str(torch.__version__),
    "seconds": round(seconds, 2),
    "accuracy": outputs["accuracy"],
    "digits": [int(d) for d in outputs["digit"]],
}))
sys.stdout.flush()
PY

run() { PYTHONPATH=$WORK/src "$@" "$PY" "$WORK/train_on.py" 2>"$WORK/err.log" | tail -1 \
  || { cat "$WORK/err.log" >&2; exit 1; }; }
echo "== the generated training, on this machine's accelerator (if any)"
here=$(run env)
echo "$here"
echo "== the same training with the GPU hidden (CUDA_VISIBLE_DEVICES=)"
cpu=$(run env CUDA_VISIBLE_DEVICES=)
echo "$cpu"

"$PY" - "$here" "$cpu" <<'PY'
import json
import sys

here, cpu = (json.loads(a) for a in sys.argv[1:])
summary = {
    "gpu": here["name"] if here["device"] != "cpu" else None,
    "torch": here["torch"],
    "train_seconds": {"here": here["seconds"], "cpu": cpu["seconds"]},
    "accuracy": {"here": here["accuracy"], "cpu": cpu["accuracy"]},
    "same_digits": here["digits"] == cpu["digits"],
}
if here["device"] == "cpu":
    print("no GPU here: both runs used the CPU (nothing GPU-specific was checked)")
else:
    gap = abs(here["accuracy"] - cpu["accuracy"])
    print(f"{here['name']}: {here['seconds']} s, accuracy {here['accuracy']:.4f}; "
          f"CPU: {cpu['seconds']} s, accuracy {cpu['accuracy']:.4f} (gap {gap:.4f}); "
          f"predicted digits {'equal' if summary['same_digits'] else 'differ'}")
print("SUMMARY " + json.dumps(summary))
PY

if "$PY" -c "import nbformat, papermill, ipykernel, bentoml" 2>/dev/null; then
  echo "== nb2prod convert + verify --quick (the notebook under papermill vs the generated code)"
  export BENTOML_HOME=$WORK/bentoml
  PYTHONPATH=$ROOT "$PY" -m nb2prod convert "$ROOT/examples/digits_cnn.ipynb" -o "$WORK/project"
  PYTHONPATH=$ROOT "$PY" -m nb2prod verify "$WORK/project" --quick
else
  echo "== skipped nb2prod verify: nbformat, papermill, ipykernel or bentoml is not installed here"
fi
