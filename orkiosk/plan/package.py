"""Planning packages on disk: write, verify and load.

A package is a directory holding plan.json (the manifest), meshes/*.glb and an optional plan.sig.
Loading trusts nothing: it reads only files the manifest lists, refuses paths that leave the
package and symbolic links, compares sizes before reading, checks every SHA-256 and the mesh
contents, and (when asked) the Ed25519 signature over plan.json. Every problem found becomes one
line of a PackageError; nothing else escapes.

The one shortcut: a caller that wrote a file itself and hashed exactly the bytes it wrote (the
plan store's staging writer) may pass that digest with the file's identity (`known`); the file is
then read and checked like any other, but not hashed a second time if the file opened is still,
before and after reading, the very file of that identity. See `load_package`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from orkiosk.plan.bounds import plan_bounds
from orkiosk.plan.glb import decode_glb, encode_glb
from orkiosk.plan.image import (
    IMAGE_PATH,
    ImageError,
    ImageVolume,
    decode_image,
    encode_image,
    placement_problems,
)
from orkiosk.plan.manifest import (
    encode_manifest,
    parse_manifest,
    schema_problems,
    semantic_problems,
)
from orkiosk.plan.mesh import Mesh, MeshError
from orkiosk.plan.model import FORMAT_VERSION, FORMAT_VERSION_IMAGE, FileEntry, Plan
from orkiosk.plan.problems import MANIFEST_NAME, MAX_PROBLEMS, PackageError
from orkiosk.plan.signing import (
    MAX_SIG_BYTES,
    SIG_NAME,
    SignatureError,
    TrustedKey,
    verify_signature,
)

MAX_MANIFEST_BYTES = 16 << 20
MAX_FILE_BYTES = 1 << 30


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


@dataclass(frozen=True)
class KnownDigest:
    """The SHA-256 of a file's bytes, known to whoever wrote them, and the file's identity
    (`file_identity`) right after it was written and got its final name."""

    size: int
    sha256: str
    identity: tuple


def file_identity(st: os.stat_result) -> tuple:
    """What tells one version of a file from another without reading it: device, inode, size,
    modification and status-change times (ns). Writing, truncating, renaming over, touching or
    chmod-ing a file changes at least one of them; on Linux 6.13+ (multigrain timestamps on ext4,
    xfs, btrfs, tmpfs) a change after the file was last stat'ed always gets a new ctime, on older
    kernels a change within the same clock tick (a few ms) can keep the times."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Problem(Exception):
    def __init__(self, rel: str, reason: str):
        super().__init__(f"{rel}: {reason}")


def read_member(path: Path, rel: str, size: int) -> bytearray:
    """Read exactly `size` bytes of a listed file, refusing links and size changes."""
    return _read_member(path, rel, size)[0]


def _read_member(path: Path, rel: str, size: int) -> tuple[bytearray, tuple, tuple]:
    """read_member, with the identity of the file opened before and after reading it."""
    if size > MAX_FILE_BYTES:
        raise _Problem(rel, f"{size} bytes is over the {MAX_FILE_BYTES} byte limit")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise _Problem(rel, f"cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())
        if st.st_size != size:
            raise _Problem(rel, f"size is {st.st_size} bytes, plan.json says {size}")
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
        after = os.fstat(f.fileno())
    return buf, file_identity(st), file_identity(after)


def _sha256(data) -> str:
    return hashlib.sha256(data).hexdigest()  # releases the GIL: runs beside the decoding


@cache
def _hash_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="orkiosk-sha256")


@dataclass(frozen=True)
class _Known:
    """A digest recorded by the file's writer, in place of a hashing future."""

    digest: str

    def result(self) -> str:
        return self.digest


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
    *,
    known: Mapping[str, KnownDigest] | None = None,
) -> Package:
    """Verify and load a package; raise PackageError listing every problem found.

    `known` (relative path -> KnownDigest) spares hashing a listed file a second time: when the
    file opened has, before and after it is read, exactly the identity recorded with the digest
    (and the size plan.json lists), the recorded digest stands for the bytes read and is compared
    with plan.json like a computed one. Everything else is checked as always (the manifest's
    hash, the signature, sizes, links, the mesh and image contents). Only pass digests the caller
    computed itself over exactly the bytes it wrote into a file that it created whole under a
    temporary name and renamed, never wrote in place, in a folder only it writes: the plan
    store's own staging (orkiosk.store.staging). Never for a folder someone else filled."""
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
            data, before, after = _read_member(
                member_path(root, entry.path), entry.path, entry.size
            )
        except _Problem as exc:
            problems.append(str(exc))
            continue
        mine = known.get(entry.path) if known else None
        if mine is not None and mine.size == entry.size and mine.identity == before == after:
            pending.append((entry, _Known(mine.sha256)))
        else:
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
        got = digest.result()
        if got != entry.sha256:
            problems.insert(
                0,
                f"{entry.path}: SHA-256 mismatch (file {got[:12]}..., "
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
