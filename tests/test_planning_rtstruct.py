"""RT Structure Sets: CLOSED_PLANAR contours rasterised on the CT grid in patient coordinates; a
sphere's structure keeps the sphere's volume (within 5 %) and place, ROI names and colours kept,
contours off the CT's slices or of another Frame of Reference refused."""

from __future__ import annotations

import numpy as np
import pytest
from phantoms import rtstruct

from orkiosk.cli import main
from orkiosk.plan.colors import linear
from orkiosk.plan.package import load_package
from orkiosk.planning import segment as seg
from orkiosk.planning.dicom.series import read_series
from orkiosk.planning.labels import LabelError
from orkiosk.planning.sources import read_label_source
from orkiosk.planning.surface import build_mesh, signed_volume_mm3

LEFT = (35.0, -20.0, 10.0)  # the patient's left, anterior
RIGHT = (-40.0, 10.0, -5.0)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    d = tmp_path_factory.mktemp("phantom")
    assert main(["phantom", str(d / "ct"), "--size", "small", "--no-extras"]) == 0
    return d, read_series(d / "ct")


def test_rtstruct_sphere_volume_and_place(phantom, tmp_path):
    d, volume = phantom
    path = rtstruct(
        d / "ct",
        volume.affine,
        [("Target", LEFT, 15.0, (255, 128, 0)), ("Other", RIGHT, 10.0, (0, 0, 255))],
        tmp_path / "rs.dcm",
    )
    target, other = read_label_source(path, volume)
    assert [s.name for s in target.segments] == ["Target"]
    assert target.segments[0].color == (1.0, 128 / 255, 0.0)
    for lv, centre, radius in ((target, LEFT, 15.0), (other, RIGHT, 10.0)):
        ((layer, value, spec),) = seg.label_specs(lv)
        mesh, _ = build_mesh(seg.segment_labels(lv, value, spec, layer), budget=20000)
        sphere = 4 / 3 * np.pi * radius**3
        error = signed_volume_mm3(mesh) / sphere - 1
        print(f"RTSTRUCT sphere r={radius:g} mm: mesh volume error {100 * error:+.2f} %")
        assert abs(error) < 0.05
        assert np.allclose(mesh.positions.mean(axis=0), centre, atol=1.0)


def test_rtstruct_builds_with_names_and_colours(phantom, tmp_path, capsys):
    d, volume = phantom
    path = rtstruct(d / "ct", volume.affine, [("GTV", LEFT, 12.0, (255, 0, 0))], tmp_path / "r.dcm")
    capsys.readouterr()
    rc = main(
        [
            "build",
            str(d / "ct"),
            "-o",
            str(tmp_path / "pkg"),
            "--labels",
            str(path),
            "--triangles",
            "3000",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    pkg = load_package(tmp_path / "pkg")
    st = pkg.plan.structure("gtv")
    assert st.name == "GTV" and st.color == linear((1.0, 0.0, 0.0))
    assert pkg.meshes["gtv"].positions.mean(axis=0)[0] > 25  # the patient's LEFT


def test_rtstruct_refusals(phantom, tmp_path, capsys):
    d, volume = phantom
    roi = [("GTV", LEFT, 12.0, (255, 0, 0))]
    off = rtstruct(d / "ct", volume.affine, roi, tmp_path / "off.dcm", z_shift=0.8)
    with pytest.raises(LabelError, match=r"off.dcm: ROI 'GTV': a contour near z = .* does not lie"):
        read_label_source(off, volume)
    other = "1.2.826.0.1.3680043.8.498.99"
    path = rtstruct(d / "ct", volume.affine, roi, tmp_path / "for.dcm", frame_of_reference=other)
    capsys.readouterr()
    rc = main(
        ["build", str(d / "ct"), "-o", str(tmp_path / "pkg"), "--labels", str(path), "--quiet"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert other in err and volume.info.frame_of_reference_uid in err and "for.dcm" in err
