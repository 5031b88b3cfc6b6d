"""GestureSettings: defaults, from_mapping validation with messages that name the bad key."""

import dataclasses

import pytest

from orkiosk.errors import OrkioskError
from orkiosk.touch import GestureSettings, GestureSettingsError


def test_defaults_are_glove_friendly():
    s = GestureSettings()
    assert 6.0 <= s.tap_slop_mm <= 8.0
    assert s.max_fingers == 2
    assert 0 < s.jitter_mm < s.tap_slop_mm
    assert s.stale_after_s > s.long_press_s


def test_from_mapping_partial_keeps_defaults_and_converts():
    s = GestureSettings.from_mapping({"tap_slop_mm": 8, "max_fingers": 1, "settle_s": 0})
    assert s.tap_slop_mm == 8.0 and isinstance(s.tap_slop_mm, float)
    assert s.max_fingers == 1 and isinstance(s.max_fingers, int)
    assert s.settle_s == 0.0
    assert s.double_tap_s == GestureSettings().double_tap_s


def test_from_mapping_round_trip_and_replace():
    s = GestureSettings(tap_slop_mm=6.5)
    assert GestureSettings.from_mapping(dataclasses.asdict(s)) == s
    assert s.replace(long_press_s=1.2).long_press_s == 1.2
    with pytest.raises(GestureSettingsError, match="long_press_s"):
        s.replace(long_press_s=-1)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        GestureSettings().tap_slop_mm = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mapping", "pattern"),
    [
        ({"tap_slop": 7}, r"unknown gesture setting 'tap_slop' \(did you mean 'tap_slop_mm'\?\)"),
        ({"frobnicate": 1}, r"unknown gesture setting 'frobnicate'$"),
        ({"tap_slop_mm": "7"}, r"'tap_slop_mm' must be a number, got str"),
        ({"tap_slop_mm": None}, r"'tap_slop_mm' must be a number"),
        ({"double_tap_s": True}, r"'double_tap_s' must be a number, got bool"),
        ({"max_fingers": 2.0}, r"'max_fingers' must be a whole number"),
        ({"max_fingers": 3}, r"'max_fingers' must be >= 1 and <= 2, got 3"),
        ({"max_fingers": 0}, r"'max_fingers'"),
        ({"tap_slop_mm": 0}, r"'tap_slop_mm' must be > 0"),
        ({"jitter_mm": -0.1}, r"'jitter_mm' must be >= 0"),
        ({"rotate_deg_per_mm": float("nan")}, r"'rotate_deg_per_mm' must be finite"),
        ({"stale_after_s": float("inf")}, r"'stale_after_s' must be finite"),
        ({"rotate_deg_per_mm": 1e308}, r"'rotate_deg_per_mm' must be > 0 and <= 10"),
        ({"jitter_mm": 7.0}, r"'jitter_mm' \(7.0\) must be smaller than 'tap_slop_mm'"),
        ({"stale_after_s": 0.5}, r"'stale_after_s' \(0.5\) must be longer than 'long_press_s'"),
    ],
)
def test_from_mapping_rejects_with_a_message_naming_the_key(mapping, pattern):
    with pytest.raises(GestureSettingsError, match=pattern) as info:
        GestureSettings.from_mapping(mapping)
    # Both a ValueError (as the settings loader expects) and an error fit to show to a person.
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, OrkioskError)


def test_from_mapping_rejects_non_mapping():
    with pytest.raises(ValueError, match="must be a mapping"):
        GestureSettings.from_mapping([("tap_slop_mm", 7)])  # type: ignore[arg-type]


def test_direct_construction_is_validated_too():
    with pytest.raises(ValueError, match="'long_press_s'"):
        GestureSettings(long_press_s=0)
