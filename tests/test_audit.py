"""The audit log (orkiosk/store/audit.py): JSON lines fsync'd per entry, rotated by size and by
date with a bounded count; the headless kiosk's record of start, commit, show, refusal and stop
(real hub and kiosk processes), with patient identifiers in the audit log and never in the
general log; the windowed kiosk's start and first-frame entries and its last view resumed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sync_support import Net

from conftest import small_plan
from orkiosk.app.kiosk.bench import resume_child
from orkiosk.plan.package import write_package
from orkiosk.store import PlanStore
from orkiosk.store.audit import FILE_NAME, AuditLog


def lines(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / FILE_NAME).read_text("utf-8").splitlines()]


def test_entries_are_json_lines_with_time_event_and_fields(tmp_path):
    audit = AuditLog(tmp_path / "audit")
    assert audit.record("start", role="kiosk")
    assert audit.record("plan-shown", case_id="C-1", patient_name="DOE^JANE")
    got = lines(tmp_path / "audit")
    assert [e["event"] for e in got] == ["start", "plan-shown"]
    assert got[1]["patient_name"] == "DOE^JANE" and got[0]["pid"] == os.getpid()
    assert got[0]["time"].endswith("Z") and got[0]["time"] <= got[1]["time"]


def test_rotation_by_size_keeps_a_bounded_number_of_files(tmp_path):
    audit = AuditLog(tmp_path, max_bytes=600, keep=3)
    for i in range(60):
        assert audit.record("plan-shown", n=i, pad="x" * 100)
    rotated = audit.rotated()
    assert len(rotated) == 3, rotated
    assert all(p.stat().st_size <= 600 for p in [*rotated, tmp_path / FILE_NAME])
    ns = [e["n"] for e in audit.entries()]
    assert ns == sorted(ns) and ns[-1] == 59, "newest kept, in order, none lost in between"
    assert ns == list(range(ns[0], 60))


def test_rotation_when_the_date_changes(tmp_path):
    (tmp_path / FILE_NAME).write_text(
        json.dumps({"time": "2020-01-01T23:59:59.000Z", "event": "start"}) + "\n"
    )
    AuditLog(tmp_path).record("stop")
    (old,) = AuditLog(tmp_path).rotated()
    assert old.name.startswith("audit-20200101-235959")
    assert [e["event"] for e in lines(tmp_path)] == ["stop"]


def test_torn_last_line_is_skipped_and_later_entries_still_read(tmp_path):
    audit = AuditLog(tmp_path)
    audit.record("start")
    with open(tmp_path / FILE_NAME, "ab") as f:
        f.write(b'{"time": "2026-')  # power lost mid-write
    audit.record("stop")
    assert [e["event"] for e in audit.entries()] == ["start"], "the torn line swallows one"


def test_unwritable_audit_folder_is_one_log_line_never_an_exception(tmp_path, caplog):
    blocker = tmp_path / "audit"
    blocker.write_text("not a folder")
    audit = AuditLog(blocker)
    assert audit.record("start") is False
    assert audit.record("plan-shown", patient_name="DOE^JANE") is False
    errors = [r for r in caplog.records if r.name == "orkiosk.audit"]
    assert len(errors) == 1 and "not written" in errors[0].getMessage()
    assert "DOE^JANE" not in caplog.text


def test_store_commit_is_on_the_record(tmp_path):
    plan, meshes = small_plan()
    store = PlanStore(tmp_path / "state")
    store.commit(write_package(plan, meshes, tmp_path / "v1"))
    (entry,) = lines(tmp_path / "state" / "audit")
    assert entry["event"] == "plan-committed"
    assert (entry["case_id"], entry["plan_version"]) == ("CASE-1", 1)
    assert (entry["patient_id"], entry["patient_name"]) == ("P-1", "TEST^PATIENT")


@pytest.fixture
def net(tmp_path):
    n = Net(tmp_path, kiosks=("k1", "k2"))
    yield n
    n.close()


def test_headless_kiosk_records_start_commit_show_refusal_and_stop(net):
    hub = net.start_hub()
    (net.root / "trust-mallory").mkdir()
    (net.root / "trust-mallory" / "m.pub").write_bytes((net.keys / "mallory.pub").read_bytes())
    k1 = net.start_kiosk("k1")
    k2 = net.start_kiosk("k2", trust="trust-mallory")  # trusts another planner only
    result = net.push(net.package(1))
    assert "k1: shown v1" in result.stdout and "k2: refused" in result.stdout, result.stdout
    k1.stop()
    k2.stop()
    audit = AuditLog(net.state("k1") / "audit").entries()
    assert [e["event"] for e in audit] == ["start", "plan-committed", "plan-shown", "stop"]
    committed = audit[1]
    assert (committed["case_id"], committed["plan_version"]) == ("CASE-1", 1)
    assert committed["patient_name"] == "TEST^PATIENT" and committed["patient_id"] == "P-1"
    refused = AuditLog(net.state("k2") / "audit").entries()
    assert [e["event"] for e in refused] == ["start", "plan-refused", "stop"]
    assert "signature check failed" in refused[1]["reason"], refused[1]
    general = "\n".join(k1.lines + k2.lines + hub.lines + [result.stdout, result.stderr])
    assert "TEST^PATIENT" not in general and "PATIENT" not in general.upper(), general


def test_windowed_kiosk_resumes_plan_and_view_and_records_the_first_frame(tmp_path):
    plan, meshes = small_plan()
    state = tmp_path / "state"
    PlanStore(state).commit(write_package(plan, meshes, tmp_path / "v1"))
    first = resume_child(state, "800x600", set_view="named:left")
    assert first["view"] == {"kind": "named", "name": "anterior"}, "nothing remembered yet"
    assert first["set_view"] == {"kind": "named", "name": "left"}
    again = resume_child(state, "800x600")  # the first child ended as a crash would
    assert again["view"] == {"kind": "named", "name": "left"}
    assert (again["case_id"], again["plan_version"]) == ("CASE-1", 1)
    events = [e["event"] for e in AuditLog(state / "audit").entries()]
    assert events == ["plan-committed", "start", "plan-shown", "start", "plan-shown"], events
    # a view for another case, or a damaged file, gives the default view
    (state / "view.json").write_text('{"case_id": "CASE-1", "view": {"kind": "named"}}')
    assert resume_child(state, "800x600")["view"] == {"kind": "named", "name": "anterior"}
