#!/usr/bin/env bash
# Runs scripts/duckdb_reference.py in a private virtualenv (.venv), installing DuckDB from PyPI
# the first time (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import duckdb" 2>/dev/null; then
  .venv/bin/pip install --quiet "duckdb>=1.1,<3"
fi
exec .venv/bin/python scripts/duckdb_reference.py "$@"
