"""Planning packages on disk: write, verify and load.

A package is a directory holding plan.json (the manifest), meshes/*.glb and an optional plan.sig.
Loading trusts nothing: it reads only files the manifest lists, refuses paths that leave the
package and symbolic links, compares sizes before reading, checks every SHA-256 and the mesh
contents, and (when asked) the Ed25519 signature over plan.json. Every problem found becomes one
line of a PackageError; nothing else escapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema

from orkiosk.errors import OrkioskError
from orkiosk.plan.bounds import plan_bounds
from orkiosk.plan.glb import decode_glb, encode_glb
from orkiosk.plan.image import (
    IMAGE_PATH,
    ImageError,
    ImageVolume,
    decode_image,
    encode_image,
    entry_problems,
    placement_problems,
)
from orkiosk.plan.mesh import Mesh, MeshError
from orkiosk.plan.model import FORMAT_VERSION, FORMAT_VERSION_IMAGE, FileEntry, Plan
from orkiosk.plan.signing import (
    MAX_SIG_BYTES,
    SIG_NAME,
    SignatureError,
    TrustedKey,
    verify_signature,
)

MANIFEST_NAME = "plan.json"
MAX_MANIFEST_BYTES = 16 << 20
MAX_FILE_BYTES = 1 << 30
MAX_TOTAL_BYTES = 4 << 30
MAX_PROBLEMS = 25
_PLACE = r"\(top level\)|[A-Za-z_][\w.\[\]-]*( \([^)]*\))?"  # "structures[2].mesh", ...


class PackageError(OrkioskError):
    """A package that must not be shown. `problems` holds one line per thing found wrong."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            self.problems[0]
            if len(self.problems) == 1
            else f"{len(self.problems)} problems: " + "; ".join(self.problems)
        )

    @property
    def headline(self) -> str:
        """The decisive problem as one short clause for the OR screen ("the file X is damaged
        (SHA-256 checksum mismatch)"); `problems` keeps every line for the log. Damaged or
        missing files and signatures come before manifest details; manifest lines are named by
        their place only, never by their values (they may hold another patient's name)."""
        lines = self.problems or ["unknown problem"]
        rules = (
            (
                " SHA-256 mismatch",
                "the file {f} is damaged or was changed (SHA-256 checksum mismatch)",
            ),
            ("plan.sig:", "{r}"),
            (": listed in plan.json but missing", "the file {f} is missing"),
            (": size is ", "the file {f} has the wrong size (damaged or incomplete)"),
            (": bad mesh", "the file {f} is not a readable 3D mesh"),
            (": bad image", "the file {f} is not a usable image volume"),
            (": is a symbolic link", "the file {f} is a link, which a package may not hold"),
            (": path leaves the package", "the file {f} lies outside the package"),
        )
        for marker, text in rules:
            for line in lines:
                if marker in line:
                    f, _, r = line.partition(": ")
                    return text.format(f=f, r=f"the signature check failed ({r})")
        first = lines[0]
        where = first.split(": ", 2)[1] if first.count(": ") >= 2 else ""
        if first.startswith(f"{MANIFEST_NAME}: ") and re.fullmatch(_PLACE, where):
            rest = first.split(": ", 2)[2]
            private = where.startswith(("patient", "(top level)"))
            many = (
                f"{len(lines)} problems, the first at {where}"
                if len(lines) > 1
                else where
                if private
                else f"{where}: {rest}"
            )
            return f"the plan file {MANIFEST_NAME} is not valid ({many})"
        return first if len(lines) == 1 else f"{first} (and {len(lines) - 1} more problems)"

    @property
    def log_lines(self) -> list[str]:
        """Every problem for the log, with the quoted values of patient fields (and of whole
        documents) blanked: names and birth dates do not belong in a log."""
        out = []
        for line in self.problems:
            if line.startswith((f"{MANIFEST_NAME}: patient", f"{MANIFEST_NAME}: (top level)")):
                line = re.sub(r"'[^']*'|\"[^\"]*\"|\{.*\}", "'...'", line)
            out.append(line)
        return out


@dataclass(frozen=True, eq=False)
class Package:
    """A verified package, ready to draw."""

    path: Path
    plan: Plan
    meshes: dict[str, Mesh]  # by structure id
    manifest_sha256: str  # identifies this exact plan (sync compares it)
    signed_by: TrustedKey | None = None
    notes: tuple[str, ...] = field(default=())  # harmless remarks (unlisted files ignored...)
    image: ImageVolume | None = None  # format 1.1: the source images, cropped and resampled

    @property
    def triangle_count(self) -> int:
        return sum(m.triangle_count for m in self.meshes.values())


