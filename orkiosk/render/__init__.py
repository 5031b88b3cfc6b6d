"""moderngl renderer: draws a plan into a given framebuffer; never imports kivy."""
