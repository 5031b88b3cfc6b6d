"""The kiosk's last view, kept in the state folder so a restarted kiosk resumes it (no Kivy).

`STATE/view.json` holds the case the view belongs to and the model's typed active view
(orkiosk/app/model/values.py). It is written on every view change (a button press, not a
gesture) under a temporary name and renamed over the old one: cheap, and a crash leaves the old
view or the new one. A kiosk that starts on the same case shows that view again; anything else
(another case, a view the plan no longer has, a damaged file) gives the default view.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from orkiosk.app.model.values import ActiveView, NamedView, PlanViewRef, TrajectoryView

log = logging.getLogger("orkiosk.kiosk")

VIEW_FILE = "view.json"


def view_to_json(view: ActiveView) -> dict:
    if isinstance(view, NamedView):
        return {"kind": "named", "name": view.name}
    if isinstance(view, PlanViewRef):
        return {"kind": "plan", "view_id": view.view_id}
    if isinstance(view, TrajectoryView):
        return {"kind": "trajectory", "trajectory_id": view.trajectory_id, "side": view.side}
    raise TypeError(f"not a view: {view!r}")


def view_from_json(doc) -> ActiveView | None:
    """The view a document describes, or None for anything malformed."""
    if not isinstance(doc, dict):
        return None
    kind = doc.get("kind")
    text = {k: v for k, v in doc.items() if isinstance(v, str) and 0 < len(v) <= 128}
    if kind == "named" and "name" in text:
        return NamedView(text["name"])
    if kind == "plan" and "view_id" in text:
        return PlanViewRef(text["view_id"])
    if kind == "trajectory" and "trajectory_id" in text and isinstance(doc.get("side"), bool):
        return TrajectoryView(text["trajectory_id"], doc["side"])
    return None


def save_view(state_dir: Path, case_id: str, view: ActiveView) -> None:
    """Remember the active view of this case (never raises: a view is not worth a failure)."""
    path = Path(state_dir) / VIEW_FILE
    tmp = path.with_name(f".{VIEW_FILE}.tmp")
    try:
        tmp.write_text(json.dumps({"case_id": case_id, "view": view_to_json(view)}), "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("the view could not be remembered in %s (%s)", path, exc.strerror or exc)


def load_view(state_dir: Path | None, case_id: str) -> ActiveView | None:
    """The view last shown for this case, or None."""
    if state_dir is None:
        return None
    try:
        doc = json.loads((Path(state_dir) / VIEW_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("case_id") != case_id:
        return None
    return view_from_json(doc.get("view"))
