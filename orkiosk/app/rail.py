"""The side rail's pages: big tabs instead of a scrolling list (a gloved finger through a drape
cannot scroll reliably, and a control below the fold is a control nobody finds).

A RailPage that is not the open tab takes no room, is not drawn and takes no touch (its disabled
children would otherwise swallow touches meant for the open page). Rows of a paged list hide the
same way (see StructureRow in kiosk.py).
"""

from __future__ import annotations

import math

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout


class Hideable:
    """Mixin for a widget with a `shown` property (its kv rule gives it no height, opacity 0 and
    disabled when not shown): a hidden one is deaf to touches, so its disabled children cannot
    swallow the touches meant for what is shown."""

    def on_touch_down(self, touch):
        return super().on_touch_down(touch) if self.shown else False

    def on_touch_move(self, touch):
        return super().on_touch_move(touch) if self.shown else False

    def on_touch_up(self, touch):
        return super().on_touch_up(touch) if self.shown else False


class RailPage(Hideable, BoxLayout):
    name = StringProperty("")
    shown = BooleanProperty(True)


def rows_per_page(n_rows: int, room: float, row: float, pager: float) -> int:
    """How many rows of height `row` one page shows in `room` pixels; the pager (height
    `pager`) takes room only when the rows do not all fit."""
    if row <= 0 or n_rows * row <= room:
        return max(1, n_rows)
    return max(1, math.floor((room - pager) / row))


def page_count(n_rows: int, per_page: int) -> int:
    return max(1, math.ceil(n_rows / max(1, per_page)))


Factory.register("RailPage", cls=RailPage)
