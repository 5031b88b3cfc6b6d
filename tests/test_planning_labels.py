"""Label volumes through the libraries made for them (slicerio, pynrrd, nibabel) with our checks on
top: the same segmentation written in RAS and in LPS gives the same meshes, layers keep overlapping
segments apart, and bad files are refused in one line naming the file."""

from __future__ import annotations

import nibabel
import nrrd
import numpy as np
import pytest
import slicerio
import slicerio.segmentation
from phantoms import BEAD_CENTER, bead_phantom

from orkiosk.planning import segment as seg
from orkiosk.planning.labels import LabelError, read_labels, write_nifti
from orkiosk.planning.surface import build_mesh, signed_volume_mm3

TERMINOLOGY = (
    "Segmentation category and type - 3D Slicer General Anatomy list~SCT^123037004^Anatomical "
    "Structure~SCT^86049000^Neoplasm~^^~Anatomic codes - DICOM master list~^^~^^"
)


def _layers():
    """Two overlapping segments on a 4 mm grid: the bead, and a slab through it (layer 1)."""
    arr, affine = bead_phantom(n=30, spacing=4.0)
    bead = (arr > 500).astype(np.uint8)
    slab = np.zeros_like(bead)
    slab[12:20, 8:22, 14:26] = 1  # overlaps the bead
    return np.stack([bead, slab]), affine


def _slicer_segmentation(layers, affine):
    return {
        "voxels": np.transpose(layers, (0, 3, 2, 1)),  # slicerio keeps pynrrd's (layer, i, j, k)
        "ijkToLPS": affine,
        "segments": [
            {
                "id": "Segment_1",
                "name": "Bead",
                "labelValue": 1,
                "layer": 0,
                "color": [1.0, 0.5, 0.0],
                "terminology": slicerio.segmentation.terminology_entry_from_string(TERMINOLOGY),
            },
            {"id": "Segment_2", "name": "Slab", "labelValue": 1, "layer": 1, "color": [0, 0, 1.0]},
        ],
    }


def _write_ras(path, layers, affine):
    """The same segmentation as 3D Slicer writes it in RAS (space: right-anterior-superior)."""
    flip = np.diag([-1.0, -1.0, 1.0])
    header = {
        "space": "right-anterior-superior",
        "space directions": np.vstack([np.full(3, np.nan), (flip @ affine[:3, :3]).T]),
        "space origin": flip @ affine[:3, 3],
        "kinds": ["list", "domain", "domain", "domain"],
        "encoding": "gzip",
        "Segment0_ID": "Segment_1",
        "Segment0_Name": "Bead",
        "Segment0_LabelValue": "1",
        "Segment0_Layer": "0",
        "Segment0_Color": "1 0.5 0",
        "Segment0_Tags": f"TerminologyEntry:{TERMINOLOGY}|",
        "Segment1_ID": "Segment_2",
        "Segment1_Name": "Slab",
        "Segment1_LabelValue": "1",
        "Segment1_Layer": "1",
        "Segment1_Color": "0 0 1",
    }
    nrrd.write(str(path), np.transpose(layers, (0, 3, 2, 1)), header)
    return path


def _meshes(lv):
    out = {}
    for layer, value, spec in seg.label_specs(lv):
        mesh, _ = build_mesh(seg.segment_labels(lv, value, spec, layer), budget=4000)
        out[spec.name] = (mesh, spec)
    return out


