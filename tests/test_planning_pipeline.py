"""`orkiosk build` / `orkiosk phantom` end to end: packages the kiosk accepts, right side, clear
refusals with exit status 2 and no traceback."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from phantoms import BEAD_CENTER, bead_phantom

from orkiosk.cli import main
from orkiosk.plan.package import load_package
from orkiosk.planning.phantom.anatomy import LESION_C, VEINS, VESSELS, phantom_plan
from orkiosk.planning.phantom.series import write_series
from orkiosk.planning.surface import signed_volume_mm3


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("phantom")
    assert main(["phantom", str(d), "--size", "small"]) == 0
    return d


def _build(capsys, *args) -> tuple[int, str, str]:
    rc = main(["build", *map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def test_phantom_demo_build(phantom_dir, tmp_path, capsys):
    capsys.readouterr()
    pkg = tmp_path / "pkg"
    rc, out, err = _build(
        capsys,
        phantom_dir,
        "-o",
        pkg,
        "--preset",
        "skin",
        "--preset",
        "bone",
        "--preset",
        "vessels",
        "--labels",
        phantom_dir / "phantom-labels.nrrd",
        "--markups",
        phantom_dir / "phantom.mrk.json",
        "--procedure",
        "Stereotactic biopsy",
        "--laterality",
        "left",
        "--planner",
        "Test Planner",
        "--triangles",
        "20000",
    )
    assert rc == 0, err
    assert "Skin" in out and "total" in out and "seconds" in out
    loaded = load_package(pkg)
    plan = loaded.plan
    assert [s.id for s in plan.structures] == [
        "skin",
        "bone",
        "vessels",
        "brain",
        "ventricles",
        "lesion",
    ]
    assert plan.patient.name == "PHANTOM, HEAD" and plan.patient.id == "PHANTOM-0001"
    assert plan.laterality == "left" and plan.planner == "Test Planner"
    assert plan.structure("vessels").critical and plan.structure("lesion").category == "tumour"
    assert all(m.triangle_count <= 20000 for m in loaded.meshes.values())
    assert all(signed_volume_mm3(m) > 0 for m in loaded.meshes.values())  # outward
    # Orientation end to end: the lesion is on the patient's left (+x), the nose anterior (-y).
    lesion = loaded.meshes["lesion"].positions.mean(axis=0)
    assert np.allclose(lesion, LESION_C, atol=2.0), lesion
    skin = loaded.meshes["skin"].positions
    assert skin[:, 1].min() < -100 and skin[:, 1].max() < 100  # the nose sticks out in front
    nose = skin[skin[:, 1] < -98]
    assert abs(nose[:, 0].mean()) < 5 and nose[:, 2].mean() < 0
    (t,) = plan.trajectories
    plan_pts = phantom_plan()
    assert np.allclose(t.target, plan_pts.target) and np.allclose(t.entry, plan_pts.entry)
    assert {v.id for v in plan.views} >= {"anterior", "left", "superior", "along-biopsy"}
    # The trajectory keeps clear of the vessels (centre lines and the built vessel mesh).
    e, g = np.array(t.entry), np.array(t.target)

    def seg_dist(p):
        d = g - e
        s = np.clip(((p - e) @ d) / (d @ d), 0, 1)
        return np.linalg.norm(p - (e + np.outer(s, d)), axis=-1)

    vessel = loaded.meshes["vessels"].positions.astype(float)
    assert seg_dist(vessel).min() > 5.0
    for _label, radius, pts in VESSELS + VEINS:
        pairs = zip(pts[:-1], pts[1:], strict=True)
        dense = np.concatenate([np.linspace(a, b, 50) for a, b in pairs])
        assert seg_dist(np.asarray(dense, float)).min() > radius + 5.0


def test_default_structures_and_stray_files(phantom_dir, tmp_path, capsys):
    capsys.readouterr()
    src = tmp_path / "dicom"
    shutil.copytree(phantom_dir, src)
    (src / "notes.txt").write_text("hello")
    loc, _ = bead_phantom((0, 1, 0), (0, 0, -1), n=24, spacing=6.0)
    write_series(
        loc[10:12],
        np.eye(4),
        src / "scout",
        series_description="Topogram",
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    rc, out, err = _build(capsys, src, "-o", tmp_path / "pkg", "--triangles", "5000")
    assert rc == 0, err
    assert "Topogram" in out and "built the CT presets skin and bone" in out
    plan = load_package(tmp_path / "pkg").plan
    assert [s.id for s in plan.structures] == ["skin", "bone"]


@pytest.mark.parametrize(
    ("row", "col"),
    [
        ((1, 0, 0), (0, 1, 0)),
        ((-1, 0, 0), (0, -1, 0)),
        ((0, 1, 0), (0, 0, -1)),
        ((1, 0, 0), (0, 0, -1)),
    ],
)
def test_orientation_end_to_end(tmp_path, capsys, row, col):
    arr, affine = bead_phantom(row, col, n=40, spacing=3.5)
    write_series(arr, affine, tmp_path / "dicom")
    rc, _out, err = _build(
        capsys,
        tmp_path / "dicom",
        "-o",
        tmp_path / "pkg",
        "--structure",
        "Bead:500",
        "--preset",
        "skin",
        "--landmark",
        "Bead centre:30,-10,20",
        "--laterality",
        "left",
        "--trajectory",
        "T:60,-10,60:30,-10,20",
    )
    assert rc == 0, err
    pkg = load_package(tmp_path / "pkg")
    bead = pkg.meshes["bead"].positions.mean(axis=0)
    assert np.allclose(bead, BEAD_CENTER, atol=1.0), bead  # left +x, anterior -y, superior +z
    skin = pkg.meshes["skin"].positions
    assert skin[:, 1].min() < -60 and skin[:, 1].max() < 58  # the nose sticks out in front
    doc = json.loads((tmp_path / "pkg" / "plan.json").read_text())
    assert doc["landmarks"][0]["position"] == [30.0, -10.0, 20.0]


def test_ras_points_and_signing(phantom_dir, tmp_path, capsys):
    capsys.readouterr()
    assert main(["keygen", str(tmp_path / "keys")]) == 0
    key = next(p for p in (tmp_path / "keys").iterdir() if "pub" not in p.name)
    rc, out, err = _build(
        capsys,
        phantom_dir,
        "-o",
        tmp_path / "pkg",
        "--preset",
        "skin",
        "--triangles",
        "3000",
        "--coords",
        "RAS",
        "--landmark",
        "L:-38,18,38",
        "--sign",
        key,
        "--plan-version",
        "3",
        "--case-id",
        "CASE-7",
    )
    assert rc == 0, err
    assert "(signed)" in out
    assert (tmp_path / "pkg" / "plan.sig").is_file()
    plan = load_package(tmp_path / "pkg").plan
    assert plan.landmarks[0].position == (38.0, -18.0, 38.0)
    assert plan.plan_version == 3 and plan.case_id == "CASE-7"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (["--trajectory", "T:60,0,60:-38,18,38", "--laterality", "left"], "RIGHT side"),
        (["--landmark", "Far:500,0,0"], "outside the image volume"),
        (["--structure", "Metal:5000"], "no voxel in 5000"),
        (["--structure", "Bad"], "expected NAME:LOW"),
        (["--series", "1.2.3"], "is not in"),
        (["--mesh", "Implant=/nonexistent.stl"], "no such mesh file"),
        (["--labels", "/nonexistent.nrrd"], "no such label file"),
        (["--markups", "/nonexistent.mrk.json"], "no such markups file"),
        (["--case-id", "bad id/x"], "case-id"),
        (["--triangles", "5"], "at least 100"),
    ],
)
def test_bad_options_exit_2(phantom_dir, tmp_path, capsys, extra, why):
    capsys.readouterr()
    rc, _out, err = _build(
        capsys,
        phantom_dir,
        "-o",
        tmp_path / "pkg",
        "--preset",
        "skin",
        "--triangles",
        "2000",
        *extra,
    )
    assert rc == 2
    assert why in err and err.startswith("orkiosk build: ")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pkg").exists()


def test_bad_dicom_folders_exit_2(tmp_path, capsys):
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    rc, _out, err = _build(capsys, tmp_path / "empty", "-o", tmp_path / "pkg")
    assert rc == 2 and "no DICOM image found" in err
    arr, affine = bead_phantom(n=20, spacing=6.0)
    files = write_series(arr, affine, tmp_path / "one")
    for p in files[1:]:
        p.unlink()
    rc, _out, err = _build(capsys, tmp_path / "one", "-o", tmp_path / "pkg")
    assert rc == 2 and "single slice" in err and files[0].name in err
    files = write_series(arr, affine, tmp_path / "trunc")
    files[5].write_bytes(files[5].read_bytes()[:-300])
    rc, _out, err = _build(capsys, tmp_path / "trunc", "-o", tmp_path / "pkg")
    assert rc == 2 and files[5].name in err


def test_existing_output_needs_force(phantom_dir, tmp_path, capsys):
    capsys.readouterr()
    (tmp_path / "pkg").mkdir()
    rc, _out, err = _build(capsys, phantom_dir, "-o", tmp_path / "pkg", "--preset", "skin")
    assert rc == 2 and "--force" in err


def test_mesh_import(phantom_dir, tmp_path, capsys):
    from orkiosk.plan.synthetic import surface
    from orkiosk.planning.meshfiles import write_stl

    capsys.readouterr()
    ball = surface(tuple(LESION_C), (5, 5, 5), 12, 16)
    write_stl(tmp_path / "implant.stl", ball, space="RAS")
    rc, out, err = _build(
        capsys,
        phantom_dir,
        "-o",
        tmp_path / "pkg",
        "--preset",
        "skin",
        "--triangles",
        "2000",
        "--mesh",
        f"Electrode={tmp_path / 'implant.stl'}",
    )
    assert rc == 0, err
    pkg = load_package(tmp_path / "pkg")
    assert np.allclose(pkg.meshes["electrode"].positions.mean(axis=0), LESION_C, atol=0.5)
    assert pkg.plan.structure("electrode").category == "implant"
    # The same file declared LPS contradicts its header.
    rc, _out, err = _build(
        capsys,
        phantom_dir,
        "-o",
        tmp_path / "pkg2",
        "--preset",
        "skin",
        "--mesh",
        f"E={tmp_path / 'implant.stl'}:LPS",
    )
    assert rc == 2 and "says SPACE=RAS" in err


def test_phantom_refuses_non_empty_folder(tmp_path, capsys):
    (tmp_path / "x").write_text("x")
    assert main(["phantom", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_help_mentions_coordinates(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = capsys.readouterr().out
    assert "LPS" in out and "--preset" in out and "--markups" in out


def test_opacity_option_sets_the_default_look():
    from orkiosk.plan.model import Structure
    from orkiosk.planning.assemble import apply_opacity
    from orkiosk.planning.options import BuildError

    bone = Structure("bone", "Bone", "meshes/bone.glb")
    (out,) = apply_opacity([bone], ["bone=0.4"])
    assert out.opacity == 0.4
    for bad, msg in (("bone", "ID=VALUE"), ("bone=2", "ID=VALUE"), ("skull=0.5", "no structure")):
        with pytest.raises(BuildError, match=msg):
            apply_opacity([bone], [bad])


def test_build_never_replaces_its_own_input(tmp_path):
    from orkiosk.planning.options import BuildError, BuildOptions
    from orkiosk.planning.pipeline import run_build

    src = tmp_path / "ct"
    src.mkdir()
    (src / "slice.dcm").write_bytes(b"not really")
    for out in (src, tmp_path):
        with pytest.raises(BuildError, match="holds the DICOM input"):
            run_build(BuildOptions(dicom_dir=src, out=out, overwrite=True))
    assert (src / "slice.dcm").exists()
