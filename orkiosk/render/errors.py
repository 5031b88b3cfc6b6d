"""Errors of the renderer, fit to show to a person (see orkiosk.errors)."""

from orkiosk.errors import OrkioskError


class RenderError(OrkioskError):
    """The 3D picture cannot be drawn: no usable OpenGL, a shader that fails, a bad setting."""
