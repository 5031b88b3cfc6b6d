"""The synthetic head on a voxel grid: tissue labels, CT numbers with point spread and noise, and
the whole as an in-memory Volume."""

from __future__ import annotations

import numpy as np

from orkiosk.planning.dicom.header import SeriesInfo
from orkiosk.planning.dicom.volume import Volume
from orkiosk.planning.phantom.anatomy import (
    BONE,
    CSF,
    DIPLOE,
    EYE,
    GREY,
    HEAD_C,
    HEAD_R,
    LEFT_VENTRICLE,
    LESION,
    LESION_C,
    LESION_R,
    RIGHT_VENTRICLE,
    SKULL_BASE_Z,
    SOFT,
    VEINS,
    VESSELS,
    WHITE,
)
from orkiosk.planning.phantom.canvas import Canvas


def head_labels(shape_kji, affine) -> tuple[np.ndarray, np.ndarray]:
    """Paint the head: tissue labels (uint8 [k, j, i]) and noise-free CT numbers (float32 HU)."""
    cv = Canvas(shape_kji, affine)
    # Soft tissue: head, neck, nose, ears.
    cv.ellipsoid(SOFT, HEAD_C, HEAD_R)
    cv.cylinder_z(SOFT, (0.0, 18.0), (50.0, 56.0), -200.0, -40.0)
    cv.ellipsoid(SOFT, (0.0, -94.0, -30.0), (11.0, 19.0, 24.0))
    cv.ellipsoid(SOFT, (74.0, 8.0, -6.0), (7.0, 13.0, 22.0))
    cv.ellipsoid(SOFT, (-74.0, 8.0, -6.0), (7.0, 13.0, 22.0))
    # Skull vault in three layers, skull base plate with the foramen magnum, mandible.
    cv.ellipsoid(BONE, HEAD_C, HEAD_R - 5, zmin=SKULL_BASE_Z)
    cv.ellipsoid(DIPLOE, HEAD_C, HEAD_R - 7.5, zmin=SKULL_BASE_Z + 2.5)
    cv.ellipsoid(BONE, HEAD_C, HEAD_R - 10.5, zmin=SKULL_BASE_Z + 2.5)
    base_r = (HEAD_R[:2] - 5) * 0.92
    cv.cylinder_z(BONE, (0.0, 5.0), tuple(base_r), SKULL_BASE_Z - 5, SKULL_BASE_Z + 3)
    cv.cylinder_z(SOFT, (0.0, 30.0), (14.0, 17.0), SKULL_BASE_Z - 7, SKULL_BASE_Z + 4)
    cv.tube(
        BONE,
        5.0,
        [
            (-50, 6, -42),
            (-48, 10, -70),
            (-40, -40, -80),
            (0, -78, -84),
            (40, -40, -80),
            (48, 10, -70),
            (50, 6, -42),
        ],
    )
    # Brain: grey matter, white matter core; the right (-x) hemisphere a little larger.
    brain_r = HEAD_R - 13
    cv.ellipsoid(GREY, HEAD_C, brain_r, zmin=SKULL_BASE_Z + 4.5)
    cv.ellipsoid(WHITE, HEAD_C + (2, 0, 8), brain_r * (0.72, 0.75, 0.62), zmin=SKULL_BASE_Z + 12)
    cv.ellipsoid(
        WHITE, HEAD_C + (-4, 0, 8), brain_r * (0.74, 0.75, 0.62), zmin=SKULL_BASE_Z + 12, xmax=0.0
    )
    # Orbits cut through the skull, eyes in them.
    for sx in (-1, 1):
        cv.ellipsoid(SOFT, (sx * 30.0, -66.0, -14.0), (16.0, 20.0, 15.0), only=[BONE, DIPLOE])
        cv.ellipsoid(EYE, (sx * 30.0, -66.0, -14.0), (11.0, 11.0, 11.0))
    # Ventricles (the left one compressed by the lesion), third ventricle, lesion.
    cv.ellipsoid(CSF, *RIGHT_VENTRICLE)
    cv.ellipsoid(CSF, *LEFT_VENTRICLE)
    cv.ellipsoid(CSF, (0.5, 4.0, 2.0), (1.8, 14.0, 8.0))
    cv.ellipsoid(LESION, LESION_C, (LESION_R, LESION_R * 0.9, LESION_R * 1.05))
    # Contrast-filled vessels last.
    for label, radius, pts in VESSELS + VEINS:
        cv.tube(label, radius, pts)
    return cv.labels, cv.hu


def head_affine(shape_kji, spacing_ijk) -> np.ndarray:
    """Axial grid centred on the head: i -> +x (left), j -> +y (posterior), k -> +z (superior)."""
    nk, nj, ni = shape_kji
    di, dj, dk = spacing_ijk
    a = np.eye(4)
    a[0, 0], a[1, 1], a[2, 2] = di, dj, dk
    a[:3, 3] = (-(ni - 1) / 2 * di, 8.0 - (nj - 1) / 2 * dj, 4.0 - (nk - 1) / 2 * dk)
    return a


def head_ct(hu: np.ndarray, spacing_ijk, seed: int = 7, blur: bool = True) -> np.ndarray:
    """CT numbers (int16 HU) with a little point spread and scanner noise."""
    from scipy import ndimage

    if blur:  # about 0.4 mm of point spread on top of the partial volume
        sigma = [0.4 / s for s in (spacing_ijk[2], spacing_ijk[1], spacing_ijk[0])]
        hu = ndimage.gaussian_filter(hu, sigma=sigma, mode="nearest", truncate=2.5)
    else:
        hu = hu.copy()
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(hu.shape, dtype=np.float32)
    noise *= 6.0
    hu += noise
    np.clip(hu, -1024, 3071, out=hu)
    return np.rint(hu).astype(np.int16)


def make_head_volume(
    shape_kji=(200, 256, 256), spacing_ijk=(0.9, 0.9, 1.0), seed: int = 7, blur: bool = True
) -> tuple[Volume, np.ndarray]:
    """The phantom as an in-memory Volume (int16 HU) and its tissue labels."""
    affine = head_affine(shape_kji, spacing_ijk)
    labels, hu = head_labels(shape_kji, affine)
    ct = head_ct(hu, spacing_ijk, seed=seed, blur=blur)
    info = SeriesInfo(
        series_uid="",
        modality="CT",
        patient_name="PHANTOM, HEAD",
        patient_id="PHANTOM-0001",
        birth_date="1970-01-01",
        sex="O",
        study_description="Synthetic CT head (orkiosk phantom)",
        series_description="Phantom head 1.0 mm",
    )
    return Volume(array=ct, affine=affine, info=info), labels
