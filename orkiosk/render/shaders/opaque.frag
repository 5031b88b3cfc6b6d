#version 330
#include "lighting.glsl"

uniform vec3 u_color;   // linear RGB
uniform float u_alpha;  // < 1 only for markers seen through surfaces (premultiplied blend)

in vec3 v_pos;
in vec3 v_normal;

out vec4 f_color;

void main() {
    vec3 c = to_display(surface_color(u_color, v_pos, v_normal));
    f_color = vec4(c * u_alpha, u_alpha);
}
