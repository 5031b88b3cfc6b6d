"""Synthetic test objects used only by the tests (the phantom head: orkiosk.planning.phantom)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

BEAD_CENTER = (30.0, -10.0, 20.0)  # patient's left, anterior, superior
BEAD_RADIUS = 9.0


def bead_phantom(row_dir=(1, 0, 0), col_dir=(0, 1, 0), n: int = 40, spacing: float = 3.0):
    """A small test object sampled on any grid orientation: (array[k, j, i] HU, affine).

    A soft-tissue head (40 HU) with a nose at -y (anterior) and a dense bead (1000 HU) at
    BEAD_CENTER, on the patient's left, anterior and superior. The grid's rows run along
    `row_dir`, its columns along `col_dir` (ImageOrientationPatient), slices along their cross
    product, centred on the origin. Whatever the orientation, a correct reader finds the bead at
    BEAD_CENTER in LPS.
    """
    r = np.asarray(row_dir, float)
    c = np.asarray(col_dir, float)
    r /= np.linalg.norm(r)
    c /= np.linalg.norm(c)
    nrm = np.cross(r, c)
    rot = np.stack([r, c, nrm], axis=1)
    affine = np.eye(4)
    affine[:3, :3] = rot * spacing
    affine[:3, 3] = -rot @ np.full(3, (n - 1) / 2 * spacing)
    k, j, i = np.mgrid[0:n, 0:n, 0:n].astype(np.float64)
    lps = np.stack([i, j, k], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
    x, y, z = lps[..., 0], lps[..., 1], lps[..., 2]

    def cover(dist):  # partial volume over one voxel
        return np.clip(0.5 - dist / spacing, 0.0, 1.0)

    def ell(cx, cy, cz, rx, ry, rz):
        u, v, w = (x - cx) / rx, (y - cy) / ry, (z - cz) / rz
        q = np.sqrt(u * u + v * v + w * w) + 1e-9
        g = np.sqrt((u / rx) ** 2 + (v / ry) ** 2 + (w / rz) ** 2) / q + 1e-12
        return (q - 1) / g

    hu = np.full(x.shape, -1000.0)
    for dist, value in (
        (ell(0, 5, 0, 50, 50, 50), 40.0),
        (ell(0, -50, -5, 8, 14, 12), 40.0),
        (np.linalg.norm(lps - np.array(BEAD_CENTER), axis=-1) - BEAD_RADIUS, 1000.0),
    ):
        a = cover(dist)
        hu += a * (value - hu)
    return np.rint(hu).astype(np.int16), affine


def ct_datasets(ct_dir):
    """The CT slices of a folder (pydicom datasets), in file order."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    out = []
    for p in sorted(Path(ct_dir).rglob("*")):
        if not p.is_file() or p.suffix in (".json", ".nrrd"):
            continue
        try:
            ds = pydicom.dcmread(str(p))
        except InvalidDicomError:
            continue
        if getattr(ds, "Modality", "") == "CT":
            out.append(ds)
    return out


def slice_index(ds, affine) -> int:
    """k of a CT slice in the grid of `affine`, from its ImagePositionPatient."""
    ijk = np.linalg.solve(
        affine[:3, :3], np.asarray(ds.ImagePositionPatient, float) - affine[:3, 3]
    )
    return int(round(ijk[2]))


def dicom_seg(ct_dir, affine, segments, out, *, fractional=False, frame_of_reference=None):
    """A DICOM SEG made with highdicom on the CT in `ct_dir`.

    `segments`: (name, mask[k, j, i] bool or 0..1 float, sRGB 0..255) on the grid of `affine`.
    Overlapping masks are allowed (one segment each). `frame_of_reference` replaces the SEG's
    Frame of Reference UID (a SEG made on another scan)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    sources = ct_datasets(ct_dir)
    ks = [slice_index(ds, affine) for ds in sources]
    pixels = np.stack([np.stack([m[k] for _n, m, _c in segments], axis=-1) for k in ks])
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n + 1,
            segment_label=name,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=hd.color.CIELabColor.from_rgb(*rgb),
        )
        for n, (name, _m, rgb) in enumerate(segments)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels.astype(np.float32 if fractional else np.uint8),
        segmentation_type=(
            hd.seg.SegmentationTypeValues.FRACTIONAL
            if fractional
            else hd.seg.SegmentationTypeValues.BINARY
        ),
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=100,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="orkiosk tests",
        manufacturer_model_name="tests",
        software_versions="0",
        device_serial_number="0",
        max_fractional_value=255,
    )
    if frame_of_reference:
        seg.FrameOfReferenceUID = frame_of_reference
    seg.save_as(str(out))
    return Path(out)
