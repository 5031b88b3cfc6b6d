"""Shared fixtures: small packages made in tmp_path, the bundled demo, the glTF validator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from orkiosk.plan.demo import demo_package_path
from orkiosk.plan.model import Landmark, Patient, Plan, Structure, Study, Trajectory
from orkiosk.plan.package import write_package
from orkiosk.plan.synthetic import surface

ROOT = Path(__file__).resolve().parents[1]
IN_CI = bool(os.environ.get("CI"))


def small_plan(**changes) -> tuple[Plan, dict]:
    """A tiny two-structure plan: a grey 'head' ball and a yellow target on the patient's left."""
    meshes = {
        "head": surface((0, 0, 0), (60, 70, 80), 12, 16),
        "target": surface((30, 0, 10), (5, 5, 5), 8, 10),
    }
    plan = Plan(
        case_id="CASE-1",
        plan_version=1,
        created="2026-11-28T09:00:00Z",
        planner="Test Planner",
        patient=Patient("TEST^PATIENT", "P-1", "1980-02-03", "F"),
        study=Study("1.2.3", "2026-11-20", "Head CT", "CT"),
        procedure="Biopsy",
        laterality="left",
        structures=(
            Structure("head", "Head", "meshes/head.glb", (0.7, 0.7, 0.7), 0.5),
            Structure("target", "Target", "meshes/target.glb", (1, 0.8, 0), 1.0, critical=False),
        ),
        trajectories=(Trajectory("t1", "Needle", (60, 0, 60), (30, 0, 10), 2.0),),
        landmarks=(Landmark("n", "Nasion", (0, -70, 0)),),
    )
    return replace(plan, **changes), meshes


@pytest.fixture
def package(tmp_path) -> Path:
    plan, meshes = small_plan()
    return write_package(plan, meshes, tmp_path / "pkg")


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    dst = tmp_path / "demo"
    shutil.copytree(demo_package_path(), dst)
    return dst


def edit_manifest(pkg: Path, fn) -> None:
    """Change plan.json in place (the signature, if any, no longer matches)."""
    doc = json.loads((pkg / "plan.json").read_text())
    fn(doc)
    (pkg / "plan.json").write_text(json.dumps(doc, indent=2))


@pytest.fixture(scope="session")
def gltf_validator():
    """A function validating .glb files with the Khronos glTF-Validator (node + npm package)."""
    modules = Path(os.environ.get("ORKIOSK_GLTF_VALIDATOR", ROOT / ".tools" / "node_modules"))
    if not (modules / "gltf-validator").is_dir() or not shutil.which("node"):
        if IN_CI:
            pytest.fail("glTF-Validator missing: scripts/setup.sh installs it into .tools/")
        pytest.skip("glTF-Validator not installed (scripts/setup.sh installs it)")

    def validate(*files: Path) -> list[dict]:
        out = subprocess.run(
            [
                "node",
                str(ROOT / "tests" / "tools" / "validate_gltf.cjs"),
                str(modules),
                *map(str, files),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(out.stdout)

    return validate


@pytest.fixture(scope="session")
def kiosk(tmp_path_factory):
    """The real kiosk app (offscreen window, 1600x900) on a copy of the demo plan.

    Session-wide because Kivy allows one window per process. Tests must leave it as they found
    it (view mode, unlocked, demo plan v1 shown, anterior view).
    """
    from kiosk_harness import KioskDriver, prepare_environment

    base = tmp_path_factory.mktemp("kiosk")
    prepare_environment(base / "kivy-home")
    from orkiosk.app.settings import KioskSettings

    settings = KioskSettings(
        windowed=True,
        width=1600,
        height=900,
        control_socket=base / "control.sock",
        watch=base / "inbox",
    )
    (base / "inbox").mkdir()
    plan = base / "demo"
    shutil.copytree(demo_package_path(), plan)
    from orkiosk.app.kivyconfig import configure_kivy

    configure_kivy(settings)
    from orkiosk.app.kiosk.app import KioskApp

    app = KioskApp(settings, plan)
    app._run_prepare()
    driver = KioskDriver(app)
    driver.base = base
    driver.settle(timeout=20)
    yield driver
    app.stop()
    driver.pump(frames=2)
