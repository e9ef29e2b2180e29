#!/usr/bin/env bash
# Make this machine able to build and run nb2prod's container images with podman, offline.
#
#   eval "$(scripts/podman-setup.sh)"            # tools, config, base image; prints `export ...`
#   eval "$(scripts/podman-setup.sh --socket)"   # also a Docker-compatible API socket (DOCKER_HOST)
#   scripts/podman-setup.sh --stop-socket        # stop the socket started by --socket
#
# For CI and `make test` on a Debian 12 host as root, with no Docker engine and no container
# registry (only the Debian and PyPI mirrors are reachable). It
#   1. installs podman, buildah, runc, mmdebstrap, catatonit (the pause binary `podman kube play`
#      needs) and slirp4netns from Debian when missing (one apt-get update);
#   2. writes podman's config under $NB2PROD_PODMAN_ROOT (default /var/tmp/nb2prod-podman), never
#      in system files, and blocks the public registries so a missing base image fails at once;
#   3. builds, once, a stand-in for `python:3.11-slim` (Debian bookworm minbase from the Debian
#      mirror + Debian's CPython 3.11) and tags it docker.io/library/python:3.11-slim, with a small
#      layer holding this host's CA certificates (TLS to the mirrors is intercepted here), so an
#      unmodified `FROM python:3.11-slim` builds with `--pull=never` or `--pull=missing`;
#   4. prints the environment to use (stdout: `export` lines; logs go to stderr).
# Idempotent: a second run only checks that the images exist (well under 2 s).
#
# Why Debian's CPython and not the host's: on a stock Debian host `python3` lives in /usr, which
# cannot be copied into /usr/local like a self-built Python; bookworm's python3.11 is the same
# minor version as the official image, and a venv built on it behaves the same.
set -euo pipefail

ROOT=${NB2PROD_PODMAN_ROOT:-/var/tmp/nb2prod-podman}
PYVER=${NB2PROD_BASE_PYTHON:-3.11}
SOCKET=$ROOT/podman.sock
MODE=setup
case "${1:-}" in
  "") ;;
  --socket) MODE=socket ;;
  --stop-socket) MODE=stop ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--socket | --stop-socket]" >&2; exit 2 ;;
esac

log() { printf '[podman-setup %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
t_start=$SECONDS

stop_socket() {
  local pid
  [[ -f $SOCKET.pid ]] || return 0
  pid=$(<"$SOCKET.pid")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "system service"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$SOCKET.pid" "$SOCKET"
}
if [[ $MODE == stop ]]; then stop_socket; log "socket stopped"; exit 0; fi

[[ $PYVER == 3.11 ]] || die "the stand-in base image has Debian bookworm's Python 3.11, not $PYVER"
[[ $(id -u) == 0 ]] || die "run as root (CI and the test machines); rootless podman needs other config"

# ---- 1. tools -------------------------------------------------------------------------------
need=()
for tool in podman buildah runc mmdebstrap catatonit slirp4netns; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- 2. config (no system file touched) -----------------------------------------------------
mkdir -p "$ROOT"/{cfg,tmp,site}
put() { # put FILE CONTENT: write only when it changed, so warm runs touch nothing
  [[ -f $1 && "$(<"$1")" == "$2" ]] || printf '%s\n' "$2" > "$1"
}
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
put "$ROOT/cfg/storage.conf" "[storage]
driver = \"overlay\"
graphroot = \"$ROOT/storage\"
runroot = \"$ROOT/runroot\""
put "$ROOT/cfg/containers.conf" "[containers]
# root here has no CAP_SYS_RESOURCE: podman's default rlimits (nofile=1048576) are refused
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]
[engine]
# crun refuses this kernel's hybrid cgroup v1/v2 layout; runc works
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
# conmon of each \`exec\` (and healthcheck) otherwise lingers 5 minutes after it ended
exit_command_delay = 5"
registries="unqualified-search-registries = []
short-name-mode = \"permissive\""
for registry in docker.io quay.io ghcr.io gcr.io nvcr.io public.ecr.aws registry.k8s.io; do
  registries+="
[[registry]]
location = \"$registry\"
blocked = true"
done
put "$ROOT/cfg/registries.conf" "$registries"
export CONTAINERS_STORAGE_CONF=$ROOT/cfg/storage.conf
export CONTAINERS_CONF=$ROOT/cfg/containers.conf
export CONTAINERS_REGISTRIES_CONF=$ROOT/cfg/registries.conf

