#!/usr/bin/env bash
# Build (idempotent) the peer servers' virtual environments: bench/peers/.venv-<peer> from bench/peers/<peer>.txt.
# Each peer gets its own environment so its dependencies (FastAPI, pydantic, gevent, ...) never touch modelyard's.
# A stamp holding the requirement file's hash skips a peer whose environment is up to date.
# Regenerate the pins after changing a .in file:
#   uv pip compile -q --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header X.in -o X.txt
set -euo pipefail
cd "$(dirname "$0")"
uv="${UV:-}"
if [ -z "$uv" ]; then
  if [ -x ../../.venv/bin/uv ]; then uv=../../.venv/bin/uv; else uv=$(command -v uv || true); fi
fi
if [ -z "$uv" ]; then
  echo "peers: uv is missing (install modelyard's envs extra, or put uv on PATH)" >&2
  exit 1
fi
python="${PEERS_PYTHON:-../../.venv/bin/python}"
peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then peers=(mlserver litserve); fi
for name in "${peers[@]}"; do
  venv=".venv-$name"
  stamp="$venv/.requirements-$(sha256sum "$name.txt" | cut -c1-16)"
  if [ -f "$stamp" ]; then
    echo "peers: $venv is up to date" >&2
    continue
  fi
  start=$SECONDS
  echo "peers: building bench/peers/$venv from $name.txt ..." >&2
  rm -rf "$venv"
  # The peers run on the same CPython as modelyard: its resolved interpreter, not the venv's symlink.
  UV_PYTHON_DOWNLOADS=never "$uv" venv -q --python "$(readlink -f "$python")" "$venv"
  "$uv" pip install -q --python "$venv/bin/python" -r "$name.txt"
  touch "$stamp"
  echo "peers: built bench/peers/$venv in $((SECONDS - start)) s" >&2
done
