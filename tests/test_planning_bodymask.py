"""The patient, not the furniture: the body mask (bodymask.py) keeps the CT table, a head holder
and the outside of the reconstruction circle out of every CT structure; the summary says what the
clean-up left out."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import realdata
from scipy import ndimage

from orkiosk.cli import main
from orkiosk.planning import segment as seg
from orkiosk.planning.bodymask import body_mask
from orkiosk.planning.dicom.volume import SeriesInfo, Volume
from orkiosk.planning.phantom.head import make_head_volume
from orkiosk.planning.phantom.series import write_series
from orkiosk.planning.specs import parse_structure, preset


def _kept(s: seg.Segmentation, shape) -> np.ndarray:
    """The voxels of the full grid inside a segmentation (field > 0)."""
    out = np.zeros(shape, dtype=bool)
    k, j, i = s.origin_kji
    f = s.field[1:-1, 1:-1, 1:-1] > 0
    out[k : k + f.shape[0], j : j + f.shape[1], i : i + f.shape[2]] = f
    return out


@pytest.fixture(scope="module")
def lung2():
    """Real chest CT with the scanner table under the patient: 16 slices of 5 mm, 512 x 512."""
    arr, affine = realdata.need(realdata.nrrd_volume, "lung2")
    arr = np.ascontiguousarray(arr[22:38])
    affine = affine.copy()
    affine[:3, 3] += 22 * affine[:3, 2]
    return Volume(arr, affine, SeriesInfo("1", modality="CT"))


def test_table_left_out_of_a_real_chest_ct(lung2):
    body = body_mask(lung2)
    arr = lung2.array
    full = (slice(0, arr.shape[0]), slice(0, arr.shape[1]), slice(0, arr.shape[2]))
    inside = body.crop(full)
    # Posterior is +j here (LPS, rows run to the patient's back): the table lies below the back.
    back = int(np.flatnonzero(inside.any(axis=(0, 2)))[-1])
    table_rows = (arr[:, back + 4 :, :] > -300).any(axis=(0, 2))
    assert table_rows.sum() >= 5, "lung2 has its table under the patient"
    # The body holds the lungs (air inside the patient) and nearly all the tissue.
    assert inside[arr.shape[0] // 2, 256, 256 - 90]  # right lung
    assert (
        np.count_nonzero(inside & (arr > -300)) / np.count_nonzero((arr > -300)[:, : back + 1])
        > 0.97
    )
    for spec in (parse_structure("Soft:-300"), parse_structure("bone:226:3071"), preset("vessels")):
        kept = _kept(seg.segment_threshold(lung2, spec, body=body), arr.shape)
        furniture = kept[:, back + 1 :, :].sum()
        assert furniture == 0, spec.name
        if spec.name != "bone":  # the table is 150..400 HU: no bone in it at 226 HU
            table = _kept(seg.segment_threshold(lung2, spec), arr.shape)[:, back + 4 :, :]
            assert table.sum() > 1000, f"{spec.name}: --keep-table keeps the table"
    s = seg.segment_threshold(lung2, parse_structure("Soft:-300"), body=body)
    assert s.dropped.outside_body_ml > 20
    assert "outside the body" in s.dropped.summary()


def holder_phantom():
    """The phantom head lying in a head holder: an arc of carbon/acrylic (150 HU) with dense
    rims (800 HU) 5 to 13 mm behind the skin, touching the back of the head through a gel
    cushion (-100 HU). Painted here, for the test: the product phantom has no holder."""
    vol, _ = make_head_volume(shape_kji=(84, 120, 110), spacing_ijk=(2.0, 2.0, 2.5), blur=False)
    arr = vol.array.astype(np.float32)
    dist = ndimage.distance_transform_edt(arr <= -300, sampling=np.array(vol.spacing)[::-1])
    k, j, i = np.indices(arr.shape)
    x, y, z = np.moveaxis(vol.index_to_lps(np.stack([i, j, k], -1)), -1, 0)
    behind = (y > 40) & (z < 30)  # the back of the head, below the vertex
    shell = behind & (dist > 5) & (dist <= 13)
    arr[shell] = 150
    arr[shell & ((dist <= 8) | (dist > 10))] = 800
    cushion = (dist > 0) & (dist <= 5) & (np.abs(x) < 15) & (np.abs(z + 10) < 15) & (y > 60)
    arr[cushion] = -100
    return replace(vol, array=np.rint(arr).astype(np.int16)), shell


def test_head_holder_left_out_of_bone_and_skin():
    vol, shell = holder_phantom()
    body = body_mask(vol)
    bone = seg.segment_threshold(vol, preset("bone"), body=body)
    assert not (_kept(bone, shell.shape) & shell).any()
    assert bone.dropped.outside_body_ml > 100  # the holder's rims: about 160 ml
    # --keep-table: the holder is drawn as bone (what the issue saw on a real head CT).
    held = seg.segment_threshold(vol, preset("bone"))
    assert (_kept(held, shell.shape) & shell).sum() > 0.5 * shell.sum()  # 73 %: the rims
    assert held.volume_ml > bone.volume_ml + 100
    skin = seg.segment_threshold(vol, preset("skin"), body=body)
    in_shell = (_kept(skin, shell.shape) & shell).sum()
    assert in_shell < 0.1 * shell.sum()  # at most the contact behind the cushion
    whole = seg.segment_threshold(vol, preset("skin"))
    assert (_kept(whole, shell.shape) & shell).sum() == shell.sum()
    # The head itself stays whole: the skin differs by the holder only (and the cushion).
    assert abs((whole.volume_ml - shell.sum() * 10 / 1000) - skin.volume_ml) < 10


def _circle_ct(pad_value: int) -> Volume:
    """A body (40 HU, with a lung of -850 HU) inside a reconstruction circle of air (-1000 HU),
    `pad_value` outside the circle."""
    n = 96
    j, i = np.mgrid[:n, :n] - (n - 1) / 2
    r = np.hypot(i, j)
    sl = np.full((n, n), pad_value, np.int16)
    sl[r < 46] = -1000
    sl[np.hypot(i / 30, j / 22) < 1] = 40
    sl[np.hypot((i - 10) / 10, j / 10) < 1] = -850  # a lung
    arr = np.repeat(sl[None], 20, axis=0)
    return Volume(arr, np.diag([2.0, 2.0, 3.0, 1.0]), SeriesInfo("1", modality="CT"))


@pytest.mark.parametrize("pad_value", [-3024, -2048])
def test_padding_outside_the_reconstruction_circle_makes_no_surface(pad_value):
    vol = _circle_ct(pad_value)
    arr = vol.array
    body = body_mask(vol)
    lung = (arr == -850).sum() * 12 / 1000
    for b in (body, None):
        airway = seg.segment_threshold(vol, preset("airway"), body=b)
        assert airway.volume_ml == pytest.approx(lung), "only the air inside the body"
        for text in ("Air::-800", "Everything:-4000"):
            s = seg.segment_threshold(vol, parse_structure(text), body=b)
            assert (arr[_kept(s, arr.shape)] > -1500).all(), text
    with pytest.raises(seg.SegmentError, match="no voxel"):
        seg.segment_threshold(vol, parse_structure(f"Padding:{pad_value}:{pad_value}"))


def test_custom_threshold_keeps_every_piece_and_says_what_it_dropped():
    arr = np.full((40, 40, 40), -1000, np.int16)
    arr[5:30, 5:30, 5:30] = 300  # 15.6 ml
    arr[33:37, 33:37, 33:37] = 300  # 64 mm^3: 0.4 % of the large piece
    arr[1, 1, 36] = 300  # 1 mm^3: a speck
    vol = Volume(arr, np.eye(4), SeriesInfo("1", modality="CT"))
    spec = parse_structure("bone:226:3071")
    assert spec.keep_fraction == 0.0
    s = seg.segment_threshold(vol, spec)
    assert s.voxels == 25**3 + 4**3
    assert (s.dropped.small_pieces, s.dropped.small_ml) == (1, 0.001)
    assert s.dropped.summary() == "1 small piece (0.0 ml)"
    strict = seg.segment_threshold(vol, replace(spec, keep_fraction=0.1))
    assert strict.voxels == 25**3 and strict.dropped.small_pieces == 2


def test_build_summary_and_keep_table(lung2, tmp_path, capsys):
    """`orkiosk build` on the real lung2 slices: the table is left out and the summary says so;
    --keep-table keeps it."""
    arr = lung2.array[4:12, ::2, ::2]
    affine = lung2.affine.copy()
    affine[:3, 3] += 4 * affine[:3, 2]
    affine[:3, :2] *= 2
    write_series(arr, affine, tmp_path / "ct", series_description="lung2")
    volumes = {}
    for extra in ([], ["--keep-table"]):
        out = tmp_path / f"pkg{len(extra)}"
        args = ["build", str(tmp_path / "ct"), "-o", str(out), "--quiet", "--no-image"]
        args += ["--no-report", "--structure", "Soft:-300", "--triangles", "5000", *extra]
        assert main(args) == 0
        text = capsys.readouterr().out
        volumes[len(extra)] = float(text.split("\nSoft ")[1].split(" ml")[0].split()[-1])
        left = [line for line in text.splitlines() if line.startswith("left out   Soft:")]
        if extra:
            assert not any("outside the body" in line for line in left), text
        else:
            assert "outside the body" in left[0], text
    assert volumes[1] > volumes[0] + 10  # the table (16 ml in these 8 slices)
