"""Series as real archives hold them (issue 17 points 1 and 3): anonymised files with empty UIDs,
JPEG 2000, other transfer syntaxes, command-set elements, private tags, odd character sets,
`--series` by number or description, and enhanced multi-frame CT/MR, on real scanner volumes
(pyradiomics' chest CT and brain MR, pydicom-data's enhanced CT and MR)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
import realdata
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from orkiosk.planning.dicom.errors import DicomError
from orkiosk.planning.dicom.scan import choose_series, scan_folder
from orkiosk.planning.dicom.series import read_series
from orkiosk.planning.phantom.series import write_series


def _crop(name, k, j, i):
    """A crop of a real volume: (array[k, j, i], affine) with the affine's origin moved."""
    array, affine = realdata.need(realdata.nrrd_volume, name)
    sub = np.ascontiguousarray(array[k, j, i])
    aff = affine.copy()
    aff[:3, 3] = affine[:3, :3] @ np.array([i.start, j.start, k.start], float) + affine[:3, 3]
    return sub, aff


def _ct(folder, **kw):
    """12 slices, 96 x 96, of the real chest CT lung1 (the mediastinum and a lung)."""
    array, affine = _crop("lung1", slice(18, 30), slice(200, 296), slice(160, 256))
    kw.setdefault("series_description", "Thorax 5.0 B31f")
    write_series(array, affine, folder, **kw)
    return array, affine


def _mr(folder, **kw):
    """8 slices, 64 x 64, of the real brain MR brain1."""
    array, affine = _crop("brain1", slice(8, 16), slice(96, 160), slice(96, 160))
    kw.setdefault("series_description", "T1 axial")
    write_series(array, affine, folder, modality="MR", intercept=0, **kw)
    return array, affine


def _files(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


def _anonymise(folder, compress=None):
    """Empty Study, Series and SOP Instance UIDs as an anonymiser does; optionally compress."""
    for p in _files(folder):
        ds = pydicom.dcmread(p)
        ds.StudyInstanceUID = ""
        ds.SeriesInstanceUID = ""
        ds.SOPInstanceUID = ""
        ds.file_meta.MediaStorageSOPInstanceUID = ""
        if compress:
            ds.compress(compress)
        ds.save_as(p)


# ------------------------------------------------------------------- anonymised, empty UIDs


def test_anonymised_jpeg2000_series_with_empty_uids_builds(tmp_path):
    array, affine = _ct(tmp_path / "ref")
    _ct(tmp_path / "anon")
    ref = read_series(tmp_path / "ref")
    _anonymise(tmp_path / "anon", compress=JPEG2000Lossless)
    ds = pydicom.dcmread(_files(tmp_path / "anon")[0], stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == JPEG2000Lossless and ds.SeriesInstanceUID == ""
    vol = read_series(tmp_path / "anon")
    assert vol.array.shape == (12, 96, 96)
    assert np.array_equal(vol.array, ref.array)
    assert np.array_equal(vol.array, np.maximum(array, -1024))  # what write_series can store
    assert np.allclose(vol.affine, ref.affine) and np.allclose(vol.affine, affine)
    assert vol.info.series_uid.startswith("no-uid-")
    text = " | ".join(vol.notes)
    assert "(no Series Instance UID)" in text
    assert "12 file(s) of this series carry no Series Instance UID" in text
    assert "grouped as one acquisition by Frame of Reference" in text
    assert not any("duplicate" in why for _p, why in scan_folder(tmp_path / "anon").ignored)


def test_two_anonymised_series_in_one_folder_are_told_apart(tmp_path):
    ct, _ = _ct(tmp_path / "a", series_number=3)
    _mr(tmp_path / "b", series_number=7)
    _mr(tmp_path.parent / f"{tmp_path.name}-mr-ref")
    mr = read_series(tmp_path.parent / f"{tmp_path.name}-mr-ref").array  # slices along the normal
    # a second reconstruction of the same CT: same Frame of Reference? no, but same size and
    # spacing; only its series number and description differ
    _ct(tmp_path / "c", series_number=4, series_description="Thorax 5.0 B70f")
    for sub in "abc":
        _anonymise(tmp_path / sub)
    scan = scan_folder(tmp_path)
    assert len(scan.series) == 3 and not scan.broken
    assert all(g.grouped and g.uid.startswith("no-uid-") for g in scan.series.values())
    assert sorted(len(g.frames) for g in scan.series.values()) == [8, 12, 12]
    # the ids are stable: a second scan gives the same keys
    assert set(scan_folder(tmp_path).series) == set(scan.series)
    assert np.array_equal(read_series(tmp_path, "7").array, mr)
    assert np.array_equal(read_series(tmp_path, "t1 AXIAL").array, mr)
    assert np.array_equal(read_series(tmp_path, "3").array, np.maximum(ct, -1024))
    grp, _ = choose_series(scan, "thorax 5.0 b70f")
    assert grp.number == "4"
    uid = grp.uid
    assert read_series(tmp_path, uid).info.series_number == "4"


def test_series_by_number_or_description_ambiguous_and_missing(tmp_path):
    _mr(tmp_path / "a", series_number=5)
    _mr(tmp_path / "b", series_number=5, series_description="T1 axial")
    with pytest.raises(DicomError, match=r"--series '5' is ambiguous .* 2 series: .*#5.*#5"):
        read_series(tmp_path, "5")
    with pytest.raises(DicomError, match="'t1 axial' is ambiguous"):
        read_series(tmp_path, "t1 axial")
    with pytest.raises(DicomError, match=r"series 'T2 sagittal' is not in .*series found: .*#5"):
        read_series(tmp_path, "T2 sagittal")
    uid = str(pydicom.dcmread(_files(tmp_path / "b")[0]).SeriesInstanceUID)
    assert read_series(tmp_path, uid).info.series_uid == uid


def test_truncated_file_names_the_missing_element(tmp_path):
    _ct(tmp_path)
    _anonymise(tmp_path)
    p = _files(tmp_path)[5]
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 20])  # cut in the middle of the header
    with pytest.raises(DicomError) as err:
        read_series(tmp_path)
    msg = str(err.value)
    assert str(p) in msg and "truncated or damaged: the data set ends after" in msg
    assert "Rows (0028,0010)" in msg and "Pixel Data (7FE0,0010)" in msg
    assert "Series Instance UID" not in msg
    p.write_bytes(data[:-3000])  # cut in the pixel data
    with pytest.raises(DicomError, match=r"cannot decode the pixel data .*less than expected"):
        read_series(tmp_path)


