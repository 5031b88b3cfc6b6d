"""Colour encodings. plan.json and glTF's baseColorFactor hold LINEAR RGB; DICOM, 3D Slicer and
screens (Kivy widgets) use sRGB. Converting at these two edges keeps a structure the same colour
in the kiosk, in 3D Slicer and in a glTF viewer."""

from __future__ import annotations

import numpy as np

RGB = tuple[float, float, float]


def srgb_to_linear(c: float) -> float:
    c = min(max(float(c), 0.0), 1.0)
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def linear_to_srgb(c: float) -> float:
    c = min(max(float(c), 0.0), 1.0)
    return c * 12.92 if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def linear_to_srgb_array(a):
    """linear_to_srgb for a numpy array of any shape (per-vertex colours, pictures)."""
    c = np.clip(np.asarray(a, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def linear(rgb: RGB) -> RGB:
    """sRGB (DICOM, Slicer, a colour picker) -> linear (plan.json, glTF)."""
    r, g, b = (round(srgb_to_linear(v), 5) for v in rgb)
    return (r, g, b)


def srgb(rgb: RGB) -> RGB:
    """linear (plan.json) -> sRGB, for drawing a plan colour in a 2D widget."""
    r, g, b = (linear_to_srgb(v) for v in rgb)
    return (r, g, b)
