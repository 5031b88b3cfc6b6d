#!/usr/bin/env bash
# Set up (see setup.sh) and run the checks: ruff lint + format, then pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -m slow (soak and fuzz runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
