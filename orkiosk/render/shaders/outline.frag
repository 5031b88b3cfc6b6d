#version 330
// Silhouette lines where the opaque depth jumps; blended (ZERO, ONE_MINUS_SRC_ALPHA) to darken.

uniform sampler2D u_depth;
uniform vec2 u_near_far;
uniform bool u_ortho;
uniform ivec2 u_scene_size;  // the part of the depth buffer the frame uses (it may be bigger)

in vec2 v_uv;
out vec4 f_color;

float view_depth(float d) {
    float n = u_near_far.x, f = u_near_far.y;
    if (u_ortho) {
        return n + d * (f - n);
    }
    return 2.0 * n * f / (f + n - (2.0 * d - 1.0) * (f - n));
}

void main() {
    // three taps (here, right, up): a one-pixel line on one side of each depth jump
    ivec2 hi = u_scene_size - 1;
    ivec2 p = min(ivec2(v_uv * vec2(hi + 1)), hi);
    float d = texelFetch(u_depth, p, 0).r;
    float dr = texelFetch(u_depth, min(p + ivec2(1, 0), hi), 0).r;
    float du = texelFetch(u_depth, min(p + ivec2(0, 1), hi), 0).r;
    float lo = min(d, min(dr, du));
    float top = max(d, max(dr, du));
    if (lo >= 1.0 || top - lo < 1e-5) {
        discard;
    }
    float zmin = view_depth(lo);
    float edge = smoothstep(0.02, 0.06, (view_depth(top) - zmin) / zmin);
    f_color = vec4(0.0, 0.0, 0.0, 0.7 * edge);
}
