#version 330
// A slice view: the image volume reformatted on a plane (trilinear), under a window/level.
// v_uv runs 0..1 across the viewport, bottom-left origin (GL); u_right/u_up span the plane.
uniform sampler3D u_image;
uniform bool u_has_image;
uniform mat4 u_lps_to_tex;
uniform vec3 u_center;  // LPS mm at the middle of the viewport
uniform vec3 u_right;  // LPS mm across the whole width
uniform vec3 u_up;  // LPS mm across the whole height
uniform vec2 u_window;  // (width, level)
uniform vec3 u_background;

in vec2 v_uv;
out vec4 f_color;

void main() {
    vec3 p = u_center + (v_uv.x - 0.5) * u_right + (v_uv.y - 0.5) * u_up;
    vec3 t = (u_lps_to_tex * vec4(p, 1.0)).xyz;
    if (!u_has_image || any(lessThan(t, vec3(0.0))) || any(greaterThan(t, vec3(1.0)))) {
        f_color = vec4(u_background, 1.0);
        return;
    }
    float v = texture(u_image, t).r;
    float g = clamp((v - (u_window.y - 0.5 * u_window.x)) / u_window.x, 0.0, 1.0);
    f_color = vec4(vec3(g), 1.0);
}
