"""Verify and prepare a package for display: the kiosk's worker-thread part (no Kivy, no GL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orkiosk.app.model.changes import summarise
from orkiosk.app.settings import KioskSettings
from orkiosk.errors import OrkioskError
from orkiosk.plan.metrics import TrajectoryMetrics, all_trajectory_metrics
from orkiosk.plan.package import Package, load_package
from orkiosk.plan.signing import TrustedKey
from orkiosk.render.prepare import PreparedMeshes, PreparedScene, prepare_scene


@dataclass(frozen=True)
class Loaded:
    package: Package
    metrics: list[TrajectoryMetrics]
    prepared: PreparedScene


def load_for_display(
    path: Path,
    settings: KioskSettings,
    trusted: dict[str, TrustedKey] | None,
    verified: Package | None = None,
    known: PreparedMeshes | None = None,
) -> Loaded:
    """The verified package, its trajectory readouts and its prepared scene; raises
    OrkioskError naming what is wrong. Fails closed: a configured trust folder whose keys could
    not be read refuses every plan rather than silently skipping the signature check.
    `verified`: the package as the kiosk's own plan store verified it from these very files
    (with the same trust folder, a signature required): not read and checked a second time.
    `known`: the kiosk's prepared meshes of earlier plans, reused for the same mesh files."""
    if settings.trust is not None and trusted is None:
        raise OrkioskError(
            f"the trusted keys in {settings.trust} are unusable, so no plan can be verified; "
            "fix the kiosk's trust folder"
        )
    pkg = verified
    if pkg is None or pkg.path != Path(path) or (trusted is not None and pkg.signed_by is None):
        pkg = load_package(path, trusted=trusted, require_signature=settings.require_signature)
    summarise(pkg)  # for the "what changed" banner: not on the UI thread
    return Loaded(
        pkg,
        all_trajectory_metrics(pkg.plan, pkg.meshes),
        prepare_scene(pkg.plan, pkg.meshes, settings.interactive_triangles, pkg.image, known),
    )
