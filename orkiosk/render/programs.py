"""The renderer's GLSL programs: shader text from the installed package, compiled once per context.

load_shader reads orkiosk/render/shaders/NAME through importlib.resources (so it works from a
wheel) and expands #include "file" lines. Programs compiles every program and makes the
attribute-less vertex arrays of the full-screen passes, the 2D overlay buffer and the unit
marker meshes. set_uniform, frame_uniforms and model_uniforms write uniforms (matrices
column-major; names a program does not use are skipped).
"""

from __future__ import annotations

import re
from importlib import resources

import moderngl
import numpy as np

from orkiosk.render import geometry
from orkiosk.render.errors import RenderError
from orkiosk.render.scene import GpuMesh

GL_CLIP_DISTANCE0 = 0x3000
NO_CLIP = np.array([0.0, 0.0, 0.0, 1.0])

_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.MULTILINE)


def load_shader(name: str) -> str:
    """The text of orkiosk/render/shaders/NAME with #include "file" lines expanded."""
    try:
        text = (resources.files("orkiosk.render") / "shaders" / name).read_text("utf-8")
    except FileNotFoundError:
        raise RenderError(f"shader {name} is missing from the installation") from None
    return _INCLUDE.sub(lambda m: load_shader(m.group(1)), text)


def set_uniform(prog: moderngl.Program, name: str, value) -> None:
    if name not in prog:
        return
    member = prog[name]
    if isinstance(value, np.ndarray):
        if value.ndim == 2:  # matrices: GL wants column-major
            member.write(np.ascontiguousarray(value.T, dtype="f4").tobytes())
        else:
            member.value = tuple(float(v) for v in value)
    else:
        member.value = value


def frame_uniforms(prog, proj, view, clip_eq, ortho) -> None:
    set_uniform(prog, "u_proj", proj)
    set_uniform(prog, "u_view", view)
    set_uniform(prog, "u_clip", clip_eq)
    set_uniform(prog, "u_ortho", bool(ortho))


def model_uniforms(prog, model: np.ndarray | None, view_rot: np.ndarray) -> None:
    if model is None:
        set_uniform(prog, "u_model", np.eye(4))
        set_uniform(prog, "u_normal_matrix", view_rot)
    else:
        set_uniform(prog, "u_model", model)
        set_uniform(prog, "u_normal_matrix", view_rot @ np.linalg.inv(model[:3, :3]).T)


class Programs:
    """Every program, vertex array and unit mesh the renderer draws with (one GL context).

    mesh: the programs that draw triangle meshes ("opaque", "oit", "pick", "parity"; each
    GpuMesh has a vertex array per program); full-screen passes: present, oit_resolve, outline,
    caps, caps_opaque (each with its *_vao); overlay (flat 2D triangles), quad (a textured
    rectangle); unit: sphere, cylinder, torus and cone for markers.
    """

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self._objects: list = []
        self.unit: dict[str, GpuMesh] = {}
        try:
            self._build()
        except BaseException:
            self.release()
            raise

    def _keep(self, obj):
        self._objects.append(obj)
        return obj

    def _program(self, vert: str, frag: str) -> moderngl.Program:
        return self._keep(
            self.ctx.program(vertex_shader=load_shader(vert), fragment_shader=load_shader(frag))
        )

    def _build(self) -> None:
        ctx = self.ctx
        self.mesh = {
            "opaque": self._program("mesh.vert", "opaque.frag"),
            "oit": self._program("mesh.vert", "oit.frag"),
            "pick": self._program("mesh.vert", "pick.frag"),
            "parity": self._program("mesh.vert", "parity.frag"),
        }
        self.present = self._program("fullscreen.vert", "present.frag")
        self.oit_resolve = self._program("fullscreen.vert", "oit_resolve.frag")
        self.outline = self._program("fullscreen.vert", "outline.frag")
        self.caps = self._program("fullscreen.vert", "caps.frag")
        self.caps_opaque = self._program("fullscreen.vert", "caps_opaque.frag")
        self.overlay = self._program("overlay.vert", "overlay.frag")
        self.quad = self._program("quad.vert", "quad.frag")
        self.present_vao = self._keep(ctx.vertex_array(self.present, []))
        self.oit_resolve_vao = self._keep(ctx.vertex_array(self.oit_resolve, []))
        self.outline_vao = self._keep(ctx.vertex_array(self.outline, []))
        self.caps_vao = self._keep(ctx.vertex_array(self.caps, []))
        self.caps_opaque_vao = self._keep(ctx.vertex_array(self.caps_opaque, []))
        self.quad_vao = self._keep(ctx.vertex_array(self.quad, []))
        self.overlay_buf = self._keep(ctx.buffer(reserve=64 * 1024, dynamic=True))
        self.overlay_vao = self._keep(
            ctx.vertex_array(self.overlay, [(self.overlay_buf, "2f 4f", "in_position", "in_color")])
        )
        progs = self.mesh
        self.unit = {
            "sphere": GpuMesh.of_arrays(ctx, progs, *geometry.sphere_arrays(16, 32)),
            "cylinder": GpuMesh.of_arrays(ctx, progs, *geometry.cylinder_arrays(24)),
            "torus": GpuMesh.of_arrays(ctx, progs, *geometry.torus_arrays(0.3, 32, 12)),
            "cone": GpuMesh.of_arrays(ctx, progs, *geometry.cone_arrays(24)),
        }

    def release_meshes(self) -> None:
        for m in self.unit.values():
            m.release()
        self.unit = {}

    def release(self) -> None:
        self.release_meshes()
        for obj in reversed(self._objects):
            obj.release()
        self._objects = []
