#!/usr/bin/env bash
# Runs the Python test suite (trainer/ and its reference checks) in the project's venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "python-tests: .venv is missing; run 'npm run setup:python' first" >&2
  exit 1
fi
exec .venv/bin/python -m pytest -q trainer/tests
