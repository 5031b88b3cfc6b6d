#!/usr/bin/env bash
# The product as a user gets it: build the wheel, install it into a fresh virtualenv, and use it
# from an empty folder outside the checkout (demo snapshot, phantom -> build -> verify, the kiosk
# starting on the bundled demo plan). CI runs this after the tests; it needs scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'smoke: %s\n' "$*" >&2; }
# pip, minus the warnings about package index folders this machine does not have
pip_quiet() { "$@" 2> >(grep -v '^WARNING: Location' >&2); }

work=$(mktemp -d /tmp/orkiosk-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "building the wheel"
pip_quiet .venv/bin/python -m pip wheel -q --no-deps -w "$work/dist" .
say "installing it into a fresh virtualenv"
python3 -m venv "$work/venv"
pip_quiet "$work/venv/bin/python" -m pip install -q "$work"/dist/orkiosk-*.whl
py="$work/venv/bin/python"
ork="$work/venv/bin/orkiosk"

# The SBOM of the product as installed: every Python distribution in this virtualenv (name,
# version, licence, purl) by cyclonedx-py (cyclonedx-bom, in its own virtualenv so it does not
# appear in the product's list), plus the Debian packages the product needs (scripts/sbom.py).
say "SBOM -> artifacts/sbom.cdx.json"
python3 -m venv "$work/sbomtool"
pip_quiet "$work/sbomtool/bin/python" -m pip install -q "cyclonedx-bom>=7,<8"
mkdir -p artifacts
"$work/sbomtool/bin/cyclonedx-py" environment --sv 1.5 --mc-type application \
  --pyproject pyproject.toml -o "$work/python.cdx.json" "$py"
"$work/sbomtool/bin/python" scripts/sbom.py "$work/python.cdx.json" artifacts/sbom.cdx.json
mkdir "$work/empty"
cd "$work/empty"

say "$("$ork" --version)"
"$ork" run --help >/dev/null
"$ork" snapshot --help >/dev/null

say "snapshot of the bundled demo plan"
"$ork" snapshot -o demo.png --size 640x480
"$py" - <<'PY'
import numpy as np
from PIL import Image

img = np.asarray(Image.open("demo.png").convert("RGB")).astype(int)
lit = (np.abs(img - img[0, 0]).sum(axis=2) > 60).mean()
assert img.shape == (480, 640, 3), img.shape
assert lit > 0.10, f"the demo snapshot is nearly empty ({lit:.1%} of pixels differ from the corner)"
print(f"smoke: demo snapshot shows anatomy on {lit:.0%} of the picture")
PY

say "verify the bundled demo plan"
"$ork" verify "$("$py" -c 'from orkiosk.plan.demo import bundled_demo_path; print(bundled_demo_path())')"

say "phantom -> build -> verify"
"$ork" phantom ct --size tiny --no-extras >/dev/null
"$ork" build ct -o pkg --preset skin --preset bone --quiet >/dev/null
"$ork" verify pkg
[ -s pkg.png ] || { say "the build wrote no contact sheet (pkg.png)"; exit 1; }

say "edit the demo plan: a signed v2 with the target moved, verified, named by diff"
"$ork" keygen keys --name planner >/dev/null
"$ork" edit -o demo-v2 --move-target biopsy:41,-18,38 --sign keys/planner.key >/dev/null
"$ork" verify demo-v2 --trust keys --require-signature
demo=$("$py" -c 'from orkiosk.plan.demo import bundled_demo_path; print(bundled_demo_path())')
"$ork" diff "$demo" demo-v2 | grep -q "Trajectory Biopsy: target moved 3.0 mm"

say "the workbench opens on the demo plan"
SDL_VIDEODRIVER=offscreen HOME="$PWD" timeout 120 "$py" - "$ork" <<'PY'
import subprocess
import sys
import time

wb = subprocess.Popen(
    [sys.argv[1], "plan", "--size", "1280x800"],
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
)
seen = []
deadline = time.monotonic() + 90
try:
    for line in wb.stdout:
        seen.append(line)
        if "workbench ready" in line or time.monotonic() > deadline:
            break
finally:
    wb.terminate()
    wb.wait(timeout=20)
if not any("workbench ready" in line for line in seen):
    print("".join(seen[-40:]))
    sys.exit("smoke: the installed workbench did not open")
print("smoke: the installed workbench opened")
PY

say "the kiosk starts on the demo plan (READY=1 on a notify socket)"
SDL_VIDEODRIVER=offscreen "$py" - "$ork" <<'PY'
import os
import socket
import subprocess
import sys
import time

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(os.path.abspath("notify.sock"))
sock.settimeout(1.0)
env = dict(os.environ, NOTIFY_SOCKET=os.path.abspath("notify.sock"), HOME=os.getcwd())
kiosk = subprocess.Popen(
    [sys.argv[1], "run", "--windowed", "--size", "1280x1024"],
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
)
deadline, ready = time.monotonic() + 90, False
try:
    while time.monotonic() < deadline and kiosk.poll() is None and not ready:
        try:
            ready = b"READY=1" in sock.recv(256)
        except TimeoutError:
            pass
finally:
    kiosk.terminate()
    try:
        out = kiosk.communicate(timeout=20)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        kiosk.kill()
        out = kiosk.communicate()[0].decode(errors="replace")
if not ready:
    print(out[-4000:])
    sys.exit("smoke: the installed kiosk did not start (no READY=1)")
print("smoke: the installed kiosk started")
PY
say "passed"
