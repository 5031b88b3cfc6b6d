"""`orkiosk node` against a real archive: Orthanc on 127.0.0.1 pushes a real chest CT
(pyradiomics' lung1, written as DICOM) to the node, which writes it whole into its inbox and
declares it complete once; a resend stores nothing twice; compressed transfer syntaxes arrive
and build; unknown senders, a wrong called AE title and a wrong host are refused; an inbox that
cannot take a study answers the sender with a failure and loses nothing already received."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pydicom
import pytest
import realdata
from orthanc import AET, Orthanc
from sync_support import Proc

from orkiosk.plan.package import load_package
from orkiosk.planning.phantom.series import write_series


def _node(
    tmp_path: Path, allow: str, name: str = "node", aet: str = "ORKIOSK", drafts: bool = False
) -> tuple[Proc, int]:
    p = Proc(
        [
            "node",
            "--inbox",
            tmp_path / f"{name}-inbox",
            "--aet",
            aet,
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--allow",
            allow,
            "--quiet-s",
            "2",
            *([] if drafts else ["--no-drafts"]),
        ],
        name,
    )
    port = int(p.wait_line(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    return p, port


@pytest.fixture(scope="module")
def lung_series(tmp_path_factory) -> list[Path]:
    arr, affine = realdata.need(realdata.nrrd_volume, "lung1")
    out = tmp_path_factory.mktemp("lung1")
    return write_series(arr, affine, out, series_description="Chest CT (lung1)")


def _status(inbox: Path, *more: str) -> list[dict]:
    """`orkiosk node status` as a user runs it."""
    cmd = [sys.executable, "-m", "orkiosk", "node", "status", "--inbox", str(inbox)]
    r = subprocess.run([*cmd, "--quiet-s", "2", *more], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["series"]


def test_orthanc_pushes_a_real_ct_whole_once_and_compressed(tmp_path, lung_series):
    node, port = _node(tmp_path, f"{AET}@127.0.0.1", drafts=True)
    orthanc = Orthanc(tmp_path / "orthanc", {"node": ("ORKIOSK", "127.0.0.1", port)})
    try:
        (series_id,) = orthanc.upload(lung_series)
        n = len(lung_series)
        orthanc.store("node", [series_id])
        inbox = tmp_path / "node-inbox"
        files = sorted(inbox.glob("*/*/*.dcm"))
        assert len(files) == n  # whole, before Orthanc's C-STORE was answered
        assert not list(inbox.rglob("*.part-*"))
        line = node.wait_line(r"series (\S+) complete: (\d+) instances \(CT Chest CT", timeout=30)
        assert int(line.group(2)) == n
        # the draft plan: built by the default CT rule, verified, on the source's geometry
        ready = node.wait_line(r"draft of series \S+: ready at (\S+)", timeout=300)
        draft = load_package(ready.group(1))
        assert {st.id for st in draft.plan.structures} == {"skin", "bone"}
        src = pydicom.dcmread(lung_series[0], stop_before_pixels=True)
        assert draft.plan.study.uid == src.StudyInstanceUID
        a = draft.image.affine[:3, :3] / np.linalg.norm(draft.image.affine[:3, :3], axis=0)
        iop = np.array(src.ImageOrientationPatient, dtype=float)
        assert np.allclose(a[:, 0], iop[:3], atol=1e-3)  # image rows run the same way: sides kept
        assert np.allclose(a[:, 1], iop[3:], atol=1e-3)
        assert Path(ready.group(1) + ".png").is_file()
        (s,) = _status(inbox)
        assert (s["state"], s["instances"], s["modality"]) == ("complete", n, "CT")
        assert s["draft"]["state"] == "built"
        assert "name" not in json.dumps({k: v for k, v in s.items() if k != "draft"}).lower()
        # the same series again: nothing stored twice, not declared complete again
        orthanc.store("node", [series_id])
        assert len(sorted(inbox.glob("*/*/*.dcm"))) == n
        # compressed in the archive (JPEG 2000 lossless, RLE lossless): stored as sent, and built
        for ts in ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"):
            shutil_rmtree(inbox)
            (compressed_id,) = orthanc.upload(_compressed(lung_series, ts, tmp_path / ts))
            orthanc.store("node", [compressed_id])
            (series_dir,) = {p.parent for p in inbox.glob("*/*/*.dcm")}
            assert pydicom.dcmread(next(series_dir.iterdir())).file_meta.TransferSyntaxUID == ts
            out = tmp_path / f"pkg-{ts}"
            build = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "orkiosk",
                    "build",
                    str(series_dir),
                    "-o",
                    str(out),
                    "--preset",
                    "skin",
                    "--no-report",
                    "--quiet",
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert build.returncode == 0, build.stderr[-2000:]
        node.stop()
        assert node.wait_line(r"node stopped: \d+ stored, (\d+) duplicates").group(1) == str(n)
    finally:
        orthanc.close()
        node.stop()


def _compressed(files: list[Path], ts: str, out: Path) -> list[Path]:
    """The series again, compressed losslessly in `ts`, as a new series (new UIDs)."""
    from pydicom.uid import generate_uid

    out.mkdir()
    series_uid = generate_uid()
    paths = []
    for k, f in enumerate(files):
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.compress(ts)
        paths.append(out / f"{k:04d}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


def shutil_rmtree(p: Path) -> None:
    import shutil

    shutil.rmtree(p)
    p.mkdir()


def test_unknown_senders_wrong_called_aet_and_wrong_host_are_refused(tmp_path, lung_series):
    node, port = _node(tmp_path, f"{AET}@127.0.0.1")
    far, far_port = _node(tmp_path, f"{AET}@192.0.2.7", name="far")  # Orthanc is not there
    orthanc = Orthanc(
        tmp_path / "orthanc",
        {
            "wrong-called": ("SOMEONE", "127.0.0.1", port),
            "far": ("ORKIOSK", "127.0.0.1", far_port),
        },
    )
    try:
        (series_id,) = orthanc.upload(lung_series[:3])
        for modality in ("wrong-called", "far"):
            with pytest.raises(urllib.error.HTTPError):
                orthanc.store(modality, [series_id])
        far.wait_line(r"refused an association from ORTHANC at 127\.0\.0\.1")
        # an AE title the node does not know, from the right host
        from pynetdicom import AE
        from pynetdicom.sop_class import CTImageStorage

        ae = AE(ae_title="MALLORY")
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate("127.0.0.1", port, ae_title="ORKIOSK")
        assert assoc.is_rejected
        node.wait_line(r"refused an association from MALLORY at 127\.0\.0\.1")
        for inbox in (tmp_path / "node-inbox", tmp_path / "far-inbox"):
            assert not list(inbox.rglob("*.dcm"))
    finally:
        orthanc.close()
        node.stop()
        far.stop()


def test_an_inbox_that_cannot_take_a_study_answers_failure_and_keeps_the_rest(
    tmp_path, lung_series
):
    import pydicom

    node, port = _node(tmp_path, f"{AET}@127.0.0.1")
    orthanc = Orthanc(tmp_path / "orthanc", {"node": ("ORKIOSK", "127.0.0.1", port)})
    try:
        (series_id,) = orthanc.upload(lung_series)
        inbox = tmp_path / "node-inbox"
        half = len(lung_series) // 2
        first = orthanc.upload_instances(lung_series[:half])  # the first half of the series
        orthanc.store("node", first)
        kept = sorted(inbox.glob("*/*/*.dcm"))
        assert len(kept) == half
        # the study's folder becomes a file: every further instance of it cannot be written
        study = pydicom.dcmread(lung_series[0], stop_before_pixels=True).StudyInstanceUID
        blocked = tmp_path / "other-inbox-study"
        (inbox / study).rename(blocked)
        (inbox / study).write_text("not a folder")
        with pytest.raises(urllib.error.HTTPError):
            orthanc.store("node", [series_id])
        node.wait_line(r"cannot store an instance of series")
        # what was received before is intact, and nothing half-written was left
        assert len(sorted(blocked.glob("*/*.dcm"))) == half
        assert not list(inbox.rglob("*.part-*")) and not list(blocked.rglob("*.part-*"))
    finally:
        orthanc.close()
        node.stop()


def test_pacs_find_and_get_a_series_from_the_archive(tmp_path, lung_series, capsys):
    from orthanc import free_port

    from orkiosk.cli import main

    orthanc = Orthanc(tmp_path / "orthanc", {"orkiosk": ("ORKIOSK", "127.0.0.1", free_port())})
    try:
        orthanc.upload(lung_series)
        head = pydicom.dcmread(lung_series[0], stop_before_pixels=True)
        pacs = f"{AET}@127.0.0.1:{orthanc.dicom}"
        assert main(["pacs", "find", "--pacs", pacs, "--patient", head.PatientID]) == 0
        (row,) = json.loads(capsys.readouterr().out)["series"]
        assert row["series"] == head.SeriesInstanceUID and row["modality"] == "CT"
        assert row["instances"] == len(lung_series)
        assert str(head.PatientName) not in json.dumps(row)  # never asked for, never shown
        inbox = tmp_path / "got"
        assert (
            main(["pacs", "get", "--pacs", pacs, "--series", row["series"], "--to", str(inbox)])
            == 0
        )
        assert f"retrieved {len(lung_series)} instances" in capsys.readouterr().out
        got = sorted(inbox.glob("*/*/*.dcm"))
        assert len(got) == len(lung_series)
        a = pydicom.dcmread(got[0])
        b = pydicom.dcmread(
            next(
                f
                for f in lung_series
                if pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID == a.SOPInstanceUID
            )
        )
        assert (a.pixel_array == b.pixel_array).all()
        # an AE title the archive does not know is refused, in one line
        assert main(["pacs", "find", "--pacs", pacs, "--aet", "MALLORY"]) == 2
        assert "is this node's AE title 'MALLORY'" in capsys.readouterr().err
    finally:
        orthanc.close()


def test_a_push_aborted_half_way_is_incomplete_until_sent_again(tmp_path, lung_series):
    from orthanc import free_port

    port = free_port()
    orthanc = Orthanc(tmp_path / "orthanc", {"node": ("ORKIOSK", "127.0.0.1", port)})
    node = Proc(
        [
            "node",
            "--inbox",
            tmp_path / "inbox",
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--allow",
            f"{AET}@127.0.0.1",
            "--quiet-s",
            "2",
            "--no-drafts",
            "--pacs",
            f"{AET}@127.0.0.1:{orthanc.dicom}",
        ],
        "node",
    )
    try:
        node.wait_line(r"listening on")
        ids = orthanc.upload_instances(lung_series)
        half = len(ids) // 2
        orthanc.store("node", ids[:half])
        import time

        time.sleep(3.5)  # quiet for longer than --quiet-s: still not complete
        (s,) = _status(tmp_path / "inbox", "--pacs", f"{AET}@127.0.0.1:{orthanc.dicom}")
        assert (s["state"], s["instances"], s["archive_instances"]) == (
            "incomplete",
            half,
            len(ids),
        )
        assert not [line for line in node.lines if " complete: " in line]
        orthanc.store("node", ids)  # sent again, whole
        done = node.wait_line(r"series \S+ complete: (\d+) instances", timeout=40)
        assert int(done.group(1)) == len(ids)
        time.sleep(2.5)
        assert len([line for line in node.lines if " complete: " in line]) == 1  # once
    finally:
        orthanc.close()
        node.stop()


def test_dicomweb_find_and_get_from_the_archive(tmp_path, lung_series, capsys):
    from orthanc import PASSWORD, USER

    from orkiosk.cli import main

    orthanc = Orthanc(tmp_path / "orthanc", {}, dicomweb=True)
    try:
        orthanc.upload(lung_series)
        head = pydicom.dcmread(lung_series[0], stop_before_pixels=True)
        auth = tmp_path / "auth"
        auth.write_text(f"{USER}:{PASSWORD}\n")
        auth.chmod(0o600)
        web = ["--dicomweb", orthanc.dicomweb_url, "--dicomweb-auth", str(auth)]
        assert main(["pacs", "find", *web, "--patient", head.PatientID, "--modality", "CT"]) == 0
        (row,) = json.loads(capsys.readouterr().out)["series"]
        assert row["series"] == head.SeriesInstanceUID
        assert row["instances"] == len(lung_series)
        assert str(head.PatientName) not in json.dumps(row)
        inbox = tmp_path / "web-inbox"
        assert main(["pacs", "get", *web, "--series", row["series"], "--to", str(inbox)]) == 0
        got = sorted(inbox.glob("*/*/*.dcm"))
        assert len(got) == len(lung_series)
        a = pydicom.dcmread(got[0])
        src = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: f for f in lung_series}
        assert (a.pixel_array == pydicom.dcmread(src[a.SOPInstanceUID]).pixel_array).all()
        # without the password the archive answers 401, said in one line
        auth.write_text(f"{USER}:wrong\n")
        assert main(["pacs", "find", *web]) == 2
        assert "HTTP 401" in capsys.readouterr().err
    finally:
        orthanc.close()
