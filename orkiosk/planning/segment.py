"""Segmentation: thresholds (specs.py: CT presets or custom) and labelmaps -> marching-cubes fields.

Each structure becomes a `Segmentation`: a float32 field, cropped to the structure and padded by one
voxel of "outside" on every side, that is > 0 inside and < 0 outside, so the 0-isosurface is closed
and lies between voxel centres where the image crosses the threshold (sub-voxel accurate). Where the
clean-up changed the mask (specks dropped, small components dropped, holes filled, voxels next to
bone left out) the field is forced to +-0.5 so the surface follows the cleaned mask.

Thresholds on integer images are shifted by half a unit (LOW - 0.5), so no voxel sits exactly on the
isovalue (docs/architecture.md: integer isovalues on integer data make zero-area triangles).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from orkiosk.plan.colors import linear
from orkiosk.planning.bodymask import OUTSIDE_HU, BodyMask
from orkiosk.planning.colors import NAMED, palette
from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.labels import LabelVolume, Segment
from orkiosk.planning.specs import SegmentError, StructureSpec

FULL = np.ones((3, 3, 3), dtype=bool)  # 26-connectivity
FACE = None  # scipy's default: 6-connectivity
LABEL_SIGMA = 0.5  # voxels: the blur of a labelmap mask before its surface is taken


@dataclass(frozen=True)
class Dropped:
    """What the clean-up of one threshold structure left out, for the summary."""

    outside_body_ml: float = 0.0  # above the threshold but outside the patient's body
    small_pieces: int = 0  # pieces under the size rules (minimum volume, fraction, largest only)
    small_ml: float = 0.0
    outer_pieces: int = 0  # pieces that reach the air around the patient (airway)
    outer_ml: float = 0.0

    def summary(self) -> str:
        """'outside the body 312.0 ml; 14 small pieces (0.9 ml)', or '' (what was left out)."""
        parts = []
        if self.outside_body_ml >= 0.05:  # what prints as 0.0 ml is no news
            parts.append(f"outside the body {self.outside_body_ml:.1f} ml")
        if self.small_pieces:
            parts.append(f"{_pieces(self.small_pieces, 'small piece')} ({self.small_ml:.1f} ml)")
        if self.outer_pieces:
            parts.append(
                f"{_pieces(self.outer_pieces, 'piece')} reaching the air around the patient "
                f"({self.outer_ml:.1f} ml)"
            )
        return "; ".join(parts)


def _pieces(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


@dataclass(frozen=True, eq=False)
class Segmentation:
    """A structure ready for meshing: field[k, j, i] (> 0 inside) on a sub-grid of `affine`."""

    spec: StructureSpec
    field: np.ndarray  # float32, padded: index (0, 0, 0) is voxel `origin - 1`
    origin_kji: tuple[int, int, int]  # index in the full grid of field[1, 1, 1]
    affine: np.ndarray  # of the full grid (i, j, k, 1) -> LPS
    voxels: int
    volume_ml: float
    dropped: Dropped = Dropped()  # what the clean-up left out (thresholds only)

    def field_affine(self) -> np.ndarray:
        """(i, j, k, 1) of `field` -> LPS mm (accounts for the crop and the padding)."""
        k, j, i = self.origin_kji
        shift = np.eye(4)
        shift[:3, 3] = (i - 1, j - 1, k - 1)
        return self.affine @ shift


def _bbox(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        if hit.size == 0:
            return None
        out.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)


def _keep_components(
    mask, spec: StructureSpec, voxel_mm3: float, outer=None
) -> tuple[np.ndarray, Dropped]:
    """Keep the large pieces; pieces touching `outer` (a bool mask) are left out whatever size."""

    labels, n = _label(mask, spec)
    if n == 0:
        return mask, Dropped()
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    outer_ids = np.zeros(n + 1, dtype=bool)
    if outer is not None:
        outer_ids[np.unique(labels[outer])] = True
        outer_ids[0] = False
    outer_vox = int(sizes[outer_ids].sum())
    outer_count = int(outer_ids.sum())
    sizes[outer_ids] = 0
    if not sizes.any():
        return np.zeros_like(mask), Dropped(
            outer_pieces=outer_count, outer_ml=outer_vox * voxel_mm3 / 1000
        )
    largest = int(sizes.max())
    keep_min = max(spec.min_volume_mm3 / voxel_mm3, spec.keep_fraction * largest)
    if spec.keep_fraction >= 1.0:
        keep = np.zeros(n + 1, dtype=bool)
        keep[int(np.argmax(sizes))] = True
    else:
        keep = sizes >= keep_min
        keep[0] = False
    small = (sizes > 0) & ~keep
    dropped = Dropped(
        small_pieces=int(small.sum()),
        small_ml=float(sizes[small].sum()) * voxel_mm3 / 1000,
        outer_pieces=outer_count,
        outer_ml=outer_vox * voxel_mm3 / 1000,
    )
    return keep[labels], dropped


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background pockets that do not reach the border (faster than binary_fill_holes)."""
    bg, n = _label(~mask)
    if n <= 1:
        return mask
    border = np.zeros(n + 1, dtype=bool)
    for axis in range(3):
        for side in (0, -1):
            border[np.unique(np.take(bg, side, axis=axis))] = True
    border[0] = True
    return mask | ~border[bg]