# ---------------------------------------------------------------- schema


@cache
def plan_schema() -> dict:
    text = resources.files("orkiosk.plan").joinpath("schema/plan-v1.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(plan_schema())


def schema_problems(doc) -> list[str]:
    """One readable line per way `doc` breaks the plan.json schema."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    lines = []
    for err in errors[:MAX_PROBLEMS]:
        where = _json_path(err.absolute_path)
        last = err.absolute_path[-1] if err.absolute_path else ""
        if err.validator == "pattern" and last in ("path", "mesh"):
            msg = (
                f"{err.instance!r} is not a safe package-relative path (no leading '/', "
                "no '.' or '..' parts; letters, digits, '.', '_', '-' only); it would leave the package"
                if ".." in str(err.instance) or str(err.instance).startswith("/")
                else f"{err.instance!r} is not a safe package-relative path"
            )
        else:
            msg = err.message if len(err.message) <= 200 else err.message[:200] + "..."
        lines.append(f"{MANIFEST_NAME}: {where}: {msg}")
    return lines


def _json_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_manifest(data: bytes) -> dict:
    """JSON bytes -> dict; NaN/Infinity and duplicate keys are refused."""

    def no_duplicates(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise ValueError(f"duplicate key {k!r}")
            d[k] = v
        return d

    try:
        return json.loads(
            data.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=no_duplicates
        )
    except UnicodeDecodeError as exc:
        raise PackageError([f"{MANIFEST_NAME}: not UTF-8 text ({exc.reason})"]) from None
    except RecursionError:
        raise PackageError([f"{MANIFEST_NAME}: nested too deeply"]) from None
    except ValueError as exc:
        raise PackageError([f"{MANIFEST_NAME}: not valid JSON ({exc})"]) from None


def semantic_problems(plan: Plan) -> list[str]:
    """Rules the schema cannot express: unique ids, meshes listed, sane geometry."""
    problems = []
    for kind in ("structures", "trajectories", "landmarks", "measurements", "views"):
        seen = set()
        for i, item in enumerate(getattr(plan, kind)):
            if item.id in seen:
                problems.append(f"{MANIFEST_NAME}: {kind}[{i}].id: duplicate id {item.id!r}")
            seen.add(item.id)
    listed = set()
    for i, f in enumerate(plan.files):
        if f.path in listed:
            problems.append(f"{MANIFEST_NAME}: files[{i}].path: {f.path!r} listed twice")
        if f.path in (MANIFEST_NAME, SIG_NAME):
            problems.append(f"{MANIFEST_NAME}: files[{i}].path: {f.path!r} cannot list itself")
        listed.add(f.path)
    meshes_used = {}
    for i, s in enumerate(plan.structures):
        if s.mesh not in listed:
            problems.append(f"{MANIFEST_NAME}: structures[{i}].mesh: {s.mesh!r} is not in files")
        if s.mesh in meshes_used:
            problems.append(
                f"{MANIFEST_NAME}: structures[{i}].mesh: {s.mesh!r} already used by "
                f"{meshes_used[s.mesh]!r}"
            )
        meshes_used[s.mesh] = s.id
    for i, t in enumerate(plan.trajectories):
        length = sum((a - b) ** 2 for a, b in zip(t.entry, t.target, strict=True)) ** 0.5
        if length < 1.0:
            problems.append(
                f"{MANIFEST_NAME}: trajectories[{i}] ({t.id}): entry and target are "
                f"{length:.2f} mm apart (at least 1 mm)"
            )
    for i, v in enumerate(plan.views):
        cross = _cross(v.look, v.up)
        if sum(c * c for c in v.look) < 1e-12 or sum(c * c for c in cross) < 1e-12:
            problems.append(
                f"{MANIFEST_NAME}: views[{i}] ({v.id}): look must be non-zero and not parallel to up"
            )
    if plan.image is not None:
        if plan.image.path not in listed:
            problems.append(f"{MANIFEST_NAME}: image.path: {plan.image.path!r} is not in files")
        if plan.image.path in meshes_used:
            problems.append(f"{MANIFEST_NAME}: image.path: {plan.image.path!r} is a mesh")
        problems += entry_problems(plan.image)
    total = sum(f.size for f in plan.files)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{MANIFEST_NAME}: files add up to {total} bytes (limit {MAX_TOTAL_BYTES})")
    return problems


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


# ---------------------------------------------------------------- reading


def member_path(root: Path, rel: str) -> Path:
    """The regular file `rel` inside root; refuses escapes, symlinks and non-files."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise _Problem(rel, "path leaves the package or is not a plain relative path")
    p = root
    for part in parts:
        p = p / part
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            raise _Problem(rel, "listed in plan.json but missing") from None
        except OSError as exc:
            raise _Problem(rel, f"cannot be read ({exc.strerror})") from None
        if stat.S_ISLNK(st.st_mode):
            raise _Problem(rel, "is a symbolic link (not allowed in a package)")
    if not stat.S_ISREG(st.st_mode):
        raise _Problem(rel, "is not a regular file")
    return p


class _Problem(Exception):
    def __init__(self, rel: str, reason: str):
        super().__init__(f"{rel}: {reason}")


def read_member(path: Path, rel: str, size: int) -> bytearray:
    """Read exactly `size` bytes of a listed file, refusing links and size changes."""
    if size > MAX_FILE_BYTES:
        raise _Problem(rel, f"{size} bytes is over the {MAX_FILE_BYTES} byte limit")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise _Problem(rel, f"cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb", buffering=0) as f:
        actual = os.fstat(f.fileno()).st_size
        if actual != size:
            raise _Problem(rel, f"size is {actual} bytes, plan.json says {size}")
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            n = f.readinto(view[got:])
            if not n:
                break
            got += n
        if got != size or f.read(1):
            raise _Problem(rel, "changed size while being read")
    return buf


def _sha256(data) -> str:
    return hashlib.sha256(data).hexdigest()  # releases the GIL: runs beside the decoding


@cache
def _hash_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="orkiosk-sha256")