# ---- 3. stand-in base image, cached by a key over this recipe -------------------------------
# shellcheck disable=SC2016 # the hooks' "$1" is expanded by mmdebstrap, not here
recipe() { # the mmdebstrap call below; its text is part of the cache key
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='APT::Install-Recommends "false"' \
    --include=ca-certificates,netbase,tzdata,passwd,python3.11,python3.11-venv,python3-pip \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    --customize-hook='for b in python3.11:python3.11 python3.11:python3 python3.11:python \
        pip3:pip3 pip3:pip pip3:pip3.11; do ln -sf /usr/bin/${b%%:*} "$1"/usr/local/bin/${b#*:}; done' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin \
        "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*' \
    bookworm "$1" "$2"
}
KEY=$(declare -f recipe | sha256sum | cut -c1-12)
BASE=localhost/nb2prod-pybase:$PYVER-$KEY
if ! podman image exists "$BASE"; then
  log "building the base image $BASE (mmdebstrap bookworm + python$PYVER; about a minute)"
  MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
  [[ -n $MIRROR ]] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $MIRROR ]] || die "no Debian mirror in apt's sources: set MIRROR=http://deb.debian.org/debian"
  rm -f "$ROOT/tmp/pybase.tar"
  TMPDIR=$ROOT/tmp recipe "$ROOT/tmp/pybase.tar" "$MIRROR" > "$ROOT/mmdebstrap.log" 2>&1 \
    || { tail -30 "$ROOT/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $ROOT/mmdebstrap.log)"; }
  podman import -q --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV PYTHON_VERSION=$PYVER" --change 'CMD ["python3"]' \
    "$ROOT/tmp/pybase.tar" "$BASE" >/dev/null
  rm -f "$ROOT/tmp/pybase.tar"
  # base images built by older versions of this recipe
  podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/nb2prod-pybase:' \
    | grep -vxF "$BASE" | xargs -r podman rmi -f >/dev/null 2>&1 || true
fi

# ---- 4. site layer: this host's CA certificates, so pip inside builds trusts the proxy ------
# (test machinery only: a generated Dockerfile never carries certificates). pip also trusts
# host.containers.internal over plain HTTP: the tests serve this machine's PyTorch CPU wheel
# there as the torch examples' TORCH_INDEX_URL (download.pytorch.org is out of reach).
find "$ROOT/site" -name '*.crt' -delete
cp /usr/local/share/ca-certificates/*.crt "$ROOT/site/" 2>/dev/null || true
put "$ROOT/site/Containerfile" "FROM $BASE
COPY *.crt /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null 2>&1
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    PIP_TRUSTED_HOST=host.containers.internal"
ls "$ROOT"/site/*.crt >/dev/null 2>&1 || : > "$ROOT/site/none.crt" # COPY needs one match
SITE_KEY=$(cat "$ROOT"/site/* | sha256sum | cut -c1-12)
SITE=localhost/nb2prod-pysite:$PYVER-$SITE_KEY
if ! podman image exists "$SITE"; then
  log "adding the host's CA certificates: $SITE"
  podman build -q --pull=never --network=none --format docker -f "$ROOT/site/Containerfile" \
    -t "$SITE" "$ROOT/site" >/dev/null
  podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/nb2prod-pysite:' \
    | grep -vxF "$SITE" | xargs -r podman rmi >/dev/null 2>&1 || true
fi
SLIM=docker.io/library/python:$PYVER-slim
if [[ $(podman image inspect -f '{{.Id}}' "$SLIM" 2>/dev/null) != "$(podman image inspect -f '{{.Id}}' "$SITE")" ]]; then
  podman tag "$SITE" "$SLIM"
fi
log "base image ready: $SLIM ($((SECONDS - t_start)) s)"

# ---- 5. optional Docker-compatible API socket, for the docker SDK ----------------------------
if [[ $MODE == socket ]]; then
  if ! { [[ -S $SOCKET ]] && [[ -f $SOCKET.pid ]] && kill -0 "$(<"$SOCKET.pid")" 2>/dev/null; }; then
    stop_socket
    setsid podman system service --time=0 "unix://$SOCKET" > "$ROOT/podman-service.log" 2>&1 < /dev/null &
    echo $! > "$SOCKET.pid"
    for _ in $(seq 100); do [[ -S $SOCKET ]] && break; sleep 0.1; done
    [[ -S $SOCKET ]] || die "podman system service did not start (log: $ROOT/podman-service.log)"
    log "podman API on unix://$SOCKET (pid $(<"$SOCKET.pid"); stop: $0 --stop-socket)"
  fi
fi

# ---- 6. the environment to use ---------------------------------------------------------------
for var in CONTAINERS_CONF CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF; do
  printf 'export %s=%q\n' "$var" "${!var}"
done
if [[ $MODE == socket ]]; then printf 'export DOCKER_HOST=%q\n' "unix://$SOCKET"; fi
