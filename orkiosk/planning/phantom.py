"""A synthetic CT head written as an ordinary DICOM series (no real patient data).

The head is drawn in patient LPS millimetres (x = patient's left, y = posterior, z = superior), centred
near the origin: skin and soft tissue with a nose (anterior, -y) and ears, a skull vault in three
layers (outer table, diploe, inner table) with a skull base, foramen magnum and orbits, eyes, brain
(grey and white matter), two lateral ventricles of different size, an enhancing lesion in the
patient's LEFT frontal lobe (+x), and contrast-filled arteries and venous sinuses. Nothing is mirror
symmetric, so a left/right or front/back swap anywhere down the line shows.

`orkiosk phantom OUT_DIR` writes the series (CT Image Storage, one file per slice, HU stored with
RescaleIntercept -1024, names that do not sort by position) and, beside it, two files a planner
would bring: `phantom.mrk.json` (3D Slicer markups in RAS: a biopsy trajectory to the lesion that
keeps clear of the vessels, and landmarks) and `phantom-labels.nrrd` (a labelmap of brain,
ventricles and lesion, as a segmentation made elsewhere). Both are ignored by the DICOM scan.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.planning.dicom import SeriesInfo, Volume

# Tissue labels painted in order (later wins) and their CT numbers (HU).
AIR, SOFT, BONE, DIPLOE, GREY, WHITE, CSF, LESION, ARTERY, VEIN, EYE = range(11)
HU = np.array([-1000, 40, 1500, 650, 40, 28, 5, 80, 300, 220, 12], dtype=np.float32)

HEAD_C = np.array([0.0, 5.0, 0.0])  # centre of the head ellipsoid
HEAD_R = np.array([72.0, 92.0, 100.0])  # its semi-axes (x, y, z)
SKULL_BASE_Z = -38.0
LESION_C = np.array([38.0, -18.0, 38.0])  # patient's LEFT (+x), anterior, superior
LESION_R = 12.0
LEFT_VENTRICLE = (np.array([13.0, 2.0, 18.0]), np.array([5.0, 24.0, 9.0]))  # compressed side
RIGHT_VENTRICLE = (np.array([-14.0, 4.0, 16.0]), np.array([8.0, 30.0, 13.0]))

# (label, radius mm, polyline LPS mm)
VESSELS: list[tuple[int, float, list[tuple[float, float, float]]]] = [
    # internal carotids and middle cerebral arteries (left runs higher and further back)
    (ARTERY, 2.5, [(-22, 12, -120), (-20, 10, -60), (-18, 8, -38), (-16, 2, -28)]),
    (ARTERY, 2.5, [(22, 12, -120), (20, 10, -60), (18, 8, -38), (16, 2, -28)]),
    (ARTERY, 1.8, [(-16, 2, -28), (-35, -2, -24), (-50, 2, -14), (-55, 10, 5), (-52, 25, 25)]),
    (ARTERY, 1.8, [(16, 2, -28), (35, 0, -22), (50, 6, -12), (56, 16, 4), (52, 34, 20)]),
    # anterior cerebral arteries joining into the pericallosal artery over the midline
    (ARTERY, 1.5, [(-16, 2, -28), (-4, -12, -22), (-1, -16, -18)]),
    (ARTERY, 1.5, [(16, 2, -28), (4, -12, -22), (1, -16, -18)]),
    (ARTERY, 1.5, [(0, -16, -18), (0, -36, 2), (-2, -42, 28), (-2, -24, 50), (-1, 12, 56)]),
    # vertebrobasilar system and posterior cerebral arteries
    (ARTERY, 2.0, [(0, 32, -120), (0, 24, -60), (0, 14, -34)]),
    (ARTERY, 1.5, [(0, 14, -34), (-22, 26, -26), (-30, 52, -12)]),
    (ARTERY, 1.5, [(0, 14, -34), (24, 24, -24), (34, 56, -6)]),
]


def _sss() -> list[tuple[float, float, float]]:
    """Superior sagittal sinus: just inside the inner table along the midline, front to back."""
    theta = np.radians(np.linspace(28, 160, 12))
    ys = HEAD_C[1] - (HEAD_R[1] - 17) * np.cos(theta)
    zs = (HEAD_R[2] - 17) * np.sin(theta)
    return [(0.0, float(y), float(z)) for y, z in zip(ys, zs, strict=True)]


VEINS: list[tuple[int, float, list[tuple[float, float, float]]]] = [
    (VEIN, 3.5, [*_sss(), (0, 78, -2)]),
    (VEIN, 3.0, [(0, 78, -2), (-30, 70, -10), (-52, 50, -18), (-46, 34, -45), (-30, 25, -120)]),
    (VEIN, 3.0, [(0, 78, -2), (28, 72, -8), (50, 52, -16), (46, 36, -44), (32, 26, -120)]),
]


class PhantomError(OrkioskError):
    pass


@dataclass(frozen=True)
class PhantomPlan:
    """What a planner would mark on this head, in LPS mm."""

    lesion_center: tuple[float, float, float]
    lesion_radius: float
    entry: tuple[float, float, float]
    target: tuple[float, float, float]
    landmarks: tuple[tuple[str, tuple[float, float, float]], ...]


def _skin_point(direction, origin=HEAD_C) -> np.ndarray:
    """Where a ray from `origin` along `direction` leaves the head ellipsoid."""
    d = np.asarray(direction, float)
    d = d / np.linalg.norm(d)
    o = np.asarray(origin, float) - HEAD_C
    a = np.sum((d / HEAD_R) ** 2)
    b = 2 * np.sum(o * d / HEAD_R**2)
    c = np.sum((o / HEAD_R) ** 2) - 1
    t = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return np.asarray(origin, float) + t * d


def phantom_plan() -> PhantomPlan:
    """A biopsy trajectory from the left parietal convexity to the lesion centre, and landmarks."""
    entry = _skin_point((0.62, 0.28, 0.73), LESION_C)
    nose_tip = (0.0, -113.0, -30.0)
    nasion = _skin_point((0.0, -1.0, -0.02))
    return PhantomPlan(
        lesion_center=tuple(float(v) for v in LESION_C),
        lesion_radius=LESION_R,
        entry=tuple(round(float(v), 2) for v in entry),
        target=tuple(float(v) for v in LESION_C),
        landmarks=(
            ("Nasion", tuple(round(float(v), 2) for v in nasion)),
            ("Nose tip", nose_tip),
            ("Left tragus", (79.0, 8.0, -8.0)),
            ("Right tragus", (-79.0, 8.0, -8.0)),
            ("Vertex", (0.0, 5.0, 100.0)),
        ),
    )


# ----------------------------------------------------------------------------------- painting


class _Canvas:
    """Paints tissues with partial volume: each voxel's CT number blends by the fraction covered."""

    def __init__(self, shape_kji, affine):
        self.labels = np.zeros(shape_kji, dtype=np.uint8)
        self.hu = np.full(shape_kji, HU[AIR], dtype=np.float32)
        self.affine = affine
        self.inv = np.linalg.inv(affine)
        self.h = float(np.mean(np.linalg.norm(affine[:3, :3], axis=0)))  # ramp width, mm

    def _blocks(self, lo_lps, hi_lps, chunk_voxels: int = 4_000_000):
        """Blocks of the grid covering an LPS box (a few slices at a time, to bound memory):
        yields (k, j, i) slices and the LPS coordinates of the block as [k, j, i] broadcasts."""
        lo_lps = np.asarray(lo_lps, float) - self.h
        hi_lps = np.asarray(hi_lps, float) + self.h
        corners = np.array(
            [
                [x, y, z, 1.0]
                for x in (lo_lps[0], hi_lps[0])
                for y in (lo_lps[1], hi_lps[1])
                for z in (lo_lps[2], hi_lps[2])
            ]
        )
        ijk = (self.inv @ corners.T)[:3]
        lo = np.floor(ijk.min(axis=1)).astype(int)
        hi = np.ceil(ijk.max(axis=1)).astype(int) + 1
        nk, nj, ni = self.labels.shape
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, [ni, nj, nk])
        if np.any(hi <= lo):
            return
        a = self.affine.astype(np.float32)
        ii = np.arange(lo[0], hi[0], dtype=np.float32)
        jj = np.arange(lo[1], hi[1], dtype=np.float32)
        step = max(1, chunk_voxels // int((hi[0] - lo[0]) * (hi[1] - lo[1])))
        for k0 in range(lo[2], hi[2], step):
            k1 = min(hi[2], k0 + step)
            kk = np.arange(k0, k1, dtype=np.float32)
            xyz = [
                a[r, 0] * ii[None, None, :]
                + a[r, 1] * jj[None, :, None]
                + a[r, 2] * kk[:, None, None]
                + a[r, 3]
                for r in range(3)
            ]
            yield (slice(k0, k1), slice(lo[1], hi[1]), slice(lo[0], hi[0])), *xyz

    def _paint(self, sl, label, dist, only=None):
        """Blend `label` into the block by coverage of the signed distance (mm, < 0 inside)."""
        alpha = np.clip(0.5 - dist / self.h, 0.0, 1.0).astype(np.float32)
        labels = self.labels[sl]
        if only is not None:
            alpha *= np.isin(labels, only)
        hu = self.hu[sl]
        hu += alpha * (HU[label] - hu)
        labels[alpha >= 0.5] = label

    @staticmethod
    def _limits(d, x, z, zmin, xmax):
        if zmin is not None:
            d = np.maximum(d, zmin - z)
        if xmax is not None:
            d = np.maximum(d, x - xmax)
        return d

    def ellipsoid(self, label, center, radii, zmin=None, xmax=None, only=None):
        c = np.asarray(center, float)
        r = np.asarray(radii, float)
        for sl, x, y, z in self._blocks(c - r, c + r):
            u, v, w = (x - c[0]) / r[0], (y - c[1]) / r[1], (z - c[2]) / r[2]
            q = np.sqrt(u * u + v * v + w * w) + 1e-6
            grad = np.sqrt((u / r[0]) ** 2 + (v / r[1]) ** 2 + (w / r[2]) ** 2) / q + 1e-9
            d = self._limits((q - 1.0) / grad, x, z, zmin, xmax)
            self._paint(sl, label, d, only)

    def cylinder_z(self, label, center_xy, radii_xy, z0, z1):
        cx, cy = center_xy
        rx, ry = radii_xy
        for sl, x, y, z in self._blocks((cx - rx, cy - ry, z0), (cx + rx, cy + ry, z1)):
            u, v = (x - cx) / rx, (y - cy) / ry
            q = np.sqrt(u * u + v * v) + 1e-6
            grad = np.sqrt((u / rx) ** 2 + (v / ry) ** 2) / q + 1e-9
            d = np.maximum((q - 1.0) / grad, np.maximum(z0 - z, z - z1))
            self._paint(sl, label, d)

    def tube(self, label, radius, points):
        pts = np.asarray(points, float)
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            d = q - p
            for sl, x, y, z in self._blocks(np.minimum(p, q) - radius, np.maximum(p, q) + radius):
                t = ((x - p[0]) * d[0] + (y - p[1]) * d[1] + (z - p[2]) * d[2]) / float(d @ d)
                t = np.clip(t, 0.0, 1.0)
                dist = np.sqrt(
                    (x - p[0] - t * d[0]) ** 2
                    + (y - p[1] - t * d[1]) ** 2
                    + (z - p[2] - t * d[2]) ** 2
                )
                self._paint(sl, label, dist - radius)


def head_labels(shape_kji, affine) -> tuple[np.ndarray, np.ndarray]:
    """Paint the head: tissue labels (uint8 [k, j, i]) and noise-free CT numbers (float32 HU)."""
    cv = _Canvas(shape_kji, affine)
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


PATIENT = {
    "PatientName": "PHANTOM^HEAD",
    "PatientID": "PHANTOM-0001",
    "PatientBirthDate": "19700101",
    "PatientSex": "O",
}


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


# -------------------------------------------------------------------------------------- DICOM


def write_series(
    array_kji: np.ndarray,
    affine: np.ndarray,
    out_dir,
    *,
    patient: dict | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    series_number: int = 2,
    series_description: str = "Phantom head 1.0 mm",
    study_description: str = "Synthetic CT head (orkiosk phantom)",
    modality: str = "CT",
    intercept: int = -1024,
    name_prefix: str = "IM",
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write array[k, j, i] (HU) as one single-frame DICOM file per slice k.

    The geometry comes from `affine` (i, j, k, 1) -> LPS: ImageOrientationPatient from its first two
    columns, ImagePositionPatient from its origin and third column, so any orientation can be
    written. Files are numbered from the top slice down with names that do not sort by position.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    patient = {**PATIENT, **(patient or {})}
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = generate_uid()
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    now = _dt.datetime.now()
    col_dir = affine[:3, 0] / np.linalg.norm(affine[:3, 0])
    row_dir = affine[:3, 1] / np.linalg.norm(affine[:3, 1])
    di = float(np.linalg.norm(affine[:3, 0]))
    dj = float(np.linalg.norm(affine[:3, 1]))
    thickness = float(np.linalg.norm(affine[:3, 2]))
    nk, nj, ni = array_kji.shape
    stored = np.clip(np.rint(array_kji.astype(np.float32) - intercept), 0, 65535).astype(np.uint16)
    bits = max(12, int(stored.max()).bit_length())
    paths = []
    for n, k in enumerate(range(nk - 1, -1, -1)):  # top slice first, as many scanners do
        if progress:
            progress(n, nk)
        pos = affine[:3, 3] + affine[:3, 2] * k
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = list(image_type)
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.AccessionNumber = "PHANTOM"
        ds.Modality = modality
        ds.Manufacturer = "orkiosk synthetic phantom"
        ds.InstitutionName = "none (synthetic data)"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = study_description
        ds.SeriesDescription = series_description
        for key, value in patient.items():
            setattr(ds, key, value)
        ds.BodyPartExamined = "HEAD"
        ds.SliceThickness = f"{thickness:.4g}"
        if modality == "CT":
            ds.KVP = "120"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [f"{v:.6g}" for v in pos]
        ds.ImageOrientationPatient = [f"{v:.6g}" for v in (*col_dir, *row_dir)]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = f"{float(pos @ np.cross(col_dir, row_dir)):.6g}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = nj
        ds.Columns = ni
        ds.PixelSpacing = [f"{dj:.6g}", f"{di:.6g}"]
        ds.BitsAllocated = 16
        ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = str(intercept)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU" if modality == "CT" else "US"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.PixelData = stored[k].tobytes()
        path = out / f"{name_prefix}{ds.SOPInstanceUID.rsplit('.', 1)[-1][-10:]}.dcm"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    if progress:
        progress(nk, nk)
    return paths


# ------------------------------------------------------------------------------ side files


def markups_json(plan: PhantomPlan) -> dict:
    """The phantom plan as a 3D Slicer markups file, in RAS as Slicer writes by default."""

    def ras(p):
        return [-float(p[0]), -float(p[1]), float(p[2])]

    def point(n, label, p):
        return {
            "id": str(n),
            "label": label,
            "description": "",
            "associatedNodeID": "",
            "position": ras(p),
            "orientation": [-1.0, 0, 0, 0, -1.0, 0, 0, 0, 1.0],
            "selected": True,
            "locked": False,
            "visibility": True,
            "positionStatus": "defined",
        }

    return {
        "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/"
        "Markups/Resources/Schema/markups-schema-v1.0.3.json#",
        "markups": [
            {
                "type": "Line",
                "coordinateSystem": "RAS",
                "coordinateUnits": "mm",
                "name": "Biopsy",
                "locked": False,
                "labelFormat": "%N-%d",
                "controlPoints": [point(1, "entry", plan.entry), point(2, "target", plan.target)],
            },
            {
                "type": "Fiducial",
                "coordinateSystem": "RAS",
                "coordinateUnits": "mm",
                "name": "Landmarks",
                "locked": False,
                "labelFormat": "%N-%d",
                "controlPoints": [
                    point(n + 1, name, p) for n, (name, p) in enumerate(plan.landmarks)
                ],
            },
        ],
    }


SEGMENTS = (  # label value in the labelmap, name, sRGB colour, source tissue labels
    (1, "Brain", (0.89, 0.75, 0.72), (GREY, WHITE, CSF, LESION)),
    (2, "Ventricles", (0.35, 0.65, 0.95), (CSF,)),
    (3, "Lesion", (1.0, 0.75, 0.1), (LESION,)),
)


def write_labelmap(labels: np.ndarray, affine: np.ndarray, path) -> Path:
    """Brain, ventricles and lesion as a gzip NRRD labelmap (3D Slicer .seg.nrrd-style names)."""
    import gzip

    out = np.zeros(labels.shape, dtype=np.uint8)
    for value, _name, _rgb, src in SEGMENTS:
        out[np.isin(labels, src)] = value
    # The brain label covers everything inside; smaller segments overwrite it.
    lines = [
        "NRRD0004",
        "# written by orkiosk phantom (synthetic data)",
        "type: uint8",
        "dimension: 3",
        "space: left-posterior-superior",
        f"sizes: {out.shape[2]} {out.shape[1]} {out.shape[0]}",
        "space directions: "
        + " ".join("(" + ",".join(f"{v:.6g}" for v in affine[:3, c]) + ")" for c in range(3)),
        "kinds: domain domain domain",
        "endian: little",
        "encoding: gzip",
        "space origin: (" + ",".join(f"{v:.6g}" for v in affine[:3, 3]) + ")",
    ]
    for n, (value, name, rgb, _src) in enumerate(SEGMENTS):
        lines += [
            f"Segment{n}_ID:=Segment_{value}",
            f"Segment{n}_Name:={name}",
            f"Segment{n}_LabelValue:={value}",
            f"Segment{n}_Layer:=0",
            f"Segment{n}_Color:={rgb[0]:.4g} {rgb[1]:.4g} {rgb[2]:.4g}",
        ]
    path = Path(path)
    with open(path, "wb") as fh:
        fh.write(("\n".join(lines) + "\n\n").encode("ascii"))
        fh.write(gzip.compress(out.tobytes(), compresslevel=6))
    return path


SIZES = {
    # name: (slices, rows, columns), (column, row, slice) spacing mm
    "standard": ((200, 256, 256), (0.9, 0.9, 1.0)),
    "small": ((96, 128, 128), (1.8, 1.8, 2.1)),
    "tiny": ((48, 64, 64), (3.6, 3.6, 4.2)),
}


def write_phantom(
    out_dir,
    size: str = "standard",
    extras: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write the phantom series into out_dir; return a summary dict (paths, sizes)."""
    if size not in SIZES:
        raise PhantomError(f"unknown phantom size {size!r}; choose one of {', '.join(SIZES)}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PhantomError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        raise PhantomError(f"{out}: folder is not empty; give a new or empty folder")
    shape, spacing = SIZES[size]
    affine = head_affine(shape, spacing)
    labels, hu = head_labels(shape, affine)
    ct = head_ct(hu, spacing)
    try:
        return _write_all(out, ct, labels, affine, shape, spacing, extras, progress)
    except OSError as exc:
        raise PhantomError(f"{out}: cannot write the phantom ({exc.strerror or exc})") from exc


def _write_all(out, ct, labels, affine, shape, spacing, extras, progress) -> dict:
    files = write_series(ct, affine, out, progress=progress)
    summary = {"folder": str(out), "files": len(files), "shape_kji": shape, "spacing": spacing}
    if extras:
        plan = phantom_plan()
        mrk = out / "phantom.mrk.json"
        mrk.write_text(json.dumps(markups_json(plan), indent=2) + "\n")
        summary["markups"] = str(mrk)
        summary["labels"] = str(write_labelmap(labels, affine, out / "phantom-labels.nrrd"))
    return summary


# ------------------------------------------------------------------ orientation test object

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
