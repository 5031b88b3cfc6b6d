"""Slice views and the image on cut caps, on a package built from a real DICOM series (the
phantom head, lesion in the patient's LEFT frontal lobe, +x LPS): the slice's pixels against a
reformat computed with numpy from the DICOM files, the side of the lesion, the letters, the CT
on the cap, the build options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from orkiosk.cli import main
from orkiosk.plan.bounds import plan_bounds
from orkiosk.plan.package import load_package
from orkiosk.render.slicegeom import contour_segments, side_letters, slice_frame
from orkiosk.render.state import ClipPlane, DisplayState
from orkiosk.render.volume import grey

SOFT = (400.0, 40.0)  # soft-tissue window: 1 grey level = 1.57 HU
W, H = 480, 400


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("slices")
    assert main(["phantom", str(d / "ct"), "--size", "small"]) == 0
    args = ["build", str(d / "ct"), "-o", str(d / "pkg"), "--quiet", "--triangles", "4000"]
    args += ["--preset", "skin", "--preset", "bone", "--laterality", "left"]
    args += ["--labels", str(d / "ct" / "phantom-labels.nrrd")]
    args += ["--markups", str(d / "ct" / "phantom.mrk.json"), "--image-spacing", "1.0"]
    assert main(args) == 0
    return d, load_package(d / "pkg")


@pytest.fixture(scope="module")
def gl():
    from orkiosk.render.context import create_headless_context
    from orkiosk.render.renderer import Renderer
    from orkiosk.render.slice import SliceRenderer

    ctx = create_headless_context()
    renderer = Renderer(ctx)
    slices = SliceRenderer(renderer)
    yield renderer, slices
    slices.release()
    renderer.release()
    ctx.release()


def dicom_volume(folder):
    """HU array[k, j, i] and affine (i, j, k) -> LPS straight from the files, with pydicom."""
    import pydicom

    ds = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    ds = [d for d in ds if "ImagePositionPatient" in d]
    row, col = (
        np.array(ds[0].ImageOrientationPatient[:3]),
        np.array(ds[0].ImageOrientationPatient[3:]),
    )
    normal = np.cross(row, col)
    ds.sort(key=lambda d: float(np.dot(d.ImagePositionPatient, normal)))
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in ds])
    dr, dc = (float(v) for v in ds[0].PixelSpacing)  # row spacing, column spacing
    first, last = (np.array(d.ImagePositionPatient, dtype=float) for d in (ds[0], ds[-1]))
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1] = row * dc, col * dr
    affine[:3, 2] = (last - first) / (len(ds) - 1)
    affine[:3, 3] = first
    return hu, affine


def draw(gl, pkg, frame, state):
    renderer, slices = gl
    with renderer.create_scene(pkg.plan, pkg.meshes, lod_budget=0, image=pkg.image) as scene:
        info = slices.render(scene, frame, state, size=(W, H))
        return renderer.read_image().astype(int), info


def bare(**kw) -> DisplayState:
    """The image alone: no contours, no trajectories."""
    st = DisplayState(show_trajectories=False, **kw)
    st.hide("skin", "bone", "brain", "ventricles", "lesion")
    return st


def lesion_frame(pkg, kind):
    bounds = plan_bounds(pkg.plan, pkg.meshes)
    centre = (np.asarray(bounds[0]) + np.asarray(bounds[1])) / 2
    target = np.asarray(pkg.plan.trajectories[0].target)
    axis = {"axial": 2, "sagittal": 0, "coronal": 1}[kind]
    return slice_frame(kind, target[axis] - centre[axis], bounds, W / H)


@pytest.mark.parametrize("kind", ["axial", "coronal", "sagittal"])
def test_slice_pixels_match_numpy_reformat_of_the_dicom_series(built, gl, kind):
    """Tolerance: mean |difference| <= 1.5 grey levels and 99 % of pixels within 6 levels
    (soft-tissue window), over the pixels inside the image away from the letters; the GPU
    samples float16 voxels with fixed-point trilinear weights."""
    d, pkg = built
    hu, affine = dicom_volume(d / "ct")
    frame = lesion_frame(pkg, kind)
    img, _ = draw(gl, pkg, frame, bare(window=SOFT))
    ys, xs = np.mgrid[0:H, 0:W]
    lps = frame.to_lps(np.stack([(xs + 0.5) / W, (ys + 0.5) / H], axis=-1))
    ijk = (lps - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    ref_hu = ndimage.map_coordinates(
        hu, [ijk[..., 2], ijk[..., 1], ijk[..., 0]], order=1, cval=np.nan
    )
    # the package's image is cropped: compare where both have voxels, away from the letters
    inside = pkg.image.lps_to_index(lps)
    dims = np.array(pkg.image.entry.dims)
    ok = np.isfinite(ref_hu) & (inside > 0).all(-1) & (inside < dims - 1).all(-1)
    margin = int(0.12 * min(W, H))
    ok[:margin], ok[-margin:], ok[:, :margin], ok[:, -margin:] = False, False, False, False
    assert ok.sum() > 0.3 * W * H
    ref = np.round(grey(ref_hu, *SOFT) * 255)
    diff = np.abs(img[..., 0] - ref)[ok]
    assert (img[..., 0] == img[..., 2])[ok].all()  # grey: nothing drawn over it
    assert diff.mean() <= 1.5, diff.mean()
    assert np.percentile(diff, 99) <= 6, np.percentile(diff, 99)


@pytest.mark.parametrize(
    "kind, letters, lesion_side",
    [
        ("axial", {"right": "L", "left": "R", "top": "A", "bottom": "P"}, "right"),
        ("coronal", {"right": "L", "left": "R", "top": "S", "bottom": "I"}, "right"),
        ("sagittal", {"right": "P", "left": "A", "top": "S", "bottom": "I"}, "left"),
    ],
)
def test_left_lesion_side_and_letters(built, gl, kind, letters, lesion_side):
    """The patient's LEFT lesion is on the image's RIGHT in axial and coronal (radiological);
    frontal, so on the LEFT (anterior) of the sagittal. Found by its contour's colour."""
    _, pkg = built
    frame = lesion_frame(pkg, kind)
    assert side_letters(frame) == letters
    st = DisplayState(show_trajectories=False, color={"lesion": (0.0, 1.0, 0.0)})
    st.hide("skin", "bone", "brain", "ventricles")
    img, info = draw(gl, pkg, frame, st)
    assert info.letters == letters
    green = (img[..., 1] > 200) & (img[..., 0] < 80) & (img[..., 2] < 80)
    assert green.sum() > 20
    x = np.nonzero(green)[1].mean()
    assert (x > W / 2) if lesion_side == "right" else (x < W / 2)
    # the letters are drawn: white strokes near the middle of each side
    hpx = int(0.06 * min(W, H))
    boxes = {
        "left": img[H // 2 - hpx : H // 2 + hpx, : 2 * hpx],
        "right": img[H // 2 - hpx : H // 2 + hpx, -2 * hpx :],
        "top": img[: 2 * hpx, W // 2 - hpx : W // 2 + hpx],
        "bottom": img[-2 * hpx :, W // 2 - hpx : W // 2 + hpx],
    }
    for side, box in boxes.items():
        assert ((box > 245).all(-1)).sum() > 10, side


def test_trajectory_slices_cross_at_the_target(built, gl):
    _, pkg = built
    t = pkg.plan.trajectories[0]
    bounds = plan_bounds(pkg.plan, pkg.meshes)
    perp = slice_frame("perp", 0.0, bounds, W / H, t)
    np.testing.assert_allclose(perp.to_screen(t.target), (0.5, 0.5), atol=1e-9)
    _, info = draw(gl, pkg, perp, DisplayState())
    assert abs(info.crossings[t.id][0] - W / 2) < 1 and abs(info.crossings[t.id][1] - H / 2) < 1
    along = slice_frame("along", 0.0, bounds, W / H, t)
    e, g = along.to_screen(np.array([t.entry, t.target]))
    assert e[1] < g[1] and abs(e[0] - g[0]) < 1e-6  # entry straight above the target
    assert abs(along.depth(t.entry)) < 1e-6 and abs(along.depth(t.target)) < 1e-6


def test_contours_lie_on_the_plane_and_close():
    from orkiosk.plan.synthetic import surface

    m = surface((0, 0, 0), (20, 20, 20), 24, 32)
    seg = contour_segments(m.positions, m.indices, (0, 0, 5.0), (0, 0, 1.0))
    assert len(seg) > 20
    np.testing.assert_allclose(seg[..., 2], 5.0, atol=1e-9)
    r = np.linalg.norm(seg[..., :2], axis=-1)
    assert abs(r.mean() - np.sqrt(20**2 - 5**2)) < 0.5


def _cap_picture(gl, pkg, image, window):
    from orkiosk.render.camera import Camera

    renderer, _ = gl
    t = pkg.plan.trajectories[0]
    state = DisplayState(clip=ClipPlane((0, 0, t.target[2]), (0, 0, 1)), window=window)
    with renderer.create_scene(pkg.plan, pkg.meshes, lod_budget=0, image=image) as scene:
        cam = Camera.named("superior", scene.bounds, W / H)
        renderer.render(scene, cam, state, size=(W, H))
        return renderer.read_image().astype(int)


def test_cap_shows_the_ct(built, gl):
    """A cut through the lesion, seen from above: under a bone window the skull on the cap is
    white grey and the brain dark; under the brain window the brain is mid grey; without an
    image the cap is the flat coloured section (no neutral greys)."""
    _, pkg = built
    bone = _cap_picture(gl, pkg, pkg.image, (2000.0, 500.0))
    brain = _cap_picture(gl, pkg, pkg.image, (80.0, 40.0))
    flat = _cap_picture(gl, pkg, None, None)
    neutral = lambda a: (np.abs(a[..., 0] - a[..., 1]) <= 2) & (np.abs(a[..., 1] - a[..., 2]) <= 2)  # noqa: E731
    row = H // 2
    line = bone[row]
    skull = np.nonzero(neutral(line) & (line[:, 0] > 220))[0]
    assert len(skull) >= 4, "no bright bone on the cap under the bone window"
    centre = bone[row, W // 2]
    assert neutral(centre[None])[0] and centre[0] < 90  # brain, 30-40 HU: dark under bone window
    assert 60 < brain[row, W // 2, 0] < 200  # the same point mid grey under the brain window
    assert (neutral(flat) & (flat[..., 0] > 220)).sum() < 0.2 * (
        neutral(bone) & (bone[..., 0] > 220)
    ).sum()


def test_build_without_image_is_format_1(built, tmp_path):
    d, _ = built
    out = tmp_path / "noimg"
    args = ["build", str(d / "ct"), "-o", str(out), "--quiet", "--triangles", "2000"]
    assert main([*args, "--preset", "skin", "--no-image"]) == 0
    doc = json.loads((out / "plan.json").read_text())
    assert doc["format_version"] == 1 and "image" not in doc
    assert load_package(out).image is None
    coarse = tmp_path / "coarse"
    args = ["build", str(d / "ct"), "-o", str(coarse), "--quiet", "--triangles", "2000"]
    assert main([*args, "--preset", "skin", "--image-spacing", "3"]) == 0
    pkg = load_package(coarse)
    np.testing.assert_allclose(pkg.image.spacing, (3.0, 3.0, 3.0))
