"""The screen's worker-thread part of loading: a package the kiosk's plan store has just
verified (hub plans) is not read and verified a second time; anything else is."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orkiosk.app.kiosk import loading
from orkiosk.app.settings import KioskSettings
from orkiosk.plan.package import load_package


def test_a_package_the_store_verified_is_not_verified_again(package, monkeypatch):
    verified = load_package(package)
    calls = []
    monkeypatch.setattr(loading, "load_package", lambda *a, **k: calls.append(a) or verified)
    loaded = loading.load_for_display(package, KioskSettings(), None, verified)
    assert loaded.package is verified and calls == []
    assert loaded.prepared.structures and loaded.metrics is not None


def test_anything_else_is_verified(package, tmp_path, monkeypatch):
    verified = load_package(package)
    calls = []
    real = loading.load_package
    monkeypatch.setattr(loading, "load_package", lambda *a, **k: calls.append(a) or real(*a, **k))
    other = replace(verified, path=tmp_path / "elsewhere")  # not the files offered
    loading.load_for_display(package, KioskSettings(), None, other)
    assert len(calls) == 1
    # a kiosk with trusted keys: an unsigned "verified" package is checked again (and refused)
    with pytest.raises(Exception, match="signature"):
        loading.load_for_display(package, KioskSettings(require_signature=True), {}, verified)
    assert len(calls) == 2


def test_a_second_load_of_the_same_mesh_files_reuses_their_prepared_meshes(package):
    from orkiosk.render.prepare import PreparedMeshes

    known = PreparedMeshes()
    first = loading.load_for_display(package, KioskSettings(), None, None, known)
    again = loading.load_for_display(package, KioskSettings(), None, None, known)
    assert again.package is not first.package  # read and verified again, decoded anew
    for a, b in zip(first.prepared.structures, again.prepared.structures, strict=True):
        assert b.mesh is a.mesh and b.lod is a.lod  # what was made of the files is kept
