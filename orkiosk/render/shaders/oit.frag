#version 330
// Weighted blended order-independent transparency (McGuire & Bavoil 2013).
// Attachment 0: rgb += colour * weight, alpha *= (1 - opacity) (revealage);
// attachment 1: r += weight. Blend: rgb (ONE, ONE), alpha (ZERO, ONE_MINUS_SRC_ALPHA).
// Only front faces: one layer per translucent surface reads cleaner than two; cut sections of
// translucent structures come from caps.frag.
#include "lighting.glsl"

uniform vec3 u_color;
uniform float u_opacity;
uniform bool u_edge_enhance;  // more opaque towards the silhouette: nested shells stay legible
uniform vec2 u_depth_range;   // near, far (mm) of the scene for the depth weight

in vec3 v_pos;
in vec3 v_normal;

layout(location = 0) out vec4 f_accum;
layout(location = 1) out float f_weight;

void main() {
    if (!gl_FrontFacing) {
        discard;
    }
    vec3 v = u_ortho ? vec3(0.0, 0.0, 1.0) : normalize(-v_pos);
    vec3 n = normalize(v_normal);
    vec3 c = blinn_phong(u_color, n, v);
    float a = u_opacity;
    if (u_edge_enhance) {
        float edge = 1.0 - clamp(abs(dot(n, v)), 0.0, 1.0);
        float enhanced = a * (0.6 + 1.6 * edge * edge);
        a = clamp(mix(enhanced, a, a), 0.0, 0.98);
    }
    float z = clamp((-v_pos.z - u_depth_range.x) / (u_depth_range.y - u_depth_range.x), 0.0, 1.0);
    float w = a * clamp(100.0 * pow(1.0 - z, 3.0), 0.01, 100.0);
    f_accum = vec4(c * w, a);
    f_weight = w;
}