FIELD_CHUNK = 16  # slices per step when the field is made: float temporaries stay small


def _threshold_field(arr: np.ndarray, box: tuple, spec: StructureSpec, integer: bool) -> np.ndarray:
    """Signed field of `arr[box]`: > 0 inside [low, high], half-unit shifts on integer images,
    with one voxel more on every side, which is outside (<= -0.5): the image's own values where
    the box has room in the volume, else (at the volume's edge) the neighbour mirrored as outside
    (-|f|), so a face that closes a structure cut by the edge lands half a voxel out, on the edge
    of the data. Made into one float32 array slab by slab: a thin-slice CT's skin box is 600 MB as
    float32, and whole-box temporaries would double or triple that."""
    half = np.float32(0.5 if integer else 0.0)
    low = high = None
    if spec.low is not None:
        low = np.float32((np.ceil(spec.low) if integer else spec.low) - half)
    if spec.high is not None:
        high = np.float32((np.floor(spec.high) if integer else spec.high) + half)
    grown = _grow(box, np.ones(3, dtype=int), arr.shape)
    src = arr[grown]
    first = [b.start - g.start for b, g in zip(box, grown, strict=True)]  # 1: room, 0: edge
    out = np.empty(tuple(b.stop - b.start + 2 for b in box), dtype=np.float32)
    dst = out[tuple(slice(1 - f, 1 - f + n) for f, n in zip(first, src.shape, strict=True))]
    for k0 in range(0, src.shape[0], FIELD_CHUNK):
        f = dst[k0 : k0 + FIELD_CHUNK]
        f[...] = src[k0 : k0 + FIELD_CHUNK]
        if low is not None and high is not None:
            g = high - f
            f -= low
            np.minimum(f, g, out=f)
        elif low is not None:
            f -= low
        else:
            np.subtract(high, f, out=f)
    last = [g.stop - b.stop for b, g in zip(box, grown, strict=True)]
    for axis in range(3):
        for side, inner, room in ((0, 1, first[axis]), (-1, -2, last[axis])):
            face = [slice(None)] * 3
            face[axis] = side
            if room:
                np.minimum(out[tuple(face)], np.float32(-0.5), out=out[tuple(face)])
            else:
                near = [slice(None)] * 3
                near[axis] = inner
                np.minimum(-np.abs(out[tuple(near)]), np.float32(-0.5), out=out[tuple(face)])
    return out


def _label(mask: np.ndarray, spec: StructureSpec | None = None) -> tuple[np.ndarray, int]:
    """Connected pieces of `mask` (spec: its connectivity; None: 6-connected): uint16 labels
    when they fit (half the memory of scipy's int32 on a 600-slice CT), else int32."""
    from scipy import ndimage

    structure = FULL if spec is not None and spec.connectivity26 else FACE
    try:
        out = np.empty(mask.shape, dtype=np.uint16)
        n = ndimage.label(mask, structure=structure, output=out)
        return out, int(n)
    except RuntimeError:  # more than 65535 pieces
        labels, n = ndimage.label(mask, structure=structure)
        return labels, int(n)


