"""Meshes made elsewhere (e.g. exported by 3D Slicer): STL (binary, ASCII), OBJ, PLY.

Units are millimetres. Coordinates are LPS unless the file or the caller says RAS: 3D Slicer writes
`SPACE=RAS` or `SPACE=LPS` into the STL header, OBJ comments and PLY comments, and that is honoured;
a caller's explicit choice that contradicts the file is refused. Polygons are fanned into triangles;
identical vertices (STL repeats them per triangle) are merged so normals come out smooth.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from orkiosk.errors import OrkioskError
from orkiosk.plan.mesh import Mesh

MAX_TRIANGLES = 20_000_000
UNIT_SCALE = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "um": 0.001}


class MeshFileError(OrkioskError):
    pass


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
        data = p.read_bytes()
        if ext == ".stl":
            verts, faces, header = _read_stl(data, p)
        elif ext == ".obj":
            verts, faces, header = _read_obj(data, p)
        elif ext == ".ply":
            verts, faces, header = _read_ply(data, p)
        else:
            raise MeshFileError(f"{p}: unknown mesh type {ext!r}; use .stl, .obj or .ply")
        file_space = _space_from(header)
        scale = _units_from(header)
    except MeshFileError as exc:
        msg = str(exc)
        raise MeshFileError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from exc
    except (OSError, ValueError, IndexError, KeyError, struct.error, UnicodeDecodeError) as exc:
        raise MeshFileError(f"{p}: cannot read the mesh ({exc})") from exc
    wanted = space.upper() if space else None
    if wanted and file_space and wanted != file_space:
        raise MeshFileError(
            f"{p}: the file says SPACE={file_space}, but {wanted} was asked for; check the export"
        )
    used = wanted or file_space or "LPS"
    if faces.shape[0] == 0:
        raise MeshFileError(f"{p}: no triangles in the file")
    if faces.shape[0] > MAX_TRIANGLES:
        raise MeshFileError(f"{p}: {faces.shape[0]} triangles is more than {MAX_TRIANGLES}")
    if faces.min() < 0 or faces.max() >= verts.shape[0]:
        raise MeshFileError(f"{p}: a face refers to a vertex that does not exist")
    if not np.isfinite(verts).all():
        raise MeshFileError(f"{p}: vertex coordinates are not finite")
    verts = verts.astype(np.float64) * scale
    if used == "RAS":
        verts[:, :2] *= -1.0
    verts, faces = _weld(verts, faces)
    try:
        return Mesh.from_triangles(verts.astype(np.float32), faces.astype(np.uint32)), used
    except ValueError as exc:
        raise MeshFileError(f"{p}: {exc}") from exc


def _weld(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inverse = np.unique(verts, axis=0, return_inverse=True)
    faces = inverse.reshape(-1)[faces]
    keep = (
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    )
    return uniq, faces[keep]


def _read_stl(data: bytes, p: Path):
    if len(data) >= 84:
        n = struct.unpack("<I", data[80:84])[0]
        if 84 + 50 * n == len(data):
            rec = np.frombuffer(
                data,
                dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]),
                count=n,
                offset=84,
            )
            verts = rec["v"].reshape(-1, 3).astype(np.float64)
            faces = np.arange(3 * n, dtype=np.int64).reshape(-1, 3)
            return verts, faces, data[:80].decode("latin-1")
    text = data.decode("latin-1")
    if not text.lstrip().lower().startswith("solid"):
        raise MeshFileError(f"{p}: neither binary STL (size does not match) nor ASCII STL")
    nums = re.findall(r"vertex\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if len(nums) % 3:
        raise MeshFileError(f"{p}: ASCII STL has {len(nums)} vertices, not a multiple of 3")
    verts = np.array(nums, dtype=np.float64).reshape(-1, 3)
    faces = np.arange(len(nums), dtype=np.int64).reshape(-1, 3)
    return verts, faces, text.splitlines()[0] if text else ""


def _fan(poly: list[int]) -> list[tuple[int, int, int]]:
    return [(poly[0], poly[n], poly[n + 1]) for n in range(1, len(poly) - 1)]


def _read_obj(data: bytes, p: Path):
    verts: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    comments = []
    for lineno, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        parts = line.split()
        if parts[0] == "v":
            if len(parts) < 4:
                raise MeshFileError(f"{p}: line {lineno}: vertex needs x y z")
            verts.append((float(parts[1]), float(parts[2]), float(parts[3])))
        elif parts[0] == "f":
            idx = []
            for tok in parts[1:]:
                i = int(tok.split("/")[0])
                idx.append(i - 1 if i > 0 else len(verts) + i)
            if len(idx) < 3:
                raise MeshFileError(f"{p}: line {lineno}: a face needs 3 or more vertices")
            faces += _fan(idx)
    return (
        np.array(verts, dtype=np.float64).reshape(-1, 3),
        np.array(faces, dtype=np.int64).reshape(-1, 3),
        "\n".join(comments),
    )


_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


def _read_ply(data: bytes, p: Path):
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise MeshFileError(f"{p}: not a PLY file")
    nl = data.find(b"\n", end)
    body = data[nl + 1 :]
    header = data[:end].decode("latin-1").splitlines()
    fmt = None
    elements: list[tuple[str, int, list]] = []
    comments = []
    for line in header[1:]:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] in ("comment", "obj_info"):
            comments.append(line)
        elif parts[0] == "element":
            elements.append((parts[1], int(parts[2]), []))
        elif parts[0] == "property":
            if not elements:
                raise MeshFileError(f"{p}: PLY property before any element")
            if parts[1] == "list":
                elements[-1][2].append(
                    (parts[4], "list", _PLY_TYPES[parts[2]], _PLY_TYPES[parts[3]])
                )
            else:
                elements[-1][2].append((parts[2], _PLY_TYPES[parts[1]], None, None))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise MeshFileError(f"{p}: PLY format {fmt!r} is not supported")
    verts = None
    faces: list = []
    if fmt == "ascii":
        tokens = body.decode("latin-1").split()
        pos = 0
        for name, count, props in elements:
            rows = []
            for _ in range(count):
                row = {}
                for pname, kind, _ctype, _itype in props:
                    if kind == "list":
                        n = int(tokens[pos])
                        row[pname] = [int(float(t)) for t in tokens[pos + 1 : pos + 1 + n]]
                        pos += 1 + n
                    else:
                        row[pname] = float(tokens[pos])
                        pos += 1
                rows.append(row)
            if name == "vertex":
                verts = np.array([[r["x"], r["y"], r["z"]] for r in rows], dtype=np.float64)
            elif name == "face":
                key = next(
                    (k for k in ("vertex_indices", "vertex_index") if rows and k in rows[0]), None
                )
                for r in rows:
                    faces += _fan(r[key])
    else:
        e = "<" if fmt == "binary_little_endian" else ">"
        off = 0
        for name, count, props in elements:
            if all(kind != "list" for _n, kind, _c, _i in props):
                dt = np.dtype([(pname, e + kind) for pname, kind, _c, _i in props])
                arr = np.frombuffer(body, dtype=dt, count=count, offset=off)
                off += dt.itemsize * count
                if name == "vertex":
                    verts = np.stack([arr["x"], arr["y"], arr["z"]], axis=1).astype(np.float64)
                continue
            for _ in range(count):  # list properties: walk record by record
                row = {}
                for pname, kind, ctype, itype in props:
                    if kind == "list":
                        cdt = np.dtype(e + ctype)
                        n = int(np.frombuffer(body, cdt, 1, off)[0])
                        off += cdt.itemsize
                        idt = np.dtype(e + itype)
                        row[pname] = np.frombuffer(body, idt, n, off).astype(np.int64).tolist()
                        off += idt.itemsize * n
                    else:
                        off += np.dtype(kind).itemsize
                if name == "face":
                    key = "vertex_indices" if "vertex_indices" in row else "vertex_index"
                    faces += _fan(row[key])
    if verts is None:
        raise MeshFileError(f"{p}: PLY has no vertex element")
    return verts, np.array(faces, dtype=np.int64).reshape(-1, 3), "\n".join(comments)


def write_stl(path, mesh: Mesh, space: str = "LPS") -> Path:
    """Binary STL with a 3D Slicer-style SPACE= header (tests, exports)."""
    p = Path(path)
    pos = mesh.positions.astype(np.float32).copy()
    if space.upper() == "RAS":
        pos[:, :2] *= -1
    tri = pos[mesh.indices.astype(np.int64)]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    header = f"orkiosk output. SPACE={space.upper()}".encode().ljust(80, b" ")
    rec = np.zeros(
        tri.shape[0], dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    )
    rec["n"] = normals
    rec["v"] = tri
    p.write_bytes(header + struct.pack("<I", tri.shape[0]) + rec.tobytes())
    return p
