"""Colours given by people (names, #rrggbb, r,g,b in sRGB) -> linear RGB 0..1 for the plan."""

from __future__ import annotations

from orkiosk.errors import OrkioskError
from orkiosk.plan.colors import linear

RGB = tuple[float, float, float]

# sRGB 0..1, chosen to read well on a dark background and to match 3D Slicer's usual tissue colours.
NAMED: dict[str, RGB] = {
    "skin": (0.94, 0.76, 0.65),
    "bone": (0.95, 0.92, 0.84),
    "vessel": (0.85, 0.16, 0.14),
    "artery": (0.85, 0.16, 0.14),
    "vein": (0.20, 0.35, 0.85),
    "tumour": (1.00, 0.75, 0.10),
    "lesion": (1.00, 0.75, 0.10),
    "brain": (0.89, 0.75, 0.72),
    "ventricles": (0.35, 0.65, 0.95),
    "airway": (0.60, 0.85, 0.95),
    "red": (0.90, 0.15, 0.15),
    "green": (0.20, 0.80, 0.30),
    "blue": (0.20, 0.40, 0.95),
    "yellow": (1.00, 0.90, 0.15),
    "orange": (1.00, 0.55, 0.10),
    "purple": (0.60, 0.30, 0.85),
    "magenta": (0.90, 0.20, 0.80),
    "cyan": (0.20, 0.85, 0.90),
    "white": (1.00, 1.00, 1.00),
    "grey": (0.60, 0.60, 0.60),
    "gray": (0.60, 0.60, 0.60),
    "pink": (1.00, 0.60, 0.70),
    "brown": (0.60, 0.40, 0.25),
}

# For structures without a colour of their own, in turn.
PALETTE: tuple[RGB, ...] = (
    (0.90, 0.60, 0.20),
    (0.30, 0.70, 0.90),
    (0.60, 0.85, 0.35),
    (0.85, 0.45, 0.75),
    (0.95, 0.85, 0.35),
    (0.45, 0.55, 0.95),
    (0.95, 0.45, 0.45),
    (0.40, 0.85, 0.75),
)


class ColorError(OrkioskError):
    pass


def parse_color(text: str, what: str = "colour") -> RGB:
    """'red', '#ff8800', 'ff8800' or '1,0.5,0' (sRGB) -> linear RGB."""
    s = text.strip().lower()
    if s in NAMED:
        return linear(NAMED[s])
    hexa = s[1:] if s.startswith("#") else s
    if len(hexa) == 6 and all(ch in "0123456789abcdef" for ch in hexa):
        return linear(tuple(int(hexa[n : n + 2], 16) / 255.0 for n in (0, 2, 4)))
    parts = s.split(",")
    if len(parts) == 3:
        try:
            vals = tuple(float(p) for p in parts)
        except ValueError:
            vals = ()
        if vals and all(0.0 <= v <= 1.0 for v in vals):
            return linear(vals)
        if vals and all(0.0 <= v <= 255.0 for v in vals):
            return linear(tuple(v / 255.0 for v in vals))
    raise ColorError(
        f"{what} {text!r} is not a colour: give a name ({', '.join(sorted(NAMED)[:8])}, ...), "
        "#rrggbb or r,g,b"
    )


def palette(n: int) -> RGB:
    return linear(PALETTE[n % len(PALETTE)])
