"""DICOM SEG made with highdicom on the CT phantom: built into a package with each segment on the
right side in LPS, overlapping segments kept apart, fractional segments thresholded with a note,
and a SEG of another Frame of Reference or series refused naming both UIDs."""

from __future__ import annotations

import time

import numpy as np
import pytest
from phantoms import dicom_seg

from orkiosk.cli import main
from orkiosk.plan.colors import linear
from orkiosk.plan.package import load_package
from orkiosk.planning.dicom.series import read_series
from orkiosk.planning.dicomseg import read_dicom_seg
from orkiosk.planning.labels import LabelError, read_labels
from orkiosk.planning.phantom.anatomy import LESION_C
from orkiosk.planning.sources import read_label_source


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    d = tmp_path_factory.mktemp("phantom")
    assert main(["phantom", str(d / "ct"), "--size", "tiny"]) == 0
    lv = read_labels(d / "ct" / "phantom-labels.nrrd")
    volume = read_series(d / "ct")
    return d, lv, volume


def _segments(lv):
    lab = lv.array
    return [
        ("Brain", lab > 0, (227, 191, 184)),  # the whole brain: overlaps the two below
        ("Ventricles", lab == 2, (89, 166, 242)),
        ("Lesion", lab == 3, (255, 191, 26)),
    ]


def _on_grid(read, layer, lv):
    """A layer of `read` resampled (nearest voxel) onto the grid of `lv`: compares in LPS."""
    kji = np.argwhere(read.array[layer])
    lps = kji[:, ::-1] @ read.affine[:3, :3].T + read.affine[:3, 3]
    ijk = np.linalg.solve(lv.affine[:3, :3], (lps - lv.affine[:3, 3]).T).T
    assert np.allclose(ijk, np.round(ijk), atol=1e-3)  # the same voxels, maybe in another order
    out = np.zeros(lv.array.shape, bool)
    out[tuple(np.round(ijk[:, ::-1]).astype(int).T)] = True
    return out


