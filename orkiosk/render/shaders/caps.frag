#version 330
// Sections of cut translucent structures, drawn on the clipping plane into the OIT buffers.
#include "lighting.glsl"
#include "caps_common.glsl"

uniform sampler2D u_depth;  // opaque layer
uniform vec2 u_near_far;
uniform vec2 u_depth_range;

in vec2 v_uv;
layout(location = 0) out vec4 f_accum;
layout(location = 1) out float f_weight;

float view_depth(float d) {
    float n = u_near_far.x, f = u_near_far.y;
    if (u_ortho) {
        return n + d * (f - n);
    }
    return 2.0 * n * f / (f + n - (2.0 * d - 1.0) * (f - n));
}

void main() {
    vec3 p;
    if (!plane_point(v_uv, p)) {
        discard;
    }
    ivec2 q = ivec2(gl_FragCoord.xy);
    int owner = owner_at(q);
    if (owner < 0) {
        discard;
    }
    float alpha = u_opacities[owner];
    float g;
    if (alpha >= 0.999 || image_grey(p, g)) {
        discard;  // opaque, or painted with the image in the opaque pass
    }
    float z = -p.z;
    float d = texelFetch(u_depth, q, 0).r;
    if (d < 1.0 && z > view_depth(d) + 1e-3) {
        discard;  // behind an opaque surface
    }
    vec3 c = cap_color(u_colors[owner]);
    if (section_edge(q, owner)) {
        c *= 0.5;
        alpha = min(1.0, alpha * 2.0);
    }
    float zn = clamp((z - u_depth_range.x) / (u_depth_range.y - u_depth_range.x), 0.0, 1.0);
    float w = alpha * clamp(100.0 * pow(1.0 - zn, 3.0), 0.01, 100.0);
    f_accum = vec4(c * w, alpha);
    f_weight = w;
}
