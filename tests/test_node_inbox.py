"""The node's inbox and allow list without a network: durable writes, duplicates, names that are
not UIDs, series states; AET@HOST parsing."""

from __future__ import annotations

import os

import pytest

from orkiosk.node.allow import AllowError, allowed, parse_allow
from orkiosk.node.inbox import Inbox, safe_uid


def test_store_is_durable_idempotent_and_uid_safe(tmp_path):
    inbox = Inbox(tmp_path / "in")
    inbox.check_writable()
    a = inbox.store("1.2.3", "1.2.3.4", "1.2.3.4.5", b"first")
    assert a.path == tmp_path / "in" / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm" and not a.duplicate
    b = inbox.store("1.2.3", "1.2.3.4", "1.2.3.4.5", b"second copy")
    assert b.duplicate and a.path.read_bytes() == b"first"  # the first copy stays
    evil = inbox.store("../../etc", "1.2", "x/../../y", b"z")
    assert evil.path.parent.parent.parent == tmp_path / "in"  # never leaves the inbox
    assert safe_uid("../../etc").startswith("x") and safe_uid("1.2.840.10008") == "1.2.840.10008"
    assert not list((tmp_path / "in").rglob("*.part-*"))


def test_a_failed_write_leaves_no_part_file(tmp_path):
    inbox = Inbox(tmp_path / "in")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "1.2.3").write_text("a file where the study's folder goes")
    with pytest.raises(OSError):
        inbox.store("1.2.3", "1.2.3.4", "1.2.3.4.5", b"data")
    assert sorted(os.listdir(tmp_path / "in")) == ["1.2.3"]


def test_series_states(tmp_path):
    import numpy as np

    from orkiosk.planning.phantom.series import write_series

    src = write_series(np.zeros((3, 8, 8), np.int16), np.eye(4), tmp_path / "src")
    import pydicom

    inbox = Inbox(tmp_path / "in")
    for f in src:
        ds = pydicom.dcmread(f)
        inbox.store(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, f.read_bytes())
    (s,) = inbox.series(quiet_s=60)
    assert (s["state"], s["instances"], s["modality"]) == ("arriving", 3, "CT")
    (s,) = inbox.series(quiet_s=0)
    assert s["state"] == "complete"
    (s,) = inbox.series(quiet_s=0, expected=lambda study, series: 5)
    assert (s["state"], s["archive_instances"]) == ("incomplete", 5)


def test_allow_list():
    senders = parse_allow("ORTHANC@127.0.0.1, CT_SCANNER@::1")
    assert allowed(senders, "ORTHANC", "127.0.0.1") and allowed(senders, "ORTHANC  ", "127.0.0.1")
    assert not allowed(senders, "ORTHANC", "127.0.0.2")  # the right name from the wrong host
    assert not allowed(senders, "MALLORY", "127.0.0.1")
    assert allowed(senders, "CT_SCANNER", "::1")
    for bad in ("ORTHANC", "@127.0.0.1", "A" * 17 + "@127.0.0.1", "X@no-such-host.invalid"):
        with pytest.raises(AllowError):
            parse_allow(bad)


def test_rules_and_draft_records(tmp_path):
    import numpy as np
    import pydicom

    from orkiosk.node.drafts import Drafts, RulesError, load_rules
    from orkiosk.planning.phantom.series import write_series

    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        '[[rule]]\nmodality = "CT"\ndescription = "head|brain"\npresets = ["skin", "bone"]\n'
        '[[rule]]\nmodality = "CT"\npresets = ["skin"]\n'
    )
    head, other = load_rules(rules_file)
    assert head.matches({"modality": "ct", "description": "Brain 1 mm"})
    assert not head.matches({"modality": "CT", "description": "Chest"})
    assert other.matches({"modality": "CT", "description": "Chest"})
    for bad, why in (
        ('[[rule]]\npresets = ["liver"]\n', "unknown presets"),
        ('[[rule]]\nmodality = "CT"\n', "needs presets"),
        ('[[rule]]\npresets = ["skin"]\ncolour = "red"\n', "unknown keys"),
        ('[[rule]]\npresets = ["skin"]\ndescription = "("\n', "not a regular expression"),
    ):
        rules_file.write_text(bad)
        with pytest.raises(RulesError, match=why):
            load_rules(rules_file)

    # one slice cannot be built: the failure is recorded with the build's reason
    inbox = Inbox(tmp_path / "in")
    (f,) = write_series(np.zeros((1, 16, 16), np.int16), np.eye(4), tmp_path / "one")
    ds = pydicom.dcmread(f)
    inbox.store(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, f.read_bytes())
    (s,) = inbox.series(quiet_s=0)
    drafts = Drafts(tmp_path / "in", tmp_path / "drafts", load_rules(None), log=lambda line: None)
    rec = drafts.submit(s).result()
    assert rec["state"] == "failed" and rec["reason"] and drafts.record(s["series"]) == rec
    assert drafts.submit(s) is None  # once per instance count
    # a series no rule matches
    nomatch = Drafts(tmp_path / "in", tmp_path / "d2", (), log=lambda line: None)
    assert nomatch.submit(s).result()["state"] == "no-rule"
    drafts.close()
    nomatch.close()