def _build(capsys, *args):
    rc = main(["build", *map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def test_dicom_seg_builds_with_segments_on_the_right_side(phantom, tmp_path, capsys):
    d, lv, volume = phantom
    seg_path = dicom_seg(d / "ct", lv.affine, _segments(lv), tmp_path / "seg.dcm")
    t0 = time.perf_counter()
    read = read_dicom_seg(seg_path, volume)
    print(f"DICOM SEG read: {1000 * (time.perf_counter() - t0):.0f} ms")
    assert [s.name for s in read.segments] == ["Brain", "Ventricles", "Lesion"]
    # Overlaps kept: the brain layer still holds the lesion's voxels.
    assert np.array_equal(_on_grid(read, 0, lv), lv.array > 0)
    assert np.array_equal(_on_grid(read, 2, lv), lv.array == 3)
    assert np.allclose(read.segments[2].color, (1.0, 0.749, 0.102), atol=2 / 255)
    capsys.readouterr()
    rc, out, err = _build(
        capsys, d / "ct", "-o", tmp_path / "pkg", "--labels", seg_path, "--triangles", "3000"
    )
    assert rc == 0, err
    pkg = load_package(tmp_path / "pkg")
    lesion = pkg.meshes["lesion"].positions.mean(axis=0)
    assert lesion[0] > 20  # the patient's LEFT (+x LPS)
    assert np.allclose(lesion, LESION_C, atol=4.0)
    brain = pkg.meshes["brain"].positions
    assert brain[:, 0].min() < -40 < 40 < brain[:, 0].max()  # the whole brain, both sides
    st = pkg.plan.structure("lesion")
    assert st.category == "tumour"
    assert np.allclose(st.color, linear((1.0, 0.749, 0.102)), atol=0.01)  # sRGB -> linear


def test_dicom_seg_of_another_frame_of_reference_is_refused(phantom, tmp_path, capsys):
    d, lv, volume = phantom
    other = "1.2.826.0.1.3680043.8.498.1234567890"
    seg_path = dicom_seg(
        d / "ct", lv.affine, _segments(lv), tmp_path / "other.dcm", frame_of_reference=other
    )
    with pytest.raises(LabelError) as info:
        read_label_source(seg_path, volume)
    assert other in str(info.value) and volume.info.frame_of_reference_uid in str(info.value)
    capsys.readouterr()
    rc, _out, err = _build(capsys, d / "ct", "-o", tmp_path / "pkg", "--labels", seg_path)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert other in err and volume.info.frame_of_reference_uid in err and "other.dcm" in err


def test_dicom_seg_of_another_series_is_refused(phantom, tmp_path):
    d, lv, volume = phantom
    seg_path = dicom_seg(d / "ct", lv.affine, _segments(lv)[2:], tmp_path / "s.dcm")
    import pydicom

    ds = pydicom.dcmread(str(seg_path))
    ds.ReferencedSeriesSequence[0].SeriesInstanceUID = "1.2.3.4.5"
    ds.save_as(str(seg_path))
    with pytest.raises(
        LabelError,
        match=rf"made on series 1\.2\.3\.4\.5, not on the CT series "
        rf"{volume.info.series_uid}",
    ):
        read_label_source(seg_path, volume)


def test_fractional_seg_is_thresholded_with_a_note(phantom, tmp_path):
    d, lv, volume = phantom
    lesion = (lv.array == 3).astype(np.float32)
    soft = lesion * 0.6  # every voxel 60 % inside: kept
    faint = lesion * 0.3  # 30 %: not kept, segment empty and left out
    seg_path = dicom_seg(
        d / "ct",
        lv.affine,
        [("Soft", soft, (255, 0, 0)), ("Faint", faint, (0, 255, 0))],
        tmp_path / "frac.dcm",
        fractional=True,
    )
    (read,) = read_label_source(seg_path, volume)
    assert [s.name for s in read.segments] == ["Soft"]
    assert np.array_equal(_on_grid(read, 0, lv), lv.array == 3)
    assert any("thresholded at 0.5" in n for n in read.notes)
    assert any("Faint" in n and "no voxel" in n for n in read.notes)


def test_labelmap_seg_gives_each_label_its_segment(phantom, tmp_path, capsys):
    """A LABELMAP SEG (one segment number per voxel) reads like a BINARY one: each segment a
    layer of its own, on the right side, and builds into a package."""
    d, lv, volume = phantom
    seg_path = dicom_seg(d / "ct", lv.affine, _segments(lv)[1:], tmp_path / "lm.dcm", labelmap=True)
    import pydicom

    assert pydicom.dcmread(str(seg_path)).SegmentationType == "LABELMAP"
    read = read_dicom_seg(seg_path, volume)
    assert [s.name for s in read.segments] == ["Ventricles", "Lesion"]
    assert np.array_equal(_on_grid(read, 0, lv), lv.array == 2)
    assert np.array_equal(_on_grid(read, 1, lv), lv.array == 3)
    assert np.allclose(read.segments[1].color, (1.0, 0.749, 0.102), atol=2 / 255)
    capsys.readouterr()
    rc, _out, err = _build(
        capsys, d / "ct", "-o", tmp_path / "pkg", "--labels", seg_path, "--triangles", "3000"
    )
    assert rc == 0, err
    lesion = load_package(tmp_path / "pkg").meshes["lesion"].positions.mean(axis=0)
    assert lesion[0] > 20 and np.allclose(lesion, LESION_C, atol=4.0)  # the patient's LEFT


def test_other_dicom_objects_are_not_labels(phantom, tmp_path):
    d, _lv, volume = phantom
    ct_file = next(p for p in sorted((d / "ct").iterdir()) if p.suffix not in (".json", ".nrrd"))
    with pytest.raises(LabelError, match=f"{ct_file.name}: a DICOM CT Image Storage object is not"):
        read_label_source(ct_file, volume)
