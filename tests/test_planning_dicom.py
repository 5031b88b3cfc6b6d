"""DICOM series reading: geometry, orientation, and every bad input gets a clear refusal."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from phantoms import BEAD_CENTER, bead_phantom
from pydicom.uid import generate_uid

from orkiosk.planning.dicom.errors import DicomError
from orkiosk.planning.dicom.scan import scan_folder
from orkiosk.planning.dicom.series import read_series
from orkiosk.planning.phantom.head import head_affine
from orkiosk.planning.phantom.series import PATIENT, write_series
from orkiosk.planning.phantom.writer import write_phantom


def _bead_series(folder: Path, row=(1, 0, 0), col=(0, 1, 0), n=24, spacing=6.0, **kw):
    arr, affine = bead_phantom(row, col, n=n, spacing=spacing)
    return write_series(arr, affine, folder, **kw), arr, affine


def _sorted_files(folder: Path) -> list[Path]:
    """The series' files from the lowest slice (along the normal) to the highest."""
    files = [p for p in folder.iterdir() if p.suffix == ".dcm"]

    def along(p):
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        o = np.array(ds.ImageOrientationPatient, float)
        return float(np.array(ds.ImagePositionPatient, float) @ np.cross(o[:3], o[3:]))

    return sorted(files, key=along)


def _bead_lps(volume) -> np.ndarray:
    """Centroid of the dense voxels, in LPS mm."""
    k, j, i = np.nonzero(volume.array > 500)
    return volume.index_to_lps(np.stack([i, j, k], axis=1)).mean(axis=0)


ORIENTATIONS = {
    "axial": ((1, 0, 0), (0, 1, 0)),
    "axial-flipped": ((-1, 0, 0), (0, -1, 0)),
    "sagittal": ((0, 1, 0), (0, 0, -1)),
    "coronal": ((1, 0, 0), (0, 0, -1)),
    "oblique": ((0.9396926, 0.3420201, 0.0), (-0.2620026, 0.7198463, -0.6427876)),
}


@pytest.mark.parametrize("name", sorted(ORIENTATIONS))
def test_orientation_round_trip(tmp_path, name):
    row, col = ORIENTATIONS[name]
    _bead_series(tmp_path, row, col)
    vol = read_series(tmp_path)
    assert np.linalg.det(vol.affine[:3, :3]) > 0  # sorted along the slice normal
    centre = _bead_lps(vol)
    assert np.allclose(centre, BEAD_CENTER, atol=1.5), centre  # left (+x), anterior (-y), up (+z)
    assert vol.info.patient_name == "PHANTOM, HEAD"
    assert vol.info.patient_id == PATIENT["PatientID"]
    assert vol.info.birth_date == "1970-01-01"
    assert vol.array.dtype == np.int16 and vol.array.min() == -1000


def test_phantom_reads_back_with_lesion_on_the_left(tmp_path):
    write_phantom(tmp_path, size="tiny")
    vol = read_series(tmp_path)
    assert vol.shape_ijk == (64, 64, 48)
    assert np.allclose(vol.spacing, (3.6, 3.6, 4.2))
    assert np.allclose(vol.affine, head_affine((48, 64, 64), (3.6, 3.6, 4.2)), atol=1e-3)
    assert vol.info.modality == "CT" and vol.info.study_uid
    assert any("ignored 2 file(s)" in n for n in vol.notes)  # markups + labelmap beside it
    # HU: air about -1000, brain around 30-40, skull above 1000.
    assert vol.array.min() <= -990 and vol.array.max() > 1000


def test_files_sorted_by_position_not_by_name(tmp_path):
    files, arr, _ = _bead_series(tmp_path)
    # Rename so that name order is the reverse of position order.
    ordered = _sorted_files(tmp_path)
    for n, p in enumerate(ordered):
        p.rename(tmp_path / f"z{len(ordered) - n:04d}")
    vol = read_series(tmp_path)
    assert np.array_equal(vol.array, arr)


def test_no_dicom(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.bin").write_bytes(b"\0" * 500)
    with pytest.raises(DicomError, match="no DICOM image found"):
        read_series(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(DicomError, match="no such folder"):
        read_series(tmp_path / "nope")


def test_single_slice(tmp_path):
    _bead_series(tmp_path)
    for p in _sorted_files(tmp_path)[1:]:
        p.unlink()
    with pytest.raises(DicomError, match="single slice"):
        read_series(tmp_path)


def test_missing_slices_name_neighbours(tmp_path):
    # One missing slice is interpolated (tests/test_planning_dicom_geometry.py); three side by
    # side leave a 24 mm gap: refused, the neighbours named.
    _bead_series(tmp_path)
    files = _sorted_files(tmp_path)
    for p in files[10:13]:
        p.unlink()
    with pytest.raises(DicomError, match=r"3 slice\(s\) missing") as err:
        read_series(tmp_path)
    assert files[9].name in str(err.value) and files[13].name in str(err.value)


def test_truncated_pixel_data_names_file(tmp_path):
    _bead_series(tmp_path)
    victim = _sorted_files(tmp_path)[7]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 700])
    with pytest.raises(DicomError, match="truncated") as err:
        read_series(tmp_path)
    assert victim.name in str(err.value)