# ------------------------------------------------------------ transfer syntaxes, charsets


def _write_with_commands(path, ds, part10):
    """pydicom's dcmwrite refuses command-set elements in a data set; some archives hold them:
    write them as those archives do (explicit VR little endian)."""
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset, write_file_meta_info

    with open(path, "wb") as raw:
        fp = DicomFileLike(raw)
        fp.is_little_endian, fp.is_implicit_VR = True, not part10
        if part10:
            raw.write(b"\0" * 128 + b"DICM")
            write_file_meta_info(fp, ds.file_meta)
        write_dataset(fp, ds)


def _rewrite(folder, change):
    for p in _files(folder):
        ds = pydicom.dcmread(p)
        change(ds, p)


def test_big_endian_deflated_implicit_group0000_private_read(tmp_path):
    _mr(tmp_path / "ref")
    ref = read_series(tmp_path / "ref")

    def big(ds, p):
        ds.PixelData = ds.pixel_array.astype(">u2").tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
        pydicom.dcmwrite(p, ds, little_endian=False, implicit_vr=False, force_encoding=True)

    def deflated(ds, p):
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(p)

    def implicit(ds, p):
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(p, implicit_vr=True, little_endian=True)

    def commands_private(ds, p):  # a Part 10 file whose data set holds group 0000 elements
        ds.add_new(0x00000002, "UI", ds.SOPClassUID)  # Affected SOP Class UID
        ds.add_new(0x00000100, "US", 1)  # Command Field
        block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
        block.add_new(0x10, "OB", bytes(range(256)) * 4)
        block.add_new(0x08, "CS", "IMAGE NUM 4")
        _write_with_commands(p, ds, part10=True)

    def raw_command_set(ds, p):  # no preamble, no file meta: starts with group 0000
        ds.add_new(0x00000002, "UI", ds.SOPClassUID)
        ds.add_new(0x00000100, "US", 1)
        _write_with_commands(p, ds, part10=False)

    def no_preamble(ds, p):  # file meta (group 0002) at byte 0, no 128-byte preamble and 'DICM'
        ds.save_as(p)
        p.write_bytes(p.read_bytes()[132:])

    variants = (big, deflated, implicit, commands_private, raw_command_set, no_preamble)
    for change in variants:
        folder = tmp_path / change.__name__
        _mr(folder)
        _rewrite(folder, change)
        if change is raw_command_set:
            assert _files(folder)[0].read_bytes()[:4] == b"\x00\x00\x02\x00"
        if change is no_preamble:
            assert _files(folder)[0].read_bytes()[:4] == b"\x02\x00\x00\x00"
        if change is big:
            ds = pydicom.dcmread(_files(folder)[0], stop_before_pixels=True)
            assert ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
        vol = read_series(folder)
        assert np.array_equal(vol.array, ref.array), change.__name__
        assert np.allclose(vol.affine, ref.affine), change.__name__


