"""Save an edited plan as the next version: a new package in which only plan.json and plan.sig
are new. Every mesh and image file is copied byte for byte from the package the edit started
from (same SHA-256), so a kiosk that holds the old version fetches and prepares nothing but the
manifest.

The new package is written beside its destination under a temporary name, verified there by the
kiosk's own verifier (`load_package`, with the signing key as the only trusted key when signed),
and only then renamed into place: a package that would not load is never left behind, and a
failed save leaves nothing at all.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from orkiosk.edit.operations import Bounds, EditError, plan_problems
from orkiosk.plan.diff import PlanDiff, diff_plans
from orkiosk.plan.manifest import encode_manifest, parse_manifest, schema_problems
from orkiosk.plan.model import Plan
from orkiosk.plan.package import Package, load_package
from orkiosk.plan.problems import MANIFEST_NAME, PackageError
from orkiosk.plan.signing import (
    SIG_NAME,
    SignatureError,
    TrustedKey,
    key_id,
    load_private_key,
    read_identity,
    sign_bytes,
)


@dataclass(frozen=True)
class Saved:
    path: Path
    package: Package  # as the kiosk's verifier loaded it
    diff: PlanDiff  # from the version the edit started from
    reused: int  # files copied unchanged (every file the plan lists)
    seconds: float


def next_plan(base: Plan, plan: Plan, *, version: int | None, planner: str, now: str) -> Plan:
    """`plan` as the next version of `base`: version up (by one unless given), the base's files,
    the time and the planner of this save. A version that would not grow is refused."""
    new_version = base.plan_version + 1 if version is None else int(version)
    if new_version <= base.plan_version:
        raise EditError(
            f"version {new_version} would not grow: the package is version {base.plan_version}"
        )
    structures = tuple(replace(s, mesh=base.structure(s.id).mesh) for s in plan.structures)
    return replace(
        plan,
        plan_version=new_version,
        created=now,
        planner=planner,
        structures=structures,
        files=base.files,
        image=base.image,
        format_version=base.format_version,
    )


def save_version(
    base: Package,
    plan: Plan,
    out,
    *,
    key_file: Path | None = None,
    planner: str | None = None,
    version: int | None = None,
) -> Saved:
    """Write `plan` as the next version of `base` into the new folder `out` (which must not
    exist). Signed with `key_file` when given; the planner is then the key's identity name."""
    t0 = time.perf_counter()
    out = Path(out)
    if os.path.lexists(out):
        raise EditError(f"{out}: already exists; a saved version never replaces a folder")
    missing = {s.id for s in base.plan.structures} ^ {s.id for s in plan.structures}
    if missing:
        raise EditError(f"structures {', '.join(sorted(missing))} differ from the package's")
    private = load_private_key(key_file) if key_file is not None else None
    who = planner or (_identity_name(key_file) if key_file is not None else base.plan.planner)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new = next_plan(base.plan, plan, version=version, planner=who, now=now)
    problems = plan_problems(new, Bounds.of(base.plan, base.meshes))
    manifest = encode_manifest(new)
    problems += schema_problems(parse_manifest(manifest))
    if problems:
        raise EditError("; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.saving-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for f in new.files:
            dest = tmp / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            _copy_synced(base.path / f.path, dest)
        _write(tmp / MANIFEST_NAME, manifest)
        trusted = None
        if private is not None:
            _write(tmp / SIG_NAME, sign_bytes(private, manifest))
            kid = key_id(private.public_key())
            trusted = {kid: TrustedKey(kid, Path(key_file), private.public_key())}
        try:
            loaded = load_package(tmp, trusted, require_signature=private is not None)
        except PackageError as exc:
            raise EditError(f"the saved version does not verify: {exc.headline}") from None
        _sync_dir(tmp)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    loaded = replace(loaded, path=out)
    return Saved(
        path=out,
        package=loaded,
        diff=diff_plans(base.plan, new, base.meshes, base.meshes),
        reused=len(new.files),
        seconds=time.perf_counter() - t0,
    )


def _identity_name(key_file: Path) -> str:
    try:
        return read_identity(key_file, private=True)["name"]
    except SignatureError:  # an older PEM key carries no name: its file name does
        return Path(key_file).stem


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _copy_synced(src: Path, dest: Path) -> None:
    shutil.copyfile(src, dest)  # copy_file_range/sendfile: no trip through Python
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    for dirpath, _dirs, _files in os.walk(path):
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