def segment_threshold(
    volume: Volume, spec: StructureSpec, body: BodyMask | None = None
) -> Segmentation:
    """Cut `spec` out of the volume: threshold, limit to the `body` (if given: the patient without
    the table, see bodymask.py), clean up, crop, field for marching cubes. On a CT, values at or
    below OUTSIDE_HU (outside the reconstruction circle, padding) are never inside."""
    from scipy import ndimage

    modality = (volume.info.modality or "").upper()
    if spec.hu and modality and modality != "CT":
        raise SegmentError(
            f"structure {spec.name!r} is a CT preset in Hounsfield units, but the series is "
            f"{modality}; give thresholds for this image with --structure NAME:LOW[:HIGH]"
        )
    ct = modality == "CT" or (spec.hu and not modality)
    arr = volume.array
    integer = np.issubdtype(arr.dtype, np.integer)
    mask = np.ones(arr.shape, dtype=bool)
    if spec.low is not None:
        mask &= arr >= (np.ceil(spec.low) if integer else spec.low)
    if spec.high is not None:
        mask &= arr <= (np.floor(spec.high) if integer else spec.high)
    if ct:
        mask &= arr > OUTSIDE_HU
    box = _bbox(mask)
    if box is None:
        raise SegmentError(_empty_message(volume, spec))
    voxel_mm3 = float(np.prod(volume.spacing))
    sub = mask[box]
    outside_ml = 0.0
    if body is not None:
        before = int(np.count_nonzero(sub))
        # Air outside the body is never airway: no pieces to weigh there.
        inside = body.crop(box)
        sub = sub & inside if spec.not_outside else _inside_body(sub, inside, spec)
        del inside
        outside_ml = (before - int(np.count_nonzero(sub))) * voxel_mm3 / 1000.0  # sub shrank
        box2 = _bbox(sub)
        if box2 is None:
            raise SegmentError(
                f"structure {spec.name!r}: every voxel of the threshold ({outside_ml:.1f} ml) "
                "lies outside the patient's body (table, holder, cushions); use --keep-table "
                "to keep what lies outside the body"
            )
        sub = sub[box2]
        box = _compose(box, box2)
    del mask
    if spec.exclude_above is not None and spec.exclude_mm > 0:
        r = np.maximum(
            1, np.round(spec.exclude_mm / np.array(volume.spacing)[::-1]).astype(int)
        )  # voxels along k, j, i
        grown = _grow(box, r, arr.shape)
        near = ndimage.maximum_filter(
            (arr[grown] >= spec.exclude_above).view(np.uint8), size=tuple(2 * r + 1)
        ).astype(bool)
        sub &= ~near[_inner(box, grown)]
        del near
    outer = None
    if spec.not_outside:  # the air around the patient reaches the corners of the volume ...
        outer = np.zeros(sub.shape, dtype=bool)
        for corner in np.ndindex(2, 2, 2):
            idx = tuple((dim - 1) * c for dim, c in zip(arr.shape, corner, strict=True))
            if all(b.start <= v < b.stop for v, b in zip(idx, box, strict=True)):
                outer[tuple(v - b.start for v, b in zip(idx, box, strict=True))] = True
        grown = _grow(box, np.ones(3, dtype=int), arr.shape)
        if ct:  # ... or touches the outside of the reconstruction circle
            pad = arr[grown] <= OUTSIDE_HU
            if pad.any():
                outer |= ndimage.binary_dilation(pad)[_inner(box, grown)]
        if body is not None:  # ... or touches the outside of the body (the air next to the skin)
            outer |= ndimage.binary_dilation(~body.crop(grown))[_inner(box, grown)]
    kept, dropped = _keep_components(sub, spec, voxel_mm3, outer)
    if not spec.not_outside:  # for airway the outside of the body is the air around it: no news
        dropped = replace(dropped, outside_body_ml=outside_ml)
    if spec.fill_holes:
        kept = _fill_holes(kept)
    box2 = _bbox(kept)
    if box2 is None:
        raise SegmentError(
            f"structure {spec.name!r}: nothing left after dropping pieces under "
            f"{spec.min_volume_mm3:g} mm^3; check the thresholds"
        )
    kept = kept[box2]
    box = _compose(box, box2)
    field = _threshold_field(arr, box, spec, integer)
    # Follow the cleaned mask where it differs from the raw threshold.
    inner = field[1:-1, 1:-1, 1:-1]
    np.maximum(inner, 0.5, out=inner, where=kept)
    np.invert(kept, out=kept)
    np.minimum(inner, -0.5, out=inner, where=kept)
    voxels = int(kept.size - np.count_nonzero(kept))
    del kept
    return Segmentation(
        spec=spec,
        field=field,
        origin_kji=tuple(int(s.start) for s in box),
        affine=volume.affine,
        voxels=voxels,
        volume_ml=voxels * voxel_mm3 / 1000.0,
        dropped=dropped,
    )


def _inside_body(sub: np.ndarray, inside: np.ndarray, spec: StructureSpec) -> np.ndarray:
    """The part of the threshold mask `sub` that belongs to the patient. A piece that lies mostly
    outside the body (a head holder's arc, the table) is left out whole, also where it dips into
    the body mask at a contact point; of the other pieces (and of the piece with the most voxels
    in the body, which is the patient's), what lies outside the body."""

    if not np.any(sub > inside):  # nothing outside the body
        return sub
    labels, n = _label(sub, spec)
    total = np.bincount(labels.ravel(), minlength=n + 1)
    within = np.bincount(labels[inside], minlength=n + 1)
    furniture = 2 * within < total
    furniture[0] = False
    furniture[int(np.argmax(within[1:])) + 1 if n else 0] = False
    keep = ~furniture[labels]  # in place from here: a thin-slice CT's box is 150 MB per mask
    del labels
    keep &= sub
    keep &= inside
    return keep


