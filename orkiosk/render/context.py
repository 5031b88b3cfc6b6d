"""OpenGL contexts: check an injected one, or create a headless one (EGL) for snapshots/tests.

The renderer never creates a window. The kiosk passes moderngl.create_context() made inside its
Kivy window; `orkiosk snapshot`, the benchmark and the tests use create_headless_context().
"""

from __future__ import annotations

import logging

import moderngl

from orkiosk.render.errors import RenderError

log = logging.getLogger(__name__)

MIN_GL_VERSION = 330


def check_context(ctx: moderngl.Context) -> moderngl.Context:
    """Fail loudly unless the context offers OpenGL 3.3 or newer; log what it is."""
    try:
        version = int(ctx.version_code)
        info = ctx.info
    except Exception as exc:  # a dead or foreign context
        raise RenderError(f"the OpenGL context cannot be used: {exc}") from exc
    renderer = info.get("GL_RENDERER", "unknown renderer")
    log.info("OpenGL %d.%d on %s", version // 100, version % 100 // 10, renderer)
    if version < MIN_GL_VERSION:
        raise RenderError(
            f"OpenGL 3.3 or newer is needed; this context offers "
            f"{version // 100}.{version % 100 // 10} ({renderer}). Check the GPU driver, "
            f"and that the service user is in the 'render' and 'video' groups."
        )
    return ctx


def create_headless_context(backend: str = "egl") -> moderngl.Context:
    """A standalone OpenGL 3.3+ context without a window (EGL: Mesa llvmpipe works)."""
    try:
        ctx = moderngl.create_standalone_context(require=MIN_GL_VERSION, backend=backend)
    except Exception as exc:
        raise RenderError(
            f"could not create a headless OpenGL context ({backend}): {exc}. "
            f"Install Mesa's EGL (libegl1, libgl1-mesa-dri) or give access to a GPU."
        ) from exc
    try:
        return check_context(ctx)
    except RenderError:
        ctx.release()
        raise
