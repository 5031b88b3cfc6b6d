"""The OR screen's widgets: the root (patient banner, rail pages, alerts, readout) and the
structure rows, filled from the kiosk's model. Layout and styling live in kiosk.kv (read from
inside the installed package); logic lives in the model (orkiosk/app/model)."""

from __future__ import annotations

from importlib import resources

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from orkiosk.app.kiosk.rail import RailPages
from orkiosk.app.model import (
    CUT_PLANES,
    OPACITY_STEPS,
    KioskState,
    NamedView,
    PlanViewRef,
    TrajectoryView,
)
from orkiosk.app.readouts import CUT_LABELS
from orkiosk.errors import OrkioskError
from orkiosk.plan.colors import srgb
from orkiosk.plan.names import person_name
from orkiosk.plan.package import Package
from orkiosk.plan.views import NAMED_VIEWS


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


class OverlayBanner(BoxLayout):
    """A banner laid over the top of the view area ("what changed"): the 3D view keeps its size
    and picture, and a touch on the banner that its buttons do not take (a gloved finger that
    missed OK) ends there instead of turning the view under it."""

    def on_touch_down(self, touch):
        return super().on_touch_down(touch) or (self.opacity > 0 and self.collide_point(*touch.pos))


class KioskRoot(BoxLayout):
    patient_name = StringProperty("")
    procedure = StringProperty("")
    laterality = StringProperty("")
    alert_text = StringProperty("")
    alert_kind = StringProperty("")  # "error" | "confirm" | ""
    changes_banner = StringProperty("")  # what changed in a newer version (until tapped away)
    hub_banner = StringProperty("")  # no contact with the planning hub (app/kiosk/syncui.py)
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
    # the view area (app/model/slicing.py): "3d" | "slice" | "both", offered with an image
    view_layout = StringProperty("3d")
    slice_available = BooleanProperty(False)
    slice_plane = StringProperty("axial")

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

    def fill_banner(self, pkg: Package) -> None:
        p = pkg.plan
        self.patient_name = person_name(p.patient.name)
        self.patient_id_text = f"ID {p.patient.id}"
        self.patient_more = f"born {p.patient.birth_date or 'unknown'}\nsex {p.patient.sex or '-'}"
        self.procedure = p.procedure
        self.plan_version_text = f"PLAN v{p.plan_version}"
        self.plan_more = f"{p.planner}\n{p.created.replace('T', ' ').replace('Z', ' UTC')}"
        self.plan_case = f"case {p.case_id}"
        self.laterality = p.laterality.upper() if p.laterality != "none" else ""

    def fill_alert(self, st: KioskState) -> None:
        if st.pending is not None:
            pp = st.pending.plan
            self.alert_kind = "confirm"
            self.alert_text = (
                f"Plan for ANOTHER PATIENT: {person_name(pp.patient.name)}, ID {pp.patient.id}, "
                f"case {pp.case_id} v{pp.plan_version}. Show it?"
            )
        elif st.error:
            self.alert_kind = "error"
            self.alert_text = st.error
        else:
            self.alert_kind = ""
            self.alert_text = ""

    def fill_views(self, state: KioskState) -> None:
        """The view and cut-plane buttons. Rebuilt only when the plan's own views changed (an
        update of the same case keeps its buttons: no widget churn while a plan arrives)."""
        pkg = state.package
        extra = tuple(
            (v.id, v.name)
            for v in (pkg.plan.views if pkg else ())
            if v.name.lower() not in NAMED_VIEWS and v.id.lower() not in NAMED_VIEWS
        )  # the standard views are there already
        grid = self.ids.views
        if getattr(grid, "orkiosk_views", None) != extra:
            grid.clear_widgets()
            for name in NAMED_VIEWS:
                btn = Factory.RailButton(text=name.upper())
                btn.bind(on_release=lambda b, n=name: state.set_view(NamedView(n)))
                grid.add_widget(btn)
            for vid, vname in extra:
                btn = Factory.RailButton(text=vname.upper())
                btn.bind(on_release=lambda b, vid=vid: state.set_view(PlanViewRef(vid)))
                grid.add_widget(btn)
            grid.orkiosk_views = extra
        planes = self.ids.cut_planes
        if not planes.children:
            for plane in CUT_PLANES:
                btn = Factory.RailToggle(text=CUT_LABELS[plane], group="cutplane")
                btn.orkiosk_plane = plane
                btn.bind(on_release=lambda b, pl=plane: state.set_cut(plane=pl))
                planes.add_widget(btn)
        for btn in planes.children:
            btn.state = "down" if state.cut_plane == btn.orkiosk_plane else "normal"

    def fill_trajectories(self, state: KioskState) -> None:
        """A PROBE and a SIDE button per trajectory; rebuilt only when the trajectories' ids
        or names changed."""
        pkg = state.package
        wanted = tuple((t.id, t.name) for t in pkg.plan.trajectories) if pkg else ()
        box = self.ids.trajectories
        if getattr(box, "orkiosk_trajectories", None) == wanted:
            return
        box.clear_widgets()
        for tid, name in wanted:
            row = BoxLayout(size_hint_y=None, height=Factory.RailButton().height, spacing="2mm")
            probe = Factory.RailButton(text=f"{name.upper()} - PROBE")
            probe.bind(on_release=lambda b, tid=tid: state.set_view(TrajectoryView(tid)))
            side = Factory.RailButton(text="SIDE", size_hint_x=0.45)
            side.bind(on_release=lambda b, tid=tid: state.set_view(TrajectoryView(tid, True)))
            row.add_widget(probe)
            row.add_widget(side)
            box.add_widget(row)
        box.orkiosk_trajectories = wanted

    def fill_structures(self, state: KioskState) -> None:
        """One row per structure. Rows are reused and only their changed values set (a new
        label renders its text again, an unchanged one costs nothing)."""
        pkg = state.package
        old = self.pages.rows
        rows = []
        for i, s in enumerate(pkg.plan.structures if pkg is not None else ()):
            step = state.opacity.get(s.id, OPACITY_STEPS[0])
            values = {
                "sid": s.id,
                "label": s.name,
                "critical": bool(s.critical),
                "shown": s.id not in state.hidden,
                "swatch": list(srgb(s.color)),  # plan colours are linear
                "opacity_text": f"{round(step * 100)} %",
            }
            if i < len(old):
                row = old[i]
                for key, value in values.items():
                    if getattr(row, key) != value:
                        setattr(row, key, value)
            else:
                row = StructureRow(**values)
                row.bind(on_toggle=lambda r: state.toggle_visible(r.sid))
                row.bind(on_opacity=lambda r: state.step_opacity(r.sid))
            rows.append(row)
        if rows != old:
            self.set_structure_rows(rows)


Factory.register("StructureRow", cls=StructureRow)
Factory.register("OverlayBanner", cls=OverlayBanner)


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
