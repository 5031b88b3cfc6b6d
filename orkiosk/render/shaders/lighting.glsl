// Shared lighting: a headlight from slightly above-left of the viewer, two-sided, in view space.
// Colours are linear RGB; to_display() (srgb.glsl) encodes them for the screen.

const vec3 LIGHT_DIR = vec3(-0.2425, 0.3395, 0.9088);  // normalize(-0.25, 0.35, 0.937)

uniform bool u_ortho;
uniform float u_rim;  // 1: darken towards silhouettes (anatomy); 0: none (thin markers)

#include "srgb.glsl"

vec3 blinn_phong(vec3 base, vec3 n, vec3 v) {
    float ndl = max(dot(n, LIGHT_DIR), 0.0);
    vec3 h = normalize(LIGHT_DIR + v);
    float s1 = max(dot(n, h), 0.0);
    float s2 = s1 * s1;
    float s4 = s2 * s2;
    float s16 = s4 * s4 * s4 * s4;
    float spec = s16 * s16 * s16;  // exponent 48 without pow()
    float ndv = max(dot(n, v), 0.0);
    // darken towards the silhouette so outlines read at a glance
    float rim = mix(1.0 - 0.65 * u_rim, 1.0, smoothstep(0.0, 0.55, ndv));
    return base * (0.2 + 0.8 * ndl) * rim + vec3(0.25 * spec);
}

vec3 cap_color(vec3 base) {
    // the section: flat, a little lighter than the surface, with faint hatching
    float stripe = step(0.5, fract((gl_FragCoord.x + gl_FragCoord.y) / 9.0));
    vec3 c = mix(base, vec3(1.0), 0.12) * (0.8 + 0.12 * stripe);
    return c;
}

vec3 surface_color(vec3 base, vec3 pos_view, vec3 normal_view) {
    vec3 v = u_ortho ? vec3(0.0, 0.0, 1.0) : normalize(-pos_view);
    vec3 n = normalize(normal_view);
    if (!gl_FrontFacing) {
        n = -n;  // two-sided: the inside of an open surface
    }
    return blinn_phong(base, n, v);
}
