"""The 3D view's frame arithmetic, without a window: what part of a picture is shown in a view
of another size, how the step budget adapts, how a UI frame's share of steps is cut."""

from __future__ import annotations

import pytest

from orkiosk.app.views.viewframes import STEP_MS, StepBudget, run_steps, shown_coords


class _Pic:
    def __init__(self, size, drawn, scale=1.0):
        w, h = size
        u, v = drawn[0] / w, drawn[1] / h
        self.size, self.scale = size, scale
        self.tex_coords = (0.0, 0.0, u, 0.0, u, v, 0.0, v)


def _region(coords, size):
    """(x0, y0, x1, y1) in texture pixels."""
    w, h = size
    return (coords[0] * w, coords[1] * h, coords[4] * w, coords[5] * h)


def test_a_frame_drawn_for_this_view_is_shown_as_drawn():
    pic = _Pic((1664, 768), (1557, 704))
    assert shown_coords(pic, (1557, 704)) == pytest.approx(pic.tex_coords)


def test_an_interactive_frame_is_stretched_over_the_view():
    pic = _Pic((1664, 768), (778, 352), scale=0.5)  # half the pixels, shown stretched
    assert shown_coords(pic, (1557, 704)) == pytest.approx(pic.tex_coords, abs=1e-3)


def test_a_view_that_shrank_shows_the_middle_of_the_old_frame_at_its_scale():
    pic = _Pic((1664, 768), (1557, 704))
    x0, y0, x1, y1 = _region(shown_coords(pic, (1557, 565)), pic.size)
    assert (x0, x1) == pytest.approx((0, 1557))
    assert y1 - y0 == pytest.approx(565)  # cropped, not squeezed
    assert (y0 + y1) / 2 == pytest.approx(704 / 2)  # centred


def test_a_view_that_grew_stretches_what_there_is():
    pic = _Pic((1664, 768), (1557, 565))
    x0, y0, x1, y1 = _region(shown_coords(pic, (1557, 704)), pic.size)
    assert (x0, y0, x1, y1) == pytest.approx((0, 0, 1557, 565))


def test_step_budget_aims_at_half_the_frame_share():
    b = StepBudget()
    b.learn(2 * STEP_MS, 40_000, 0)  # twice the share for 40k triangles: 10k next time
    assert b.triangles == 10_000
    b.learn(STEP_MS / 4, 0, 100_000)  # full-screen work: pixels learn, triangles stay
    assert b.pixels == 200_000 and b.triangles == 10_000
    b.learn(1000.0, 10_000, 0)  # never below the floor
    assert b.triangles == 5_000


class _Ctx:
    def __init__(self):
        self.finished = 0

    def finish(self):
        self.finished += 1


def test_run_steps_stops_when_the_frame_share_is_spent_and_when_done():
    import time

    ctx, calls = _Ctx(), []

    def slow_step():
        calls.append(1)
        time.sleep(0.004)
        return len(calls) >= 100, 1000, 0

    run = run_steps(ctx, slow_step, budget_ms=10.0)
    assert not run.done and 1 <= run.steps <= 3 and ctx.finished == run.steps
    calls.clear()
    run = run_steps(ctx, lambda: (calls.append(1) or True, 0, 0), budget_ms=10.0)
    assert run.done and run.steps == 1
