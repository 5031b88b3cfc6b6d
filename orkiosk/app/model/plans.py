"""The display rules for arriving plans, as pure functions (no Kivy, no state).

- a plan version never goes backwards;
- a plan for another patient or case waits for an explicit confirmation;
- the same plan again changes nothing.
Reasons never carry a patient's name: they may be logged (IDs only; patient_key() for logs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from orkiosk.plan.package import Package


@dataclass(frozen=True)
class Offer:
    """The outcome of offering a package: shown, waiting for confirmation, or refused."""

    outcome: str  # "shown" | "confirm" | "refused"
    reason: str = ""  # for people; names no patient
    same_case: bool = False
    code: str = ""  # for logs: "" | "other-patient" | "other-case" | "same-plan" | "not-newer"


def judge(current: Package | None, pkg: Package) -> Offer:
    """What offering `pkg` while `current` is shown would do."""
    if current is None:
        return Offer("shown")
    same_patient = pkg.plan.patient.id == current.plan.patient.id
    same_case = same_patient and pkg.plan.case_id == current.plan.case_id
    if not same_case:
        code = "other-case" if same_patient else "other-patient"
        return Offer(
            "confirm",
            f"plan for another patient/case (ID {pkg.plan.patient.id}, case {pkg.plan.case_id})",
            code=code,
        )
    if pkg.manifest_sha256 == current.manifest_sha256:
        return Offer("refused", "this exact plan is already shown", True, "same-plan")
    if pkg.plan.plan_version <= current.plan.plan_version:
        return Offer(
            "refused",
            f"plan version {pkg.plan.plan_version} is not newer than the shown "
            f"version {current.plan.plan_version}",
            True,
            "not-newer",
        )
    return Offer("shown", same_case=True)


def patient_key(pkg: Package) -> str:
    """A stable pseudonym of the package's patient ID, for log lines (never the name)."""
    return hashlib.sha256(pkg.plan.patient.id.encode()).hexdigest()[:10]
