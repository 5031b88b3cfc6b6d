"""3D Slicer scene bundles (.mrb): a zip of the scene (.mrml, XML) and its data files.

Unzipped safely into a folder of ours: every member must stay inside it (no absolute path, no
'..', no link), at most MAX_MEMBERS members, MAX_BYTES in all, each no larger than it declares and
no more than MAX_RATIO times its compressed size (zip bombs). The scene is parsed with defusedxml
(no entity expansion, no external entities). Taken from it: models (mesh files), segmentations
(.seg.nrrd) and markups (.mrk.json), each with its display colour (sRGB), opacity and visibility.
A node under a transform that was not hardened is refused: the transform lives only in the scene,
its files hold the untransformed points, so they would land in the wrong place.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from orkiosk.errors import OrkioskError
from orkiosk.planning.labels import LabelVolume, read_labels

MAX_MEMBERS = 10_000
MAX_BYTES = 8 * 1024**3
MAX_RATIO = 200
MARKUP_TAGS = ("MarkupsFiducial", "MarkupsLine", "MarkupsCurve", "MarkupsClosedCurve")


class SceneError(OrkioskError):
    pass


@dataclass(frozen=True)
class SceneModel:
    name: str
    path: Path
    space: str | None  # the storage node's coordinateSystem, if it says one
    color: tuple[float, float, float] | None  # sRGB 0..1
    opacity: float = 1.0
    visible: bool = True


@dataclass
class Scene:
    models: list[SceneModel] = field(default_factory=list)
    labels: list[LabelVolume] = field(default_factory=list)
    markups: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def unzip_safely(path: Path, dest: Path) -> list[Path]:
    """Extract the bundle into `dest`, refusing anything that could leave it or blow up."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SceneError(f"{path}: not a 3D Slicer scene bundle (not a zip file: {exc})") from exc
    out, total = [], 0
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise SceneError(f"{path}: {len(infos)} files in the bundle (at most {MAX_MEMBERS})")
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise SceneError(f"{path}: member {name!r} would leave the bundle's folder")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SceneError(f"{path}: member {name!r} is a symbolic link")
            if info.is_dir():
                continue
            total += info.file_size
            if total > MAX_BYTES:
                raise SceneError(f"{path}: unpacks to more than {MAX_BYTES >> 30} GiB")
            if info.file_size > MAX_RATIO * max(info.compress_size, 1024):
                raise SceneError(
                    f"{path}: member {name!r} is compressed suspiciously well (zip bomb?)"
                )
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_limited(zf, info, target, path)
            out.append(target)
    return out


def _copy_limited(zf, info, target: Path, path: Path) -> None:
    left = info.file_size
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                left -= len(chunk)
                if left < 0:
                    raise SceneError(f"{path}: member {info.filename!r} is larger than it declares")
                dst.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SceneError(f"{path}: member {info.filename!r} is damaged ({exc})") from exc


def read_scene(path, workdir) -> Scene:
    """The models, segmentations and markups of a .mrb, unzipped into `workdir`."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    p = Path(path)
    if not p.is_file():
        raise SceneError(f"{p}: no such scene file")
    files = unzip_safely(p, Path(workdir))
    scenes = [f for f in files if f.suffix.lower() == ".mrml"]
    if len(scenes) != 1:
        raise SceneError(f"{p}: a scene bundle holds one .mrml scene; found {len(scenes)}")
    try:
        root = ElementTree.parse(str(scenes[0])).getroot()
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise SceneError(f"{p}: the scene {scenes[0].name} is not safe, valid XML ({exc})") from exc
    nodes = {n.get("id"): n for n in root if n.get("id")}
    return _collect(p, scenes[0].parent, nodes)


def _collect(p: Path, base: Path, nodes: dict) -> Scene:
    scene = Scene()
    for node in nodes.values():
        tag = node.tag
        if tag not in ("Model", "Segmentation", *MARKUP_TAGS):
            continue
        name = node.get("name") or node.get("id")
        _refuse_transformed(p, node, name, nodes)
        storage = _ref(node, "storageNodeRef", nodes)
        display = _ref(node, "displayNodeRef", nodes)
        file = _file(p, base, storage, name)
        if file is None:
            scene.notes.append(f"{p.name}: {tag} {name!r} has no file in the bundle; left out")
            continue
        look = _look(display)
        if tag == "Model":
            space = (storage.get("coordinateSystem") or "").upper() or None
            scene.models.append(
                SceneModel(name, file, space if space in ("LPS", "RAS") else None, *look)
            )
        elif tag == "Segmentation":
            scene.labels.append(_segmentation(file, display, look))
        else:
            scene.markups.append(file)
            if not look[2]:
                scene.notes.append(f"{p.name}: markups {name!r} are hidden in the scene; taken")
    return scene


def _refuse_transformed(p: Path, node, name, nodes) -> None:
    ref = (node.get("transformNodeRef") or "").strip()
    if ref:
        t = nodes.get(ref)
        tname = t.get("name") if t is not None else ref
        raise SceneError(
            f"{p}: {node.tag} {name!r} is under transform {tname!r}, which was not hardened; "
            "its file holds the untransformed points. In 3D Slicer harden the transform (Data "
            "module: right-click > Harden transform) and save the scene again"
        )


def _ref(node, attr: str, nodes: dict):
    for ref in (node.get(attr) or "").split():
        if ref in nodes:
            return nodes[ref]
    return None


def _file(p: Path, base: Path, storage, name) -> Path | None:
    if storage is None or not storage.get("fileName"):
        return None
    rel = PurePosixPath(storage.get("fileName").replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise SceneError(f"{p}: {name!r} points outside the bundle ({rel})")
    f = base.joinpath(*rel.parts)
    return f if f.is_file() else None


def _look(display) -> tuple:
    """(sRGB colour or None, opacity, visible) of a display node."""
    if display is None:
        return (None, 1.0, True)
    try:
        rgb = tuple(float(v) for v in (display.get("color") or "").split()[:3])
        opacity = float(display.get("opacity3D") or display.get("opacity") or 1.0)
    except ValueError:
        rgb, opacity = (), 1.0
    visible = (display.get("visibility") or "true").lower() != "false"
    visible = visible and (display.get("visibility3D") or "true").lower() != "false"
    return (rgb if len(rgb) == 3 else None, min(max(opacity, 0.0), 1.0), visible)


def _segmentation(file: Path, display, look) -> LabelVolume:
    """The .seg.nrrd with the display node's per-segment visibility, opacity and colour overrides."""
    lv = read_labels(file)
    props = _segment_props(display)
    segs = []
    for s in lv.segments:
        pr = props.get(s.key, {})
        color = s.color
        over = tuple(float(pr.get(f"OverrideColor{c}", -1)) for c in "RGB")
        if min(over) >= 0:
            color = tuple(v / 255.0 if max(over) > 1 else v for v in over)
        visible = look[2] and pr.get("Visible", "true") != "false"
        visible = visible and pr.get("Visible3D", "true") != "false"
        opacity = look[1] * float(pr.get("Opacity3D", 1.0))
        segs.append(replace(s, color=color, opacity=opacity, visible=visible))
    return replace(lv, segments=tuple(segs), kind="scene")


def _segment_props(display) -> dict[str, dict[str, str]]:
    """segmentationDisplayProperties="Segment_1 Visible:true Opacity3D:0.5 ...|Segment_2 ..." """
    out = {}
    text = display.get("segmentationDisplayProperties", "") if display is not None else ""
    for entry in text.split("|"):
        words = entry.split()
        if words:
            out[words[0]] = dict(w.split(":", 1) for w in words[1:] if ":" in w)
    return out
