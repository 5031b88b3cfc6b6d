#version 330
// Lays the translucent layer (weighted blended OIT) over the opaque picture already in the
// target: out = avg * (1 - revealage), blended with dst * revealage (blend ONE, SRC_ALPHA).

uniform sampler2D u_accum;   // RGBA16F: sum colour*w (linear), revealage in alpha
uniform sampler2D u_weight;  // R16F: sum w
uniform vec2 u_uv_scale;     // the part of the buffers the frame uses (they may be bigger)

in vec2 v_uv;
out vec4 f_color;

#include "srgb.glsl"

void main() {
    vec2 uv = v_uv * u_uv_scale;
    vec4 acc = texture(u_accum, uv);
    float reveal = acc.a;
    if (reveal >= 0.999) {
        discard;
    }
    vec3 avg = acc.rgb / max(texture(u_weight, uv).r, 1e-5);
    f_color = vec4(to_display(avg) * (1.0 - reveal), reveal);
}
