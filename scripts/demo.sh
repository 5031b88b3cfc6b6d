#!/usr/bin/env bash
# Set up (see setup.sh) and open the bundled demo plan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/orkiosk info "$@"
