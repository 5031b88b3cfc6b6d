#!/usr/bin/env bash
# Set up (see setup.sh) and open the OR kiosk on the bundled demo plan, in a window
# (Escape quits; `orkiosk run` without --windowed is the full-screen kiosk mode).
# Without a screen (no DISPLAY / WAYLAND_DISPLAY), it renders the demo plan to demo.png instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${SDL_VIDEODRIVER:-}" ]; then
  echo "demo: no screen here; rendering the demo plan to demo.png instead" >&2
  exec .venv/bin/orkiosk snapshot planning_packages/phantom-head -o demo.png --size 1600x900
fi
exec .venv/bin/orkiosk run --windowed "$@"
