#version 330
// Sections of cut opaque structures, drawn on the clipping plane before the surfaces (which
// then only show where they lie in front of it), with the plane's depth. With an image every
// section is opaque and shows the image, outlined in the structures' colours.
#include "lighting.glsl"
#include "caps_common.glsl"

uniform mat4 u_proj;

in vec2 v_uv;
out vec4 f_color;

void main() {
    vec3 p;
    if (!plane_point(v_uv, p)) {
        discard;
    }
    ivec2 q = ivec2(gl_FragCoord.xy);
    int owner = owner_at(q);
    float g;
    bool img = owner >= 0 && image_grey(p, g);
    if (owner < 0 || (!img && u_opacities[owner] < 0.999)) {
        discard;
    }
    vec3 shown;
    if (img) {
        shown = vec3(g);  // display grey, as a PACS shows it
        if (section_edge(q, owner)) {
            shown = to_display(min(u_colors[owner] * 1.6 + 0.08, vec3(1.0)));
        }
        if (on_crossing_ring(p)) {
            shown = vec3(1.0, 0.86, 0.1);
        }
    } else {
        vec3 c = cap_color(u_colors[owner]);
        if (section_edge(q, owner)) {
            c *= 0.3;
        }
        shown = to_display(c);
    }
    vec4 clip = u_proj * vec4(p, 1.0);
    gl_FragDepth = clamp(clip.z / clip.w * 0.5 + 0.5, 0.0, 1.0);
    f_color = vec4(shown, 1.0);
}
