#!/usr/bin/env bash
# Cold start, before and after, in one command: an example converted and trained by two
# checkouts of nb2prod, both images built, then
#   - bench/image/cold_start.py: `podman run` to the first 200 on /readyz, rounds alternating;
#   - bench/image/host_start.py: `bentoml serve` against single_worker on the host (AFTER's project).
# The images and the work folder are removed at the end.
#
#   bench/image/start_bench.sh /work/main /tmp/wt-start [wine_classifier] [rounds]
#
# Needs root and podman (scripts/podman-setup.sh installs it), and the development venv.
set -euo pipefail
before=$(realpath "$1")
after=$(realpath "$2")
example=${3:-wine_classifier}
rounds=${4:-5}
python=${PYTHON:-$after/.venv/bin/python}
[ -x "$python" ] || python=/work/main/.venv/bin/python
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/start-bench.XXXXXX)
package=${example}
name=${example//_/-}
tags=()
cleanup() {
  for tag in "${tags[@]}"; do podman rmi -f "$tag" >/dev/null 2>&1 || true; done
  podman image prune -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$("$after/scripts/podman-setup.sh")"
cd "$work"  # `python -m` puts the working folder first: a checkout there would beat PYTHONPATH
export BENTOML_HOME=$work/bentoml BENTOML_DO_NOT_TRACK=True
for side in before after; do
  checkout=${!side}
  project=$work/$side
  tag=localhost/start-bench-$name:$side
  PYTHONPATH=$checkout "$python" -m nb2prod convert "$checkout/examples/$example.ipynb" -o "$project" >/dev/null
  (cd "$project" && PYTHONPATH=$project/src:$checkout "$python" -m "$package.train" --output-dir artifacts >/dev/null)
  tags+=("$tag")
  PYTHONPATH=$checkout "$python" -m nb2prod image "$project" --tag "$tag" --engine podman >/dev/null
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" "$here/cold_start.py" "${tags[@]}" --rounds "$rounds"
PYTHONPATH=$after "$python" "$here/host_start.py" "$work/after" --rounds "$rounds"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
