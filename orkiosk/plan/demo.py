"""Where the bundled demo plan lives: inside the installed package (importlib.resources).

planning_packages/phantom-head is made the way a hospital makes a plan: `orkiosk phantom` writes
a synthetic CT head as DICOM and `orkiosk build` turns it into a package (see
scripts/make-demo-plan.sh, which rebuilds it). No patient data is involved. The wheel carries it as
orkiosk/resources/planning_packages/ (see pyproject.toml).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from orkiosk.errors import OrkioskError

DEMO_NAME = "phantom-head"
PLAN_ENV = "ORKIOSK_PLAN"


def bundled_demo_path() -> Path:
    """The demo plan shipped inside the orkiosk package."""
    where = resources.files("orkiosk") / "resources" / "planning_packages" / DEMO_NAME
    path = Path(str(where)).resolve()
    if not (path / "plan.json").is_file():
        raise OrkioskError(
            f"the bundled demo plan is missing from this installation ({path}); "
            "reinstall orkiosk or name a planning package"
        )
    return path


def demo_package_path() -> Path:
    """$ORKIOSK_PLAN, else the bundled demo plan."""
    env = os.environ.get(PLAN_ENV)
    if env:
        return Path(env)
    return bundled_demo_path()
