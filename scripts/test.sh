#!/usr/bin/env bash
# The README's test command: lint, types, unit tier, integration tier on real lab hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "run scripts/install.sh first (it creates .venv)" >&2; exit 2; }
$PY -m ruff check remediations tests tasks.py bench
$PY -m ruff format --check remediations tests tasks.py bench
$PY -m mypy remediations
$PY -m pytest -q tests/unit
status=0
$PY -m pytest -q -m integration tests/integration -p no:cacheprovider || status=$?
$PY -m invoke lab.down >/dev/null 2>&1 || true
exit $status