def read_manifest(root: Path) -> bytes:
    try:
        st = os.lstat(root / MANIFEST_NAME)
    except FileNotFoundError:
        raise PackageError([f"{root}: no {MANIFEST_NAME} (not a planning package)"]) from None
    except OSError as exc:
        raise PackageError([f"{MANIFEST_NAME}: cannot be read ({exc.strerror})"]) from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise PackageError([f"{MANIFEST_NAME}: must be a regular file, not a link or folder"])
    if st.st_size > MAX_MANIFEST_BYTES:
        raise PackageError([f"{MANIFEST_NAME}: {st.st_size} bytes is over the manifest limit"])
    return (root / MANIFEST_NAME).read_bytes()


def _check_signature(root, manifest, trusted, require_signature) -> tuple[TrustedKey | None, list]:
    sig_path = root / SIG_NAME
    if not os.path.lexists(sig_path):
        if require_signature:
            return None, [f"{SIG_NAME}: missing, but a signature is required"]
        return None, []
    if trusted is None:
        if require_signature:
            return None, [f"{SIG_NAME}: a signature is required but no trusted keys were given"]
        return None, []
    st = os.lstat(sig_path)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SIG_BYTES:
        return None, [f"{SIG_NAME}: not a regular file of sane size"]
    try:
        return verify_signature(manifest, sig_path.read_bytes(), trusted), []
    except SignatureError as exc:
        return None, [str(exc)]