def test_seg_nrrd_in_ras_and_lps_gives_the_same_meshes(tmp_path):
    layers, affine = _layers()
    lps = tmp_path / "lps.seg.nrrd"
    slicerio.write_segmentation(str(lps), _slicer_segmentation(layers, affine))
    assert "left-posterior-superior" in lps.read_bytes()[:400].decode("latin-1")
    ras = _write_ras(tmp_path / "ras.seg.nrrd", layers, affine)
    a, b = read_labels(lps), read_labels(ras)
    assert np.allclose(a.affine, affine) and np.allclose(b.affine, affine)
    assert [s.name for s in a.segments] == [s.name for s in b.segments] == ["Bead", "Slab"]
    assert a.segments[0].terminology == b.segments[0].terminology == "Neoplasm"
    ma, mb = _meshes(a), _meshes(b)
    for name in ("Bead", "Slab"):
        assert np.array_equal(ma[name][0].positions, mb[name][0].positions)
        assert np.array_equal(ma[name][0].indices, mb[name][0].indices)
    bead, spec = ma["Bead"]
    assert np.allclose(bead.positions.mean(axis=0), BEAD_CENTER, atol=1.5)  # patient's left
    assert signed_volume_mm3(bead) > 0
    assert spec.category == "tumour"  # from the terminology, the name says nothing
    # The overlapping slab stays whole: a layer of its own, not cut by the bead.
    slab = ma["Slab"][0]
    assert abs(signed_volume_mm3(slab) - 8 * 14 * 12 * 64) / (8 * 14 * 12 * 64) < 0.15


def test_plain_nrrd_and_nifti_read_by_their_libraries(tmp_path):
    layers, affine = _layers()
    labels = layers[0] * 2
    header = {
        "space": "left-posterior-superior",
        "space directions": affine[:3, :3].T,
        "space origin": affine[:3, 3],
        "kinds": ["domain"] * 3,
    }
    nrrd.write(str(tmp_path / "p.nrrd"), np.transpose(labels, (2, 1, 0)), header)
    lv = read_labels(tmp_path / "p.nrrd")
    assert lv.values() == [2] and np.allclose(lv.affine, affine)
    lv = read_labels(write_nifti(tmp_path / "p.nii.gz", labels, affine))
    assert lv.values() == [2] and np.allclose(lv.affine, affine, atol=1e-4)
    assert np.array_equal(lv.array, labels)


def test_bad_label_files_are_refused_naming_the_file(tmp_path):
    layers, affine = _layers()
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    img = nibabel.Nifti1Image(np.transpose(layers[0], (2, 1, 0)), ras)
    img.set_sform(None, code=0)
    img.set_qform(None, code=0)
    nibabel.save(img, str(tmp_path / "nopos.nii"))
    with pytest.raises(LabelError, match="nopos.nii: NIfTI has neither sform nor qform"):
        read_labels(tmp_path / "nopos.nii")
    # Values beyond int16 stored as int16: nibabel writes them with a scale factor.
    img = nibabel.Nifti1Image(np.transpose(layers[0], (2, 1, 0)) * 100000.0, ras)
    img.set_data_dtype(np.int16)
    nibabel.save(img, str(tmp_path / "scaled.nii"))
    with pytest.raises(LabelError, match="scaled.nii: NIfTI labelmap must not be scaled"):
        read_labels(tmp_path / "scaled.nii")
    head = {"space": "left-posterior-superior", "space directions": affine[:3, :3].T}
    nrrd.write(str(tmp_path / "f.nrrd"), layers[0].astype(np.float32), head)
    with pytest.raises(LabelError, match="f.nrrd: NRRD type float is not a labelmap"):
        read_labels(tmp_path / "f.nrrd")
    nrrd.write(str(tmp_path / "sp.nrrd"), layers[0], {"space": "scanner-xyz"})
    with pytest.raises(LabelError, match="sp.nrrd: NRRD space 'scanner-xyz'"):
        read_labels(tmp_path / "sp.nrrd")
    # The voxel limit is checked from the header, before any data is read.
    big = tmp_path / "big.nrrd"
    big.write_bytes(
        b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2000 2000 2000\nencoding: raw\n"
        b"space: left-posterior-superior\n\n\0"
    )
    with pytest.raises(LabelError, match="big.nrrd: 8000000000 voxels"):
        read_labels(big)
    bad = tmp_path / "badlayer.seg.nrrd"
    segmentation = _slicer_segmentation(layers, affine)
    segmentation["segments"][1]["layer"] = 5
    slicerio.write_segmentation(str(bad), segmentation)
    with pytest.raises(LabelError, match="badlayer.seg.nrrd: segment 'Slab' names layer 5"):
        read_labels(bad)
