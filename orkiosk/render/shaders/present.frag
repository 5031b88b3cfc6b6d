#version 330
// Scene buffer -> target when they differ in size (interactive quality) or the target is not a
// plain RGBA8 texture; the translucent layer is laid over it afterwards (oit_resolve.frag).

uniform sampler2D u_scene;  // RGBA8, display-encoded
uniform vec2 u_uv_scale;    // the part of the buffers the frame uses (they may be bigger)

in vec2 v_uv;
out vec4 f_color;

void main() {
    f_color = vec4(texture(u_scene, v_uv * u_uv_scale).rgb, 1.0);
}
