"""The kiosk application: layout from kiosk.kv, state in KioskState, 3D in PlanView.

Plans are verified and prepared on a worker thread (load_package, trajectory metrics) and offered
to the state on the Kivy thread; only then are the meshes uploaded and swapped in. Anything that
goes wrong becomes a banner with the reason; the plan on screen stays.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory

from orkiosk.app.kiosk import watchdog
from orkiosk.app.kiosk.intake import ControlSocket, FolderWatcher, SyncIntake
from orkiosk.app.kiosk.loading import Loaded, load_for_display
from orkiosk.app.kiosk.resume import load_view, save_view
from orkiosk.app.kiosk.screen import KioskRoot, load_layout
from orkiosk.app.kiosk.syncui import SyncScreen
from orkiosk.app.kivyconfig import apply_panel_metrics
from orkiosk.app.logsafe import path_for_log
from orkiosk.app.model import (
    KioskState,
    events,
    patient_key,
)
from orkiosk.app.model.slicing import SliceModel
from orkiosk.app.readouts import SEPARATOR, changes_text, readout_text, slice_text
from orkiosk.app.settings import KioskSettings
from orkiosk.app.views.sliceview import SliceView, fill_presets
from orkiosk.app.views.view3d import PlanView
from orkiosk.errors import OrkioskError
from orkiosk.plan.signing import load_trust_dir
from orkiosk.render.prepare import PreparedMeshes
from orkiosk.render.state import InteractionQuality, Quality
from orkiosk.store.audit import audit_for_state, plan_fields

log = logging.getLogger("orkiosk.kiosk")
LOADING_SHOWN_AFTER_S = 0.5  # a quicker load does not flash "loading plan" in the status line


Factory.register("PlanView", cls=PlanView)
Factory.register("SliceView", cls=SliceView)
_READOUT_EVENTS = (
    events.PlanShown,
    events.PicksChanged,
    events.NamedChanged,
    events.ModeChanged,
    events.CutChanged,
    events.SelectionChanged,
)


class KioskApp(App):
    title = "orkiosk"

    def __init__(self, settings: KioskSettings, plan_path: Path | None, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.plan_path = plan_path
        self.state = KioskState()
        self.source = ""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orkiosk-load")
        self._prepared_meshes = PreparedMeshes()  # a plan's meshes, for the next plan
        self._trusted = None
        self._intake = []
        self._sync: SyncIntake | None = None  # plans from the planning hub
        self._syncui: SyncScreen | None = None  # its banner, follow mode, confirmations
        self._loading = 0
        self._loading_since = 0.0  # time.monotonic() when the loads under way began
        self._lock = threading.Lock()
        self.audit = audit_for_state(settings.state)  # STATE/audit: the clinical record
        self._ready_sent = False  # sd_notify READY=1: after the first frame of the plan
        self._first_frame_of = None  # a plan just shown, waiting for its first frame
        self._resume = settings.state is not None  # restore the last view on the first plan
        self._held: list | None = None  # model events held while the view hands a plan over

    # ------------------------------------------------------------------ build
    def build(self):
        if not self.settings.windowed:  # full screen: the window is the whole panel
            apply_panel_metrics(self.settings, tuple(Window.size))
        load_layout()
        root = KioskRoot()
        self.view: PlanView = root.ids.view
        s = self.settings
        interactive = Quality(scale=s.interactive_scale, msaa=0, lod=True, outlines=False)
        # target_ms covers the 3D frame only: Kivy draws the rest of the window (~14 ms on llvmpipe)
        governor = InteractionQuality(
            interactive, Quality(msaa=s.msaa), target_ms=18.0, min_scale=0.25
        )
        self.view.attach(self.state, governor)
        self.view.lod_triangles = s.interactive_triangles
        self.view.set_gesture_settings(s.gestures)
        self.view.bind(quality=self._refresh_status)
        self.view.bind(ready=self._on_view_ready, on_handover=self._on_handover)
        self.slicing = SliceModel(self.state)  # the image's slice beside or instead of 3D
        self.slicing.subscribe(self._on_slice)
        root.ids.slice_view.attach(self.slicing, self.view)
        self.state.subscribe(self._on_state)
        self.root_widget = root
        root.fill_views(self.state)
        return root

    def on_start(self):
        Window.clearcolor = (0.05, 0.06, 0.075, 1)
        if self.settings.trust is not None:
            try:
                self._trusted = load_trust_dir(self.settings.trust)
            except OrkioskError as exc:  # every load is then refused (see _load_worker)
                self.state.set_error(f"Trusted keys unusable: {exc}")
        if self.plan_path is not None:
            self.request_load(self.plan_path, "start")
        else:
            self.root.placeholder = "No plan configured. Push a plan or set kiosk.plan."
        try:
            if self.settings.watch is not None:
                self._intake.append(
                    FolderWatcher(
                        self.settings.watch, lambda p: self.request_load(p, "watch")
                    ).start()
                )
            if self.settings.control_socket is not None:
                self._intake.append(
                    ControlSocket(
                        self.settings.control_socket, lambda p: self.request_load(p, "control")
                    ).start()
                )
            if self.settings.hub:
                self._syncui = SyncScreen(self, self.settings).start()
                self._sync = self._syncui.intake
                self._intake.append(self._syncui)
        except (OSError, OrkioskError) as exc:
            self.state.set_error(f"Plan intake unavailable: {exc}")
        self._audit(
            "start", role="kiosk", plan=path_for_log(self.plan_path) if self.plan_path else None
        )
        if self.plan_path is None:  # nothing to wait for: ready once the window is drawn
            Clock.schedule_once(lambda dt: self._send_ready(), 0)
        interval = watchdog.interval()
        if interval:  # from the UI thread's clock: a frozen UI stops the pings
            Clock.schedule_interval(lambda dt: watchdog.notify("WATCHDOG=1"), interval)
        watchdog.schedule_test_freeze(Clock)
        Clock.schedule_interval(lambda dt: self._refresh_status(), 1.0)
        self._refresh_status()

    def on_stop(self):
        self._audit("stop", role="kiosk")
        for item in self._intake:
            item.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.root.ids.slice_view.release()
        self.view.release()

    # ------------------------------------------------------------------ loading
    def request_load(self, path: Path, source: str, verified=None) -> None:
        """From any thread: verify and prepare a package off the UI thread, then offer it.
        `verified`: the Package of `path` as this kiosk's plan store verified it (hub plans)."""
        with self._lock:
            self._loading += 1
            if self._loading == 1:
                self._loading_since = time.monotonic()
        Clock.schedule_once(lambda dt: self._refresh_status(), LOADING_SHOWN_AFTER_S)
        self._pool.submit(self._load_worker, Path(path), source, verified)

    def _load_worker(self, path: Path, source: str, verified=None) -> None:
        t0 = time.perf_counter()
        try:
            loaded = load_for_display(
                path, self.settings, self._trusted, verified, self._prepared_meshes
            )
        except OrkioskError as exc:
            msg = getattr(exc, "headline", None) or str(exc)  # one decisive reason for the screen
            log.info(
                "refused %s, in full: %s",
                path_for_log(path),
                "; ".join(getattr(exc, "log_lines", [msg])),
            )
            Clock.schedule_once(lambda dt: self._load_failed(path, msg))
        except Exception as exc:  # never let a worker die silently
            log.error(  # the message may quote plan data: only its type and where it arose
                "unexpected %s loading %s\n%s",
                type(exc).__name__,
                path,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            msg = f"{type(exc).__name__}: {exc}"
            Clock.schedule_once(lambda dt: self._load_failed(path, msg))
        else:
            log.info(
                "verified %s in %.0f ms", path_for_log(path), (time.perf_counter() - t0) * 1000
            )
            Clock.schedule_once(lambda dt: self._loaded(loaded, source))
        finally:
            with self._lock:
                self._loading -= 1

    def _loaded(self, loaded: Loaded, source: str) -> None:
        pkg, plan = loaded.package, loaded.package.plan
        try:
            offer = self.state.offer(
                pkg,
                prepare=lambda p: self.view.stage(p, loaded.prepared),
                metrics=loaded.metrics,
                bounds=loaded.prepared.bounds,
            )
        except OrkioskError as exc:
            log.warning("plan %s v%s cannot be displayed", plan.case_id, plan.plan_version)
            self._load_failed(pkg.path, f"cannot be displayed: {exc}")
            return
        # never the offer's reason or anything naming the patient: IDs pseudonymised
        log.info(
            "plan %s v%s (patient %s) from %s: %s %s",
            plan.case_id,
            plan.plan_version,
            patient_key(pkg),
            source,
            offer.outcome,
            offer.code,
        )
        if offer.outcome == "shown":
            self.source = source
            self._resume_view(plan)
        if self._sync is not None:  # the hub hears what the screen did with its plan
            self._sync.report(pkg.path, offer.outcome)
        self._refresh_status()

    def _load_failed(self, path: Path, message: str) -> None:
        log.warning(
            "refused %s (the reason is on screen, not logged: it may quote the plan)",
            path_for_log(path),
        )
        self._audit("plan-refused", path=str(path), reason=message)  # the clinical record
        if not self._ready_sent:  # the refusal is what the screen shows: that is the start
            Clock.schedule_once(lambda dt: self._send_ready(), 0)
        if self._sync is not None:
            self._sync.report(path, "refused", message)
        shown = self.state.package is not None
        # one sentence with the decisive reason; the full detail is in the log
        reason = message.rstrip(". ")
        self.state.set_error(
            f"New plan refused: {reason}. The plan on screen is unchanged."
            if shown
            else f"Plan not shown: {reason}."
        )
        if not shown:
            self.root.placeholder = f"No plan shown.\n{reason[:1].upper()}{reason[1:]}."
            self.root.patient_name = "NO PLAN SHOWN"
        self._refresh_status()

    # ------------------------------------------------------------------ state -> widgets
    def _on_state(self, event: events.Event) -> None:
        """Model events to widgets. From a new plan until its picture is in the 3D view
        (PlanView hands a plan over within a frame on a GPU, over a few on a software
        renderer) the events are held, so the banner, rail and readouts change in the same
        frame as the picture: the screen never shows one plan's picture with another's data."""
        if self.root is None:
            return
        if isinstance(event, events.PlanShown):
            self._first_frame_of = self.state.package  # audited once its first frame is drawn
            self.state.drop_meshes()  # the view holds what it uploads (it subscribed first)
            if self.view.handing_over and self._held is None:
                self._held = []
        if self._held is not None:
            self._held.append(event)
            return
        self._show_event(event)

    def _on_handover(self, _view, _package) -> None:
        """The 3D view shows the new plan now: the rest of the screen follows, this frame."""
        held, self._held = self._held or [], None
        for event in held:
            self._show_event(event)

    def _show_event(self, event: events.Event) -> None:
        root, st = self.root, self.state
        if isinstance(event, events.PlanShown):
            root.fill_banner(st.package)
            root.fill_trajectories(st)
            root.fill_structures(st)
            root.fill_views(st)
            root.placeholder = ""
            self._on_slice(None)  # the new plan's image presets (or none)
        elif isinstance(event, events.StructuresChanged):
            root.fill_structures(st)
        elif isinstance(event, events.ViewChanged) and st.package is not None:
            if self.settings.state is not None:
                save_view(self.settings.state, st.package.plan.case_id, event.view)
        elif isinstance(event, events.ChangesChanged):
            root.changes_banner = changes_text(event.changes) if event.changes else ""
        elif isinstance(event, events.LockChanged):
            root.ids.lock.state = "down" if event.locked else "normal"
        elif isinstance(event, events.ModeChanged):
            root.ids.cut_mode.state = "down" if event.mode == "cut" else "normal"
            root.ids.measure_mode.state = "down" if event.mode == "measure" else "normal"
        if isinstance(event, _READOUT_EVENTS):
            self._fill_readout()
        if isinstance(event, (events.PlanShown, events.ErrorChanged, events.PendingChanged)):
            self.root.fill_alert(self.state)
        if not isinstance(event, events.CameraMoved):  # gestures: many per second
            self._refresh_status()

    def _on_slice(self, _event) -> None:
        root, sl = self.root, self.slicing
        if root is None or self._held is not None:
            return  # held: the new plan's PlanShown fills this once its picture is shown
        root.view_layout, root.slice_available = sl.layout, sl.available
        root.slice_plane = sl.slice.plane
        fill_presets(root.ids.window_bar, sl, self.set_slice_window)
        self._fill_readout()

    def _fill_readout(self) -> None:
        """The model's readout; with a slice shown, where the slice lies ("12 mm to target")."""
        text, sl = readout_text(self.state), self.slicing
        if sl.slice_shown and self.state.package is not None:
            text += SEPARATOR + slice_text(sl.slice, self.state.package.plan)
        self.root.readout = text

    def _refresh_status(self, *_):
        root = self.root
        if root is None:
            return
        st = self.state
        bits = []
        with self._lock:
            loading = (
                self._loading
                and time.monotonic() - self._loading_since >= LOADING_SHOWN_AFTER_S - 0.05
            )
        if loading:
            bits.append("loading plan ...")
        intake = []
        if self.settings.watch is not None:
            intake.append("folder")
        if self.settings.control_socket is not None:
            intake.append("socket")
        if self._sync is not None:
            intake.append("hub")
        bits.append("plans via " + ("+".join(intake) if intake else "start only"))
        if st.package is not None:
            signed = st.package.signed_by
            bits.append(f"signed {signed.key_id[:8]}" if signed else "unsigned")
        if self.view.frames:  # timings are for the log, never for the clinical screen
            log.debug("last frame: %s %.0f ms", self.view.quality, self.view.frame_ms)
        bits.append(st.mode.upper() + ("  LOCKED" if st.locked else ""))
        if self._syncui is not None:
            self._syncui.refresh()  # the banner when the hub is not heard
        if self._sync is not None:  # the hub link; stale in capitals, first
            text, stale = self._sync.status_text()
            bits[:0] = [text] if stale else []
            bits += [] if stale else [text]
        root.status = "  |  ".join(bits)

    # ------------------------------------------------------------------ actions from kv
    def confirm_pending(self):
        if self._syncui is not None and self._syncui.confirm(self.state.pending):
            return  # a hub plan: committed first, then shown (show_pending)
        self.show_pending()

    def show_pending(self):
        before, pending = self.state.package, self.state.pending
        try:
            self.state.confirm_pending()  # staged with the prepared scene of its offer
        except OrkioskError as exc:
            self.state.reject_pending()
            self.state.set_error(f"Plan could not be displayed: {exc}")
            return
        if pending is not None:
            self._audit(
                "patient-change-confirmed",
                **plan_fields(pending.plan, pending.manifest_sha256),
                previous=plan_fields(before.plan, before.manifest_sha256) if before else None,
            )

    def dismiss_alert(self):
        if self.state.pending is not None:
            if self._syncui is not None:
                self._syncui.decline(self.state.pending)  # the hub hears; staging dropped
            self.state.reject_pending()
        else:
            self.state.clear_error()
        self.root.fill_alert(self.state)

    def dismiss_changes(self):
        shown = self.state.package
        if self.state.changes is not None and shown is not None:
            self._audit("update-acknowledged", **plan_fields(shown.plan, shown.manifest_sha256))
        self.state.dismiss_changes()

    def record_follow_mode(self, on: bool, **details):
        """Follow mode switched on or off: the sync side calls this to put it on the record."""
        self._audit("follow-mode", on=bool(on), **details)

    # ------------------------------------------------------------------ appliance
    def _audit(self, event: str, **fields) -> None:
        if self.audit is not None:
            self.audit.record(event, **fields)

    def _send_ready(self) -> None:
        if not self._ready_sent:
            self._ready_sent = True
            watchdog.notify("READY=1")
            log.info("ready (sd_notify READY=1)")

    def _on_view_ready(self, _view, ready: bool) -> None:
        if ready:  # drawn into the view's texture; the window shows it at the end of this frame
            Clock.schedule_once(lambda dt: self._first_frame_done(), 0)

    def _first_frame_done(self) -> None:
        pkg, self._first_frame_of = self._first_frame_of, None
        if pkg is not None:
            self._audit(
                "plan-shown", source=self.source, **plan_fields(pkg.plan, pkg.manifest_sha256)
            )
        if pkg is not None or self.state.package is not None:
            self._send_ready()

    def _resume_view(self, plan) -> None:
        """The first plan after a start: show the view last shown for this case."""
        if not self._resume:
            return
        self._resume = False
        view = load_view(self.settings.state, plan.case_id)
        if view is None or view == self.state.view:
            return
        try:
            self.state.set_view(view)
        except KeyError:  # the plan no longer has that view or trajectory
            return
        log.info("resumed the last view of case %s", plan.case_id)

    def set_view_layout(self, layout: str):
        self.slicing.set_layout(layout)

    def set_slice_plane(self, plane: str):
        self.slicing.set_plane(plane)

    def set_slice_window(self, name: str):
        self.slicing.set_window(name)

    def set_following(self, on: bool):
        self.state.set_following(on)

    def set_mode(self, mode: str):
        self.state.set_mode(mode)

    def set_locked(self, locked: bool):
        self.state.set_locked(locked)

    def clear_measure(self):
        self.state.clear_picks()
        self.state.name_structure(None)

    def reset_view(self):
        self.state.set_mode("view")
        self.state.reset_view()