def load_package(
    path,
    trusted: dict[str, TrustedKey] | None = None,
    require_signature: bool = False,
) -> Package:
    """Verify and load a package; raise PackageError listing every problem found."""
    root = Path(path)
    if not root.is_dir():
        raise PackageError([f"{root}: not a package directory"])
    manifest = read_manifest(root)
    doc = parse_manifest(manifest)
    problems = schema_problems(doc)
    if problems:
        raise PackageError(problems)
    plan = Plan.from_dict(doc)
    problems = semantic_problems(plan)
    signer, sig_problems = _check_signature(root, manifest, trusted, require_signature)
    problems += sig_problems
    meshes: dict[str, Mesh] = {}
    image = None
    by_path = {s.mesh: s.id for s in plan.structures}
    pending = []  # hashing runs on worker threads while the meshes decode here
    for entry in plan.files:
        try:
            data = read_member(member_path(root, entry.path), entry.path, entry.size)
        except _Problem as exc:
            problems.append(str(exc))
            continue
        pending.append((entry, _hash_pool().submit(_sha256, data)))
        if entry.path in by_path:
            try:
                meshes[by_path[entry.path]] = decode_glb(data)
            except MeshError as exc:
                problems.append(f"{entry.path}: bad mesh ({exc})")
        elif plan.image is not None and entry.path == plan.image.path and not problems:
            image, image_problems = _decode_image(plan, data)
            problems += image_problems
    for entry, digest in pending:
        if digest.result() != entry.sha256:
            problems.insert(
                0,
                f"{entry.path}: SHA-256 mismatch (file {digest.result()[:12]}..., "
                f"plan.json {entry.sha256[:12]}...): damaged or changed after planning",
            )
    if image is not None and not problems:
        targets = [(t.id, t.target) for t in plan.trajectories]
        problems += [
            f"{line} (bad image)"
            for line in placement_problems(plan.image, plan_bounds(plan, meshes), targets)
        ]
    if problems:
        raise PackageError(problems[:MAX_PROBLEMS])
    listed = {f.path for f in plan.files} | {MANIFEST_NAME, SIG_NAME}
    notes = tuple(
        f"{rel}: not listed in plan.json, ignored"
        for rel in _relative_files(root)
        if rel not in listed
    )
    return Package(
        path=root,
        plan=plan,
        meshes=meshes,
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        signed_by=signer,
        notes=notes[:MAX_PROBLEMS],
        image=image,
    )


def _decode_image(plan: Plan, data) -> tuple[ImageVolume | None, list[str]]:
    try:
        return ImageVolume(decode_image(plan.image, data), plan.image), []
    except ImageError as exc:
        path, _, why = str(exc).partition(": ")
        return None, [f"{path}: bad image ({why})"]


def _relative_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            out.append(Path(dirpath, name).relative_to(root).as_posix())
    return out


# ---------------------------------------------------------------- writing


def encode_manifest(plan: Plan) -> bytes:
    return (json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_package(
    plan: Plan,
    meshes: dict[str, Mesh],
    out_dir,
    *,
    overwrite: bool = False,
    image: ImageVolume | None = None,
) -> Path:
    """Write a complete package atomically: meshes (and the image), then plan.json listing
    every file's hash.

    Structure mesh paths are set to meshes/<id>.glb, the image's to image/volume.i16.gz; a
    package with an image is format 1.1, one without stays format 1. The package appears under
    out_dir only when it is complete; with overwrite=True an existing package there is replaced.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise PackageError([f"{out}: already exists (use overwrite to replace it)"])
    if out.exists() and not _replaceable(out):
        raise PackageError(
            [f"{out}: not a planning package (no plan.json) and not empty; refusing to replace it"]
        )
    missing = [s.id for s in plan.structures if s.id not in meshes]
    if missing:
        raise PackageError([f"structure {sid!r}: no mesh given" for sid in missing])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "meshes").mkdir(parents=True)
    try:
        structures, files = [], []
        for s in plan.structures:
            rel = f"meshes/{s.id}.glb"
            data = encode_glb(meshes[s.id], name=s.name, color=s.color, opacity=s.opacity)
            _write_synced(tmp / rel, data)
            structures.append(replace(s, mesh=rel))
            files.append((rel, len(data), hashlib.sha256(data).hexdigest()))
        entry = None
        if image is not None:
            entry = replace(image.entry, path=IMAGE_PATH)
            data = encode_image(image.array, entry.encoding)
            (tmp / "image").mkdir()
            _write_synced(tmp / IMAGE_PATH, data)
            files.append((IMAGE_PATH, len(data), hashlib.sha256(data).hexdigest()))
        final = replace(
            plan,
            structures=tuple(structures),
            files=tuple(FileEntry(*f) for f in files),
            image=entry,
            format_version=FORMAT_VERSION_IMAGE if entry is not None else FORMAT_VERSION,
        )
        manifest = encode_manifest(final)
        problems = schema_problems(parse_manifest(manifest)) + semantic_problems(final)
        if problems:
            raise PackageError(problems)
        _write_synced(tmp / MANIFEST_NAME, manifest)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replaceable(path: Path) -> bool:
    """Only a planning package, or an empty folder, may be replaced by a new package."""
    if path.is_symlink() or not path.is_dir():
        return False
    return (path / MANIFEST_NAME).is_file() or not any(path.iterdir())


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
