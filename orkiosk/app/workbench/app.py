"""The planner's workbench (`orkiosk plan`): a windowed Kivy app on the kiosk's views.

The Workbench model (model.py) holds the edit session and the display state; this module builds
the window from layout.kv, attaches the shared views to the model, and turns the model's
announcements into text (banner, hint, status, readout). SAVE shows what changed (the project's
plan diff) before it signs; PUBLISH pushes the saved version through the hub on a worker thread
and shows each kiosk's answer as it comes.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder

from orkiosk.app.model import KioskState
from orkiosk.app.workbench.events import (
    EntryMapChanged,
    ItemSelected,
    ReadoutChanged,
    StatusChanged,
    ToolChanged,
)
from orkiosk.app.workbench.model import Workbench
from orkiosk.app.workbench.panels import StructuresPanel, ViewsPanel
from orkiosk.app.workbench.profile import ClearanceProfile
from orkiosk.app.workbench.views import WorkbenchPlanView, WorkbenchSliceView
from orkiosk.edit.readout import CAVEAT
from orkiosk.edit.session import HistoryChanged, PlanEdited
from orkiosk.errors import OrkioskError
from orkiosk.plan.package import Package
from orkiosk.render.state import InteractionQuality, Quality

log = logging.getLogger("orkiosk.workbench")
SLICES = ("axial", "coronal", "sagittal", "along", "perp")

Factory.register("WorkbenchPlanView", cls=WorkbenchPlanView)
Factory.register("WorkbenchSliceView", cls=WorkbenchSliceView)
Factory.register("ClearanceProfile", cls=ClearanceProfile)


@dataclass(frozen=True)
class PublishTo:
    hub: str
    hub_key: Path
    identity: Path  # this workbench's private identity (NAME.key): signs and connects
    room: str
    wait_s: float = 20.0


class _KeepEdits(ExceptionHandler):
    """A bug in a callback must not close the window and lose the planner's unsaved edits: it
    is logged with its traceback, said on the status line, and the workbench goes on."""

    def __init__(self, app: WorkbenchApp):
        super().__init__()
        self.app = app

    def handle_exception(self, exc):
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return ExceptionManager.RAISE
        log.exception("internal error in the workbench (the session goes on)")
        wb = self.app.workbench
        if wb is not None:
            wb.status(
                f"Internal problem ({type(exc).__name__}), logged; your edits are kept: SAVE them",
                "error",
            )
        return ExceptionManager.PASS


class WorkbenchApp(App):
    title = "orkiosk plan"

    def __init__(
        self,
        package: Package,
        *,
        save_to: Path,
        key: Path | None = None,
        publish_to: PublishTo | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.package = package
        self.save_to = Path(save_to)
        self.key = key
        self.publish_to = publish_to
        self.state = KioskState()
        self.workbench: Workbench | None = None
        self.last_saved: Path | None = None
        self.publish_lines: list[str] = []
        self._publishing = False

    # ------------------------------------------------------------------ build
    def build(self):
        ExceptionManager.add_handler(_KeepEdits(self))
        kv = resources.files("orkiosk.app.workbench") / "layout.kv"
        Builder.load_string(kv.read_text("utf-8"), filename="workbench-layout.kv")
        root = Factory.WorkbenchRoot()
        interactive = Quality(scale=0.6, msaa=0, lod=True, outlines=False)
        root.ids.view.attach(self.state, InteractionQuality(interactive, Quality(msaa=4)))
        self.view = root.ids.view
        return root

    def on_start(self):
        Window.clearcolor = (0.05, 0.06, 0.075, 1)
        wb = Workbench(self.package, self.state)
        self.workbench = wb
        ids = self.root.ids
        ids.view.workbench = wb
        for plane, sl in wb.slices.items():
            ids[plane].attach(sl, ids.view)
            ids[plane].workbench = wb
        ids.profile.workbench = wb
        wb.subscribe(self._on_workbench)
        wb.session.subscribe(self._on_session)
        self.structures, self.views = StructuresPanel(wb), ViewsPanel(wb)
        Window.bind(on_key_down=self._on_key)
        self.root.caveat = CAVEAT
        if self.publish_to is None:
            ids.publish.disabled = True
        self._fill()
        self._fill_item()
        self._frames_logged: dict[str, tuple] = {}
        Clock.schedule_interval(lambda dt: wb.poll(), 0.25)
        ids.view.bind(ready=self._on_ready)
        for name in SLICES:
            ids[name].bind(frames=partial(self._log_frame, name))

    # ------------------------------------------------------------------ diagnostics (--verbose)
    def _on_ready(self, _view, ready: bool) -> None:
        if ready:
            log.info("workbench ready")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("layout %s", json.dumps(self.rects()))

    def rects(self) -> dict:
        """Window rectangles (x, y from the bottom-left, w, h in pixels) of the widgets."""
        out = {}
        for name, w in self.root.ids.items():
            x, y = w.to_window(w.x, w.y)
            out[name] = [round(x, 1), round(y, 1), round(w.width, 1), round(w.height, 1)]
        out["window"] = list(Window.size)
        return out

    def _log_frame(self, key: str, view, _frames) -> None:
        """Where a slice lies on the screen, when it moved (so a script can aim at LPS)."""
        f = view.frame
        if f is None or not log.isEnabledFor(logging.DEBUG):
            return
        x, y = view.to_window(view.x, view.y + view._strip)
        doc = {
            "center": [round(float(c), 3) for c in f.center],
            "right": [round(float(c), 6) for c in f.right],
            "up": [round(float(c), 6) for c in f.up],
            "mm": [round(f.width_mm, 3), round(f.height_mm, 3)],
            "px": [round(x, 1), round(y, 1), round(view.width, 1), round(view.picture_height, 1)],
        }
        if self._frames_logged.get(key) != doc:
            self._frames_logged[key] = doc
            log.debug("frame %s %s", key, json.dumps(doc))

    def on_stop(self):
        for name in SLICES:
            self.root.ids[name].release()
        self.view.release()

    # ------------------------------------------------------------------ model -> widgets
    def _on_workbench(self, event) -> None:
        if isinstance(event, ToolChanged):
            self.root.hint = event.hint
            self.root.status = ""  # what the last tool said is over
        elif isinstance(event, StatusChanged):
            self.root.status, self.root.status_level = event.text, event.level
            (log.warning if event.level != "info" else log.info)("%s", event.text)
        elif isinstance(event, ItemSelected):
            self._fill_item()
        elif isinstance(event, EntryMapChanged):
            self.view.show_entries(event.scores)
            self.root.ids.entry_map.state = "down" if self.workbench.entry_wanted else "normal"
        elif isinstance(event, ReadoutChanged):
            self._fill_readout()
            if event.readout is not None:
                log.debug("readout %s", " | ".join(event.readout.lines()))

    def _on_session(self, event) -> None:
        if isinstance(event, HistoryChanged):
            self.root.ids.undo.disabled = event.undo_label is None
            self.root.ids.redo.disabled = event.redo_label is None
        if isinstance(event, PlanEdited):
            self._fill()
            self._fill_item()
            if self.structures.open:
                self.structures.fill()

    def _fill(self) -> None:
        wb, root = self.workbench, self.root
        p = wb.plan
        edited = "  EDITED (not saved)" if wb.session.dirty else ""
        root.banner = (
            f"{p.patient.name}   ID {p.patient.id}   SIDE {p.laterality.upper()}   "
            f"case {p.case_id}   plan v{wb.session.base.plan.plan_version}{edited}"
        )
        self._fill_readout()

    def _fill_readout(self) -> None:
        wb, root = self.workbench, self.root
        r = wb.readout
        root.readout = "\n".join(r.lines()) if r is not None else "No path: NEW PATH to plan one"
        slider = root.ids.depth
        if r is not None:
            slider.max = max(r.length, 1e-3)
            depth = wb.depth
            if depth is not None and abs(slider.value - depth) > 1e-6:
                slider.value = depth
        root.ids.profile.redraw()
        for name in SLICES:
            root.ids[name].draw_overlay()

    def _fill_item(self) -> None:
        wb, root = self.workbench, self.root
        kind = wb.item[0] if wb.item else None
        root.item_kind = {"trajectory": "PATH", "landmark": "LANDMARK"}.get(kind, "")
        field = root.ids.item_name
        if not field.focus:
            field.text = wb.item_name()
        t = wb.plan.trajectory(wb.selected) if kind == "trajectory" and wb.selected else None
        root.diameter = f"{t.diameter:g} mm" if t is not None else ""

    def save_view(self) -> None:
        name = self.workbench.save_view(self.view.camera) if self.view.camera else None
        if name:
            self.workbench.status(f"{name} saved with the plan (the kiosk lists it under VIEWS)")

    def _on_key(self, _window, key, _scancode, _text, modifiers) -> bool:
        """Ctrl+Z undo, Ctrl+Y or Ctrl+Shift+Z redo, Delete, Escape cancels (never quits)."""
        wb = self.workbench
        if wb is None or self.root.ids.item_name.focus:
            return False
        ctrl = "ctrl" in modifiers
        if ctrl and key == ord("z"):
            wb.redo() if "shift" in modifiers else wb.undo()
        elif ctrl and key == ord("y"):
            wb.redo()
        elif key == 127:  # Delete
            wb.delete_selected()
        elif key == 27:  # Escape
            wb.cancel()
        else:
            return False
        return True

    def depth_moved(self, value: float) -> None:
        wb = self.workbench
        if wb is not None and wb.depth is not None and abs(wb.depth - value) > 1e-6:
            wb.set_depth(value)
            self.root.ids.profile.redraw()

    # ------------------------------------------------------------------ save
    def ask_save(self) -> None:
        wb = self.workbench
        if not wb.session.dirty:
            wb.status("Nothing changed since the last saved version")
            return
        diff = wb.session.diff()
        base = wb.session.base.plan
        who = f"signed with {self.key.name}" if self.key else "UNSIGNED (no --key)"
        text = [f"Save plan v{base.plan_version + 1} (was v{base.plan_version}), {who}:", ""]
        text += [f"  {line}" for line in diff.lines()]
        dialog = Factory.SaveDialog()
        dialog.lines = "\n".join(text)
        self.save_dialog = dialog
        dialog.open()
        if log.isEnabledFor(logging.DEBUG):
            Clock.schedule_once(
                lambda dt: log.debug("dialog %s", json.dumps(self._dialog_rects())), 0.3
            )

    def _dialog_rects(self) -> dict:
        c = self.save_dialog.ids.confirm
        x, y = c.to_window(c.x, c.y)
        return {"confirm": [x, y, c.width, c.height], "lines": self.save_dialog.lines}

    def save(self, dialog) -> None:
        dialog.dismiss()
        saved = self.workbench.save(self.save_to, self.key)
        if saved is not None:
            self.last_saved = saved.path
            self._fill()

    # ------------------------------------------------------------------ publish
    def publish(self) -> None:
        wb, to = self.workbench, self.publish_to
        if to is None or self._publishing:
            return
        if self.last_saved is None or wb.session.dirty:
            wb.status("SAVE first: only a saved, signed version is published", "warn")
            return
        self._publishing = True
        self.publish_lines = []
        wb.status(f"Publishing {self.last_saved.name} to room {to.room} ...")
        threading.Thread(
            target=self._publish_worker, args=(self.last_saved, to), daemon=True
        ).start()

    def _publish_worker(self, package: Path, to: PublishTo) -> None:
        from orkiosk.sync.keys import load_identity, load_public_curve
        from orkiosk.sync.planner import Pusher

        def out(line: str) -> None:
            Clock.schedule_once(lambda dt: self._published_line(line))

        try:
            pusher = Pusher(
                to.hub, load_public_curve(to.hub_key, "--hub-key"), load_identity(to.identity), out
            )
            try:
                pusher.push(package, to.room, to.wait_s)
            finally:
                pusher.close()
            out("publish done")
        except (OrkioskError, OSError) as exc:
            out(f"NOT PUBLISHED: {exc}")
        finally:
            Clock.schedule_once(lambda dt: setattr(self, "_publishing", False))

    def _published_line(self, line: str) -> None:
        self.publish_lines.append(line)
        level = "error" if line.startswith("NOT PUBLISHED") or "refused" in line else "info"
        self.workbench.status(line, level)
