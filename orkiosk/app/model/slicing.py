"""The slice view's model: which slice of the plan's image is shown, with which window, and
whether the screen shows the 3D view, the slice, or both (no Kivy, no GL).

    slicing = SliceModel(state)        # follows the KioskState's plan and selected trajectory
    slicing.subscribe(handler)         # SliceChanged / LayoutChanged, once per real change
    slicing.set_layout("both")         # refused (False) when the plan carries no image
    slicing.set_plane("perp")          # across the selected trajectory, from the target
    slicing.drag(12.0)                 # the finger travelled 12 mm of the picture: +12 mm
    slicing.set_window("Bone")         # a preset of the image, or (width, level)

The slice uses the cut vocabulary (render/state.CUT_PLANES): axial/sagittal/coronal mm from
the plan's centre along +z/+x/+y; "perp" mm before the selected trajectory's target; "along"
mm off its path, sideways. A plan without an image offers no slice: the layout stays "3d".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orkiosk.app.model import events as ev
from orkiosk.app.model.values import CUT_PLANES, TRAJECTORY_CUTS

LAYOUTS = ("3d", "slice", "both")
NO_IMAGE = "this plan carries no images"


@dataclass(frozen=True)
class Window:
    """Display window in the image's units (HU for CT); `name` of the preset, "" for W/L."""

    width: float
    level: float
    name: str = ""

    @property
    def text(self) -> str:
        head = f"{self.name} " if self.name else ""
        return f"{head}W{self.width:g} L{self.level:g}"


@dataclass(frozen=True)
class Slice:
    """One slice of the image: the plane, its offset (mm, see the module docstring), the
    trajectory a trajectory plane follows (the selected one) and the window (None: the
    image's first preset)."""

    plane: str = "axial"
    offset: float = 0.0
    trajectory_id: str | None = None
    window: Window | None = None

    @property
    def follows_trajectory(self) -> bool:
        return self.plane in TRAJECTORY_CUTS


@dataclass(frozen=True)
class SliceChanged:
    """The slice moved or changed (`interactive`: a drag, more moves are likely)."""

    slice: Slice
    interactive: bool = False


@dataclass(frozen=True)
class LayoutChanged:
    """What the view area shows: "3d", "slice" or "both"; `available`: the plan has an image."""

    layout: str
    available: bool


SliceEvent = SliceChanged | LayoutChanged


class SliceModel:
    """The slice and the layout of the view area, following a KioskState's plan."""

    def __init__(self, state) -> None:
        self.state = state
        self.layout: str = "3d"
        self.slice = Slice()
        self.available = False  # the shown plan carries an image
        self._case: str | None = None
        self._subscribers: list[Callable[[SliceEvent], None]] = []
        state.subscribe(self._on_state)

    def subscribe(self, fn: Callable[[SliceEvent], None]) -> None:
        self._subscribers.append(fn)

    def _emit(self, event: SliceEvent) -> None:
        for fn in list(self._subscribers):
            fn(event)

    # ------------------------------------------------------------ the plan
    def _on_state(self, event) -> None:
        if isinstance(event, ev.PlanShown):
            plan = event.package.plan
            same_case = plan.case_id == self._case
            self._case = plan.case_id
            self._set_layout(self.layout, plan.image is not None)
            keep = same_case and self._window_ok(self.slice.window)
            self._set_slice(
                self.slice.plane,
                self.slice.offset if same_case else 0.0,
                self.slice.window if keep else None,
            )
        elif isinstance(event, ev.SelectionChanged) and self.slice.follows_trajectory:
            self._set_slice(self.slice.plane, 0.0, self.slice.window)

    @property
    def presets(self) -> tuple[Window, ...]:
        """The image's window presets (the first is the default); () without an image."""
        pkg = self.state.package
        image = pkg.plan.image if pkg is not None else None
        if image is None:
            return ()
        return tuple(Window(p.window, p.level, p.name) for p in image.presets)

    def _window_ok(self, window: Window | None) -> bool:
        return window is None or not window.name or window in self.presets

    @property
    def window(self) -> Window | None:
        """The window in use (the chosen one, else the first preset)."""
        return self.slice.window or next(iter(self.presets), None)

    # ------------------------------------------------------------ layout
    def _set_layout(self, layout: str, available: bool) -> None:
        layout = layout if available else "3d"
        if (layout, available) != (self.layout, self.available):
            self.layout, self.available = layout, available
            self._emit(LayoutChanged(layout, available))

    def set_layout(self, layout: str) -> bool:
        """3D, SLICE or BOTH; False (nothing changes) for a slice without an image."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
        if layout != "3d" and not self.available:
            return False
        self._set_layout(layout, self.available)
        return True

    @property
    def slice_shown(self) -> bool:
        return self.layout != "3d"

    # ------------------------------------------------------------ the slice
    def _trajectory(self, plane: str) -> str | None:
        return self.state.selected if plane in TRAJECTORY_CUTS else None

    def _set_slice(self, plane: str, offset: float, window, interactive: bool = False) -> None:
        new = Slice(plane, float(offset), self._trajectory(plane), window)
        if new != self.slice:
            self.slice = new
            self._emit(SliceChanged(new, interactive))

    def set_plane(self, plane: str) -> bool:
        """A new plane starts at offset 0; a trajectory plane needs a selected trajectory."""
        if plane not in CUT_PLANES:
            raise ValueError(f"unknown slice plane {plane!r}; known: {', '.join(CUT_PLANES)}")
        if plane in TRAJECTORY_CUTS and self.state.selected is None:
            return False
        if plane != self.slice.plane:
            self._set_slice(plane, 0.0, self.slice.window)
        return True

    def set_offset(self, offset: float, interactive: bool = False) -> None:
        self._set_slice(self.slice.plane, offset, self.slice.window, interactive)

    def drag(self, travel_mm: float) -> None:
        """A finger moved `travel_mm` (in the picture's mm: up is +): the slice moves as far.
        Nothing moves while the kiosk is locked or no slice is shown."""
        if self.state.locked or not self.slice_shown or travel_mm == 0:
            return
        self.set_offset(self.slice.offset + float(travel_mm), interactive=True)

    def set_window(self, window: str | tuple[float, float] | Window) -> None:
        """A preset of the image by name, or (width, level) in its units (width > 0)."""
        if isinstance(window, str):
            found = next((p for p in self.presets if p.name.lower() == window.lower()), None)
            if found is None:
                names = ", ".join(p.name for p in self.presets) or "none"
                raise KeyError(f"no window preset {window!r} (known: {names})")
            window = found
        elif not isinstance(window, Window):
            width, level = (float(v) for v in window)
            if not width > 0:
                raise ValueError("window width must be > 0")
            window = Window(width, level)
        if window == next(iter(self.presets), None):
            window = None  # the default: the same picture, the same value
        self._set_slice(self.slice.plane, self.slice.offset, window)