def test_truncated_header_names_file(tmp_path):
    _bead_series(tmp_path)
    victim = _sorted_files(tmp_path)[0]  # an end slice: the spacing check could not see it
    victim.write_bytes(victim.read_bytes()[:300])
    with pytest.raises(DicomError, match="truncated or damaged") as err:
        read_series(tmp_path)
    assert victim.name in str(err.value)


def test_mixed_orientations(tmp_path):
    _bead_series(tmp_path)
    victim = _sorted_files(tmp_path)[5]
    ds = pydicom.dcmread(victim)
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.save_as(victim)
    with pytest.raises(DicomError, match="mixes slice orientations") as err:
        read_series(tmp_path)
    assert victim.name in str(err.value)


def test_non_uniform_spacing(tmp_path):
    _bead_series(tmp_path)
    files = _sorted_files(tmp_path)
    for p in files[12:]:
        ds = pydicom.dcmread(p)
        pos = [float(v) for v in ds.ImagePositionPatient]
        ds.ImagePositionPatient = [pos[0], pos[1], pos[2] + 2.0]
        ds.save_as(p)
    vol = read_series(tmp_path)  # one 8 mm gap among 6 mm ones: resampled onto the 6 mm grid
    assert any("spacing varies" in n and "resampled" in n for n in vol.notes)
    assert np.allclose(vol.spacing[2], 6.0, atol=0.2)


def test_gantry_tilt_desheared(tmp_path):
    _bead_series(tmp_path)
    for n, p in enumerate(_sorted_files(tmp_path)):
        ds = pydicom.dcmread(p)
        pos = [float(v) for v in ds.ImagePositionPatient]
        ds.ImagePositionPatient = [pos[0], pos[1] + 0.8 * n, pos[2]]  # sheared along y
        ds.GantryDetectorTilt = "7.6"
        ds.save_as(p)
    vol = read_series(tmp_path)
    assert any("gantry tilt of 7.59 degrees (GantryDetectorTilt 7.6" in n for n in vol.notes)
    assert np.allclose(vol.affine[:3, 2] / vol.spacing[2], (0, 0, 1), atol=1e-6)  # orthogonal


def test_steep_shear_refused(tmp_path):
    _bead_series(tmp_path)
    for n, p in enumerate(_sorted_files(tmp_path)):
        ds = pydicom.dcmread(p)
        pos = [float(v) for v in ds.ImagePositionPatient]
        ds.ImagePositionPatient = [pos[0], pos[1] + 4.0 * n, pos[2]]  # 34 degrees
        ds.save_as(p)
    with pytest.raises(DicomError, match="beyond any gantry tilt"):
        read_series(tmp_path)


def test_two_volumes_in_one_series(tmp_path):
    _bead_series(tmp_path)
    p = _sorted_files(tmp_path)[3]
    ds = pydicom.dcmread(p)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(tmp_path / "echo2.dcm")
    with pytest.raises(DicomError, match="same position"):
        read_series(tmp_path)


def test_duplicate_copy_and_stray_files_and_localizer_are_ignored(tmp_path):
    _files, arr, _ = _bead_series(tmp_path / "CT")
    shutil.copy(_sorted_files(tmp_path / "CT")[2], tmp_path / "copy-of-slice.dcm")
    (tmp_path / "README.txt").write_text("exported by the PACS")
    (tmp_path / "DICOMDIR-like.bin").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00" * 10)
    # A localizer series: 3 images, other orientation, ImageType LOCALIZER.
    loc, _ = bead_phantom((0, 1, 0), (0, 0, -1), n=24, spacing=6.0)
    write_series(
        loc[10:13],
        np.eye(4),
        tmp_path / "SCOUT",
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        series_number=1,
        series_description="Topogram",
    )
    with pytest.raises(DicomError, match="damaged|truncated"):
        read_series(tmp_path)  # the broken DICOM file cannot be told apart from a lost slice
    (tmp_path / "DICOMDIR-like.bin").unlink()
    vol = read_series(tmp_path)
    assert np.array_equal(vol.array, arr)
    text = " ".join(vol.notes)
    assert "Topogram" in text and "--series" in text


