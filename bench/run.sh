#!/usr/bin/env bash
# Set up (idempotent) and run the scoring benchmark: bench/run.sh [--quick] [--only modelyard,azmlinfsrv] ...
set -euo pipefail
cd "$(dirname "$0")/.."
# .venv with the dev and bench extras (the bench extra holds azureml-inference-server-http, i.e. azmlinfsrv), and
# envs for uv, which builds the peers' own environments next.
MODELYARD_EXTRAS=dev,bench,envs scripts/bootstrap
# MLServer and LitServe, each in its own environment under bench/peers/ (gitignored), from pinned requirements.
bench/peers/setup.sh
if ! command -v wrk >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk
fi
exec .venv/bin/python bench/bench_score.py "$@"