@pytest.mark.parametrize(
    "charset, name, expected",
    [
        ("ISO_IR 192", "Müller^Jürgen", "MÜLLER, Jürgen"),
        (["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう", "YAMADA, Tarou"),
        ("GB18030", "Wang^XiaoDong=王^小东=", "WANG, XiaoDong"),
        ("ISO_IR 999", "Dupont^Hélène", None),  # unknown: decoded somehow, never a crash
        ("ISO-IR 100", "Dupont^Hélène", None),  # misspelt
        ("ISO_IR 192", "Dupont^Hélène", None),  # says UTF-8, holds latin-1 bytes
    ],
)
def test_character_sets_read_and_a_wrong_one_does_not_stop_the_build(
    tmp_path, charset, name, expected
):
    _mr(tmp_path)

    def change(ds, p):
        ds.SpecificCharacterSet = charset
        ds.SeriesDescription = "T1 axial"
        if expected is None:  # written as latin-1 bytes, the character set wrongly named
            ds.PatientName = name.encode("latin-1")
        else:
            ds.PatientName = name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(p)

    _rewrite(tmp_path, change)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vol = read_series(tmp_path, "t1 axial")
    assert vol.array.shape == (8, 64, 64)
    if expected:
        assert vol.info.patient_name == expected
    else:
        assert vol.info.patient_name.upper().startswith("DUPONT")


# ------------------------------------------------------------------ enhanced multi-frame


def test_enhanced_ct_from_pydicom_data(tmp_path):
    src = realdata.need(realdata.pydicom_file, "eCT_Supplemental.dcm")
    (tmp_path / "e.dcm").write_bytes(src.read_bytes())
    vol = read_series(tmp_path)
    # two frames, 512 x 512, 0.388672 mm pixels, 10 mm apart (the per-frame positions)
    assert vol.array.shape == (2, 512, 512)
    assert np.allclose(vol.spacing, (0.388672, 0.388672, 10.0))
    # the slice normal of orientation (-1,0,0 / 0,1,0) points down (0, 0, -1): the upper frame
    # (frame 2, z -149) comes first
    assert np.allclose(vol.affine[:3, 3], (99.5, -301.5, -149.0))
    assert np.allclose(vol.affine[:3, 2], (0, 0, -10.0))
    ds = pydicom.dcmread(src)
    stored = ds.pixel_array.astype(np.int32) - 1024  # rescale from the shared groups
    assert np.array_equal(vol.array[0], stored[1]) and np.array_equal(vol.array[1], stored[0])


@pytest.mark.parametrize(
    "name", ["emri_small.dcm", "emri_small_big_endian.dcm", "emri_small_jpeg_2k_lossless.dcm"]
)
def test_enhanced_mr_without_functional_groups_is_refused(tmp_path, name):
    # pydicom-data's emri_small files carry 10 frames but no functional groups: no geometry
    src = realdata.need(realdata.pydicom_file, name)
    ds = pydicom.dcmread(src, stop_before_pixels=True)
    assert "PerFrameFunctionalGroupsSequence" not in ds and "ImagePositionPatient" not in ds
    (tmp_path / name).write_bytes(src.read_bytes())
    with pytest.raises(DicomError, match="10 frames but without per-frame positions"):
        read_series(tmp_path)


def _legacy_converted(src_folder, out_file, modality):
    import highdicom

    cls = (
        highdicom.legacy.LegacyConvertedEnhancedCTImage
        if modality == "CT"
        else highdicom.legacy.LegacyConvertedEnhancedMRImage
    )
    singles = [pydicom.dcmread(p) for p in _files(src_folder)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enhanced = cls(singles, generate_uid(), 9, generate_uid(), 1)
    enhanced.save_as(out_file)
    return enhanced


@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_enhanced_legacy_converted_matches_single_frames(tmp_path, modality):
    (_ct if modality == "CT" else _mr)(tmp_path / "single")
    ref = read_series(tmp_path / "single")
    (tmp_path / "multi").mkdir()
    _legacy_converted(tmp_path / "single", tmp_path / "multi" / "enhanced.dcm", modality)
    vol = read_series(tmp_path / "multi")
    assert np.array_equal(vol.array, ref.array)
    assert np.allclose(vol.affine, ref.affine, atol=1e-4)


def test_enhanced_with_two_stacks_builds_the_largest(tmp_path):
    array, _ = _ct(tmp_path / "single")
    ref = read_series(tmp_path / "single")
    (tmp_path / "multi").mkdir()
    out = tmp_path / "multi" / "enhanced.dcm"
    _legacy_converted(tmp_path / "single", out, "CT")
    ds = pydicom.dcmread(out)
    # frames 0..7 as stack "1", 8..11 as stack "2", each with its in-stack position; and a
    # per-frame rescale on stack 1 (slope 1, intercept -1024 written per frame)
    order = np.argsort(
        [
            float(f.PlanePositionSequence[0].ImagePositionPatient[2])
            for f in ds.PerFrameFunctionalGroupsSequence
        ]
    )
    for rank, n in enumerate(order):
        item = ds.PerFrameFunctionalGroupsSequence[int(n)]
        if "FrameContentSequence" not in item:
            item.FrameContentSequence = [pydicom.Dataset()]
        item.FrameContentSequence[0].StackID = "1" if rank < 8 else "2"
        item.FrameContentSequence[0].InStackPositionNumber = rank + 1 if rank < 8 else rank - 7
    ds.save_as(out)
    vol = read_series(tmp_path / "multi")
    assert vol.array.shape == (8, 96, 96)
    assert np.array_equal(vol.array, ref.array[:8])
    assert np.allclose(vol.affine, ref.affine, atol=1e-4)
    assert any(
        "holds 2 stacks (stack 1: 8 frames, stack 2: 4 frames); built stack 1" in n
        for n in vol.notes
    )
    del array


# ----------------------------------------------------------------------------- the CLI


def test_cli_builds_an_anonymised_jpeg2000_ct(tmp_path):
    array, affine = _crop("lung1", slice(14, 34), slice(128, 384), slice(96, 416))
    write_series(array, affine, tmp_path / "dicom", series_description="Thorax")
    _anonymise(tmp_path / "dicom", compress=JPEG2000Lossless)
    exe = Path(sys.executable).parent / "orkiosk"
    out = subprocess.run(
        [
            str(exe),
            "build",
            str(tmp_path / "dicom"),
            "-o",
            str(tmp_path / "pkg"),
            "--preset",
            "bone",
            "--series",
            "thorax",
            "--quiet",
            "--no-report",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert "no Series Instance UID" in out.stdout + out.stderr
    assert (tmp_path / "pkg").is_dir()


def test_enhanced_dynamic_builds_the_first_temporal_position(tmp_path):
    _ct(tmp_path / "single")
    ref = read_series(tmp_path / "single")
    (tmp_path / "multi").mkdir()
    out = tmp_path / "multi" / "enhanced.dcm"
    _legacy_converted(tmp_path / "single", out, "CT")
    ds = pydicom.dcmread(out)
    items = ds.PerFrameFunctionalGroupsSequence
    order = np.argsort([float(f.PlanePositionSequence[0].ImagePositionPatient[2]) for f in items])
    # the lower 6 slices as time 1; the upper 6 become time 2 of the same 6 positions
    for rank, n in enumerate(order):
        item = items[int(n)]
        if "FrameContentSequence" not in item:
            item.FrameContentSequence = [pydicom.Dataset()]
        item.FrameContentSequence[0].TemporalPositionIndex = 1 if rank < 6 else 2
        if rank >= 6:
            src = items[int(order[rank - 6])].PlanePositionSequence[0].ImagePositionPatient
            item.PlanePositionSequence[0].ImagePositionPatient = list(src)
    ds.save_as(out)
    vol = read_series(tmp_path / "multi")
    assert vol.array.shape == (6, 96, 96)
    assert np.array_equal(vol.array, ref.array[:6])
    assert np.allclose(vol.affine, ref.affine, atol=1e-4)
    assert any("holds 2 temporal positions" in n and "Index 1, 6 frames" in n for n in vol.notes)
