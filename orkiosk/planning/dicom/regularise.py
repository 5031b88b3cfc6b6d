"""Resampling of an acquired stack onto the regular grid geometry.py planned (StackPlan): missing
slices and varying spacing by linear interpolation between the two neighbouring acquired slices
along the stack, gantry tilt by shifting each slice in-plane (de-shearing), as 3D Slicer's
acquisition geometry regularisation does.

Values stay honest: linear interpolation only (no overshoot: every output value lies between
measured ones), integer volumes stay integer (rounded), and the work goes slice by slice in float32
into the output, so a 512x512x600 int16 CT (315 MB) needs its input, its output and a few slices.
Where a de-sheared slice reaches past the acquired field of view it gets the volume's lowest value
(nothing was measured there: air or the scanner's padding).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from orkiosk.planning.dicom.geometry import StackPlan


def regularise(array: np.ndarray, plan: StackPlan) -> np.ndarray:
    """array[k, j, i] of the acquired slices (sorted as plan.frames) -> the volume on plan's grid."""
    if not plan.resampled:
        return array
    n_in = array.shape[0]
    lower = plan.lower if plan.lower is not None else np.arange(n_in)
    weight = plan.weight if plan.weight is not None else np.zeros(n_in)
    fill = np.float32(array.min())
    out = np.empty((len(lower),) + array.shape[1:], dtype=array.dtype)
    integer = np.issubdtype(array.dtype, np.integer)
    cache: dict[int, np.ndarray] = {}

    def acquired(n: int) -> np.ndarray:
        """Acquired slice n as float32, de-sheared onto the grid's in-plane position."""
        if n not in cache:
            if len(cache) > 2:
                cache.pop(min(cache))
            img = array[n].astype(np.float32)
            if plan.shift_ji is not None:
                # ndimage.shift: out[x] = in[x - shift], as the plan wants
                img = ndimage.shift(
                    img, plan.shift_ji[n], order=1, mode="constant", cval=fill, prefilter=False
                )
            cache[n] = img
        return cache[n]

    for k, (a, w) in enumerate(zip(lower, weight, strict=True)):
        if w == 0.0:
            val = acquired(int(a))
        elif w == 1.0:
            val = acquired(int(a) + 1)
        else:
            val = acquired(int(a)) * np.float32(1.0 - w) + acquired(int(a) + 1) * np.float32(w)
        out[k] = np.rint(val) if integer else val
    return out
