"""Where the bundled demo plan lives.

planning_packages/phantom-head is made the way a hospital makes a plan: `orkiosk phantom` writes
a synthetic CT head as DICOM and `orkiosk build` turns it into a package (see
orkiosk/planning/demo.py, which rebuilds it). No patient data is involved.
"""

from __future__ import annotations

import os
from pathlib import Path

DEMO_NAME = "phantom-head"
PLAN_ENV = "ORKIOSK_PLAN"


def demo_package_path() -> Path:
    """$ORKIOSK_PLAN, else planning_packages/phantom-head beside the orkiosk source tree."""
    env = os.environ.get(PLAN_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "planning_packages" / DEMO_NAME
