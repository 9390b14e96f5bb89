#!/usr/bin/env bash
# Creates .venv (the project's one Python environment) from trainer/requirements.txt, plus
# trainer/requirements-nodeps.txt installed without dependencies (packages used only for the files they ship).
# Idempotent: reinstalls only when the requirements file changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat trainer/requirements.txt trainer/requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "python venv up to date (.venv)"
  exit 0
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r trainer/requirements.txt
.venv/bin/python -m pip install --quiet --no-deps -r trainer/requirements-nodeps.txt
echo "$want" > "$stamp"
echo "python venv ready (.venv)"
