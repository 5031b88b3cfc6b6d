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


def dicom_seg(
    ct_dir, affine, segments, out, *, fractional=False, labelmap=False, frame_of_reference=None
):
    """A DICOM SEG made with highdicom on the CT in `ct_dir`.

    `segments`: (name, mask[k, j, i] bool or 0..1 float, sRGB 0..255) on the grid of `affine`.
    Overlapping masks are allowed (one segment each), except in a LABELMAP SEG (`labelmap`:
    one segment number per voxel, as 3D Slicer and newer tools write them).
    `frame_of_reference` replaces the SEG's Frame of Reference UID (a SEG made on another
    scan)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    sources = ct_datasets(ct_dir)
    ks = [slice_index(ds, affine) for ds in sources]
    pixels = np.stack([np.stack([m[k] for _n, m, _c in segments], axis=-1) for k in ks])
    if labelmap:  # one label per voxel: the segment's number
        pixels = (pixels.astype(np.uint8) * np.arange(1, len(segments) + 1, dtype=np.uint8)).max(-1)
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
            else hd.seg.SegmentationTypeValues.LABELMAP
            if labelmap
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


def rtstruct(ct_dir, affine, rois, out, *, frame_of_reference=None, points=64, z_shift=0.0):
    """An RT Structure Set written with pydicom on the CT in `ct_dir`.

    `rois`: (name, centre LPS, radius mm, display colour 0..255): spheres drawn as one CLOSED_PLANAR
    polygon of `points` vertices on every CT slice they cut (as a planning system draws them).
    `z_shift` moves every contour off its slice (a structure set drawn on another grid)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    sources = ct_datasets(ct_dir)
    ct = sources[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID"):
        setattr(ds, key, getattr(ct, key, ""))
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.StructureSetLabel = "Test"
    ds.StructureSetDate = "20250101"
    ref = Dataset()
    ref.FrameOfReferenceUID = frame_of_reference or ct.FrameOfReferenceUID
    series = Dataset()
    series.SeriesInstanceUID = ct.SeriesInstanceUID
    series.ContourImageSequence = Sequence([_image_ref(s) for s in sources])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = ct.StudyInstanceUID
    study.RTReferencedSeriesSequence = Sequence([series])
    ref.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref])
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    ds.RTROIObservationsSequence = Sequence()
    for n, (name, centre, radius, colour) in enumerate(rois, 1):
        roi = Dataset()
        roi.ROINumber = n
        roi.ReferencedFrameOfReferenceUID = ref.FrameOfReferenceUID
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "MANUAL"
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ROIDisplayColor = list(colour)
        item.ReferencedROINumber = n
        item.ContourSequence = Sequence(_sphere_contours(sources, centre, radius, points, z_shift))
        ds.ROIContourSequence.append(item)
        obs = Dataset()
        obs.ObservationNumber = n
        obs.ReferencedROINumber = n
        obs.RTROIInterpretedType = "ORGAN"
        obs.ROIInterpreter = ""
        ds.RTROIObservationsSequence.append(obs)
    pydicom.dcmwrite(str(out), ds, enforce_file_format=True)
    return Path(out)


def _image_ref(ds):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    return item


def _sphere_contours(sources, centre, radius, points, z_shift):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    out = []
    angles = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    for s in sources:
        z = float(s.ImagePositionPatient[2])
        dz = z - centre[2]
        if abs(dz) >= radius:
            continue
        r = np.sqrt(radius**2 - dz**2)
        pts = np.stack(
            [
                centre[0] + r * np.cos(angles),
                centre[1] + r * np.sin(angles),
                np.full(points, z + z_shift),
            ],
            axis=1,
        )
        c = Dataset()
        c.ContourImageSequence = Sequence([_image_ref(s)])
        c.ContourGeometricType = "CLOSED_PLANAR"
        c.NumberOfContourPoints = points
        c.ContourData = [f"{v:.3f}" for v in pts.ravel()]
        out.append(c)
    return out
