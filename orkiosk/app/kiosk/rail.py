"""The side rail: big tabs instead of a scrolling list (a gloved finger through a drape cannot
scroll reliably, and a control below the fold is a control nobody finds).

Only the open page is in the widget tree, and on the structures page only the rows of the
current page: what is not shown takes no room, is not drawn and takes no touch. Pages and rows
keep their state while detached, and `widgets()` still reaches them.
"""

from __future__ import annotations

import math

from kivy.factory import Factory
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout


class RailPage(BoxLayout):
    name = StringProperty("")


def rows_per_page(n_rows: int, room: float, row: float, pager: float) -> int:
    """How many rows of height `row` one page shows in `room` pixels; the pager (height
    `pager`) takes room only when the rows do not all fit."""
    if row <= 0 or n_rows * row <= room:
        return max(1, n_rows)
    return max(1, math.floor((room - pager) / row))


def page_count(n_rows: int, per_page: int) -> int:
    return max(1, math.ceil(n_rows / max(1, per_page)))


class RailPages:
    """Which rail page is open and which rows of the structures page are on it."""

    def __init__(self, rail, pages: list[RailPage], rows_box) -> None:
        self.rail = rail  # vertical box: the tabs, the open page, the controls kept on every page
        # kv ids are weak proxies: hold the pages themselves, or a detached page is collected
        pages = [getattr(p, "__self__", p) for p in pages]
        self.pages = {p.name: p for p in pages}
        self.rows_box = rows_box
        self.rows: list = []  # every structure row, in plan order
        self.per_page = 1
        self.open: RailPage | None = None
        for page in pages:
            if page.parent is not None:
                page.parent.remove_widget(page)

    def show(self, name: str) -> None:
        page = self.pages[name]
        if page is self.open:
            return
        if self.open is not None:
            self.rail.remove_widget(self.open)
        self.rail.add_widget(page, index=1)  # above the last child: the controls on every page
        self.open = page

    def set_rows(self, rows: list) -> None:
        self.rows = list(rows)

    def paginate(self, room: float, row: float, pager: float) -> int:
        """Rows per page for `room` pixels; returns the number of pages."""
        self.per_page = rows_per_page(len(self.rows), room, row, pager)
        return page_count(len(self.rows), self.per_page)

    def show_rows(self, page: int) -> None:
        first = page * self.per_page
        wanted = self.rows[first : first + self.per_page]
        if list(reversed(self.rows_box.children)) != wanted:
            self.rows_box.clear_widgets()
            for row in wanted:
                self.rows_box.add_widget(row)

    def page_of_row(self, row) -> int | None:
        return self.rows.index(row) // self.per_page if row in self.rows else None

    def page_holding(self, widget) -> str | None:
        """The name of the rail page that holds `widget`, open or not."""
        w, seen = widget, set()
        while w is not None and id(w) not in seen:
            seen.add(id(w))
            if w in self.rows:
                return "structures"
            if isinstance(w, RailPage):
                return w.name
            w = w.parent
        return None

    def widgets(self):
        """Every widget of every page and row, shown or not."""
        seen = set()
        for top in [*self.pages.values(), *self.rows]:
            for w in top.walk(restrict=True):
                if id(w) not in seen:
                    seen.add(id(w))
                    yield w


Factory.register("RailPage", cls=RailPage)
