#version 330
// Scene buffer -> target when they differ in size (interactive quality) or the target is not a
// plain RGBA8 texture; the translucent layer is laid over it afterwards (oit_resolve.frag).

uniform sampler2D u_scene;  // RGBA8, display-encoded

in vec2 v_uv;
out vec4 f_color;

void main() {
    f_color = vec4(texture(u_scene, v_uv).rgb, 1.0);
}
