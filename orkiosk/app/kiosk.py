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
from importlib import resources
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from orkiosk.app import watchdog
from orkiosk.app.intake import ControlSocket, FolderWatcher, SyncIntake
from orkiosk.app.loading import Loaded, load_for_display
from orkiosk.app.model import (
    CUT_PLANES,
    OPACITY_STEPS,
    KioskState,
    NamedView,
    PlanViewRef,
    TrajectoryView,
    events,
    patient_key,
)
from orkiosk.app.rail import RailPages
from orkiosk.app.readouts import CUT_LABELS, changes_text, readout_text
from orkiosk.app.resume import load_view, save_view
from orkiosk.app.settings import KioskSettings
from orkiosk.app.syncui import SyncScreen
from orkiosk.app.view3d import PlanView
from orkiosk.errors import OrkioskError
from orkiosk.plan.colors import srgb
from orkiosk.plan.names import person_name
from orkiosk.plan.package import Package
from orkiosk.plan.signing import load_trust_dir
from orkiosk.plan.views import NAMED_VIEWS
from orkiosk.render.state import InteractionQuality, Quality
from orkiosk.store.audit import audit_for_state, plan_fields

log = logging.getLogger("orkiosk.kiosk")


class StructureRow(BoxLayout):
    sid = StringProperty("")
    label = StringProperty("")
    shown = BooleanProperty(True)
    critical = BooleanProperty(False)  # red bar and CRITICAL tag (kiosk.kv)
    swatch = ListProperty([1.0, 1.0, 1.0])
    opacity_text = StringProperty("100 %")
    __events__ = ("on_toggle", "on_opacity")

    def on_toggle(self, *_):
        pass

    def on_opacity(self, *_):
        pass


class KioskRoot(BoxLayout):
    patient_name = StringProperty("")
    procedure = StringProperty("")
    laterality = StringProperty("")
    alert_text = StringProperty("")
    alert_kind = StringProperty("")  # "error" | "confirm" | ""
    changes_banner = StringProperty("")  # what changed in a newer version (until tapped away)
    hub_banner = StringProperty("")  # no contact with the planning hub (app/syncui.py)
    follow_banner = StringProperty("")  # follow mode: what the planner shows, or that it ended
    following = BooleanProperty(False)  # the FOLLOW PLANNER toggle
    readout = StringProperty("")
    status = StringProperty("")
    placeholder = StringProperty("Loading plan ...")
    # the banner: the decisive parts big (name, ID, plan version, side), the rest small
    patient_id_text = StringProperty("")
    patient_more = StringProperty("")
    plan_version_text = StringProperty("")
    plan_more = StringProperty("")
    plan_case = StringProperty("")
    # the side rail: one page (tab) at a time, structures in pages that fit (no scrolling)
    rail_tab = StringProperty("views")  # "views" | "structures" | "tools"
    structure_page = NumericProperty(0)
    structure_pages = NumericProperty(1)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        ids = self.ids
        self.pages = RailPages(
            ids.rail, [ids.page_views, ids.page_structures, ids.page_tools], ids.structures
        )
        self.pages.show(self.rail_tab)
        self._page_trigger = Clock.create_trigger(lambda dt: self.layout_structure_pages(), -1)
        ids.rail.bind(height=self._page_trigger)

    def show_tab(self, name: str) -> None:
        self.rail_tab = name
        self.pages.show(name)
        self._page_trigger()

    def set_structure_rows(self, rows: list) -> None:
        self.pages.set_rows(rows)
        self.layout_structure_pages()

    def turn_structure_page(self, step: int) -> None:
        self.structure_page = max(0, min(self.structure_pages - 1, self.structure_page + step))
        self.layout_structure_pages()

    def layout_structure_pages(self) -> None:
        """Show the rows of the current page of structures: as many as fit the open page."""
        from kivy.metrics import mm

        room = self.pages.open.height if self.pages.open is not None else 0
        if room <= 0:
            return  # not laid out yet: the rail's height binding comes back
        self.structure_pages = self.pages.paginate(room, mm(15) + mm(2), mm(15) + mm(2))
        self.structure_page = min(self.structure_page, self.structure_pages - 1)
        self.pages.show_rows(self.structure_page)

    def reveal(self, widget) -> None:
        """Open the tab and page holding `widget`, as a person would before tapping it."""
        name = self.pages.page_holding(widget)
        if name is not None and name != self.rail_tab:
            self.show_tab(name)
        chain, w = [], widget
        while w is not None and w not in chain:
            chain.append(w)
            w = w.parent
        row = next((w for w in chain if w in self.pages.rows), None)
        page = self.pages.page_of_row(row) if row is not None else None
        if page is not None and page != self.structure_page:
            self.structure_page = page
            self.layout_structure_pages()

    def widgets(self):
        """Every widget of the kiosk, including rail pages and rows not shown now."""
        yield from self.walk(restrict=True)
        yield from self.pages.widgets()


