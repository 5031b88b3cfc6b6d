"""Trajectory and landmark markers: unit meshes placed by model matrices, drawn after the opaque
surfaces, with a faint "x-ray" copy where opaque surfaces hide them."""

from __future__ import annotations

import moderngl
import numpy as np

from orkiosk.render.programs import (
    GL_CLIP_DISTANCE0,
    NO_CLIP,
    Programs,
    frame_uniforms,
    model_uniforms,
    set_uniform,
)
from orkiosk.render.work import Draw

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
        tube = TUBE_COLOR if t.color is None else t.color
        items.append(("cylinder", along(entry, f, r, length), tube, code))
        ring = max(r * 3.2, 3.0)
        items.append(("torus", along(entry, f, ring, ring), ENTRY_COLOR, code))
    if state.trajectory_extension > 0:
        ext = float(state.trajectory_extension)
        items.append(("cylinder", along(target, f, r * 0.6, ext), EXTENSION_COLOR, code))
    tr = max(r * 2.2, 2.5)
    items.append(("sphere", scaled(target, tr), TARGET_COLOR, code))
    return items


def marker_draws(ctx: moderngl.Context, gl: Programs, prog, fbo, fv, markers, xray: bool):
    """Markers with the opaque program (unclipped) into `fbo`; with xray, again where something
    in front hides them (depth ">", no depth writes), blended at XRAY_ALPHA."""

    def marker(unit: str, model, color, behind: bool) -> Draw:
        def setup():
            if behind:
                ctx.enable_only(moderngl.DEPTH_TEST | moderngl.BLEND | moderngl.CULL_FACE)
                ctx.depth_func = ">"
                ctx.blend_equation = moderngl.FUNC_ADD
                ctx.blend_func = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)
            else:
                ctx.enable_only(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
                ctx.depth_func = "<"
            ctx.disable_direct(GL_CLIP_DISTANCE0)
            fbo.depth_mask = not behind
            frame_uniforms(prog, fv.proj, fv.view, NO_CLIP, fv.ortho)
            set_uniform(prog, "u_rim", 0.3)
            set_uniform(prog, "u_alpha", XRAY_ALPHA if behind else 1.0)
            model_uniforms(prog, model, fv.rotation)
            prog["u_color"].value = color

        return Draw(setup, gl.unit[unit], "opaque")

    layers = (False, True) if markers and xray else (False,)
    return [
        marker(unit, model, color, behind)
        for behind in layers
        for unit, model, color, _code in markers
    ]


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
