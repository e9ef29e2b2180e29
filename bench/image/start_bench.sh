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
# Run it while no test session runs beside it: the tests' clean-up (tests/conftest.py,
# remove_test_images) removes every tagged image created during their session, these too.
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
  for ((i = ${#tags[@]} - 1; i >= 0; i--)); do podman rmi -f "${tags[i]}" >/dev/null 2>&1 || true; done
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
  tags+=("$tag-built" "$tag")  # removed in reverse: the child image first
  PYTHONPATH=$checkout "$python" -m nb2prod image "$project" --tag "$tag-built" --engine podman >/dev/null
  # An identical build elsewhere (a test's image from the same templates) shares the image
  # id, and its clean-up (`podman rmi -f ID`) would take this tag too: bench a child image
  # with a label of its own, which that removal leaves alone.
  mkdir -p "$work/derive-$side"
  printf 'FROM %s\nLABEL nb2prod.start-bench="%s"\n' "$tag-built" "$work" >"$work/derive-$side/Containerfile"
  podman build --format docker --pull=never --quiet --tag "$tag" "$work/derive-$side" >/dev/null
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" "$here/cold_start.py" "localhost/start-bench-$name:before" "localhost/start-bench-$name:after" --rounds "$rounds"
PYTHONPATH=$after "$python" "$here/host_start.py" "$work/after" --rounds "$rounds"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
