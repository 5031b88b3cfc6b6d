"""The plan: data model, planning package read/verify/write, signatures, and the domain geometry
that every layer shares (bounds, named views, trajectory metrics, person names). No GUI, GL or
network: numpy, jsonschema and cryptography only."""

from orkiosk.plan.mesh import Mesh, MeshError
from orkiosk.plan.model import (
    FileEntry,
    Landmark,
    Measurement,
    Patient,
    Plan,
    Structure,
    Study,
    Trajectory,
    View,
)
from orkiosk.plan.package import Package, PackageError, load_package, write_package

__all__ = [
    "FileEntry",
    "Landmark",
    "Measurement",
    "Mesh",
    "MeshError",
    "Package",
    "PackageError",
    "Patient",
    "Plan",
    "Structure",
    "Study",
    "Trajectory",
    "View",
    "load_package",
    "write_package",
]
