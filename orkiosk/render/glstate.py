"""GL state shared with a host toolkit: the few raw GL calls that hand the context back to the
host (Kivy) after moderngl has drawn, and moderngl garbage collection on the GL thread.

moderngl leaves its vertex array and program bound; Kivy then draws with them (nothing visible
from the second frame on). After each 3D frame we bind VAO 0 and program 0, and restore Kivy's
viewport and blending. The entry points come from libGL (GLVND dispatches to the current context,
GLX or EGL), else from eglGetProcAddress.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import moderngl

GL_VIEWPORT = 0x0BA2
GL_FRAMEBUFFER = 0x8D40
GL_FRAMEBUFFER_BINDING = 0x8CA6
GL_BLEND = 0x0BE2
GL_DEPTH_TEST = 0x0B71
GL_CULL_FACE = 0x0B44
GL_SCISSOR_TEST = 0x0C11
GL_SRC_ALPHA = 0x0302
GL_ONE_MINUS_SRC_ALPHA = 0x0303
GL_TEXTURE0 = 0x84C0
GL_TEXTURE_2D = 0x0DE1
RENDERER_TEXTURE_UNITS = 4  # orkiosk.render leaves textures bound on units 0-3


@cache
def _gl():
    lib = None
    for name in ("libGL.so.1", ctypes.util.find_library("GL")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    egl = None
    try:
        egl = ctypes.CDLL("libEGL.so.1")
        egl.eglGetProcAddress.restype = ctypes.c_void_p
        egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    except OSError:
        egl = None

    def fn(name: str, *argtypes):
        proto = ctypes.CFUNCTYPE(None, *argtypes)
        if lib is not None and hasattr(lib, name):
            return proto((name, lib))
        if egl is not None:
            addr = egl.eglGetProcAddress(name.encode())
            if addr:
                return proto(addr)
        raise OSError(f"OpenGL function {name} not found")

    u, i = ctypes.c_uint, ctypes.c_int
    return {
        "glBindVertexArray": fn("glBindVertexArray", u),
        "glBindFramebuffer": fn("glBindFramebuffer", u, u),
        "glUseProgram": fn("glUseProgram", u),
        "glGetIntegerv": fn("glGetIntegerv", u, ctypes.POINTER(ctypes.c_int)),
        "glViewport": fn("glViewport", i, i, i, i),
        "glEnable": fn("glEnable", u),
        "glDisable": fn("glDisable", u),
        "glBlendFunc": fn("glBlendFunc", u, u),
        "glActiveTexture": fn("glActiveTexture", u),
        "glBindTexture": fn("glBindTexture", u, u),
    }


def kivy_state() -> tuple[int, tuple[int, int, int, int]]:
    """Kivy's framebuffer binding and viewport, to restore after moderngl has drawn."""
    fbo = (ctypes.c_int * 1)()
    v = (ctypes.c_int * 4)()
    gl = _gl()
    gl["glGetIntegerv"](GL_FRAMEBUFFER_BINDING, fbo)
    gl["glGetIntegerv"](GL_VIEWPORT, v)
    return fbo[0], tuple(v)


def hand_back_to_kivy(saved: tuple[int, tuple[int, int, int, int]]) -> None:
    """Unbind moderngl's objects and restore the state Kivy's canvas expects."""
    gl = _gl()
    framebuffer, viewport = saved
    gl["glBindFramebuffer"](GL_FRAMEBUFFER, framebuffer)
    gl["glBindVertexArray"](0)
    gl["glUseProgram"](0)
    gl["glViewport"](*viewport)
    gl["glDisable"](GL_DEPTH_TEST)
    gl["glDisable"](GL_CULL_FACE)
    gl["glDisable"](GL_SCISSOR_TEST)
    gl["glEnable"](GL_BLEND)
    gl["glBlendFunc"](GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA)
    for unit in reversed(range(RENDERER_TEXTURE_UNITS)):
        gl["glActiveTexture"](GL_TEXTURE0 + unit)
        gl["glBindTexture"](GL_TEXTURE_2D, 0)


def unbind_vertex_array() -> None:
    """After creating VAOs: leave none bound for Kivy."""
    _gl()["glBindVertexArray"](0)


def collect_gl_garbage(ctx: moderngl.Context) -> int:
    """ctx.gc() for gc_mode "context_gc", minus a moderngl 5.13 bug: an object released
    explicitly is queued again as InvalidObject when collected, and ctx.gc() then raises."""
    count = 0
    queue = ctx.objects
    while queue:
        obj = queue.popleft()
        if not isinstance(obj, moderngl.InvalidObject):
            obj.release()
            count += 1
    return count
