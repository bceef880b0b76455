#!/usr/bin/env bash
# The README's test command: lint, types, unit tier, integration tier on real lab hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check remediations tests tasks.py bench
python3 -m ruff format --check remediations tests tasks.py bench
python3 -m mypy remediations
python3 -m pytest -q tests/unit
status=0
python3 -m pytest -q -m integration tests/integration -p no:cacheprovider || status=$?
python3 -m invoke lab.down >/dev/null 2>&1 || true
exit $status