Factory.register("PlanView", cls=PlanView)
_READOUT_EVENTS = (
    events.PlanShown,
    events.PicksChanged,
    events.NamedChanged,
    events.ModeChanged,
    events.CutChanged,
    events.SelectionChanged,
)
Factory.register("StructureRow", cls=StructureRow)


def load_layout() -> None:
    """kiosk.kv, read from inside the installed package (orkiosk/resources/)."""
    kv = resources.files("orkiosk") / "resources" / "kiosk.kv"
    try:
        text = kv.read_text("utf-8")
    except OSError as exc:
        raise OrkioskError(
            f"the kiosk layout (kiosk.kv) is missing from this installation: {exc}"
        ) from exc
    Builder.load_string(text, filename="kiosk.kv")


class KioskApp(App):
    title = "orkiosk"

    def __init__(self, settings: KioskSettings, plan_path: Path | None, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.plan_path = plan_path
        self.state = KioskState()
        self.source = ""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orkiosk-load")
        self._trusted = None
        self._intake = []
        self._sync: SyncIntake | None = None  # plans from the planning hub
        self._syncui: SyncScreen | None = None  # its banner, follow mode, confirmations
        self._loading = 0
        self._lock = threading.Lock()
        self.audit = audit_for_state(settings.state)  # STATE/audit: the clinical record
        self._ready_sent = False  # sd_notify READY=1: after the first frame of the plan
        self._first_frame_of = None  # a plan just shown, waiting for its first frame
        self._resume = settings.state is not None  # restore the last view on the first plan

    # ------------------------------------------------------------------ build
    def build(self):
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
        self.view.bind(ready=self._on_view_ready)
        self.state.subscribe(self._on_state)
        self.root_widget = root
        self._fill_views(root)
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
        self._audit("start", role="kiosk", plan=str(self.plan_path) if self.plan_path else None)
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
        self.view.release()

    # ------------------------------------------------------------------ loading
    def request_load(self, path: Path, source: str) -> None:
        """From any thread: verify and prepare a package off the UI thread, then offer it."""
        with self._lock:
            self._loading += 1
        Clock.schedule_once(lambda dt: self._refresh_status())
        self._pool.submit(self._load_worker, Path(path), source)

    def _load_worker(self, path: Path, source: str) -> None:
        t0 = time.perf_counter()
        try:
            loaded = load_for_display(path, self.settings, self._trusted)
        except OrkioskError as exc:
            msg = getattr(exc, "headline", None) or str(exc)  # one decisive reason for the screen
            log.info("refused %s, in full: %s", path, "; ".join(getattr(exc, "log_lines", [msg])))
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
            log.info("verified %s in %.0f ms", path, (time.perf_counter() - t0) * 1000)
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
        log.warning("refused %s (the reason is on screen, not logged: it may quote the plan)", path)
        self._audit("plan-refused", path=str(path), reason=message)
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
        root, st = self.root, self.state
        if root is None:
            return
        if isinstance(event, events.PlanShown):
            self._first_frame_of = st.package  # audited once its first frame is drawn
            st.drop_meshes()  # the view has swapped the scene in (it subscribed first)
            self._fill_banner(st.package)
            self._fill_trajectories(st.package)
            self._fill_structures(st.package)
            self._fill_views(root)
            root.placeholder = ""
        elif isinstance(event, events.StructuresChanged):
            self._fill_structures(st.package)
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
            root.readout = readout_text(st)
        if isinstance(event, (events.PlanShown, events.ErrorChanged, events.PendingChanged)):
            self._fill_alert()
        if not isinstance(event, events.CameraMoved):  # gestures: many per second
            self._refresh_status()

    def _fill_banner(self, pkg: Package) -> None:
        p, root = pkg.plan, self.root
        root.patient_name = person_name(p.patient.name)
        root.patient_id_text = f"ID {p.patient.id}"
        root.patient_more = f"born {p.patient.birth_date or 'unknown'}\nsex {p.patient.sex or '-'}"
        root.procedure = p.procedure
        root.plan_version_text = f"PLAN v{p.plan_version}"
        root.plan_more = f"{p.planner}\n{p.created.replace('T', ' ').replace('Z', ' UTC')}"
        root.plan_case = f"case {p.case_id}"
        root.laterality = p.laterality.upper() if p.laterality != "none" else ""

    def _fill_alert(self) -> None:
        root, st = self.root, self.state
        if st.pending is not None:
            pp = st.pending.plan
            root.alert_kind = "confirm"
            root.alert_text = (
                f"Plan for ANOTHER PATIENT: {person_name(pp.patient.name)}, ID {pp.patient.id}, "
                f"case {pp.case_id} v{pp.plan_version}. Show it?"
            )
        elif st.error:
            root.alert_kind = "error"
            root.alert_text = st.error
        else:
            root.alert_kind = ""
            root.alert_text = ""

    def _fill_views(self, root) -> None:
        grid = root.ids.views
        grid.clear_widgets()
        for name in NAMED_VIEWS:
            btn = Factory.RailButton(text=name.upper())
            btn.bind(on_release=lambda b, n=name: self.state.set_view(NamedView(n)))
            grid.add_widget(btn)
        pkg = self.state.package
        for v in pkg.plan.views if pkg else ():
            if v.name.lower() in NAMED_VIEWS or v.id.lower() in NAMED_VIEWS:
                continue  # the standard views are already there
            btn = Factory.RailButton(text=v.name.upper())
            btn.bind(on_release=lambda b, vid=v.id: self.state.set_view(PlanViewRef(vid)))
            grid.add_widget(btn)
        planes = root.ids.cut_planes
        planes.clear_widgets()
        for plane in CUT_PLANES:
            btn = Factory.RailToggle(text=CUT_LABELS[plane], group="cutplane")
            btn.state = "down" if self.state.cut_plane == plane else "normal"
            btn.bind(on_release=lambda b, pl=plane: self.state.set_cut(plane=pl))
            planes.add_widget(btn)

    def _fill_trajectories(self, pkg: Package) -> None:
        box = self.root.ids.trajectories
        box.clear_widgets()
        for t in pkg.plan.trajectories:
            row = BoxLayout(size_hint_y=None, height=Factory.RailButton().height, spacing="2mm")
            probe = Factory.RailButton(text=f"{t.name.upper()} - PROBE")
            probe.bind(on_release=lambda b, tid=t.id: self.state.set_view(TrajectoryView(tid)))
            side = Factory.RailButton(text="SIDE", size_hint_x=0.45)
            side.bind(on_release=lambda b, tid=t.id: self.state.set_view(TrajectoryView(tid, True)))
            row.add_widget(probe)
            row.add_widget(side)
            box.add_widget(row)

    def _fill_structures(self, pkg: Package | None) -> None:
        rows = []
        for s in pkg.plan.structures if pkg is not None else ():
            step = self.state.opacity.get(s.id, OPACITY_STEPS[0])
            row = StructureRow(
                sid=s.id,
                label=s.name,
                critical=bool(s.critical),
                shown=s.id not in self.state.hidden,
                swatch=list(srgb(s.color)),  # plan colours are linear
                opacity_text=f"{round(step * 100)} %",
            )
            row.bind(on_toggle=lambda r: self.state.toggle_visible(r.sid))
            row.bind(on_opacity=lambda r: self.state.step_opacity(r.sid))
            rows.append(row)
        self.root.set_structure_rows(rows)

    def _refresh_status(self, *_):
        root = self.root
        if root is None:
            return
        st = self.state
        bits = []
        if self._loading:
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
        self._fill_alert()

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