def _compose(outer: tuple, inner: tuple) -> tuple[slice, slice, slice]:
    """`inner` (slices of the `outer` box) as slices of the full grid."""
    return tuple(
        slice(a.start + b.start, a.start + b.stop) for a, b in zip(outer, inner, strict=True)
    )


def _grow(box: tuple, r, shape) -> tuple[slice, slice, slice]:
    """`box` grown by r[axis] voxels, clipped to the grid."""
    return tuple(
        slice(max(0, s.start - int(n)), min(dim, s.stop + int(n)))
        for s, n, dim in zip(box, r, shape, strict=True)
    )


def _inner(box: tuple, grown: tuple) -> tuple[slice, slice, slice]:
    """`box` as slices of the `grown` box."""
    return tuple(
        slice(b.start - g.start, b.stop - g.start) for b, g in zip(box, grown, strict=True)
    )


def _empty_message(volume: Volume, spec: StructureSpec) -> str:
    lo, hi = float(volume.array.min()), float(volume.array.max())
    rng = f"{spec.low if spec.low is not None else '-inf'}..{spec.high if spec.high is not None else 'inf'}"
    return (
        f"structure {spec.name!r}: no voxel in {rng} (the image ranges {lo:g}..{hi:g}); "
        "check the thresholds and the modality"
    )


def segment_labels(
    labels: LabelVolume, value: int, spec: StructureSpec, layer: int = 0
) -> Segmentation:
    """One label of a labelmap made elsewhere: mask smoothed a little (sub-voxel surface)."""
    from scipy import ndimage

    arr = labels.layer(layer)
    mask = arr == value
    box = _bbox(mask)
    if box is None:
        raise SegmentError(f"{labels.path}: label {value} ({spec.name}) has no voxel")
    pad = 2
    box = tuple(
        slice(max(0, s.start - pad), min(dim, s.stop + pad))
        for s, dim in zip(box, arr.shape, strict=True)
    )
    sub = mask[box].astype(np.float32)
    # A light blur turns the staircase of a binary mask into a smooth sub-voxel surface. It also
    # pulls a curved surface inwards (about sigma^2 / radius): sigma 0.5 voxel keeps a sphere of
    # r = 10 mm on 1.8 mm voxels within 2.2 % of its volume (0.7 lost 4.9 %).
    field = ndimage.gaussian_filter(sub, sigma=LABEL_SIGMA, mode="constant", truncate=2.0) - 0.5
    spacing = np.linalg.norm(labels.affine[:3, :3], axis=0)
    voxels = int(mask[box].sum())
    return Segmentation(
        spec=spec,
        field=np.pad(field, 1, constant_values=-0.5),
        origin_kji=tuple(int(s.start) for s in box),
        affine=labels.affine,
        voxels=voxels,
        volume_ml=voxels * float(np.prod(spacing)) / 1000.0,
    )


def label_specs(labels: LabelVolume, start_index: int = 0) -> list[tuple[int, int, StructureSpec]]:
    """(layer, value, spec) for each segment of a labelmap, names/colours from the file if any."""
    out = []
    segs = labels.segments or tuple(Segment(v, f"Label {v}") for v in labels.values())
    for n, s in enumerate(segs):
        if s.color is not None:
            rgb = linear(s.color)
        elif s.name.lower() in NAMED:
            rgb = linear(NAMED[s.name.lower()])
        else:
            rgb = palette(start_index + n)
        lname = s.name.lower()
        words = f"{lname} {s.terminology.lower()}"
        category = (
            "tumour"
            if any(w in words for w in ("tumour", "tumor", "lesion", "neoplasm"))
            else "vessel"
            if any(w in words for w in ("vessel", "artery", "vein", "sinus"))
            else "organ"
        )
        critical = category == "vessel" or "ventric" in words
        opacity = s.opacity if s.opacity is not None else 0.3 if lname in ("brain", "skin") else 1.0
        spec = StructureSpec(
            name=s.name,
            color=rgb,
            category=category,
            critical=critical,
            opacity=opacity,
            triangles=60_000,
            visible=s.visible,
        )
        out.append((s.layer, s.value, spec))
    return out
