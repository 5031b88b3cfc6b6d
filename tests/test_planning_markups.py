"""3D Slicer markups (RAS/LPS), command-line points, and mesh files made elsewhere."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from orkiosk.plan.pointtext import (
    PointTextError,
    parse_landmark,
    parse_measurement,
    parse_trajectory,
)
from orkiosk.plan.synthetic import surface
from orkiosk.planning.markups import MarkupsError, read_markups
from orkiosk.planning.meshfiles import MeshFileError, read_mesh_file, write_stl
from orkiosk.planning.phantom.anatomy import phantom_plan
from orkiosk.planning.phantom.extras import markups_json
from orkiosk.planning.surface import signed_volume_mm3


def _mrk(tmp_path, markups, name="m.mrk.json"):
    p = tmp_path / name
    p.write_text(json.dumps({"@schema": "x", "markups": markups}))
    return p


def _cp(label, pos, status="defined"):
    return {"id": label, "label": label, "position": pos, "positionStatus": status}


@pytest.mark.parametrize("system", ["RAS", "LPS"])
def test_line_and_points(tmp_path, system):
    line = {
        "type": "Line",
        "coordinateSystem": system,
        "name": "Biopsy",
        "controlPoints": [_cp("Biopsy-1", [10, 20, 30]), _cp("Biopsy-2", [-5, 6, 7])],
    }
    pts = {
        "type": "Fiducial",
        "coordinateSystem": system,
        "name": "F",
        "controlPoints": [_cp("Nasion", [1, -90, 0]), _cp("Later", [0, 0, 0], "undefined")],
    }
    items = read_markups(_mrk(tmp_path, [line, pts]))
    s = -1.0 if system == "RAS" else 1.0
    (t,) = items.trajectories
    assert t.name == "Biopsy"
    assert t.entry == (10 * s, 20 * s, 30.0) and t.target == (-5 * s, 6 * s, 7.0)
    (lm,) = items.landmarks
    assert lm.name == "Nasion" and lm.position == (1 * s, -90 * s, 0.0)
    assert any("Later" in n for n in items.notes)


def test_entry_target_labels_win_over_order(tmp_path):
    line = {
        "type": "Line",
        "coordinateSystem": "LPS",
        "name": "T",
        "controlPoints": [_cp("target", [0, 0, 0]), _cp("entry", [50, 0, 50])],
    }
    (t,) = read_markups(_mrk(tmp_path, [line])).trajectories
    assert t.entry == (50.0, 0.0, 50.0) and t.target == (0.0, 0.0, 0.0)


def test_phantom_markups_are_ras_and_convert_back(tmp_path):
    plan = phantom_plan()
    p = tmp_path / "phantom.mrk.json"
    p.write_text(json.dumps(markups_json(plan)))
    items = read_markups(p)
    assert np.allclose(items.trajectories[0].target, plan.target)
    assert items.trajectories[0].target[0] > 0  # the lesion is on the patient's left
    assert np.allclose(items.trajectories[0].entry, plan.entry)
    assert [lm.name for lm in items.landmarks][:2] == ["Nasion", "Nose tip"]


@pytest.mark.parametrize(
    ("markup", "why"),
    [
        ({"type": "Line", "name": "L", "controlPoints": []}, "coordinateSystem"),
        ({"type": "Line", "coordinateSystem": "XYZ", "controlPoints": []}, "LPS or RAS"),
        (
            {
                "type": "Line",
                "coordinateSystem": "LPS",
                "coordinateUnits": "um",
                "controlPoints": [],
            },
            "mm only",
        ),
        (
            {
                "type": "Line",
                "coordinateSystem": "LPS",
                "controlPoints": [_cp("a", [0, 0, 0]), _cp("b", [1, 2, 3]), _cp("c", [4, 4, 4])],
            },
            "exactly 2 points",
        ),
        (
            {
                "type": "Line",
                "coordinateSystem": "LPS",
                "controlPoints": [_cp("a", [0, 0, 0]), _cp("b", [1, 2, 3], "undefined")],
            },
            "not placed",
        ),
        (
            {
                "type": "Fiducial",
                "coordinateSystem": "LPS",
                "controlPoints": [_cp("a", [0, "x", 0])],
            },
            "not three numbers",
        ),
        (
            {
                "type": "Line",
                "coordinateSystem": "LPS",
                "controlPoints": [_cp("a", [0, 0, 0]), _cp("b", [0, 0, 0.5])],
            },
            "less than 1 mm",
        ),
    ],
)
def test_bad_markups(tmp_path, markup, why):
    with pytest.raises(MarkupsError, match=why) as err:
        read_markups(_mrk(tmp_path, [markup]))
    assert "m.mrk.json" in str(err.value)


def test_not_markups(tmp_path):
    (tmp_path / "a.mrk.json").write_text("{not json")
    with pytest.raises(MarkupsError, match="not valid JSON"):
        read_markups(tmp_path / "a.mrk.json")
    (tmp_path / "b.mrk.json").write_text("[]")
    with pytest.raises(MarkupsError, match="no 'markups' list"):
        read_markups(tmp_path / "b.mrk.json")
    with pytest.raises(MarkupsError, match="no such"):
        read_markups(tmp_path / "c.mrk.json")


def test_other_types_reported(tmp_path):
    curve = {"type": "Curve", "coordinateSystem": "LPS", "name": "C", "controlPoints": []}
    items = read_markups(_mrk(tmp_path, [curve]))
    assert not items.trajectories and "not used" in items.notes[0]


def test_fcsv(tmp_path):
    p = tmp_path / "f.fcsv"
    p.write_text(
        "# Markups fiducial file version = 4.11\n# CoordinateSystem = 0\n"
        "# columns = id,x,y,z,ow,ox,oy,oz,vis,sel,lock,label,desc,associatedNodeID\n"
        "vtkMRMLMarkupsFiducialNode_0,10,20,30,0,0,0,1,1,1,0,Tip,,\n"
    )
    (lm,) = read_markups(p).landmarks
    assert lm.name == "Tip" and lm.position == (-10.0, -20.0, 30.0)
    p.write_text("vtkMRMLMarkupsFiducialNode_0,10,20,30,0,0,0,1,1,1,0,Tip,,\n")
    with pytest.raises(MarkupsError, match="CoordinateSystem"):
        read_markups(p)


def test_command_line_points():
    t = parse_trajectory("Needle:60,0,60:30,0,10")
    assert t.entry == (60, 0, 60) and t.target == (30, 0, 10) and t.diameter == 2.0
    t = parse_trajectory("Needle:60,0,60:30,0,10:1.8", "RAS")
    assert t.entry == (-60, 0, 60) and t.diameter == 1.8
    assert parse_landmark("N:1,2,3", "RAS").position == (-1, -2, 3)
    m = parse_measurement("D:0,0,0:10,0,0")
    assert m.b == (10, 0, 0)
    for bad in (
        "Needle:1,2:3,4,5",
        "Needle:1,2,3",
        ":1,2,3:4,5,6",
        "N:1,2,3:1,2,3.5",
        "N:1,2,3:9,9,9:0",
        "N:a,b,c:1,2,3",
    ):
        with pytest.raises(PointTextError, match="--trajectory"):
            parse_trajectory(bad)
    with pytest.raises(PointTextError, match="--landmark"):
        parse_landmark("N:1,2")


# ------------------------------------------------------------------------------ mesh files


def _ball():
    return surface((20, -10, 5), (10, 10, 10), 10, 14)


def _triangles(mesh):
    return {tuple(sorted(map(tuple, np.round(mesh.positions[f], 3)))) for f in mesh.indices}


@pytest.mark.parametrize("space", ["LPS", "RAS"])
def test_stl_binary_round_trip(tmp_path, space):
    ball = _ball()
    p = write_stl(tmp_path / "b.stl", ball, space=space)
    mesh, used = read_mesh_file(p)
    assert used == space  # from the SPACE= header, as 3D Slicer writes it
    assert np.allclose(mesh.positions.mean(axis=0), ball.positions.mean(axis=0), atol=0.5)
    assert mesh.vertex_count == ball.vertex_count  # welded
    assert signed_volume_mm3(mesh) > 0
    with pytest.raises(MeshFileError, match="says SPACE"):
        read_mesh_file(p, "LPS" if space == "RAS" else "RAS")


def test_ascii_stl_obj_ply(tmp_path):
    ball = _ball()
    pos, idx = ball.positions, ball.indices
    # ASCII STL in RAS, no header hint: the caller says RAS.
    lines = ["solid ball"]
    for f in idx:
        lines.append("facet normal 0 0 0\nouter loop")
        lines += [f"vertex {-pos[v][0]} {-pos[v][1]} {pos[v][2]}" for v in f]
        lines.append("endloop\nendfacet")
    (tmp_path / "a.stl").write_text("\n".join(lines + ["endsolid ball"]))
    mesh, used = read_mesh_file(tmp_path / "a.stl", "RAS")
    assert used == "RAS" and _triangles(mesh) == _triangles(ball)
    # OBJ with quads fanned and v/vt/vn tokens.
    obj = ["# SPACE=LPS"] + [f"v {x} {y} {z}" for x, y, z in pos]
    obj += [f"f {a + 1}/1/1 {b + 1}//1 {c + 1}" for a, b, c in idx]
    obj += ["v 0 0 0", "v 1 0 0", "v 1 1 0", "v 0 1 0", "f -4 -3 -2 -1"]
    (tmp_path / "a.obj").write_text("\n".join(obj))
    mesh, used = read_mesh_file(tmp_path / "a.obj")
    assert used == "LPS" and mesh.triangle_count == ball.triangle_count + 2
    # PLY ascii and binary.
    head = [
        "ply",
        "format ascii 1.0",
        "comment SPACE=LPS",
        f"element vertex {len(pos)}",
        "property float x",
        "property float y",
        "property float z",
        f"element face {len(idx)}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    body = [f"{x} {y} {z}" for x, y, z in pos] + [f"3 {a} {b} {c}" for a, b, c in idx]
    (tmp_path / "a.ply").write_text("\n".join(head + body) + "\n")
    assert _triangles(read_mesh_file(tmp_path / "a.ply")[0]) == _triangles(ball)
    head[1] = "format binary_little_endian 1.0"
    data = "\n".join(head).encode() + b"\n" + pos.astype("<f4").tobytes()
    data += b"".join(struct.pack("<B3i", 3, *map(int, f)) for f in idx)
    (tmp_path / "b.ply").write_bytes(data)
    assert _triangles(read_mesh_file(tmp_path / "b.ply")[0]) == _triangles(ball)


def test_bad_mesh_files(tmp_path):
    (tmp_path / "a.stl").write_bytes(b"\x00" * 90)
    with pytest.raises(MeshFileError, match="a.stl"):
        read_mesh_file(tmp_path / "a.stl")
    (tmp_path / "b.obj").write_text("v 0 0 0\nv 1 0 0\nf 1 2 7\n")
    with pytest.raises(MeshFileError, match="does not exist"):
        read_mesh_file(tmp_path / "b.obj")
    (tmp_path / "c.ply").write_text("ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n")
    with pytest.raises(MeshFileError, match="c.ply"):
        read_mesh_file(tmp_path / "c.ply")
    (tmp_path / "d.xyz").write_text("x")
    with pytest.raises(MeshFileError, match="unknown mesh type"):
        read_mesh_file(tmp_path / "d.xyz")
    (tmp_path / "e.obj").write_text("# SPACE=RAS\n")
    with pytest.raises(MeshFileError, match="e.obj: no triangles"):
        read_mesh_file(tmp_path / "e.obj")


def test_vtk_models_need_the_optional_extra(tmp_path, monkeypatch):
    """Without orkiosk[vtk] a .vtk/.vtp model is refused with the install line."""
    import sys

    for name in [m for m in sys.modules if m.startswith("vtkmodules")] + ["vtkmodules"]:
        monkeypatch.setitem(sys.modules, name, None)  # VTK not installed: its import fails
    for ext in ("vtk", "vtp"):
        (tmp_path / f"m.{ext}").write_text("# vtk DataFile Version 5.1\nSPACE=RAS\nASCII\n")
        with pytest.raises(MeshFileError, match=rf"m.{ext}: .*pip install 'orkiosk\[vtk\]'"):
            read_mesh_file(tmp_path / f"m.{ext}")


@pytest.mark.parametrize("ext", ["vtk", "vtp"])
def test_vtk_models_are_read_with_the_optional_extra(tmp_path, ext):
    """With orkiosk[vtk] (CI installs it) a 3D Slicer model in RAS, legacy .vtk or XML .vtp."""
    pytest.importorskip("vtkmodules")
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
    from vtkmodules.vtkIOLegacy import vtkPolyDataWriter
    from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

    ball = _ball()
    pts = vtkPoints()
    ras = ball.positions.astype(np.float64) * np.array([-1.0, -1.0, 1.0])
    pts.SetData(numpy_to_vtk(ras, deep=True))
    cells = vtkCellArray()
    offsets = np.arange(0, 3 * ball.triangle_count + 1, 3, dtype=np.int64)
    cells.SetData(
        numpy_to_vtkIdTypeArray(offsets, deep=True),
        numpy_to_vtkIdTypeArray(ball.indices.astype(np.int64).ravel(), deep=True),
    )
    poly = vtkPolyData()
    poly.SetPoints(pts)
    poly.SetPolys(cells)
    if ext == "vtk":
        writer = vtkPolyDataWriter()
        writer.SetHeader("3D Slicer output. SPACE=RAS")
    else:
        writer = vtkXMLPolyDataWriter()
    writer.SetFileName(str(tmp_path / f"m.{ext}"))
    writer.SetInputData(poly)
    writer.Write()
    if ext == "vtp":  # 3D Slicer puts the space in an XML comment
        text = (tmp_path / "m.vtp").read_text()
        (tmp_path / "m.vtp").write_text(text.replace("?>", "?>\n<!-- SPACE=RAS -->", 1))
    mesh, used = read_mesh_file(tmp_path / f"m.{ext}")
    assert used == "RAS" and _triangles(mesh) == _triangles(ball)