def test_series_choice(tmp_path):
    _bead_series(tmp_path / "a", n=24)
    _bead_series(tmp_path / "b", n=16, series_description="smaller")
    scan = scan_folder(tmp_path)
    assert len(scan.series) == 2
    small = next(g.uid for g in scan.series.values() if len(g.frames) == 16)
    assert read_series(tmp_path).shape_ijk[2] == 24
    assert read_series(tmp_path, small).shape_ijk[2] == 16
    with pytest.raises(DicomError, match="is not in"):
        read_series(tmp_path, "1.2.3.4")


def test_rescale_slope_gives_float(tmp_path):
    _bead_series(tmp_path)
    for p in tmp_path.iterdir():
        ds = pydicom.dcmread(p)
        ds.RescaleSlope = "0.5"
        ds.RescaleIntercept = "-512"
        ds.save_as(p)
    vol = read_series(tmp_path)
    assert vol.array.dtype == np.float32
    assert vol.array.min() == pytest.approx((-1000 + 1024) * 0.5 - 512)


def test_colour_image_refused(tmp_path):
    _bead_series(tmp_path)
    p = _sorted_files(tmp_path)[4]
    ds = pydicom.dcmread(p)
    ds.SamplesPerPixel = 3
    ds.save_as(p)
    with pytest.raises(DicomError, match="colour image"):
        read_series(tmp_path)


def _compress_all(folder: Path, syntax) -> None:
    for p in folder.iterdir():
        ds = pydicom.dcmread(p)
        ds.compress(syntax)
        ds.save_as(p)


def test_rle_compressed(tmp_path):
    from pydicom.uid import RLELossless

    _f, arr, _ = _bead_series(tmp_path)
    _compress_all(tmp_path, RLELossless)
    assert pydicom.dcmread(next(tmp_path.iterdir())).file_meta.TransferSyntaxUID == RLELossless
    assert np.array_equal(read_series(tmp_path).array, arr)


def test_jpeg2000_lossless_compressed(tmp_path):
    pytest.importorskip("openjpeg", reason="pylibjpeg-openjpeg not installed")
    from pydicom.uid import JPEG2000Lossless

    _f, arr, _ = _bead_series(tmp_path, n=40, spacing=3.6)  # J2K needs >= 32 pixels a side
    _compress_all(tmp_path, JPEG2000Lossless)
    assert np.array_equal(read_series(tmp_path).array, arr)


def test_enhanced_multiframe(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian

    arr, affine = bead_phantom(n=20, spacing=6.0)
    stored = (arr.astype(np.int32) + 1024).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientName = "PHANTOM^HEAD"
    ds.PatientID = "PHANTOM-0001"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Rows = ds.Columns = 20
    ds.NumberOfFrames = 20
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = [6.0, 6.0]
    pm.SliceThickness = 6.0
    shared.PixelMeasuresSequence = Sequence([pm])
    po = Dataset()
    po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = Sequence([po])
    pvt = Dataset()
    pvt.RescaleSlope = 1
    pvt.RescaleIntercept = -1024
    pvt.RescaleType = "HU"
    shared.PixelValueTransformationSequence = Sequence([pvt])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    order = list(range(19, -1, -1))  # stored top first
    for k in order:
        item = Dataset()
        pp = Dataset()
        pp.ImagePositionPatient = [float(v) for v in affine[:3, 3] + affine[:3, 2] * k]
        item.PlanePositionSequence = Sequence([pp])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = stored[order].tobytes()
    pydicom.dcmwrite(tmp_path / "enhanced.dcm", ds, enforce_file_format=True)
    vol = read_series(tmp_path)
    assert np.array_equal(vol.array, arr)
    assert np.allclose(_bead_lps(vol), BEAD_CENTER, atol=1.5)


def test_legacy_multiframe_not_supported(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.20"  # NM
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "NM"
    ds.Rows = ds.Columns = 8
    ds.NumberOfFrames = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.zeros((4, 8, 8), np.uint16).tobytes()
    pydicom.dcmwrite(tmp_path / "nm.dcm", ds, enforce_file_format=True)
    with pytest.raises(DicomError, match="not supported yet"):
        read_series(tmp_path)


def test_phantom_anatomy_is_asymmetric():
    """Lesion on the patient's left, nose in front; the labelmap agrees with the CT."""
    from orkiosk.planning.phantom.anatomy import LESION, LESION_C
    from orkiosk.planning.phantom.head import make_head_volume

    vol, labels = make_head_volume((48, 64, 64), (3.6, 3.6, 4.2))
    k, j, i = np.nonzero(labels == LESION)
    centre = vol.index_to_lps(np.stack([i, j, k], axis=1)).mean(axis=0)
    assert np.allclose(centre, LESION_C, atol=3.0) and centre[0] > 20
    body = np.argwhere(vol.array > -300)
    lps = vol.index_to_lps(body[:, ::-1])
    assert lps[:, 1].min() < -100 and lps[:, 1].max() < 100  # the nose is anterior (-y)
    assert vol.array[labels == LESION].mean() == pytest.approx(80, abs=15)
