"""Every gesture threshold in one place (physical units: mm, seconds, degrees)."""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orkiosk.errors import OrkioskError


class GestureSettingsError(OrkioskError, ValueError):
    """A gesture setting is unknown, of the wrong type or out of range (the message names it)."""


@dataclass(frozen=True, slots=True)
class GestureSettings:
    """Thresholds of the gesture recogniser, tuned for gloved fingers through a sterile drape.

    Positions are filtered before any test (see ``jitter_mm``), so a finger must move up to
    ``jitter_mm`` further than a slop to leave it.
    """

    # Taps and presses
    tap_slop_mm: float = 7.0
    """A finger that stays within this distance of where it touched is a tap, not a drag."""
    double_tap_s: float = 0.35
    """Most time from the first tap's lift to the second tap's touch."""
    double_tap_mm: float = 12.0
    """Most distance between the two taps of a double tap."""
    long_press_s: float = 0.8
    """Time a finger must rest to make a long press."""
    long_press_slop_mm: float = 6.0
    """A finger that ever moves further than this from where it touched is no long press."""

    # Noise and rejection
    jitter_mm: float = 0.8
    """Dead band of the position filter: the filtered position moves only once the finger lies
    further than this from it on two samples in a row, then closes in to half this distance.
    Resting jitter within about +-jitter_mm/2 produces nothing; motion is trailed by jitter_mm/2
    (up to jitter_mm when slow), so totals fall short by that much. 0 turns the filter off."""
    settle_s: float = 0.05
    """No gesture starts sooner than this after the latest finger came down, so the contacts of a
    palm landing one after another are all seen before anything is emitted."""
    max_fingers: int = 2
    """More contacts at once than this is a palm or forearm: the gesture is cancelled and every
    contact ignored until all have lifted. 1 disables the two-finger gestures."""
    max_contact_area_mm2: float = 400.0
    """A contact reporting a larger area is a palm or forearm (treated as above)."""
    stale_after_s: float = 5.0
    """A touch not updated for this long is dropped (touch drivers sometimes lose the "up")."""

    # One-finger drag
    rotate_deg_per_mm: float = 0.5
    """Degrees of trackball rotation per millimetre of one-finger drag."""

    # Two-finger gestures: each component starts once it exceeds its threshold since the second
    # finger came down, then follows every change until the fingers lift (hysteresis).
    pan_start_mm: float = 8.0
    """Centroid travel that starts panning."""
    pinch_start_mm: float = 8.0
    """Change of the distance between the fingers that starts zooming."""
    twist_start_deg: float = 10.0
    """Turn of the line between the fingers that starts rolling."""
    min_span_mm: float = 10.0
    """Fingers closer than this give no twist, and zoom treats their distance as this."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            _check_type(field.name, value, field.type)
            low, high, zero_ok = _LIMITS[field.name]
            if not (low <= value <= high) or (value == 0 and not zero_ok):
                above = f"> {low}" if low == 0 and not zero_ok else f">= {low}"
                raise GestureSettingsError(
                    f"gesture setting {field.name!r} must be {above} and <= {high}, got {value!r}"
                )
        if self.jitter_mm >= self.tap_slop_mm:
            raise GestureSettingsError(
                f"gesture setting 'jitter_mm' ({self.jitter_mm}) must be smaller than "
                f"'tap_slop_mm' ({self.tap_slop_mm})"
            )
        if self.stale_after_s <= self.long_press_s:
            raise GestureSettingsError(
                f"gesture setting 'stale_after_s' ({self.stale_after_s}) must be longer than "
                f"'long_press_s' ({self.long_press_s}), or a resting finger expires first"
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> GestureSettings:
        """Build settings from a (partial) mapping, e.g. the kiosk settings file's section.

        Missing keys keep their defaults. Raises GestureSettingsError (a ValueError) naming the
        first unknown key, wrongly typed or out-of-range value. Values must be numbers: strings
        such as environment overrides are the caller's to parse.
        """
        if not isinstance(mapping, Mapping):
            raise GestureSettingsError(
                f"gesture settings must be a mapping of names to numbers, "
                f"got {type(mapping).__name__}"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in mapping.items():
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise GestureSettingsError(f"unknown gesture setting {key!r}{hint}")
            _check_type(key, value, fields[key].type)
            values[key] = int(value) if fields[key].type == "int" else float(value)
        return cls(**values)

    def replace(self, **changes: Any) -> GestureSettings:
        """A copy with some values changed (validated)."""
        return self.from_mapping({**dataclasses.asdict(self), **changes})


# name: (lowest, highest, whether zero is allowed); the ranges only catch nonsense.
_LIMITS: dict[str, tuple[float, float, bool]] = {
    "tap_slop_mm": (0, 50, False),
    "double_tap_s": (0, 2, False),
    "double_tap_mm": (0, 100, False),
    "long_press_s": (0, 10, False),
    "long_press_slop_mm": (0, 50, False),
    "jitter_mm": (0, 10, True),
    "settle_s": (0, 1, True),
    "max_fingers": (1, 2, False),
    "max_contact_area_mm2": (0, 1e5, False),
    "stale_after_s": (0, 600, False),
    "rotate_deg_per_mm": (0, 10, False),
    "pan_start_mm": (0, 100, False),
    "pinch_start_mm": (0, 100, False),
    "twist_start_deg": (0, 90, False),
    "min_span_mm": (0, 100, False),
}


def _check_type(name: str, value: Any, type_name: str) -> None:
    # Annotations are strings (from __future__ import annotations): "float" or "int".
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GestureSettingsError(
            f"gesture setting {name!r} must be a number, got {type(value).__name__} {value!r}"
        )
    if type_name == "int" and not isinstance(value, numbers.Integral):
        raise GestureSettingsError(
            f"gesture setting {name!r} must be a whole number, got {value!r}"
        )
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise GestureSettingsError(f"gesture setting {name!r} must be finite, got {value!r}")
