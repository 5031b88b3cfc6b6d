"""The contact sheet `orkiosk build` writes beside the package: the model from the front and the
side, and axial/coronal/sagittal slices with contours, through the target, sides right."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from orkiosk.cli import main
from orkiosk.render import contactsheet
from orkiosk.render.contactsheet import HEADER, PANEL
from orkiosk.render.errors import RenderError


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The small phantom with its lesion (on the patient's left) and biopsy path, default report."""
    d = tmp_path_factory.mktemp("sheet")
    assert main(["phantom", str(d / "dicom"), "--size", "small"]) == 0
    pkg = d / "pkg"
    rc = main(
        [
            "build",
            str(d / "dicom"),
            "-o",
            str(pkg),
            "--preset",
            "skin",
            "--preset",
            "bone",
            "--labels",
            str(d / "dicom" / "phantom-labels.nrrd"),
            "--markups",
            str(d / "dicom" / "phantom.mrk.json"),
            "--laterality",
            "left",
            "--triangles",
            "20000",
            "--quiet",
        ]
    )
    assert rc == 0
    return pkg


def _panel(sheet: Image.Image, row: int, col: int) -> np.ndarray:
    w, h = PANEL
    y = HEADER + row * h
    return np.asarray(sheet.convert("RGB"))[y : y + h, col * w : (col + 1) * w].astype(int)


def _lesion_x(panel: np.ndarray, pkg) -> float:
    """Mean column of the pixels drawn in the lesion's colour (its contour on a slice)."""
    from orkiosk.plan.colors import srgb
    from orkiosk.plan.package import load_package

    colour = load_package(pkg).plan.structure("lesion").color
    rgb8 = np.array([round(255 * c) for c in srgb(colour)])
    hit = np.abs(panel - rgb8).max(axis=2) <= 12
    assert hit.sum() > 20, "the lesion's contour is not on the slice"
    return float(np.nonzero(hit)[1].mean())


def test_build_writes_the_sheet_beside_the_package(built, capsys):
    sheet_path = built.with_name(built.name + ".png")
    assert sheet_path.is_file()
    sheet = Image.open(sheet_path)
    assert sheet.size == (3 * PANEL[0], HEADER + 2 * PANEL[1])
    # Every picture panel shows something: not one flat colour.
    for row, col in ((0, 0), (0, 1), (1, 0), (1, 1), (1, 2)):
        assert _panel(sheet, row, col).std() > 10, (row, col)


def test_the_slices_pass_through_the_target_with_the_left_on_the_right(built):
    sheet = Image.open(built.with_name(built.name + ".png"))
    half = PANEL[0] / 2
    # Axial and coronal (radiological): the patient's left lesion on the image's right.
    assert _lesion_x(_panel(sheet, 1, 0), built) > half + 20
    assert _lesion_x(_panel(sheet, 1, 1), built) > half + 20
    # The sagittal slice through the target shows the lesion too.
    _lesion_x(_panel(sheet, 1, 2), built)


def test_report_path_and_no_report(built, tmp_path, capsys):
    out = tmp_path / "sheets" / "case.png"
    src = built.parent / "dicom"
    rc = main(["build", str(src), "-o", str(tmp_path / "p1"), "--report", str(out), "--quiet"])
    assert rc == 0 and out.is_file()
    assert f"report    {out}" in capsys.readouterr().out
    rc = main(["build", str(src), "-o", str(tmp_path / "p2"), "--no-report", "--quiet"])
    assert rc == 0 and not (tmp_path / "p2.png").exists()
    assert "report    " not in capsys.readouterr().out


def test_no_gl_costs_the_picture_not_the_package(built, tmp_path, capsys, monkeypatch):
    def no_gl(*_a, **_k):
        raise RenderError("no OpenGL 3.3 context (EGL unavailable)")

    monkeypatch.setattr("orkiosk.render.context.create_headless_context", no_gl)
    src = built.parent / "dicom"
    rc = main(["build", str(src), "-o", str(tmp_path / "pkg"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and (tmp_path / "pkg" / "plan.json").is_file()
    assert "report    not written (no OpenGL 3.3 context" in out
    assert not (tmp_path / "pkg.png").exists()


def test_slice_point_is_the_first_target(built):
    from orkiosk.plan.package import load_package

    pkg = load_package(built)
    point, why = contactsheet.slice_point(pkg)
    assert np.allclose(point, pkg.plan.trajectories[0].target) and why == "target of Biopsy"


def test_real_chest_ct_with_a_slicer_label_map(tmp_path, capsys):
    """pyradiomics' lung2 (a real chest CT) with its label map: without a trajectory the slices
    pass through the labelled lesion, whose contour shows on each of them, on its own side."""
    import nrrd
    import realdata

    from orkiosk.planning.phantom.series import write_series

    array, affine = realdata.need(realdata.nrrd_volume, "lung2")
    label = realdata.need(realdata.radiomics_file, "lung2_label.nrrd")
    lab, _ = nrrd.read(str(label))
    ks = np.nonzero(lab.any(axis=(0, 1)))[0]
    k0, k1 = max(0, ks.min() - 4), ks.max() + 5
    crop = affine.copy()
    crop[:3, 3] = affine[:3, 3] + affine[:3, 2] * k0
    write_series(array[k0:k1], crop, tmp_path / "ct", series_description="lung2")
    pkg = tmp_path / "pkg"
    rc = main(
        ["build", str(tmp_path / "ct"), "-o", str(pkg), "--preset", "bone"]
        + ["--labels", str(label), "--label", "1:Lesion", "--triangles", "20000", "--quiet"]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    sheet = Image.open(pkg.with_name("pkg.png"))
    # The lesion's centre in LPS: x > 0 is the patient's left.
    ijk = np.argwhere(lab > 0).mean(axis=0)
    left = float((affine[:3, :3] @ ijk + affine[:3, 3])[0]) > 0
    half = PANEL[0] / 2
    for col in (0, 1):  # axial, coronal: radiological, the patient's left on the right
        x = _lesion_x(_panel(sheet, 1, col), pkg)
        assert (x > half) == left, (col, x)
    _lesion_x(_panel(sheet, 1, 2), pkg)
