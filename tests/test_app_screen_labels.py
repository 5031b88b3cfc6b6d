"""Label placement over the 3D view (orkiosk.app.views.labelplace): pure, no Kivy."""

from __future__ import annotations

import random

from orkiosk.app.views.labelplace import Box, Wanted, any_overlap, place_labels

VIEW = Box(0, 0, 1200, 800)


def test_a_lone_label_sits_right_of_its_point_without_leader():
    (p,) = place_labels([Wanted((100, 400), (80, 30))], VIEW)
    assert p.box == Box(108, 385, 80, 30) and not p.leader


def test_measure_markers_on_landmarks_push_the_names_aside():
    # today's bug: "A" and "B" were drawn over "Right tragus" and "Left tragus"
    wanted = [
        Wanted((300, 400), (30, 40)),  # A, placed first
        Wanted((900, 400), (30, 40)),  # B
        Wanted((300, 402), (200, 30)),  # Right tragus, at nearly the same point
        Wanted((900, 398), (190, 30)),  # Left tragus
    ]
    placed = place_labels(wanted, VIEW)
    assert all(p is not None for p in placed)
    boxes = [p.box for p in placed]
    assert not any_overlap(boxes)
    assert placed[0].box == Box(308, 380, 30, 40), "the markers keep their place"


def test_labels_stay_inside_the_view_and_avoid_obstacles():
    obstacle = Box(1000, 0, 200, 800)  # e.g. something drawn over the right edge
    placed = place_labels([Wanted((995, 400), (150, 30))], VIEW, obstacles=[obstacle])
    (p,) = placed
    assert p.box.inside(VIEW) and not p.box.overlaps(obstacle)


def test_no_room_means_left_out_not_overlapped():
    tiny = Box(0, 0, 160, 40)
    placed = place_labels([Wanted((50, 20), (90, 30)), Wanted((52, 20), (90, 30))], tiny)
    assert placed[0] is not None and placed[1] is None


def test_labels_do_not_cover_other_anchor_points():
    placed = place_labels([Wanted((100, 400), (200, 30)), Wanted((150, 400), (50, 30))], VIEW)
    dot = Box(146, 396, 8, 8)
    assert not placed[0].box.overlaps(dot)


def test_random_crowds_never_overlap():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 14)
        wanted = [
            Wanted(
                (rng.uniform(0, VIEW.w), rng.uniform(0, VIEW.h)),
                (rng.uniform(20, 260), rng.uniform(20, 45)),
            )
            for _ in range(n)
        ]
        obstacles = [Box(rng.uniform(0, 1100), rng.uniform(0, 700), 60, 60)]
        placed = place_labels(wanted, VIEW, obstacles=obstacles)
        boxes = [p.box for p in placed if p is not None]
        assert not any_overlap(boxes + obstacles)
        assert all(b.inside(VIEW) for b in boxes)
        assert sum(p is None for p in placed) <= n // 3, "most labels find a place"
