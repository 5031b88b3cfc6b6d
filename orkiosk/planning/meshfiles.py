"""Meshes made elsewhere (3D Slicer, CAD, implant vendors) -> Mesh in LPS mm.

STL (binary and ASCII), OBJ and PLY are read with trimesh; VTK legacy (.vtk) and XML PolyData (.vtp)
with VTK, an optional extra (`pip install 'orkiosk[vtk]'`). 3D Slicer says in a header comment in
which space it wrote the points (`SPACE=RAS` or `SPACE=LPS`: the STL header, an OBJ `#` comment, a
PLY `comment`, a VTK header line) and sometimes the units (`UNITS=mm`); a file without a tag is LPS,
as 3D Slicer reads it. Our checks on top: triangles present and under the limit, indices in range,
finite coordinates, the space asked for agreeing with the file's own tag, the file named in every
message.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.plan.mesh import Mesh

MAX_TRIANGLES = 20_000_000
UNIT_SCALE = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "um": 0.001}
TRIMESH_TYPES = (".stl", ".obj", ".ply")
VTK_TYPES = (".vtk", ".vtp")
VTK_MISSING = (
    "reading .vtk/.vtp models needs VTK, an optional part of orkiosk: install it with "
    "pip install 'orkiosk[vtk]', or save the model from 3D Slicer as .stl, .obj or .ply"
)


class MeshFileError(OrkioskError):
    pass


def header_comments(path: Path, ext: str, stl_header: str = "") -> str:
    """The comment text where 3D Slicer puts SPACE= and UNITS= (read from the file's first 64 KiB)."""
    if ext == ".stl":
        return stl_header
    with open(path, "rb") as fh:
        head = fh.read(65536).decode("latin-1")
    lines = head.splitlines()
    if ext == ".obj":
        return "\n".join(ln for ln in lines if ln.lstrip().startswith("#"))
    if ext == ".ply":
        end = next((n for n, ln in enumerate(lines) if ln.strip() == "end_header"), len(lines))
        return "\n".join(ln for ln in lines[:end] if ln.split()[:1] in (["comment"], ["obj_info"]))
    if ext == ".vtk":
        return "\n".join(lines[1:2])  # the legacy format's title line
    return "\n".join(re.findall(r"<!--(.*?)-->", head, re.DOTALL))


def _space_from(text: str) -> str | None:
    m = re.search(r"SPACE\s*=\s*(RAS|LPS)", text, re.IGNORECASE)
    return m.group(1).upper() if m else None


def _units_from(text: str) -> float:
    m = re.search(r"UNITS\s*=\s*([a-z]+)", text, re.IGNORECASE)
    if not m:
        return 1.0
    unit = m.group(1).lower()
    if unit not in UNIT_SCALE:
        raise MeshFileError(f"unknown units {unit!r} in the file header")
    return UNIT_SCALE[unit]


def read_mesh_file(path, space: str | None = None) -> tuple[Mesh, str]:
    """Read a mesh file -> (Mesh in LPS mm, the space the file was in)."""
    p = Path(path)
    if not p.is_file():
        raise MeshFileError(f"{p}: no such mesh file")
    ext = p.suffix.lower()
    try:
        if ext in TRIMESH_TYPES:
            verts, faces, stl_header = _read_trimesh(p, ext)
        elif ext in VTK_TYPES:
            verts, faces, stl_header = (*_read_vtk(p, ext), "")
        else:
            raise MeshFileError(
                f"{p}: unknown mesh type {ext!r}; use .stl, .obj, .ply (or .vtk/.vtp with VTK)"
            )
        comments = header_comments(p, ext, stl_header)
        file_space = _space_from(comments)
        scale = _units_from(comments)
    except MeshFileError as exc:
        msg = str(exc)
        raise MeshFileError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from exc
    except IndexError as exc:
        raise MeshFileError(f"{p}: a face refers to a vertex that does not exist ({exc})") from exc
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, EOFError) as exc:
        raise MeshFileError(f"{p}: cannot read the mesh ({exc})") from exc
    wanted = space.upper() if space else None
    if wanted and file_space and wanted != file_space:
        raise MeshFileError(
            f"{p}: the file says SPACE={file_space}, but {wanted} was asked for; check the export"
        )
    used = wanted or file_space or "LPS"
    _check(p, verts, faces)
    verts = verts.astype(np.float64) * scale
    if used == "RAS":
        verts[:, :2] *= -1.0
    verts, faces = _weld(verts, faces)
    try:
        return Mesh.from_triangles(verts.astype(np.float32), faces.astype(np.uint32)), used
    except ValueError as exc:
        raise MeshFileError(f"{p}: {exc}") from exc


