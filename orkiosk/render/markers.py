"""Trajectory and landmark markers: unit meshes placed by model matrices, drawn after the opaque
surfaces, with a faint "x-ray" copy where opaque surfaces hide them."""

from __future__ import annotations

import moderngl
import numpy as np

from orkiosk.render.programs import NO_CLIP, Programs, model_uniforms, set_uniform

XRAY_ALPHA = 0.4  # markers behind opaque surfaces
TUBE_COLOR = (0.75, 0.9, 1.0)
EXTENSION_COLOR = (0.45, 0.55, 0.65)
ENTRY_COLOR = (0.15, 0.9, 0.3)
TARGET_COLOR = (1.0, 0.12, 0.45)
LANDMARK_COLOR = (1.0, 0.55, 0.0)
LANDMARK_RADIUS = 2.5  # mm


def marker_items(scene, state) -> list:
    """(unit mesh, model matrix, colour, code) for trajectories and landmarks; the pick code
    follows the structures' (1..n): trajectories, then landmarks."""
    items = []
    plan = scene.plan
    base = len(scene.structures)
    if state.show_trajectories:
        for j, t in enumerate(plan.trajectories):
            if t.id not in state.hidden_trajectories:
                items += _trajectory_items(t, state, base + 1 + j)
    if state.show_landmarks:
        for k, m in enumerate(plan.landmarks):
            code = base + 1 + len(plan.trajectories) + k
            pos = np.asarray(m.position, dtype=np.float64)
            items.append(("sphere", scaled(pos, LANDMARK_RADIUS), LANDMARK_COLOR, code))
    return items


def _trajectory_items(t, state, code: int) -> list:
    """The needle (unless seen along it), the entry ring, the extension past the target and the
    target ball."""
    entry = np.asarray(t.entry, dtype=np.float64)
    target = np.asarray(t.target, dtype=np.float64)
    length = float(np.linalg.norm(target - entry))
    if length < 1e-6:
        return []
    items = []
    f = (target - entry) / length
    r = max(float(t.diameter), 0.2) / 2
    if state.probe_trajectory != t.id:
        items.append(("cylinder", along(entry, f, r, length), TUBE_COLOR, code))
        ring = max(r * 3.2, 3.0)
        items.append(("torus", along(entry, f, ring, ring), ENTRY_COLOR, code))
    if state.trajectory_extension > 0:
        ext = float(state.trajectory_extension)
        items.append(("cylinder", along(target, f, r * 0.6, ext), EXTENSION_COLOR, code))
    tr = max(r * 2.2, 2.5)
    items.append(("sphere", scaled(target, tr), TARGET_COLOR, code))
    return items


def draw_markers(ctx: moderngl.Context, gl: Programs, prog, fbo, markers, rotation, xray: bool):
    """Markers with the opaque program (frame uniforms already set); with xray, again where
    something in front hides them, blended at XRAY_ALPHA."""
    set_uniform(prog, "u_clip", NO_CLIP)
    set_uniform(prog, "u_rim", 0.3)
    ctx.enable_only(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
    _draw_units(gl, prog, markers, rotation)
    if markers and xray:
        fbo.depth_mask = False
        ctx.enable_only(moderngl.DEPTH_TEST | moderngl.BLEND | moderngl.CULL_FACE)
        ctx.depth_func = ">"
        ctx.blend_func = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)
        set_uniform(prog, "u_alpha", XRAY_ALPHA)
        _draw_units(gl, prog, markers, rotation)
        set_uniform(prog, "u_alpha", 1.0)
        fbo.depth_mask = True
        ctx.depth_func = "<"


def _draw_units(gl: Programs, prog, markers, rotation) -> None:
    for unit, model, color, _code in markers:
        model_uniforms(prog, model, rotation)
        prog["u_color"].value = color
        gl.unit[unit].render("opaque")


def _basis(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1.0, 0.0, 0.0]) if abs(f[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(f, a)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(f, e1)


def along(origin, direction, radius: float, length: float) -> np.ndarray:
    """Model matrix taking the unit +z primitives to `origin` + [0, length] * direction."""
    f = np.asarray(direction, dtype=np.float64)
    f = f / np.linalg.norm(f)
    e1, e2 = _basis(f)
    m = np.eye(4)
    m[:3, 0] = e1 * radius
    m[:3, 1] = e2 * radius
    m[:3, 2] = f * length
    m[:3, 3] = origin
    return m


def scaled(origin, s: float) -> np.ndarray:
    m = np.diag([s, s, s, 1.0])
    m[:3, 3] = origin
    return m
