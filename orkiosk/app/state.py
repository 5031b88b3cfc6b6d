"""Import path kept for existing callers: the kiosk's model lives in orkiosk.app.model."""

from orkiosk.app.model import (
    CUT_PLANES,
    MODES,
    OPACITY_STEPS,
    KioskState,
    Offer,
    Pick,
)

__all__ = ["CUT_PLANES", "MODES", "OPACITY_STEPS", "KioskState", "Offer", "Pick"]
