#!/usr/bin/env bash
# Set up orkiosk in ./.venv on a Debian/Ubuntu machine: the system libraries it needs (Mesa EGL/GL,
# which also give a software renderer when there is no GPU), the Python packages, and with --test
# the test tools (pytest, ruff, Khronos glTF-Validator) and the optional VTK extra. Safe to run
# again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
[ "${1:-}" = "--test" ] && mode=test

say() { printf 'setup: %s\n' "$*" >&2; }

# --- system packages --------------------------------------------------------------------------
missing=()
# grep -q would exit early and SIGPIPE ldconfig, failing the pipeline under pipefail
have_lib() { ldconfig -p 2>/dev/null | grep "$1" >/dev/null; }
have_lib 'libEGL.so.1 ' || missing+=(libegl1)
have_lib 'libGL.so.1 ' || missing+=(libgl1)
have_lib 'libgbm.so.1 ' || missing+=(libgbm1)
ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 || missing+=(libgl1-mesa-dri)
have_lib 'libmtdev.so.1 ' || missing+=(libmtdev1)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ "$mode" = test ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  # systemd/: systemd-analyze verify/security, systemd-sysusers/-tmpfiles (tests/test_systemd_units.py)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  # the kiosk under cage (tests/test_cage.py): cage on wlroots' headless backend, Xwayland for
  # Kivy's SDL2 (its PyPI build has no Wayland driver), grim for the screenshot
  command -v cage >/dev/null || missing+=(cage)
  command -v Xwayland >/dev/null || missing+=(xwayland)
  command -v grim >/dev/null || missing+=(grim)
  # the planner's workbench driven as a person drives it (tests/test_workbench_xvfb.py): an X
  # server and real mouse events
  command -v Xvfb >/dev/null || missing+=(xvfb)
  command -v xdotool >/dev/null || missing+=(xdotool)
  # a real DICOM archive for the node's tests (tests/orthanc.py): Orthanc, run as a plain process
  [ -x /usr/sbin/Orthanc ] || missing+=(orthanc)
  [ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing+=(orthanc-dicomweb)
  command -v storescp >/dev/null || missing+=(dcmtk)  # orkiosk bench intake's reference
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! command -v apt-get >/dev/null; then
    say "no apt-get here: please install ${missing[*]} (or your distribution's equivalents) and rerun"
    exit 1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- Python -----------------------------------------------------------------------------------
python3 - <<'PY' || { say "orkiosk needs Python 3.11 or newer"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
[ -x .venv/bin/python ] || { say "creating .venv"; python3 -m venv .venv; }
stamp=".venv/.orkiosk-$mode-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  say "installing Python packages ($mode)"
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$mode" = test ]; then
    # with the optional VTK extra, so that .vtk/.vtp models are tested too (and its absence is
    # simulated in the tests)
    .venv/bin/python -m pip install -q -e ".[test,vtk]"
  else
    .venv/bin/python -m pip install -q -e .
  fi
  touch "$stamp"
fi

# --- test tools -------------------------------------------------------------------------------
if [ "$mode" = test ] && [ ! -d .tools/node_modules/gltf-validator ]; then
  say "installing the Khronos glTF-Validator into .tools/"
  mkdir -p .tools
  (cd .tools && npm install --no-audit --no-fund --silent gltf-validator@2.0.0-dev.3.10)
fi
say "ready"