def _check(p: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    if faces.shape[0] == 0:
        raise MeshFileError(f"{p}: no triangles in the file")
    if faces.shape[0] > MAX_TRIANGLES:
        raise MeshFileError(f"{p}: {faces.shape[0]} triangles is more than {MAX_TRIANGLES}")
    if faces.min() < 0 or faces.max() >= verts.shape[0]:
        raise MeshFileError(f"{p}: a face refers to a vertex that does not exist")
    if not np.isfinite(verts).all():
        raise MeshFileError(f"{p}: vertex coordinates are not finite")


def _read_trimesh(p: Path, ext: str) -> tuple[np.ndarray, np.ndarray, str]:
    import trimesh

    mesh = trimesh.load(str(p), file_type=ext[1:], force="mesh", process=False)
    if not isinstance(mesh, trimesh.Trimesh):
        raise MeshFileError(f"{p}: holds no triangle mesh (trimesh read a {type(mesh).__name__})")
    header = str(mesh.metadata.get("header", "")) if ext == ".stl" else ""
    verts = np.asarray(mesh.vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
    return verts, faces, header


def _read_vtk(p: Path, ext: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkFiltersCore import vtkTriangleFilter
        from vtkmodules.vtkIOLegacy import vtkPolyDataReader
        from vtkmodules.vtkIOXML import vtkXMLPolyDataReader
    except ImportError as exc:
        raise MeshFileError(f"{p}: {VTK_MISSING}") from exc
    reader = vtkPolyDataReader() if ext == ".vtk" else vtkXMLPolyDataReader()
    reader.SetFileName(str(p))
    if ext == ".vtk" and not reader.IsFilePolyData():
        raise MeshFileError(f"{p}: not a VTK PolyData file (a model is PolyData)")
    tri = vtkTriangleFilter()
    tri.SetInputConnection(reader.GetOutputPort())
    tri.PassVertsOff()
    tri.PassLinesOff()
    tri.Update()
    poly = tri.GetOutput()
    if poly is None or poly.GetPoints() is None or poly.GetNumberOfPolys() == 0:
        raise MeshFileError(f"{p}: VTK read no triangles (damaged file or not a surface model)")
    verts = vtk_to_numpy(poly.GetPoints().GetData()).astype(np.float64)
    cells = vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).astype(np.int64)
    return verts, cells.reshape(-1, 3)


def _weld(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inverse = np.unique(verts, axis=0, return_inverse=True)
    faces = inverse.reshape(-1)[faces]
    keep = (
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    )
    return uniq, faces[keep]


def write_stl(path, mesh: Mesh, space: str = "LPS") -> Path:
    """Binary STL (trimesh) with a 3D Slicer-style SPACE= header: tests and exports."""
    import trimesh
    from trimesh.exchange.stl import export_stl

    pos = mesh.positions.astype(np.float64).copy()
    if space.upper() == "RAS":
        pos[:, :2] *= -1
    tm = trimesh.Trimesh(pos, mesh.indices.astype(np.int64), process=False)
    data = bytearray(export_stl(tm))
    data[:80] = f"orkiosk output. SPACE={space.upper()}".encode().ljust(80, b" ")
    p = Path(path)
    p.write_bytes(bytes(data))
    return p
