"""The workbench's two pop-up panels, filled from the plan each time it changes:

- STRUCTURES: per structure its name, SHOWN, opacity (- / +), CRITICAL (paths must keep clear;
  the clearance and the entry map follow) and COLOUR (a step through a small palette);
- VIEWS: the six named views and the views saved with the plan (SAVE VIEW adds one), a tap
  moves the 3D view there.
"""

from __future__ import annotations

from kivy.factory import Factory
from kivy.graphics import Color, Rectangle
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from orkiosk.app.model.values import NamedView, PlanViewRef
from orkiosk.plan.colors import srgb
from orkiosk.plan.views import NAMED_VIEWS

OPACITY_STEP = 0.1
PALETTE = (  # linear RGB: skin, bone, vessel red, organ, ventricle blue, tumour orange, green
    (0.869, 0.538, 0.380),
    (0.890, 0.828, 0.674),
    (0.692, 0.022, 0.017),
    (0.768, 0.523, 0.477),
    (0.100, 0.380, 0.890),
    (1.000, 0.523, 0.010),
    (0.100, 0.700, 0.200),
)


def _panel(title: str) -> tuple[ModalView, GridLayout]:
    view = ModalView(size_hint=(0.7, 0.8), auto_dismiss=True)
    box = BoxLayout(orientation="vertical", padding=mm(3), spacing=mm(2))
    box.add_widget(Label(text=title, font_size=mm(4.2), bold=True, size_hint_y=None, height=mm(9)))
    grid = GridLayout(cols=1, spacing=mm(1.5), size_hint_y=None)
    grid.bind(minimum_height=grid.setter("height"))
    scroll = Factory.ScrollView(do_scroll_x=False)
    scroll.add_widget(grid)
    box.add_widget(scroll)
    close = Factory.WbButton(text="CLOSE", size_hint_y=None, height=mm(12))
    close.size_hint_x = 1  # after the kv rule, which sizes buttons to their text
    close.bind(on_release=lambda *_: view.dismiss())
    box.add_widget(close)
    view.add_widget(box)
    return view, grid


class StructuresPanel:
    def __init__(self, workbench):
        self.wb = workbench
        self.view, self.grid = _panel("STRUCTURES")
        self.view.bind(on_dismiss=lambda *_: setattr(self, "open", False))
        self.open = False

    def show(self) -> None:
        self.fill()
        self.view.open()
        self.open = True

    def fill(self) -> None:
        """One row a structure, from the plan as it is now."""
        wb, grid = self.wb, self.grid
        grid.clear_widgets()
        for s in wb.plan.structures:
            row = BoxLayout(size_hint_y=None, height=mm(12), spacing=mm(1.5))
            name = TextInput(text=s.name, multiline=False, font_size=mm(3.6), size_hint_x=0.3)
            name.bind(on_text_validate=lambda w, sid=s.id: wb.set_structure(sid, name=w.text))
            row.add_widget(name)
            shown = Factory.WbToggle(text="SHOWN", state="down" if s.visible else "normal")
            shown.bind(
                on_release=lambda w, sid=s.id: wb.set_structure(sid, visible=w.state == "down")
            )
            row.add_widget(shown)
            for label, step in (("-", -OPACITY_STEP), ("+", OPACITY_STEP)):
                b = Factory.WbButton(text=f"OPACITY {label}")
                value = round(min(1.0, max(0.0, s.opacity + step)), 2)
                b.bind(on_release=lambda w, sid=s.id, v=value: wb.set_structure(sid, opacity=v))
                row.add_widget(b)
            row.add_widget(
                Label(text=f"{s.opacity:.0%}", font_size=mm(3.6), size_hint_x=None, width=mm(14))
            )
            crit = Factory.WbToggle(text="CRITICAL", state="down" if s.critical else "normal")
            crit.bind(
                on_release=lambda w, sid=s.id: wb.set_structure(sid, critical=w.state == "down")
            )
            row.add_widget(crit)
            nxt = PALETTE[(_nearest(s.color) + 1) % len(PALETTE)]
            row.add_widget(_swatch(s.color))
            colour = Factory.WbButton(text="COLOUR")
            colour.bind(on_release=lambda w, sid=s.id, c=nxt: wb.set_structure(sid, color=c))
            row.add_widget(colour)
            grid.add_widget(row)


class ViewsPanel:
    def __init__(self, workbench):
        self.wb = workbench
        self.view, self.grid = _panel("VIEWS")

    def show(self) -> None:
        grid, state = self.grid, self.wb.state
        grid.clear_widgets()
        items = [(name.upper(), NamedView(name)) for name in NAMED_VIEWS]
        items += [
            (f"{v.name} (saved with the plan)", PlanViewRef(v.id)) for v in self.wb.plan.views
        ]
        for text, view in items:
            b = Factory.WbButton(text=text, size_hint_y=None, height=mm(11))
            b.size_hint_x = 1
            b.bind(on_release=lambda w, v=view: (state.set_view(v), self.view.dismiss()))
            grid.add_widget(b)
        self.view.open()


def _swatch(color) -> Widget:
    """A patch of the structure's colour as it is drawn (sRGB)."""
    w = Widget(size_hint_x=None, width=mm(10))
    with w.canvas:
        Color(*srgb(color))
        rect = Rectangle()

    def place(*_):
        rect.pos, rect.size = (w.x, w.y + mm(1.5)), (w.width, max(0.0, w.height - mm(3)))

    w.bind(pos=place, size=place)
    return w


def _nearest(color) -> int:
    return min(
        range(len(PALETTE)),
        key=lambda i: sum((a - b) ** 2 for a, b in zip(PALETTE[i], color, strict=True)),
    )
