#!/usr/bin/env bash
# Rebuild the bundled demo plan the way a hospital makes a plan: `orkiosk phantom` writes a
# synthetic CT head as DICOM (no patient data), and the ordinary `orkiosk build` turns it into a
# package: skin, bone and vessel presets; brain, ventricles and lesion from the phantom's
# labelmap; a biopsy trajectory to the lesion and landmarks from its 3D Slicer markups file;
# the CT itself cropped to the plan (format 1.1) at 1.5 mm: the repository ships this package,
# and the phantom's noise makes a 1.0 mm image 7.8 MB against 2.0 MB at 1.5 mm.
#
#   scripts/make-demo-plan.sh [OUT_PKG] [TRIANGLES]   (default: planning_packages/phantom-head 50000)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-planning_packages/phantom-head}
triangles=${2:-50000}  # per structure: about 220k in all, light enough for a software renderer
ork=${ORKIOSK:-.venv/bin/orkiosk}
tmp=$(mktemp -d /tmp/orkiosk-phantom.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$ork" phantom "$tmp/ct"
args=(
  build "$tmp/ct" -o "$out" --force
  --preset skin --preset bone --preset vessels
  --labels "$tmp/ct/phantom-labels.nrrd"
  --markups "$tmp/ct/phantom.mrk.json"
  --procedure "Stereotactic biopsy" --laterality left
  --planner "Demo Planner" --case-id PHANTOM-DEMO
  --triangles "$triangles"
  --image-spacing 1.5
  --opacity bone=0.4  # the lesion and the path show through at a glance
)
"$ork" "${args[@]}"
