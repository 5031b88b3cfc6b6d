"""3D Slicer scene bundles (.mrb): models, segmentations and markups built with their display
colour, opacity and visibility; a node under a transform that was not hardened, a member that
leaves the bundle, a zip bomb and an XML entity bomb are refused in one line naming the file."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from orkiosk.cli import main
from orkiosk.plan.colors import linear
from orkiosk.plan.package import load_package
from orkiosk.plan.synthetic import surface
from orkiosk.planning.meshfiles import write_stl
from orkiosk.planning.phantom.anatomy import LESION_C
from orkiosk.planning.scene import SceneError, read_scene

MRML = """<?xml version="1.0" encoding="UTF-8"?>
<MRML version="Slicer4.4.0" userTags="">
 {transform}
 <Model id="vtkMRMLModelNode4" name="Electrode" displayNodeRef="vtkMRMLModelDisplayNode5"
   storageNodeRef="vtkMRMLModelStorageNode6" {ref}></Model>
 <ModelDisplay id="vtkMRMLModelDisplayNode5" color="0 0.5 1" opacity="0.6" visibility="false">
 </ModelDisplay>
 <ModelStorage id="vtkMRMLModelStorageNode6" fileName="Data/implant.stl" coordinateSystem="RAS">
 </ModelStorage>
 <Segmentation id="vtkMRMLSegmentationNode1" name="Segmentation"
   displayNodeRef="vtkMRMLSegmentationDisplayNode2" storageNodeRef="vtkMRMLSegStorage3">
 </Segmentation>
 <SegmentationDisplay id="vtkMRMLSegmentationDisplayNode2" visibility="true" opacity3D="1"
   segmentationDisplayProperties="Segment_1 Visible:false Opacity3D:1|Segment_3 OverrideColorR:0 OverrideColorG:1 OverrideColorB:0 Visible:true Opacity3D:0.5|">
 </SegmentationDisplay>
 <SegmentationStorage id="vtkMRMLSegStorage3" fileName="Data/Segmentation.seg.nrrd">
 </SegmentationStorage>
 <MarkupsLine id="vtkMRMLMarkupsLineNode1" name="Biopsy" storageNodeRef="vtkMRMLMarkupsStorage9">
 </MarkupsLine>
 <MarkupsJsonStorage id="vtkMRMLMarkupsStorage9" fileName="Data/plan.mrk.json"></MarkupsJsonStorage>
</MRML>
"""
TRANSFORM = (
    '<LinearTransform id="vtkMRMLLinearTransformNode7" name="Registration"></LinearTransform>'
)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    d = tmp_path_factory.mktemp("phantom")
    assert main(["phantom", str(d / "ct"), "--size", "tiny"]) == 0
    write_stl(d / "implant.stl", surface(tuple(LESION_C), (4, 4, 4), 10, 12), space="RAS")
    return d


def _bundle(d, out, mrml, extra=()):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Scene/Scene.mrml", mrml)
        zf.write(d / "ct" / "phantom-labels.nrrd", "Scene/Data/Segmentation.seg.nrrd")
        zf.write(d / "implant.stl", "Scene/Data/implant.stl")
        zf.write(d / "ct" / "phantom.mrk.json", "Scene/Data/plan.mrk.json")
        for name, data in extra:
            zf.writestr(name, data)
    return out


def test_scene_builds_with_its_display_look(phantom, tmp_path, capsys):
    mrb = _bundle(phantom, tmp_path / "plan.mrb", MRML.format(transform="", ref=""))
    capsys.readouterr()
    rc = main(
        [
            "build",
            str(phantom / "ct"),
            "-o",
            str(tmp_path / "pkg"),
            "--scene",
            str(mrb),
            "--triangles",
            "3000",
            "--quiet",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    plan = load_package(tmp_path / "pkg").plan
    brain, lesion, electrode = (plan.structure(i) for i in ("brain", "lesion", "electrode"))
    assert not brain.visible and lesion.visible and plan.structure("ventricles").visible
    assert lesion.color == linear((0.0, 1.0, 0.0)) and lesion.opacity == 0.5  # scene override
    assert electrode.color == linear((0.0, 0.5, 1.0))  # sRGB in the scene, linear in the plan
    assert electrode.opacity == 0.6 and not electrode.visible
    pkg = load_package(tmp_path / "pkg")
    assert np.allclose(pkg.meshes["electrode"].positions.mean(axis=0), LESION_C, atol=0.5)
    assert [t.name for t in plan.trajectories] == ["Biopsy"]


def test_unhardened_transform_is_refused(phantom, tmp_path, capsys):
    mrml = MRML.format(transform=TRANSFORM, ref='transformNodeRef="vtkMRMLLinearTransformNode7"')
    mrb = _bundle(phantom, tmp_path / "moved.mrb", mrml)
    with pytest.raises(
        SceneError,
        match="moved.mrb: Model 'Electrode' is under transform "
        "'Registration', which was not hardened",
    ):
        read_scene(mrb, tmp_path / "x")
    capsys.readouterr()
    rc = main(
        ["build", str(phantom / "ct"), "-o", str(tmp_path / "pkg"), "--scene", str(mrb), "--quiet"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Harden transform" in err


@pytest.mark.parametrize(
    ("member", "data", "why"),
    [
        ("../evil.txt", b"x", "would leave the bundle"),
        ("/etc/evil", b"x", "would leave the bundle"),
        ("Scene/Data/zeros.bin", bytes(20_000_000), "zip bomb"),
    ],
)
def test_unsafe_bundles_are_refused(phantom, tmp_path, member, data, why):
    mrb = _bundle(phantom, tmp_path / "b.mrb", MRML.format(transform="", ref=""), [(member, data)])
    with pytest.raises(SceneError, match=f"b.mrb: .*{why}"):
        read_scene(mrb, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_xml_entity_bomb_is_refused(phantom, tmp_path):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE MRML [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><MRML>&b;</MRML>'
    )
    mrb = _bundle(phantom, tmp_path / "x.mrb", bomb)
    with pytest.raises(SceneError, match="x.mrb: the scene Scene.mrml is not safe, valid XML"):
        read_scene(mrb, tmp_path / "out")
